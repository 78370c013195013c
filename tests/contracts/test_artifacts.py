"""The ABIs and bytecode committed inside the Python package are exactly what the sources compile to."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from daifa.chain.artifacts import load_artifact

_spec = importlib.util.spec_from_file_location("compile_script", Path(__file__).parents[2] / "scripts" / "compile.py")
assert _spec is not None and _spec.loader is not None
compile_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compile_script)


def test_committed_artifacts_match_a_fresh_compile_byte_for_byte() -> None:
    fresh = compile_script.compile_contracts()
    for name, text in fresh.items():
        committed = (compile_script.ARTIFACTS / name).read_text()
        assert committed == text, f"{name} is stale: run `make compile` and commit"


def test_escrow_fits_the_contract_size_limit() -> None:
    runtime = bytes.fromhex(load_artifact("DaifaEscrow")["deployedBytecode"].removeprefix("0x"))
    assert len(runtime) <= 24_576, f"DaifaEscrow is {len(runtime)} bytes; EIP-170 allows 24,576"
