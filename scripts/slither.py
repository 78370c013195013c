"""Static analysis of the contracts with slither, through the project's own `solc` (the npm wasm compiler).

    .venv-slither/bin/python scripts/slither.py     # print the findings; exit 1 on any high or medium one

OpenZeppelin and the test-only mocks are left out of the report. Low findings are printed for review.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCKING = ("High", "Medium")


def run_slither() -> list[dict[str, object]]:
    command = [
        str(Path(sys.executable).parent / "slither"),
        "contracts/DaifaEscrow.sol",
        "--solc", str(ROOT / "scripts" / "solc"),
        "--solc-remaps", f"@openzeppelin/={ROOT}/node_modules/@openzeppelin/",
        "--solc-args", "--evm-version prague --via-ir --optimize",
        "--filter-paths", "node_modules|contracts/mocks",
        "--json", "-",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"slither did not produce a report:\n{result.stderr}") from None
    if not report.get("success"):
        raise SystemExit(f"slither failed: {report.get('error')}")
    findings: list[dict[str, object]] = report["results"].get("detectors", [])
    return findings


def main() -> int:
    findings = run_slither()
    for finding in findings:
        first_line = str(finding["description"]).splitlines()[0]
        print(f"[{finding['impact']}] {finding['check']}: {first_line}")
    counts = Counter(str(f["impact"]) for f in findings)
    print("slither:", ", ".join(f"{counts[k]} {k.lower()}" for k in ("High", "Medium", "Low", "Informational")))
    return 1 if any(counts[k] for k in BLOCKING) else 0


if __name__ == "__main__":
    sys.exit(main())
