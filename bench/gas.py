"""Gas record of the contracts' main operations (the scenario is tests/gas_record.py).

python -m bench.gas            # measure on anvil, print the table, write snapshots/gas.json
python -m bench.gas --check    # measure and fail if any figure rose above snapshots/gas.json
"""

from __future__ import annotations

import argparse
import json
import sys

from tests.chain_harness import anvil_chain
from tests.gas_record import NOTES, SNAPSHOT, TARGETS, check, measure


def table(gas: dict[str, int], recorded: dict[str, int] | None = None) -> str:
    lines = [f"{'operation':<36} {'gas':>9} {'target':>9} {'recorded':>9}  what"]
    for name, value in gas.items():
        target = TARGETS.get(name)
        mark = "" if target is None else ("ok" if value <= target else f"MISSED by {value - target:,}")
        was = "" if recorded is None or name not in recorded else f"{recorded[name]:,}"
        shown_target = "" if target is None else f"{target:,}"
        lines.append(f"{name:<36} {value:>9,} {shown_target:>9} {was:>9}  {NOTES.get(name, '')} {mark}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if a figure rose above the snapshot")
    parser.add_argument("--chain", choices=["anvil", "eth-tester"], default="anvil", help="where to measure")
    args = parser.parse_args()
    if args.chain == "anvil":
        with anvil_chain() as chain:
            gas = measure(chain)
    else:
        gas = measure()
    recorded = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else None
    print(table(gas, recorded))
    if args.check:
        problems = check(gas, recorded or {})
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    SNAPSHOT.write_text(json.dumps(gas, indent=2) + "\n")
    print(f"wrote {SNAPSHOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
