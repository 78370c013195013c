"""Plan requests people make often, as the body of `Client.request_plan`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DAY = 86_400
MONTH = 30 * DAY


def monthly_plan(
    product: str,
    start: int,
    amount: int,
    months: int,
    *,
    rules: Sequence[str] | None = None,
    deposit_days_ahead: int = 10,
    spare_months: int = 2,
) -> dict[str, Any]:
    """Wages paid monthly from `start` (the chain's time): instalment k is released at start + (k+1) months
    and must be funded `deposit_days_ahead` days before; the plan expires `spare_months` after the last.
    `rules` gives each month's release rule (time by default)."""
    rules = list(rules) if rules is not None else ["time"] * months
    if len(rules) != months:
        raise ValueError(f"{months} months need {months} rules, not {len(rules)}")
    return {
        "product": product,
        "expiry": start + (months + spare_months) * MONTH,
        "instalments": [
            {
                "deposit_by": start + (k + 1) * MONTH - deposit_days_ahead * DAY,
                "release_at": start + (k + 1) * MONTH,
                "amount": str(amount),
                "rule": rule,
            }
            for k, rule in enumerate(rules)
        ],
    }
