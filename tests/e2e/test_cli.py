"""The `daifa` command: the demo, the wallet, the devnet, deploy, serve, and the parties' and operator's
work through a running server, with typer's CliRunner; errors as one line through the console script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from daifa.cli.main import app
from daifa.devnet import free_port
from daifa.sdk.plans import DAY, instalment, plan_request
from tests.e2e.harness import PDF

pytestmark = pytest.mark.chains("anvil")  # the CLI's chain is a devnet (or, for the demo, its own)

runner = CliRunner()
PASSWORD = {"DAIFA_WALLET_PASSWORD": "correct horse battery staple"}


def daifa(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> str:
    result = runner.invoke(app, list(args), env=env, input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def daifa_json(*args: str, env: dict[str, str] | None = None) -> Any:
    return json.loads(daifa("--json", *args, env=env))


def request_plan(product_id: str, amount: int, folder: Path, payer: dict[str, str], node: dict[str, str]) -> Any:
    """`daifa plan request` with a file of one instalment of `amount`, due two days after the devnet's now."""
    now = daifa_json("devnet", "status", env=node)["time"]
    plan_file = folder / "plan.json"
    plan_file.write_text(
        json.dumps(plan_request(product_id, now + 100 * DAY, [instalment(now + DAY, now + 2 * DAY, amount)]))
    )
    return daifa_json("plan", "request", str(plan_file), env=payer)


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the server did not get there in time"
        time.sleep(0.2)


def test_the_demo_prints_the_whole_timeline_and_ends_in_agreement() -> None:
    output = daifa("demo")
    for milestone in (
        "approved on chain",
        "generated",
        "recorded as chain plan",
        "funds all six",
        "month 4: the employer disputes",
        "split 7,200 USD",
        "month 6: closed",
        "27 of 27 hashes",
    ):
        assert milestone in output, milestone
    assert "database and chain agree" in output
    assert re.search(r"release_batch .* gas \d", output) or "release_batch" in output


def test_the_wallet_creates_shows_signs_and_verifies(tmp_path: Path) -> None:
    keystore = tmp_path / "payer.json"
    created = daifa_json("wallet", "create", str(keystore), env=PASSWORD)
    assert daifa_json("wallet", "address", str(keystore))["address"].lower() == created["address"].lower()
    payload = tmp_path / "typed.json"
    payload.write_text(
        json.dumps(
            {
                "types": {
                    "EIP712Domain": [{"name": "name", "type": "string"}],
                    "Note": [{"name": "text", "type": "string"}],
                },
                "primaryType": "Note",
                "domain": {"name": "Daifa"},
                "message": {"text": "pay the March wages"},
            }
        )
    )
    signature = daifa_json("wallet", "sign", str(keystore), "--typed-data", str(payload), env=PASSWORD)["signature"]
    verified = daifa_json(
        "wallet", "verify", "--typed-data", str(payload), "--signature", signature, "--address", created["address"]
    )
    assert verified["valid"] is True
    refused = runner.invoke(
        app, ["wallet", "verify", "--typed-data", str(payload), "--signature", signature, "--address", "0x" + "11" * 20]
    )
    assert refused.exit_code == 1 and "NOT signed" in refused.output


