"""The compiled contracts shipped inside the package (written by scripts/compile.py)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


def artifact_names() -> list[str]:
    """Every compiled contract shipped in the package, by name."""
    files = resources.files("daifa.artifacts").iterdir()
    return sorted(f.name.removesuffix(".json") for f in files if f.name.endswith(".json"))


@cache
def load_artifact(name: str) -> dict[str, Any]:
    """The ABI and bytecode of contract `name` (for example ``"DaifaEscrow"``)."""
    text = resources.files("daifa.artifacts").joinpath(f"{name}.json").read_text()
    artifact: dict[str, Any] = json.loads(text)
    return artifact
