"""`pip install daifa` alone: the SDK, the wallet and the client commands install into a fresh virtualenv
without the server's packages, and work against a running platform.

The install is offline, from the wheels `make setup` downloads (requirements-sdk.lock), and builds daifa
from a copy of its sources, so nothing of the project's own virtualenv leaks in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from daifa.api.app import create_app
from daifa.api.server import serving
from tests.e2e.harness import Daifa
from tests.needs import missing

ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / ".wheels" / "sdk"
# The SDK speaks only HTTP to the platform: which chain is behind it changes nothing the test can see.
pytestmark = [pytest.mark.chains("eth-tester")]
SERVER_PACKAGES = ["fastapi", "sqlalchemy", "alembic", "psycopg", "uvicorn", "prometheus_client", "eth_tester"]


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with `pip install daifa` done in it, offline; its python. (--pre: the lock pins a
    beta of py-ecc, which web3 8 accepts.)"""
    if not (WHEELS / ".downloaded").exists():
        missing("the SDK's wheels", "`make setup` downloads them into .wheels/sdk")
    work = tmp_path_factory.mktemp("sdk")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "platform", source / "platform", ignore=shutil.ignore_patterns("__pycache__"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--pre", "--no-index", "--find-links", WHEELS, source],
        check=True,
        env={**os.environ, "PIP_CONSTRAINT": "", "PIP_FIND_LINKS": ""},
    )
    return python


@pytest.fixture
def api(daifa: Daifa) -> Iterator[str]:
    with serving(create_app(daifa.platform)) as url:
        yield url


def run(python: Path, script: str, *args: str) -> dict[str, object]:
    """Runs `script` in the SDK's virtualenv; what it prints last, as JSON."""
    done = subprocess.run(
        [python, "-c", textwrap.dedent(script), *args], capture_output=True, text=True, timeout=120, cwd="/"
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return answer


def test_the_sdk_alone_installs_without_the_server(sdk_python: Path) -> None:
    found = run(
        sdk_python,
        f"""
        import importlib.util, json, sys
        import daifa, daifa.sdk.verify, daifa.describe
        server = {SERVER_PACKAGES!r}
        print(json.dumps({{
            "installed": [p for p in server if importlib.util.find_spec(p) is not None],
            "imported": [p for p in server if p in sys.modules],
            "from": daifa.__file__,
        }}))
        """,
    )
    assert found["installed"] == [] and found["imported"] == []
    assert not str(found["from"]).startswith(str(ROOT))  # the installed copy, not the checkout


def test_the_sdk_alone_applies_reads_and_is_refused_against_a_running_platform(
    daifa: Daifa, api: str, sdk_python: Path, tmp_path: Path
) -> None:
    applied = run(
        sdk_python,
        """
        import json, sys
        from pathlib import Path
        import daifa
        wallet = daifa.Wallet.create(Path(sys.argv[2]), "correct horse", iterations=2**4)
        with daifa.Client(sys.argv[1]) as client:
            pdf = ("licence.pdf", b"%PDF-1.7 licence", "application/pdf")
            answer = client.apply(wallet.address, "Harbour Logistics Ltd", "payee", [pdf])
        print(json.dumps({"party": answer.party.id, "key": answer.api_key, "address": wallet.address}))
        """,
        api,
        str(tmp_path / "payee.json"),
    )
    daifa.post(f"/v1/parties/{applied['party']}/approve", daifa.operator_key, json={"comment": "ok"})
    daifa.settle()

    seen = run(
        sdk_python,
        """
        import json, sys
        import daifa
        with daifa.Client(sys.argv[1], api_key=sys.argv[2]) as client:
            party = client.get_party(sys.argv[3])
            events = [e.type for e in client.list_events()]
            try:
                client.get_plan("pln_999")
                refused = None
            except daifa.NotFound as error:
                refused = [type(error).__name__, error.http_status, isinstance(error, daifa.DaifaError)]
        with daifa.Client("http://127.0.0.1:9", max_retries=0) as nowhere:
            try:
                nowhere.list_parties().__next__()
            except daifa.Unavailable as error:
                unreachable = error.message
        print(json.dumps({"status": party.status, "events": events, "refused": refused, "unreachable": unreachable}))
        """,
        api,
        str(applied["key"]),
        str(applied["party"]),
    )
    assert seen["status"] == "active"
    assert "party.activated" in seen["events"]  # type: ignore[operator]
    assert seen["refused"] == ["NotFound", 404, True]
    assert "did not answer" in str(seen["unreachable"])

    cli = sdk_python.parent / "daifa"
    shown = subprocess.run(
        [cli, "--api-url", api, "--api-key", str(applied["key"]), "party", "show", str(applied["party"]), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["address"] == applied["address"]
    serve = subprocess.run([cli, "serve"], capture_output=True, text=True, timeout=60)
    assert serve.returncode == 1
    assert "pip install 'daifa[server]'" in serve.stderr
