"""The contracts' interfaces document themselves: every error says when it is thrown, and every function
parameter of the public interfaces has its `@param`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
SOURCES = sorted(p for p in CONTRACTS.rglob("*.sol") if "mocks" not in p.parts and "token" not in p.parts)
INTERFACES = sorted((CONTRACTS / "interfaces").glob("*.sol"))

DECLARATION = re.compile(r"^\s*(error|function)\s+(\w+)\s*\(([^)]*)\)", re.MULTILINE | re.DOTALL)


def declarations(source: str, kind: str) -> list[tuple[str, str, list[str]]]:
    """(name, its doc comment, its parameter names) of each declaration of `kind` in `source`."""
    found = []
    for match in DECLARATION.finditer(source):
        if match.group(1) != kind:
            continue
        before = source[: match.start()].rstrip("\n").splitlines()
        doc: list[str] = []
        while before and before[-1].strip().startswith("///"):
            doc.insert(0, before.pop().strip())
        parameters = [p.split()[-1] for p in match.group(3).split(",") if p.strip()]
        found.append((match.group(2), "\n".join(doc), parameters))
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_error_says_when_it_is_thrown(path: Path) -> None:
    errors = declarations(path.read_text(), "error")
    undocumented = [name for name, doc, _ in errors if "@notice Thrown when" not in doc]
    assert undocumented == []


@pytest.mark.parametrize("path", INTERFACES, ids=lambda p: p.name)
def test_every_interface_function_documents_its_parameters(path: Path) -> None:
    missing = [
        f"{name}({parameter})"
        for name, doc, parameters in declarations(path.read_text(), "function")
        for parameter in parameters
        if f"@param {parameter} " not in doc + " "
    ]
    assert missing == []


def test_the_checks_see_the_declarations() -> None:
    """A parser that found nothing would pass both tests above."""
    escrow = (CONTRACTS / "interfaces" / "IEscrow.sol").read_text()
    assert len(declarations(escrow, "error")) == 18
    functions = {name: parameters for name, _, parameters in declarations(escrow, "function")}
    assert functions["withdraw"] == ["token", "to"]
    assert functions["releaseBatch"] == ["items"]
