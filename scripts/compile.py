"""Compile the contracts offline and write their ABIs and bytecode into the Python package.

Drives the npm `solc` (wasm) through py-solc-x and `scripts/solc`. The artifacts under
platform/daifa/artifacts are committed so that a Python-only user needs no node; `--check` recompiles
and fails if they differ byte for byte from what is committed.

    python scripts/compile.py          # write artifacts
    python scripts/compile.py --check  # exit 1 if the committed artifacts are stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import solcx

ROOT = Path(__file__).resolve().parent.parent
SOLC = ROOT / "scripts" / "solc"
CONTRACTS = ROOT / "contracts"
ARTIFACTS = ROOT / "platform" / "daifa" / "artifacts"

# One build runs on py-evm, anvil and pyrevm: py-evm stops at prague, OpenZeppelin 5.7 needs cancun.
# 200 optimizer runs (solc's default), not 1,000: with record-and-fund and batch recording, the escrow's
# runtime code is 26,127 bytes at 1,000 runs, past EIP-170's 24,576; at 200 it is 24,413. On the code
# before those calls, 200 runs cost 113 gas more than 1,000 to record a 12-instalment plan.
SETTINGS: dict[str, Any] = {
    "evmVersion": "prague",
    "viaIR": True,
    "optimizer": {"enabled": True, "runs": 200},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}

# What gets an artifact: the deployable contracts, test tokens included.
DEPLOYABLE = (
    "DaifaEscrow",
    "DaifaTestDollar",
    "MockERC20",
    "FeeOnTransferToken",
    "NoReturnToken",
    "BlockingToken",
    "ReentrantToken",
    "MockERC1271Wallet",
)


def standard_json_input() -> dict[str, Any]:
    """The project's sources by stable relative names; `scripts/solc` resolves OpenZeppelin imports."""
    sources = {
        path.relative_to(ROOT).as_posix(): {"content": path.read_text()} for path in sorted(CONTRACTS.rglob("*.sol"))
    }
    return {"language": "Solidity", "sources": sources, "settings": SETTINGS}


def compile_contracts() -> dict[str, str]:
    """Compile and return the artifact files' text by file name."""
    output = solcx.compile_standard(standard_json_input(), solc_binary=SOLC, allow_paths=[str(ROOT)])
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise SystemExit("\n".join(e["formattedMessage"] for e in errors))
    artifacts: dict[str, str] = {}
    for source_name, contracts in output["contracts"].items():
        if not source_name.startswith("contracts/"):
            continue
        for name, compiled in contracts.items():
            if name not in DEPLOYABLE:
                continue
            artifact = {
                "contractName": name,
                "sourceName": source_name,
                "compiler": {
                    "version": str(solcx.wrapper.get_solc_version(SOLC, with_commit_hash=True)),
                    "settings": {k: v for k, v in SETTINGS.items() if k != "outputSelection"},
                },
                "abi": compiled["abi"],
                "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
            }
            artifacts[f"{name}.json"] = json.dumps(artifact, indent=1, sort_keys=True) + "\n"
    missing = set(DEPLOYABLE) - {n.removesuffix(".json") for n in artifacts}
    if missing:
        raise SystemExit(f"no artifact for {sorted(missing)}")
    return artifacts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed artifacts")
    args = parser.parse_args()
    artifacts = compile_contracts()
    if args.check:
        stale = [
            name
            for name, text in artifacts.items()
            if not (ARTIFACTS / name).exists() or (ARTIFACTS / name).read_text() != text
        ]
        if stale:
            print(f"stale artifacts: {', '.join(stale)}; run `make compile` and commit", file=sys.stderr)
            return 1
        print(f"{len(artifacts)} artifacts match the sources")
        return 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, text in artifacts.items():
        (ARTIFACTS / name).write_text(text)
    print(f"wrote {len(artifacts)} artifacts to {ARTIFACTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
