"""Statements: every movement of a party's money through the escrow (deposits, releases, the fee,
refunds, dispute splits, credits held and withdrawn), each with its transaction hash and block time, and
the escrow balance before and after. Read from the escrow's own logs as the indexer stored them, so a
statement says what the chain says, and anyone can check each line against its transaction."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from daifa.chain.client import ChainClient, TokenFacts
from daifa.chain.events import EscrowDecoder
from daifa.chain.indexer import as_log_receipt
from daifa.console.formatting import money, when
from daifa.errors import InvalidInput, Problem
from daifa.services import records
from daifa.services.context import Actor
from daifa.store import models as m

MAX_LINES = 20_000  # a statement longer than this is asked for by plan or by a shorter period
# The escrow's events that move a plan's money (the projection names each log as it folds it in), and
# those of the credits it holds for an account a token would not pay.
MONEY_EVENTS = ("Deposited", "Released", "DisputeResolved", "Refunded", "InstalmentCancelled")
CREDIT_EVENTS = ("PaymentDeferred", "Withdrawn")


@dataclass(frozen=True)
class Line:
    at: int  # block time
    plan: str
    index: int | None
    kind: str  # deposit, release, fee, refund, dispute_to_payee, dispute_to_payer, credit, withdrawal
    amount: int  # always positive; `escrow_change` says which way the escrow moved
    escrow_change: int
    tx_hash: str


@dataclass
class Statement:
    title: str
    token: TokenFacts
    start: int
    end: int
    opening: int = 0
    lines: list[Line] = field(default_factory=list)

    @property
    def closing(self) -> int:
        return self.opening + sum(line.escrow_change for line in self.lines)


def _plan_lines(event_name: str, args: dict[str, object], plan: str, at: int, tx: str) -> list[Line]:
    index = int(args["index"])  # type: ignore[call-overload]

    def line(kind: str, amount: int, change: int) -> Line:
        return Line(at, plan, index, kind, amount, change, tx)

    if event_name == "Deposited":
        amount = int(args["amount"])  # type: ignore[call-overload]
        return [line("deposit", amount, amount)]
    if event_name == "Released":
        to_payee, fee = int(args["toPayee"]), int(args["fee"])  # type: ignore[call-overload]
        return [line("release", to_payee, -to_payee)] + ([line("fee", fee, -fee)] if fee else [])
    if event_name == "DisputeResolved":
        to_payee, to_payer = int(args["toPayee"]), int(args["toPayer"])  # type: ignore[call-overload]
        return [line("dispute_to_payee", to_payee, -to_payee), line("dispute_to_payer", to_payer, -to_payer)]
    if event_name in ("Refunded", "InstalmentCancelled"):
        amount = int(args["amount" if event_name == "Refunded" else "refunded"])  # type: ignore[call-overload]
        return [line("refund", amount, -amount)] if amount else []
    return []


def of_plans(
    session: Session, chain: ChainClient, plans: list[m.Plan], title: str, start: int, end: int
) -> dict[str, Statement]:
    """One statement per token of the plans' money in [start, end): the balance they held in escrow at
    `start`, then each movement."""
    recorded = {p.chain_plan_id: p for p in plans if p.chain_plan_id is not None}
    statements: dict[str, Statement] = {}
    for plan in recorded.values():
        if plan.token not in statements:
            statements[plan.token] = Statement(title, chain.token_facts(plan.token), start, end)
    if not recorded:
        return statements
    decoder = EscrowDecoder(chain.escrow)
    logs = session.scalars(
        select(m.ChainLog)
        .where(m.ChainLog.chain_plan_id.in_(list(recorded)), m.ChainLog.name.in_(MONEY_EVENTS))
        .order_by(m.ChainLog.block_number, m.ChainLog.log_index)
        .limit(MAX_LINES + 1)
    ).all()
    if len(logs) > MAX_LINES:
        raise InvalidInput([Problem("period", f"over {MAX_LINES:,} movements: ask for one plan or a shorter period")])
    for log in logs:
        event = decoder.decode(as_log_receipt(log))
        if event is None:
            continue
        plan = recorded[int(event.args["planId"])]
        at = chain.block_time(log.block_number)
        statement = statements[plan.token]
        lines = _plan_lines(
            event.name, dict(event.args), records.public_id(m.Plan, plan.id), at, "0x" + log.tx_hash.hex()
        )
        if at < start:
            statement.opening += sum(line.escrow_change for line in lines)
        elif at < end:
            statement.lines.extend(lines)
    return statements


def add_credits(
    session: Session,
    chain: ChainClient,
    statements: dict[str, Statement],
    address: str,
    title: str,
    start: int,
    end: int,
) -> None:
    """The payments the escrow could not push to `address` and holds for it (PaymentDeferred: the money
    stays in escrow, as a credit) and its withdrawals of them, into the statements of their tokens.
    Rare (a token that blocked a transfer), so read across all plans and kept to the party's own."""
    decoder = EscrowDecoder(chain.escrow)
    logs = session.scalars(
        select(m.ChainLog)
        .where(m.ChainLog.name.in_(CREDIT_EVENTS))
        .order_by(m.ChainLog.block_number, m.ChainLog.log_index)
        .limit(MAX_LINES)
    )
    for log in logs:
        event = decoder.decode(as_log_receipt(log))
        if event is None or str(event.args["account"]).lower() != address.lower():
            continue
        token, amount = str(event.args["token"]), int(event.args["amount"])
        key = next((t for t in statements if t.lower() == token.lower()), token)
        statement = statements.setdefault(key, Statement(title, chain.token_facts(key), start, end))
        at = chain.block_time(log.block_number)
        change = amount if event.name == "PaymentDeferred" else -amount
        line = Line(at, "", None, "credit" if change > 0 else "withdrawal", amount, change, "0x" + log.tx_hash.hex())
        if at < start:
            statement.opening += change
        elif at < end:
            statement.lines.append(line)
    for statement in statements.values():
        statement.lines.sort(key=lambda line: line.at)


