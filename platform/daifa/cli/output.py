"""How the CLI speaks: readable tables and lines for people, JSON with --json for scripts, and errors in
one line that says what to do (a traceback only with --debug)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from daifa.sdk.client import Client


@dataclass
class Settings:
    """The global options: where the API is, who is calling, how to print."""

    json: bool = False
    debug: bool = False
    api_url: str = "http://127.0.0.1:8000"
    api_key: str | None = None
    console: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    error_console: Console = field(default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True))

    def client(self) -> Client:
        return Client(self.api_url, self.api_key or os.environ.get("DAIFA_API_KEY"))

    # ------------------------------------------------------------------------------ printing

    def record(self, item: BaseModel | dict[str, Any], fields: Sequence[str] | None = None, title: str = "") -> None:
        """One record: all of it as JSON, or the chosen fields as a two-column table."""
        data = _plain(item)
        if self.json:
            self.console.print_json(json.dumps(data))
            return
        table = Table(title=title or None, show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        for key in fields or list(data):
            table.add_row(key, _cell(data.get(key)))
        self.console.print(table)

    def rows(self, items: Iterable[BaseModel | dict[str, Any]], columns: Sequence[str], title: str = "") -> None:
        """A list: JSON array, or a table with these columns."""
        data = [_plain(i) for i in items]
        if self.json:
            self.console.print_json(json.dumps(data))
            return
        table = Table(title=title or None)
        for column in columns:
            table.add_column(column)
        for item in data:
            table.add_row(*[_cell(item.get(c)) for c in columns])
        self.console.print(table)

    def terms(self, rows: Sequence[tuple[str, str]], title: str = "") -> None:
        """What is about to be signed, field by field, every value whole (folded, never cut short)."""
        if self.json:
            self.console.print_json(json.dumps(dict(rows)))
            return
        table = Table(title=title or None, show_header=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for name, value in rows:
            table.add_row(name, value)
        self.console.print(table)

    def say(self, text: str, **data: Any) -> None:
        """A line for people; under --json, the data instead."""
        if self.json:
            self.console.print_json(json.dumps(data or {"message": text}))
        else:
            self.console.print(text)


def _plain(item: BaseModel | dict[str, Any]) -> dict[str, Any]:
    return item.model_dump(mode="json") if isinstance(item, BaseModel) else dict(item)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | dict):
        return json.dumps(value) if len(json.dumps(value)) < 80 else f"{len(value)} items"
    return str(value)
