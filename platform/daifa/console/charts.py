"""Small charts drawn on the server as SVG: no script, nothing fetched, readable by a screen reader
through its title and the table beside it on the page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape

from markupsafe import Markup

from daifa.chain.client import TokenFacts
from daifa.console.formatting import day
from daifa.console.overview import Due
from daifa.describe import units

WIDTH, HEIGHT, MARGIN = 640, 200, 44


def _frame(title: str, body: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - 8}" y2="{HEIGHT - MARGIN}" stroke="#6b7280"/>'
        f"{body}</svg>"
    )


def escrow_balance(points: Sequence[tuple[int, int]], token: TokenFacts, now: int) -> Markup:
    """A step line of what the escrow held over time: `points` are (time, balance after) in order."""
    title = f"Escrow balance over time, in {token.symbol}"
    if not points:
        return _frame(title, f'<text x="{MARGIN}" y="{HEIGHT / 2}" fill="#374151">nothing deposited yet</text>')
    start, end = points[0][0], max(now, points[-1][0]) + 1
    top = max(balance for _, balance in points) or 1
    span_x, span_y = WIDTH - MARGIN - 8, HEIGHT - 2 * MARGIN

    def x(t: int) -> float:
        return MARGIN + (t - start) / (end - start) * span_x

    def y(v: int) -> float:
        return HEIGHT - MARGIN - v / top * span_y

    path, previous = [f"M{x(start):.1f},{y(0):.1f}"], 0
    for t, balance in points:
        path.append(f"L{x(t):.1f},{y(previous):.1f} L{x(t):.1f},{y(balance):.1f}")
        previous = balance
    path.append(f"L{x(end):.1f},{y(previous):.1f}")
    labels = (
        f'<text x="4" y="{y(top) + 4:.1f}" font-size="11" fill="#374151">{escape(units(top, token.decimals))}</text>'
        f'<text x="{MARGIN}" y="{HEIGHT - MARGIN + 16}" font-size="11" fill="#374151">{day(start)}</text>'
        f'<text x="{WIDTH - 8}" y="{HEIGHT - MARGIN + 16}" font-size="11" text-anchor="end" fill="#374151">'
        f"{day(end)}</text>"
    )
    return _frame(title, f'<path d="{" ".join(path)}" fill="none" stroke="#1d4ed8" stroke-width="2"/>{labels}')


def upcoming_releases(due: Sequence[Due], tokens: Mapping[str, TokenFacts]) -> Markup:
    """Bars of what falls due for release in each of the coming months (the first token's amounts)."""
    title = "Upcoming releases by month"
    if not due:
        return _frame(title, f'<text x="{MARGIN}" y="{HEIGHT / 2}" fill="#374151">no releases ahead</text>')
    token = tokens[due[0].token]
    months: dict[str, int] = defaultdict(int)
    for item in due:
        if item.token == token.address:
            months[datetime.fromtimestamp(item.at, UTC).strftime("%Y-%m")] += item.amount
    shown = sorted(months.items())[:12]
    top = max(amount for _, amount in shown) or 1
    slot = (WIDTH - MARGIN - 8) / len(shown)
    bars = []
    for n, (month, amount) in enumerate(shown):
        height = amount / top * (HEIGHT - 2 * MARGIN)
        left = MARGIN + n * slot + slot * 0.15
        bars.append(
            f'<rect x="{left:.1f}" y="{HEIGHT - MARGIN - height:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
            f'fill="#059669"><title>{month}: {escape(units(amount, token.decimals))} {escape(token.symbol)}</title>'
            "</rect>"
            f'<text x="{left + slot * 0.35:.1f}" y="{HEIGHT - MARGIN + 16}" font-size="11" text-anchor="middle" '
            f'fill="#374151">{month}</text>'
        )
    return _frame(f"{title}, in {token.symbol}", "".join(bars))