@pytest.fixture
def devnet(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`daifa devnet up` on a free port, its files in a temporary folder."""
    env = {"DAIFA_DEVNET_DIR": str(tmp_path / "devnet")}
    port = str(free_port())
    up = subprocess.run(
        [sys.executable, "-m", "daifa.cli.main", "devnet", "up", "--port", port],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert up.returncode == 0, up.stderr
    yield {**env, "DAIFA_RPC_URL": f"http://127.0.0.1:{port}"}
    subprocess.run([sys.executable, "-m", "daifa.cli.main", "devnet", "down"], env={**os.environ, **env}, timeout=60)
    assert not (tmp_path / "devnet").exists()


def test_the_devnet_reports_its_state_and_moves_its_clock(devnet: dict[str, str], tmp_path: Path) -> None:
    status = daifa_json("devnet", "status", env=devnet)
    assert status["running"] and status["chain_id"] == 31337
    moved = daifa_json("devnet", "advance", "30d", env=devnet)
    assert moved["time"] >= status["time"] + 30 * 86_400
    # No URL given: the commands find the devnet's port where `daifa devnet up` wrote it.
    found = {k: v for k, v in devnet.items() if k != "DAIFA_RPC_URL"}
    assert os.environ.get("DAIFA_RPC_URL") is None
    deployed = daifa_json("deploy", "--directory", str(tmp_path / "deployments"), env=found)
    assert deployed["chain_id"] == 31337 and deployed["token"]


@pytest.fixture
def server(devnet: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """`daifa deploy` and `daifa serve` on the devnet, as an operator would run them."""
    deployments = tmp_path / "deployments"
    daifa("deploy", "--directory", str(deployments), env=devnet)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daifa.cli.main",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--deployments",
            str(deployments),
        ],
        env={**os.environ, **devnet},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed = []
        for line in process.stdout:
            printed.append(line)
            if "API on" in line:
                break
        drain = threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True)
        drain.start()  # the server and its worker keep logging: a full pipe would stop them
        key_file = tmp_path / "data" / "operator-api-key"
        assert any(str(key_file) in line for line in printed), printed
        key = key_file.read_text().strip()
        assert key.startswith("dk_") and not any(key in line for line in printed)  # in the file, never on screen
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "data" / "daifa.db").stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "data" / "documents").stat().st_mode & 0o777 == 0o700
        env = {**devnet, "DAIFA_API_URL": f"http://127.0.0.1:{port}", "DAIFA_API_KEY": key}
        wait_for(lambda: runner.invoke(app, ["--json", "reconcile"], env=env).exit_code == 0)
        yield env
    finally:
        process.terminate()
        process.wait(timeout=30)
        assert not _workers_of(tmp_path), "`daifa serve` left its worker running"


def _workers_of(folder: Path) -> list[int]:
    """The `daifa worker` processes running on a data folder under `folder`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "daifa.cli.main\0worker" in command and str(folder) in command:
            found.append(int(entry.name))
    return found


def test_an_operator_and_two_parties_work_through_the_cli(server: dict[str, str], tmp_path: Path) -> None:
    operator = server
    keys = {}
    for name, kind in (("employer", "payer"), ("labour-firm", "payee")):
        keystore = tmp_path / f"{name}.json"
        daifa("wallet", "create", str(keystore), env=PASSWORD)
        licence = tmp_path / f"{name}-licence.pdf"
        licence.write_bytes(PDF + name.encode())
        applied = daifa_json(
            "party",
            "apply",
            "--name",
            name.title(),
            "--kind",
            kind,
            "--file",
            str(licence),
            "--wallet",
            str(keystore),
            env=operator,
        )
        keys[name] = {
            **operator,
            **PASSWORD,
            "DAIFA_API_KEY": applied["api_key"],
            "DAIFA_WALLET": str(keystore),
            "id": applied["party"]["id"],
        }
        daifa("party", "approve", applied["party"]["id"], "--comment", "licence checked", env=operator)
    payer, payee = keys["employer"], keys["labour-firm"]
    wait_for(lambda: daifa_json("party", "show", payer["id"], env=payer)["status"] == "active")
    wait_for(lambda: daifa_json("party", "show", payee["id"], env=payee)["status"] == "active")
    assert [p["id"] for p in daifa_json("party", "list", env=payer)] == [payer["id"]]

    token = json.loads((Path(tmp_path / "deployments").glob("*.json").__next__()).read_text())["token"]
    contract = tmp_path / "contract.pdf"
    contract.write_bytes(PDF + b"contract")
    product = daifa_json(
        "product",
        "apply",
        "--payer",
        payer["id"],
        "--business",
        "Warehouse staffing",
        "--limit",
        "1000000000",
        "--token",
        token,
        "--days",
        "200",
        "--file",
        str(contract),
        env=payee,
    )
    daifa("product", "approve", product["id"], env=operator)
    daifa("product", "authorise", product["id"], env=payer)
    assert "signed" in daifa("sign", "--yes", env=payer)
    assert "signed" in daifa("sign", "--yes", env=payee)
    wait_for(lambda: daifa_json("product", "show", product["id"], env=payer)["status"] == "open")

    plan = request_plan(product["id"], 1000, tmp_path, payer, server)
    daifa("sign", "--yes", env=payer)
    daifa("sign", "--yes", env=payee)
    wait_for(lambda: daifa_json("plan", "show", plan["id"], env=payer)["status"] == "recorded")

    verified = daifa("verify", "plan", plan["id"], env=payer)
    assert "MISMATCH" not in verified and "checks match the chain" in verified
    assert "database and chain agree" in daifa("reconcile", env=operator)
    assert daifa_json("events", "--type", "plan.recorded", env=payee)[0]["subject"] == plan["id"]

    # The payee asks for a second instalment; both sign the amendment and the chain takes it.
    [only] = daifa_json("plan", "show", plan["id"], env=payee)["instalments"]
    later = instalment(only["deposit_by"] + DAY, only["release_at"] + DAY, 500)
    kept = instalment(only["deposit_by"], only["release_at"], int(only["amount"]))
    amendment_file = tmp_path / "amendment.json"
    amendment_file.write_text(json.dumps({"instalments": [kept, later]}))
    action = daifa_json("plan", "amend", plan["id"], str(amendment_file), env=payee)
    assert (action["kind"], action["status"]) == ("amendment", "awaiting_signatures")
    daifa("sign", "--yes", env=payee)
    daifa("sign", "--yes", env=payer)
    wait_for(lambda: len(daifa_json("plan", "show", plan["id"], env=payer)["instalments"]) == 2)
    assert daifa_json("plan", "show", plan["id"], env=payer)["total"] == "1500"
    assert "checks match the chain" in daifa("verify", "plan", plan["id"], env=payee)

    # A payroll run from a file: a refused row is shown with its line and nothing is kept; then it is fixed.
    payee_id = daifa_json("plan", "show", plan["id"], env=payer)["payee"]
    now = daifa_json("devnet", "status", env=server)["time"]
    first = datetime.fromtimestamp(now + 40 * DAY, UTC).date().isoformat()
    payroll_file = tmp_path / "payroll.csv"
    payroll_file.write_text(
        f"payee,amounts,first_release\n{payee_id},10.00;12.5,{first}\n{payee_id},1.0000001,{first}\n"
    )
    refused = runner.invoke(app, ["payroll", "submit", str(payroll_file), "--time-zone", "Asia/Shanghai"], env=payer)
    assert refused.exit_code == 1 and "nothing was kept" in refused.output and "amounts" in refused.output
    payroll_file.write_text(f"payee,amounts,first_release\n{payee_id},10.00;12.5,{first}\n")
    run = daifa_json("payroll", "submit", str(payroll_file), "--time-zone", "Asia/Shanghai", env=payer)
    assert (run["status"], run["rows"]) == ("creating", 1)
    wait_for(lambda: daifa_json("payroll", "show", run["id"], env=payer)["status"] == "created")
    assert daifa_json("payroll", "show", run["id"], env=payer)["progress"]["plans"] == {"awaiting_payer": 1}

    # A run the payer's own wallet records and funds: both sign, then `payroll fund --send` pays from it.
    payer_address = daifa_json("wallet", "address", payer["DAIFA_WALLET"], env=PASSWORD)["address"]
    deployments = str(tmp_path / "deployments")
    daifa("devnet", "fund", payer_address, "100", "--eth", "1", "--deployments", deployments, env=operator)
    at_recording = ["--time-zone", "Asia/Shanghai", "--funding", "at_recording"]
    funded_run = daifa_json("payroll", "submit", str(payroll_file), *at_recording, env=payer)["id"]
    wait_for(lambda: daifa_json("payroll", "show", funded_run, env=payer)["status"] == "created")
    daifa("sign", "--yes", env=payer)
    daifa("sign", "--yes", env=payee)
    wait_for(
        lambda: daifa_json("payroll", "show", funded_run, env=payer)["progress"]["plans"] == {"awaiting_funding": 1}
    )
    shown = daifa("payroll", "fund", funded_run, env=payer)
    assert "send in order" in shown and "record and fund 1 plan" in shown
    assert "sent record and fund 1 plan" in daifa("payroll", "fund", funded_run, "--send", env=payer)
    wait_for(lambda: daifa_json("payroll", "show", funded_run, env=payer)["progress"]["funded"] == 1)


def test_errors_are_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    def console(*args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "DAIFA_API_URL": f"http://127.0.0.1:{free_port()}",
            "DAIFA_DEVNET_DIR": str(tmp_path / "d"),
        }
        return subprocess.run(
            [sys.executable, "-m", "daifa.cli.main", *args], env=env, capture_output=True, text=True, timeout=60
        )

    no_devnet = console("devnet", "advance", "1d")
    assert no_devnet.returncode == 1
    assert no_devnet.stderr.strip() == "error: no devnet running: `daifa devnet up` first"
    bad_duration = console("devnet", "advance", "soon")
    assert bad_duration.returncode == 1 and bad_duration.stderr.count("\n") == 1 and "30d" in bad_duration.stderr
    unreachable = console("party", "list")
    assert unreachable.returncode == 3 and len(unreachable.stderr.strip().splitlines()) == 1
    assert "did not answer" in unreachable.stderr and "Traceback" not in unreachable.stderr
    missing_wallet = console("wallet", "address", str(tmp_path / "none.json"))
    assert missing_wallet.returncode == 1
    assert missing_wallet.stderr.strip() == f"error: no readable keystore at {tmp_path / 'none.json'}"
    # --json may come after the command; errors then are JSON too; a usage error exits 2.
    as_json = console("wallet", "address", str(tmp_path / "none.json"), "--json")
    assert as_json.returncode == 1 and json.loads(as_json.stderr)["error"]["code"] == "wallet_error"
    usage = console("party", "list", "--no-such-option", "--json")
    assert usage.returncode == 2 and json.loads(usage.stderr)["error"] == {
        "code": "usage", "message": "No such option: --no-such-option", "status": None
    }  # fmt: skip
    down = console("party", "list", "--json")
    assert down.returncode == 3 and json.loads(down.stderr)["error"]["code"] == "unreachable"


def test_the_operators_key_reaches_the_worker_alone(devnet: dict[str, str], tmp_path: Path) -> None:
    """`daifa serve --workers 2` on a node: the API processes sign nothing and never see the key; the
    `daifa worker` child that relays has it."""
    deployments = tmp_path / "deployments"
    daifa("deploy", "--directory", str(deployments), env=devnet)
    key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # anvil's first account
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "daifa.cli.main", "serve", "--port", str(port), "--workers", "2",
            "--data-dir", str(tmp_path / "data"), "--deployments", str(deployments),
        ],
        env={**os.environ, **devnet, "DAIFA_OPERATOR_KEY": key},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: len(_children(process.pid)) >= 3, timeout=60)  # two API processes and the worker
        environments = {
            pid: (Path(f"/proc/{pid}/environ").read_bytes(), _command(pid)) for pid in _children(process.pid)
        }
        workers = [env for env, command in environments.values() if "worker" in command]
        api = [env for env, command in environments.values() if "worker" not in command and "spawn" in command]
        assert len(workers) == 1 and key[2:].encode() in workers[0]
        assert len(api) == 2 and all(key[2:].encode() not in env and b"DAIFA_API_PROCESS" in env for env in api)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert not _workers_of(tmp_path)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


