"""What a signature request says, written for the person about to sign it: amounts in the token's units
with its symbol (24,000.00 tUSD), times in ISO 8601 in a named time zone, release rules by name, the
fee in percent with its cap, the arbiter, the parties' legal names, the agreements' titles and first
lines with their hashes, and last the digest the wallet signs. `describe` takes a request's
`typed_data` and the `context` the platform sends with it (daifa.services.signing_context).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from daifa.chain.typed_data import payload_digest

RULES = {"0": "time (released at its time)", "1": "payer approval", "2": "materials (attested, then a review window)"}
ZERO_HASH = "0x" + "00" * 32


def describe(
    typed: dict[str, Any], context: dict[str, Any] | None = None, zone: str | None = None
) -> list[tuple[str, str]]:
    """(field, value) rows for a person: what is signed, for whom, with which terms, and the digest. Times
    are shown in `zone` (an IANA name such as Asia/Shanghai; this machine's zone when None)."""
    context = context or {}
    terms = _Terms(typed, context, ZoneInfo(zone) if zone else None)
    domain = typed.get("domain", {})
    primary = str(typed.get("primaryType"))
    contract = f"{domain.get('name', 'a contract')} {domain.get('version', '')}".strip()
    rows: list[tuple[str, str]] = [
        ("what", _WHAT.get(primary, primary)),
        ("on", f"{contract} at {domain.get('verifyingContract')}, chain {domain.get('chainId')}"),
    ]
    parties = context.get("parties", {})
    for role in ("payer", "payee"):
        if role in parties:
            rows.append((role, f"{parties[role]['legal_name']} ({parties[role]['address']})"))
    shown = _BY_TYPE.get(primary)
    rows.extend(shown(terms) if shown else [(k, str(v)) for k, v in terms.message.items()])
    if "deadline" in terms.message and primary != "Permit":
        rows.append(("sign by", terms.when(terms.message["deadline"])))
    rows.append(("digest", "0x" + payload_digest(typed).hex()))
    return rows


class _Terms:
    """A request's message with what is needed to write its values for people."""

    def __init__(self, typed: dict[str, Any], context: dict[str, Any], where: tzinfo | None) -> None:
        self.message: dict[str, Any] = typed.get("message", {})
        self.domain: dict[str, Any] = typed.get("domain", {})
        self.context = context
        self.where = where
        self.money = _Money(context.get("token") or {})

    def when(self, value: Any) -> str:
        return datetime.fromtimestamp(int(value), tz=self.where).astimezone(self.where).isoformat(timespec="minutes")

    def instalments(self, indices: list[Any]) -> str:
        numbers = ", ".join(str(int(i)) for i in indices)
        return f"instalment{'s' if len(indices) != 1 else ''} {numbers} of {self.context.get('plan', 'the plan')}"


def _permit(t: _Terms) -> list[tuple[str, str]]:
    return [
        ("token", f"{t.domain.get('name')} at {t.domain.get('verifyingContract')}"),
        ("allow", f"{t.message.get('spender')} to take {t.money(t.message.get('value'))}"),
        ("until", t.when(t.message.get("deadline"))),
    ]


def _deposit(t: _Terms) -> list[tuple[str, str]]:
    return [("fund", t.instalments(t.message.get("indices", [])))]


def _approval(t: _Terms) -> list[tuple[str, str]]:
    return [("release", t.instalments([t.message.get("index")]))]


def _materials(t: _Terms) -> list[tuple[str, str]]:
    return [
        ("deliver", t.instalments([t.message.get("index")])),
        ("materials hash", str(t.message.get("deliveredHash"))),
    ]


def _dispute(t: _Terms) -> list[tuple[str, str]]:
    return [("dispute", t.instalments([t.message.get("index")])), ("reason hash", str(t.message.get("reasonHash")))]


def _cancellation(t: _Terms) -> list[tuple[str, str]]:
    return [("cancel", t.instalments(t.message.get("indices", []))), ("funded ones", "refunded to the payer")]


def _safe_message(t: _Terms) -> list[tuple[str, str]]:
    return [("the Safe signs", f"the request whose digest is 0x{str(t.message.get('message'))[-64:]}")]


_WHAT = {
    "AgreementSet": "the three agreements of a product (payer-platform, payee-platform, payer-payee)",
    "Plan": "a disbursement plan",
    "Permit": "a permit: the escrow may take this much of your token",
    "DepositAuthorization": "a deposit into the escrow",
    "PayerApproval": "your approval to release an instalment",
    "MaterialsSubmission": "the materials you deliver for an instalment",
    "Dispute": "a dispute of an instalment",
    "Cancellation": "a cancellation of instalments",
    "SafeMessage": "a message for a Safe: your part of its signature",
}


class _Money:
    def __init__(self, token: dict[str, Any]) -> None:
        self.symbol = token.get("symbol")
        self.decimals = token.get("decimals")

    def __call__(self, amount: Any) -> str:
        value = int(amount)
        if self.symbol is None or self.decimals is None:
            return f"{value:,} (base units of an unknown token)"
        return f"{units(value, int(self.decimals))} {self.symbol}"


def units(amount: int, decimals: int) -> str:
    """An amount in base units as people write it: 24000000000, 6 -> 24,000.00."""
    whole, fraction = divmod(amount, 10**decimals)
    if not decimals:
        return f"{whole:,}"
    digits = f"{fraction:0{decimals}d}".rstrip("0").ljust(min(2, decimals), "0")
    return f"{whole:,}.{digits}"


def _plan(t: _Terms) -> list[tuple[str, str]]:
    message, money = t.message, t.money
    instalments = message.get("instalments", [])
    fee_bps = int(message.get("feeBps", 0))
    cap = f", at most {money(message.get('feeCap'))}" if int(message.get("feeCap", 0)) else ""
    rows = [
        ("token", f"{money.symbol or '?'} at {message.get('token')}"),
        ("total", money(sum(int(i["amount"]) for i in instalments))),
        ("fee", f"{fee_bps / 100:.2f}% of each release{cap} to {message.get('feeRecipient')}" if fee_bps else "none"),
        ("arbiter", f"{message.get('arbiter')} (splits a disputed instalment)"),
        ("review window", f"{int(message.get('reviewWindow', 0)) / 86_400:g} days after materials are attested"),
        ("plan ends", t.when(message.get("expiry"))),
    ]
    for n, item in enumerate(instalments):
        materials = "" if item.get("materialsHash") in (None, ZERO_HASH) else f", materials {item['materialsHash']}"
        rule = RULES.get(str(item["rule"]), str(item["rule"]))
        rows.append(
            (
                f"instalment {n}",
                f"{money(item['amount'])}; deposit by {t.when(item['depositBy'])}; "
                f"release from {t.when(item['releaseAt'])}; rule: {rule}{materials}",
            )
        )
    return rows


def _agreement_set(t: _Terms) -> list[tuple[str, str]]:
    message, context = t.message, t.context
    tokens = context.get("tokens") or []
    money = _Money(tokens[0] if len(tokens) == 1 else {})
    rows = [
        ("tokens", ", ".join(f"{k['symbol']} ({k['address']})" for k in tokens) or str(message.get("tokens"))),
        ("credit limit", money(message.get("limit", 0))),
        ("open until", t.when(message.get("expiry"))),
    ]
    for document in context.get("documents", []):
        rows.append((document["title"], f"{document['first_line']} (hash {document['hash']})"))
    if not context.get("documents"):
        for name in ("payerPlatformAgreement", "payeePlatformAgreement", "payerPayeeAgreement"):
            rows.append((name, str(message.get(name))))
    return rows


_BY_TYPE = {
    "AgreementSet": _agreement_set,
    "Plan": _plan,
    "Permit": _permit,
    "DepositAuthorization": _deposit,
    "PayerApproval": _approval,
    "MaterialsSubmission": _materials,
    "Dispute": _dispute,
    "Cancellation": _cancellation,
    "SafeMessage": _safe_message,
}
