"""Every command of the command line says what it does in `--help`."""

from __future__ import annotations

from typing import Any

from typer.main import get_command

from daifa.cli.main import app


def commands(group: Any, prefix: str = "daifa") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        found.update(commands(command, path) if hasattr(command, "commands") else {path: command})
    return found


def test_every_command_has_help() -> None:
    every = commands(get_command(app))
    assert len(every) > 40  # the walk reached the subcommands
    assert [path for path, command in every.items() if not (command.help or "").strip()] == []
