"""How the console writes values for people: amounts in the token's units with its symbol, times in
UTC to the minute, long hashes shortened with the whole in a title. Registered as template filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment

from daifa.describe import units


def money(amount: int | str, token: Any) -> str:
    """24000000000 of a 6-decimal tUSD -> '24,000.00 tUSD'."""
    return f"{units(int(amount), int(token.decimals))} {token.symbol}"


def when(unix: int | None) -> str:
    if unix is None:
        return ""
    return datetime.fromtimestamp(int(unix), UTC).strftime("%Y-%m-%d %H:%M UTC")


def day(unix: int | None) -> str:
    return "" if unix is None else datetime.fromtimestamp(int(unix), UTC).strftime("%Y-%m-%d")


def short(value: str | None) -> str:
    """0x1234…abcd: enough to tell hashes and addresses apart on a page; the whole is in its title."""
    if not value:
        return ""
    return value if len(value) <= 14 else f"{value[:6]}…{value[-4:]}"


def words(value: str) -> str:
    """awaiting_credit_authorisation -> 'awaiting credit authorisation'."""
    return value.replace("_", " ")


def install(environment: Environment) -> None:
    environment.filters.update(money=money, when=when, day=day, short=short, words=words)