ANVIL_ACCOUNT_2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # anvil signs for it: an external signer


def test_a_multisig_payer_and_an_external_signer_pay_a_wage_through_the_cli(
    server: dict[str, str], tmp_path: Path
) -> None:
    """The README's hands-on walk: a 2-of-3 Safe as the payer (its owners' keystores sign, or export and
    import), the payee signing through a JSON-RPC signer (anvil's), the devnet's faucet, a wage released."""
    operator, deployments = server, str(tmp_path / "deployments")
    owners = []
    for n in range(3):
        keystore = tmp_path / f"owner-{n}.json"
        owners.append((keystore, daifa_json("wallet", "create", str(keystore), env=PASSWORD)["address"]))
    treasury = daifa_json(
        "safe", "create", *(a for _, o in owners for a in ("--owner", o)), "--threshold", "2", env=operator
    )["address"]
    funded = daifa_json("devnet", "fund", treasury, "25,000", "--deployments", deployments, env=operator)
    assert funded["amount"] == str(25_000 * 10**6)
    daifa("devnet", "fund", owners[0][1], "0", "--eth", "1", "--deployments", deployments, env=operator)

    licence = tmp_path / "licence.pdf"
    licence.write_bytes(PDF + b"licence")
    keys = {}
    for name, kind, address in (("Employer", "payer", treasury), ("Carrier", "payee", ANVIL_ACCOUNT_2)):
        applied = daifa_json(
            "party", "apply", "--name", name, "--kind", kind, "--address", address, "--file", str(licence), env=operator
        )
        daifa("party", "approve", applied["party"]["id"], env=operator)
        keys[kind] = {**operator, **PASSWORD, "DAIFA_API_KEY": applied["api_key"], "id": applied["party"]["id"]}
    payer, payee = keys["payer"], keys["payee"]
    wait_for(lambda: daifa_json("party", "show", payer["id"], env=payer)["status"] == "active")
    wait_for(lambda: daifa_json("party", "show", payee["id"], env=payee)["status"] == "active")
    as_owners = [a for path, _ in owners[:2] for a in ("--wallet", str(path))]
    as_signer = ["--signer-url", operator["DAIFA_RPC_URL"], "--signer-address", ANVIL_ACCOUNT_2]

    token = json.loads(next(Path(deployments).glob("*.json")).read_text())["token"]
    contract = tmp_path / "contract.pdf"
    contract.write_bytes(PDF + b"haulage contract")
    product = daifa_json(
        "product", "apply", "--payer", payer["id"], "--business", "Haulage", "--limit", "100000000000",
        "--token", token, "--days", "200", "--file", str(contract), env=payee,
    )  # fmt: skip
    daifa("product", "approve", product["id"], env=operator)
    daifa("product", "authorise", product["id"], env=payer)
    shown = daifa("sign", *as_owners, "--yes", "--timezone", "Asia/Shanghai", env=payer)  # two owners, one Safe
    for words in ("Employer", "Carrier", "100,000.00 tUSD", "PAYER-PAYEE AGREEMENT", "+08:00", "digest"):
        assert words in shown, words
    daifa("sign", *as_signer, "--yes", env=payee)
    wait_for(lambda: daifa_json("product", "show", product["id"], env=payer)["status"] == "open")

    plan = request_plan(product["id"], 1_000_000_000, tmp_path, payer, operator)
    # The owners sign elsewhere: the message is exported, each owner signs it, the signatures come back.
    exported = tmp_path / "message.json"
    signature_request = _pending_request(payer)
    daifa("sign", signature_request, "--export", str(exported), env=payer)
    owner_signatures = [
        daifa_json("wallet", "sign", str(path), "--typed-data", str(exported), env=PASSWORD)["signature"]
        for path, _ in (owners[0], owners[2])
    ]
    daifa(
        "sign", signature_request, *(a for s in owner_signatures for a in ("--owner-signature", s)), "--yes", env=payer
    )
    daifa("sign", *as_signer, "--yes", env=payee)
    wait_for(lambda: daifa_json("plan", "show", plan["id"], env=payer)["status"] == "recorded")

    # A multisig cannot sign a permit: the deposit is the Safe's own transactions, signed by two owners.
    action = daifa_json("deposit", plan["id"], "--indices", "0", env=payer)
    assert action["status"] == "awaiting_wallet"
    daifa("safe", "send", treasury, "--action", action["id"], *as_owners, env=payer)
    wait_for(lambda: daifa_json("plan", "show", plan["id"], env=payer)["instalments"][0]["status"] == "funded")
    daifa("devnet", "advance", "3d", env=operator)
    wait_for(lambda: daifa_json("plan", "show", plan["id"], env=payee)["instalments"][0]["status"] == "closed")
    assert "database and chain agree" in daifa("reconcile", env=operator)


def _pending_request(env: dict[str, str]) -> str:
    from daifa.sdk.client import Client

    with Client(env["DAIFA_API_URL"], env["DAIFA_API_KEY"]) as client:
        [request] = list(client.list_signature_requests())
    return request.id
