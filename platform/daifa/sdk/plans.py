"""Bodies of `Client.request_plan` (POST /v1/plans): one instalment, a whole plan, and wages paid monthly.

Amounts are integers in the token's base units (they travel as decimal strings, past 2**53); times are unix
seconds on the chain's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

DAY = 86_400
MONTH = 30 * DAY

Rule = Literal["time", "payer_approval", "materials"]


def instalment(
    deposit_by: int,
    release_at: int,
    amount: int,
    rule: Rule = "time",
    *,
    required_materials: Sequence[str] = (),
    verification: str = "",
) -> dict[str, Any]:
    """One instalment: funded by `deposit_by`, released at `release_at` once its `rule` allows (time: then;
    payer_approval: once the payer approves; materials: once the operator attests `required_materials`)."""
    item: dict[str, Any] = {"deposit_by": deposit_by, "release_at": release_at, "amount": str(amount), "rule": rule}
    if required_materials:
        item["required_materials"] = list(required_materials)
    if verification:
        item["verification"] = verification
    return item


def plan_request(product: str, expiry: int, instalments: Sequence[dict[str, Any]], **terms: Any) -> dict[str, Any]:
    """A plan under `product` that ends at `expiry`. `terms` are the optional fields of the request: token,
    fee_bps, fee_cap, fee_recipient, review_window (seconds), arbiter."""
    return {"product": product, "expiry": expiry, "instalments": list(instalments), **terms}


def monthly_plan(
    product: str,
    start: int,
    amount: int,
    months: int,
    *,
    rules: Sequence[Rule] | None = None,
    deposit_days_ahead: int = 10,
    spare_months: int = 2,
    **terms: Any,
) -> dict[str, Any]:
    """Wages paid monthly from `start` (the chain's time): instalment k is released at start + (k+1) months
    and must be funded `deposit_days_ahead` days before; the plan expires `spare_months` after the last.
    `rules` gives each month's release rule (time by default); `terms` as in `plan_request`."""
    rules = list(rules) if rules is not None else ["time"] * months
    if len(rules) != months:
        raise ValueError(f"{months} months need {months} rules, not {len(rules)}")
    instalments = [
        instalment(start + (k + 1) * MONTH - deposit_days_ahead * DAY, start + (k + 1) * MONTH, amount, rule)
        for k, rule in enumerate(rules)
    ]
    return plan_request(product, start + (months + spare_months) * MONTH, instalments, **terms)
