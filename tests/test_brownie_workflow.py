"""The brownie workflow, end to end, as a brownie user runs it: compile the project's contracts with the
project's solc, deploy them with scripts/deploy.py on an anvil brownie starts, and run the brownie-style
tests in tests/brownie. brownie lives in .venv-brownie (`make brownie-setup`; `make test` makes it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from daifa.devnet import free_port
from tests.needs import missing

ROOT = Path(__file__).resolve().parent.parent
BROWNIE = ROOT / ".venv-brownie" / "bin" / "brownie"


def run(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(ROOT / "scripts" / "brownie.sh"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    return output


def test_brownie_compiles_deploys_and_tests_the_contracts(tmp_path: Path) -> None:
    if not BROWNIE.exists():
        missing("brownie's virtualenv", "run `make brownie-setup`")
    env = {**os.environ, "DAIFA_BROWNIE_HOME": str(tmp_path / "brownie-home"), "NO_COLOR": "1"}
    port = free_port()
    run(
        "networks",
        "add",
        "Development",
        "daifa-test",
        "cmd=anvil",
        "host=http://127.0.0.1",
        f"port={port}",
        "gas_limit=30000000",
        "accounts=10",
        env=env,
    )

    compiled = run("compile", env=env)
    assert "Project has been compiled" in compiled

    deployed = run("run", "scripts/deploy.py", "--network", "daifa-test", env=env)
    assert "DaifaEscrow 0x" in deployed and "operated by 0x" in deployed
    assert "DaifaTestDollar 0x" in deployed and "6 decimals" in deployed

    tested = run("test", "tests/brownie", "--network", "daifa-test", "--confcutdir=tests/brownie", env=env)
    assert "5 passed" in tested