def visible_plans(session: Session, actor: Actor, party_id: int | None = None) -> list[m.Plan]:
    """The recorded plans a statement covers: the actor's own (the operator names the party)."""
    query = select(m.Plan).where(records.visible(actor, m.Plan), m.Plan.chain_plan_id.is_not(None))
    if party_id is not None:
        query = query.where((m.Plan.payer_id == party_id) | (m.Plan.payee_id == party_id))
    return list(session.scalars(query.order_by(m.Plan.id)))


HEADER = ["time_utc", "plan", "instalment", "kind", "amount", "escrow_change", "token", "transaction"]


def to_csv(statements: list[Statement]) -> str:
    """Every line as a row, amounts in the token's units (decimal strings), and the opening and closing
    balances as rows of their own, so a spreadsheet can check the sum."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for s in statements:
        unit = s.token.symbol
        writer.writerow([when(s.start), "", "", "opening_balance", _plain(s.opening, s.token), "", unit, ""])
        for line in s.lines:
            writer.writerow([
                when(line.at), line.plan, "" if line.index is None else line.index, line.kind,
                _plain(line.amount, s.token), _plain(line.escrow_change, s.token), unit, line.tx_hash,
            ])  # fmt: skip
        writer.writerow([when(s.end), "", "", "closing_balance", _plain(s.closing, s.token), "", unit, ""])
    return out.getvalue()


def _plain(amount: int, token: TokenFacts) -> str:
    """An amount in units without grouping, exact: -1500000 of 6 decimals -> '-1.500000'."""
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**token.decimals)
    return f"{sign}{whole}.{fraction:0{token.decimals}d}" if token.decimals else f"{sign}{whole}"


def to_pdf(statements: list[Statement], heading: str) -> bytes:
    """The same lines as a printable PDF (A4, landscape)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    out = io.BytesIO()
    document = SimpleDocTemplate(out, pagesize=landscape(A4), title=heading, author="Daifa")
    styles = getSampleStyleSheet()
    story: list[object] = [Paragraph(heading, styles["Title"])]
    for s in statements:
        story.append(
            Paragraph(
                f"{s.title}: {when(s.start)} to {when(s.end)}, in {s.token.symbol} ({s.token.address})",
                styles["Heading3"],
            )
        )
        rows = [["time (UTC)", "plan", "instalment", "kind", "amount", "escrow change", "transaction"]]
        rows.append([when(s.start), "", "", "opening balance", money(s.opening, s.token), "", ""])
        for line in s.lines:
            rows.append([
                when(line.at), line.plan, "" if line.index is None else str(line.index), line.kind.replace("_", " "),
                money(line.amount, s.token), money(line.escrow_change, s.token), line.tx_hash,
            ])  # fmt: skip
        rows.append([when(s.end), "", "", "closing balance", money(s.closing, s.token), "", ""])
        table = Table(rows, repeatRows=1)
        table.setStyle(
            TableStyle([
                ("FONTSIZE", (0, 0), (-1, -1), 7),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef6")),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("ALIGN", (4, 1), (5, -1), "RIGHT"),
            ])
        )  # fmt: skip
        story.extend([table, Spacer(1, 12)])
    document.build(story)
    return out.getvalue()
