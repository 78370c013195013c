"""The payroll month benchmark: one employer, N labour firms, a 12-month wage plan with each, through the
whole platform on a fresh anvil devnet, run as it would be deployed: `daifa serve --workers 2
--no-background` (the REST API in two processes), `daifa worker` (relayer, indexer, scheduler, webhooks in
a third), and this process as the clients.

    python -m bench.payroll [--payees 1000] [--database-url URL] [--kill-worker 5]      (make bench)

Phases: onboarding (N+1 applications and approvals), products (N applications the operator approves, the
employer authorising their credit and signing their agreement sets in batches of 100), plans (N plans
of 12 instalments in one payroll run, both sign; by default the run is funded at recording: the employer's
wallet sends the recordPlansAndDeposit batches the platform prepares, recording and funding all 12 months;
with --funding after_recording the platform records each plan and a funding phase follows, the employer
sending the deposits of the first 10 months the platform prepared), releases (10 months of wages:
time moved a month at a time, the scheduler releases in batches of 100). Then: the indexer's catch-up over
the whole history from an empty database, the latency of reading a plan with 50 concurrent clients, and
each process's peak memory. Whatever the run, it ends by checking on the chain's own logs that every wage
was released exactly once, and by asking the platform to reconcile with the chain. With --kill-worker K
the worker is killed (SIGKILL) K times at random moments while the wages are funded and released, and
started again. Prints a table and writes bench/results/payroll.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, make_url, select, text
from web3 import Web3
from web3.types import TxParams

from daifa import Client
from daifa.bootstrap import Settings, build
from daifa.chain.artifacts import load_artifact
from daifa.deploy import deploy
from daifa.devnet import DEV_OPERATOR_KEY, Devnet, free_port
from daifa.domain.limits import MAX_BATCH
from daifa.errors import DaifaError
from daifa.services import credentials
from daifa.services.context import Role
from daifa.store import models as m
from daifa.store.db import make_engine, migrate, read_session_factory, session_factory

DAY = 86_400
USD = 10**6
WAGE = 3_000 * USD
MONTHS, FUNDED = 12, 10
PDF = b"%PDF-1.4\n"
RESULTS = Path(__file__).parent / "results"


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    transactions: int = 0
    gas: int = 0
    api_requests: int = 0
    items: int = 0  # what the phase is about: parties, products, plans, instalments
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # by process: where the time went

    @property
    def tx_per_second(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0


@dataclass
class ReadLoad:
    """One run of bench.readers: 50 keep-alive clients reading plans (or the floor's answer) back to back."""

    name: str
    requests: int
    p50_ms: float
    p99_ms: float
    requests_per_second: float


@dataclass
class Result:
    payees: int
    database: str
    api_processes: int
    phases: list[Phase] = field(default_factory=list)
    month_seconds: float = 0.0
    worker_kills: int = 0
    released_exactly_once: bool = False
    reconciled: bool = False
    indexer_events: int = 0
    indexer_seconds: float = 0.0
    reads: list[ReadLoad] = field(default_factory=list)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)  # per process


class Bench:
    def __init__(
        self,
        payees: int,
        database_url: str | None,
        workers: int,
        folder: Path,
        api_processes: int,
        kills: int,
        funding_mode: str = "at_recording",
    ) -> None:
        self.n = payees
        self.funding_mode = funding_mode
        self.workers = workers
        self.folder = folder
        self.api_processes = api_processes
        self.kills = kills
        self.requests = 0
        # The database first: one the role may not write is refused (DatabaseNotWritable says what to
        # grant) before anything is started that would need stopping.
        self.database_url = database_url or f"sqlite:///{folder / 'daifa.db'}"
        self.engine = make_engine(self.database_url)
        migrate(self.engine)
        with session_factory(self.engine).begin() as session:
            self.operator_key = credentials.issue(session, Role.OPERATOR)
        self.readers = read_session_factory(self.engine)
        self.devnet = Devnet(state_dir=folder / "anvil", port=free_port())
        self.devnet.up(extra_args=("--silent",))
        try:
            self.w3 = self.devnet.web3()
            self.rpc_url = self.devnet.url
            self.operator = Account.from_key(DEV_OPERATOR_KEY)
            self.deployment = deploy(self.w3, self.operator)
            self.deployment.save(folder / "deployments")
        except BaseException:
            self.devnet.down()
            raise
        self.payer_wallet: LocalAccount = Account.from_key(keccak(text="bench:payer"))
        self.payee_wallets = [Account.from_key(keccak(text=f"bench:payee:{i}")) for i in range(payees)]
        self.token = self.w3.eth.contract(
            address=Web3.to_checksum_address(self.deployment.token or ""), abi=load_artifact("DaifaTestDollar")["abi"]
        )
        self.escrow = self.w3.eth.contract(
            address=Web3.to_checksum_address(self.deployment.escrow), abi=load_artifact("DaifaEscrow")["abi"]
        )
        self.api: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.peaks: dict[str, float] = {}
        self.killed_workers_cpu = 0.0

    # ------------------------------------------------------------------------------ processes

    def daifa(self, *command: str) -> list[str]:
        where = ["--rpc-url", self.rpc_url, "--database-url", self.database_url, "--data-dir", str(self.folder)]
        deployments = ["--deployments", str(self.folder / "deployments")]
        return [sys.executable, "-m", "daifa.cli.main", *command, *where, *deployments]

    def log(self, name: str) -> IO[bytes]:
        """A child process's stderr, kept for when it fails to start; the child holds it open."""
        return open(self.folder / f"{name}.log", "ab")

    def start_api(self) -> None:
        port = free_port()
        # One address makes every application and holds a client per party here: those limits are off,
        # as for a payroll firm's own system behind one address, arranged with the platform.
        command = self.daifa(
            "serve", "--port", str(port), "--workers", str(self.api_processes), "--no-background",
            "--applications-per-hour", "0", "--per-client-connections", "0", "--log-level", "WARNING",
        )  # fmt: skip
        self.api = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.log("api"), start_new_session=True)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=5).status_code in (200, 503):  # up; the worker next
                    return
            except httpx.TransportError:
                pass
            if self.api.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start: see {self.folder / 'api.log'}")
            time.sleep(0.1)

    def start_worker(self, idle: float) -> None:
        command = self.daifa("worker", "--idle", str(idle), "--log-level", "WARNING")
        self.worker = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=self.log("worker"), start_new_session=True
        )

    def stop(self, process: subprocess.Popen[bytes] | None, name: str) -> None:
        if process is None or process.poll() is not None:
            return
        children = [(pid, f"{name} process {i}") for i, pid in enumerate(_children(process.pid), 1)]
        for pid, label in [(process.pid, name), *children]:
            self.peaks[label] = max(self.peaks.get(label, 0.0), _peak_rss_mb(pid))
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with contextlib.suppress(ProcessLookupError):  # anything it started and left behind
            os.killpg(process.pid, signal.SIGKILL)

    def kill_worker_now_and_then(self, done: threading.Event, rng: random.Random) -> None:
        """SIGKILLs the worker at random moments (1-12 s apart) until `kills` are done or the month is,
        starting it again each time."""
        while self.result.worker_kills < self.kills and not done.wait(rng.uniform(1.0, 12.0)):
            assert self.worker is not None
            self.peaks["worker"] = max(self.peaks.get("worker", 0.0), _peak_rss_mb(self.worker.pid))
            self.killed_workers_cpu += _cpu_seconds(self.worker.pid)
            self.worker.kill()
            self.worker.wait()
            self.result.worker_kills += 1
            self.start_worker(0.02)

    # ------------------------------------------------------------------------------ plumbing

    def client(self, key: str | None) -> Client:
        client = Client(self.url, key, timeout=120)

        def count(_request: httpx.Request) -> None:
            self.requests += 1

        client._http.event_hooks["request"].append(count)
        return client

    def parallel(self, work: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(work, items))

    def count(self, *where: Any, model: type[m.Base] = m.Party) -> int:
        with self.readers() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def wait(self, done: Callable[[], bool], what: str, timeout: float = 1_800) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not finish in {timeout} s")
            time.sleep(0.05)

    def phase(self, name: str, items: int, run: Callable[[], None]) -> Phase:
        with self.readers() as session:
            first_entry = int(session.scalar(select(func.coalesce(func.max(m.OutboxEntry.id), 0))) or 0)
        requests, started, cpu = self.requests, time.perf_counter(), self.cpu()
        run()
        phase = Phase(name, time.perf_counter() - started, api_requests=self.requests - requests, items=items)
        phase.cpu_seconds = {k: round(v - cpu.get(k, 0.0), 1) for k, v in self.cpu().items()}
        with self.readers() as session:
            entries = session.scalars(select(m.OutboxEntry).where(m.OutboxEntry.id > first_entry)).all()
        phase.transactions += len(entries)
        phase.gas += sum(e.gas_used or 0 for e in entries)
        self.result.phases.append(phase)
        return phase

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each kind of process (a worker killed and restarted counts anew)."""
        api = [self.api.pid, *_children(self.api.pid)] if self.api is not None else []
        return {
            "api": sum(_cpu_seconds(pid) for pid in api),
            "worker": self.killed_workers_cpu + (_cpu_seconds(self.worker.pid) if self.worker is not None else 0.0),
            "clients": _cpu_seconds(os.getpid()),
            "anvil": _cpu_seconds(self.devnet.pid()),
        }

    def both_sign(self) -> None:
        """The employer signs everything waiting for it, then every labour firm does."""
        self.sign_all(self.payer, self.payer_wallet)
        self.parallel(lambda i: self.sign_all(self.payees[i], self.payee_wallets[i]), range(self.n))

    def sign_all(self, client: Client, wallet: LocalAccount) -> None:
        """The party's wallet signs what waits for it; the signatures go in batches of 100 (one request for
        a labour firm's one, ten for the employer's thousand)."""
        pending = list(client.list_signature_requests())

        def signed(request: Any) -> tuple[str, str]:
            return request.id, "0x" + bytes(wallet.sign_typed_data(full_message=request.typed_data).signature).hex()

        self.parallel(client.sign_many, list(_batches([signed(request) for request in pending])))

    # ------------------------------------------------------------------------------ the month

    def run(self, seed: int) -> Result:
        self.result = Result(self.n, self.database_url.split(":", 1)[0].split("+")[0], self.api_processes)
        try:
            self.start_api()
            self.start_worker(0.02)
            started = time.perf_counter()
            self.onboarding()
            self.products()
            self.plans()
            month_done = threading.Event()
            chaos = threading.Thread(target=self.kill_worker_now_and_then, args=(month_done, random.Random(seed)))
            chaos.start()
            try:
                if self.funding_mode == "after_recording":
                    self.funding()
                self.releases()
            finally:
                month_done.set()
                chaos.join()
            self.result.month_seconds = time.perf_counter() - started
            self.check_paid_exactly_once()
            # The month is done: the worker goes on at its production pace (a turn a second) while the
            # plans are read.
            self.stop(self.worker, "worker")
            self.start_worker(1.0)
            self.reads()
            self.stop(self.worker, "worker")
            self.stop(self.api, "api")
            self.catch_up()
            self.result.peak_rss_mb = self.peaks | {
                "bench clients and catch-up": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "anvil": _peak_rss_mb(self.devnet.pid()),
            }
        finally:
            self.stop(self.worker, "worker")
            self.stop(self.api, "api")
            self.engine.dispose()
            self.devnet.down()
        return self.result

    def onboarding(self) -> None:
        anonymous, operator = self.client(None), self.client(self.operator_key)
        everyone = [(self.payer_wallet, "payer"), *((w, "payee") for w in self.payee_wallets)]

        def onboard(item: tuple[LocalAccount, str]) -> tuple[str, str]:
            wallet, kind = item
            licence = ("licence.pdf", PDF + wallet.address.encode(), "application/pdf")
            application = anonymous.apply(wallet.address, f"Firm {wallet.address[:10]}", kind, [licence])
            operator.approve_party(application.party.id, "bench")
            return application.party.id, application.api_key

        def run() -> None:
            self.parties = self.parallel(onboard, everyone)
            self.wait(lambda: self.count(m.Party.status == "active") == self.n + 1, "onboarding")

        self.phase("onboarding", self.n + 1, run)
        self.payer_id, payer_key = self.parties[0]
        self.payer = self.client(payer_key)
        self.payees = [self.client(key) for _, key in self.parties[1:]]

    def products(self) -> None:
        operator = self.client(self.operator_key)
        expiry = _now(self.w3) + 450 * DAY

        def apply_and_review(i: int) -> str:
            payee = self.payees[i]
            contract = ("contract.pdf", PDF + str(i).encode(), "application/pdf")
            product = payee.apply_for_product(
                self.payer_id, f"Staffing {i}", 100_000 * USD, [self.token.address], expiry, [contract]
            )
            operator.approve_product(product.id)
            return product.id

        def run() -> None:
            self.product_ids = self.parallel(apply_and_review, range(self.n))
            # The employer authorises the credit of its labour firms' products a hundred to a request.
            self.parallel(self.payer.authorise_credit_many, list(_batches(self.product_ids)))
            self.both_sign()
            self.wait(lambda: self.count(m.Product.status == "open", model=m.Product) == self.n, "products")

        self.phase("products", self.n, run)

    def plans(self) -> None:
        """The payroll firm's way: the month's plans in one payroll run (a CSV of a row a payee), then
        every signature; at recording, the employer's wallet then records and funds them in batches."""
        first = datetime.fromtimestamp(_now(self.w3) + 31 * DAY, UTC).date().isoformat()
        wages = ";".join([str(WAGE / USD)] * MONTHS)  # in tUSD, as a payroll file has it: 3000.0
        rows = [f"{party_id},{wages},{first},10" for party_id, _ in self.parties[1:]]
        payroll = ("month.csv", "\n".join(["payee,amounts,first_release,deposit_days", *rows]).encode(), "text/csv")
        at_recording = self.funding_mode == "at_recording"
        payer_gas: list[int] = []
        if at_recording:
            self.fill_payer_wallet(self.n * MONTHS * WAGE)

        def run() -> None:
            submitted = self.payer.submit_payroll(payroll, "UTC", "09:00", self.funding_mode)
            self.wait(lambda: self.payer.get_payroll_run(submitted.id).status == "created", "payroll run")
            with self.readers() as session:
                keys = session.scalars(select(m.Plan.id).where(m.Plan.payroll_run_id == int(submitted.id[4:])))
                self.plan_ids = [f"pln_{key}" for key in keys]
            self.both_sign()
            if at_recording:
                payer_gas.extend(self.record_and_fund(submitted.id))
            self.wait(lambda: self.count(m.Plan.status == "recorded", model=m.Plan) == self.n, "plans")

        name = "plans: one payroll run, recorded and funded by the payer" if at_recording else "plans (one payroll run)"
        phase = self.phase(name, self.n, run)
        phase.transactions += len(payer_gas)
        phase.gas += sum(payer_gas)
        with self.readers() as session:
            self.release_times = sorted(
                set(session.scalars(select(m.Instalment.release_at).where(m.Instalment.index < FUNDED)))
            )

    def fill_payer_wallet(self, total: int) -> None:
        """The employer's wallet gets the month's tokens and ether for gas, and approves the escrow once."""
        faucet_limit = 10_000_000 * USD
        funder = list(self.w3.eth.accounts)[1]
        for _ in range(0, total, faucet_limit):
            self.w3.eth.wait_for_transaction_receipt(
                self.token.functions.faucet(self.payer_wallet.address, faucet_limit).transact({"from": funder})
            )
        self.w3.eth.wait_for_transaction_receipt(
            self.w3.eth.send_transaction(
                {"from": funder, "to": self.payer_wallet.address, "value": Web3.to_wei(1_000, "ether")}
            )
        )
        approve = {
            "to": self.token.address,
            "data": self.token.encode_abi("approve", args=[self.escrow.address, 2**256 - 1]),
        }
        self.w3.eth.wait_for_transaction_receipt(_send_batches(self.w3, self.payer_wallet, [approve])[0])

    def record_and_fund(self, run_id: str) -> list[int]:
        """The employer's wallet sends the transactions the platform prepares for the run's signed plans
        (recordPlansAndDeposit batches), asking again until every plan is recorded; the gas of each."""
        gas: list[int] = []
        waiting = m.Plan.status == "awaiting_funding"
        self.wait(lambda: self.count(waiting, model=m.Plan) == self.n, "both signatures")
        while self.count(waiting, model=m.Plan):
            funding = self.payer.payroll_funding(run_id)
            calls = [tx.model_dump() for tx in funding.transactions]
            for call in calls:
                asked = cast(TxParams, {"from": self.payer_wallet.address, "to": call["to"], "data": call["data"]})
                call["gas"] = int(self.w3.eth.estimate_gas(asked) * 1.2)
            hashes = _send_batches(self.w3, self.payer_wallet, calls)
            gas.extend(int(self.w3.eth.wait_for_transaction_receipt(h)["gasUsed"]) for h in hashes)
            sent = [int(plan_id[4:]) for plan_id in funding.plans]

            def recorded(sent: list[int] = sent) -> bool:
                return self.count(m.Plan.id.in_(sent), ~waiting, model=m.Plan) == len(sent)

            self.wait(recorded, "recording")
        return gas

    def funding(self) -> None:
        self.fill_payer_wallet(self.n * FUNDED * WAGE)
        payer_gas: list[int] = []

        def run() -> None:
            actions = self.parallel(
                lambda plan_id: self.payer.deposit(plan_id, list(range(FUNDED)), "wallet"), self.plan_ids
            )
            calls = [a.details["transactions"][-1] for a in actions]  # the allowance was given once
            hashes = _send_batches(self.w3, self.payer_wallet, calls)
            payer_gas.extend(int(self.w3.eth.wait_for_transaction_receipt(h)["gasUsed"]) for h in hashes)
            funded = (m.Instalment.chain_status.op("&")(1)) == 1
            self.wait(lambda: self.count(funded, model=m.Instalment) == self.n * FUNDED, "funding")

        phase = self.phase("funding (payer's own wallet)", self.n * FUNDED, run)
        phase.transactions += len(payer_gas)
        phase.gas += sum(payer_gas)

    def releases(self) -> None:
        closed = (m.Instalment.chain_status.op("&")(8)) == 8

        def run() -> None:
            for month, target in enumerate(self.release_times):
                self.devnet.advance(max(1, target - _now(self.w3)))

                def released(month: int = month) -> bool:
                    return self.count(closed, model=m.Instalment) == (month + 1) * self.n

                self.wait(released, "releases")

        self.phase("releases", self.n * FUNDED, run)

    # ------------------------------------------------------------------------------ after the month

    def check_paid_exactly_once(self) -> None:
        """On the chain's own logs: one Released per funded wage and none skipped; in the outbox: every
        transaction mined, no nonce used twice; then the platform's reconciliation with the chain."""
        since = self.deployment.start_block
        released = self.escrow.events.Released.get_logs(from_block=since)
        skipped = self.escrow.events.ReleaseSkipped.get_logs(from_block=since)
        wages = {(e["args"]["planId"], e["args"]["index"]) for e in released}
        with self.readers() as session:
            entries = session.execute(select(m.OutboxEntry.nonce, m.OutboxEntry.status)).all()
        nonces = [nonce for nonce, _ in entries if nonce is not None]
        self.result.released_exactly_once = (
            len(released) == len(wages) == self.n * FUNDED
            and not skipped
            and len(nonces) == len(set(nonces))
            and all(status == "mined" for _, status in entries)
        )
        self.result.reconciled = self.client(self.operator_key).reconciliation().ok

    def reads(self) -> None:
        """Reading plans under load, from another process (bench/readers.py) so the load generator does
        not compete with the server for this interpreter: first the floor (bench/floor.py), then the
        plans as the API processes first meet them (each builds every plan's JSON once), then again as
        payers and payees polling them see them (kept JSON, as the plans have not changed)."""
        plans = self.folder / "plans.json"
        plans.write_text(json.dumps(self.plan_ids))
        floor = self.start_floor()
        try:
            self.result.reads.append(self.read_load("a bare ASGI answer of 1 KB (the floor)", floor[1], plans, 900))
        finally:
            self.stop(floor[0], "floor")
        first = f"a plan's first reads ({len(self.plan_ids):,} plans, each built in each API process)"
        self.result.reads.append(self.read_load(first, self.url, plans, 200))
        self.result.reads.append(self.read_load("a plan read, polled", self.url, plans, 900))

    def start_floor(self) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        command = [
            sys.executable, "-m", "uvicorn", "bench.floor:app", "--port", str(port),
            "--workers", str(self.api_processes), "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.log("floor"), start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(url, timeout=5)
                return process, url
            time.sleep(0.1)
        self.stop(process, "floor")
        raise RuntimeError(f"the floor's server did not start: see {self.folder / 'floor.log'}")

    def read_load(self, name: str, url: str, plans: Path, each: int, clients: int = 50) -> ReadLoad:
        """`clients` connections each reading `each` plans (under the API's 1,000 requests a connection)."""
        command = [sys.executable, "-m", "bench.readers", url, self.operator_key, str(plans)]
        done = subprocess.run(
            [*command, "--clients", str(clients), "--each", str(each)], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        summary = json.loads(done.stdout)
        return ReadLoad(
            name, int(summary["requests"]), summary["p50_ms"], summary["p99_ms"], summary["requests_per_second"]
        )

    def catch_up(self) -> None:
        """The indexer over the whole history, into a copy of the database with every chain fact erased
        (SQLite: VACUUM INTO a file; PostgreSQL: CREATE DATABASE ... TEMPLATE, which the role may do on a
        database it owns, with nothing else connected to it: the API and the worker are stopped by now)."""
        with self._copy_of_database() as url:
            if url is None:
                return
            settings = Settings(
                url, self.folder / "documents", self.deployment.escrow, start_block=self.deployment.start_block
            )
            fresh = build(settings, self.w3, self.operator)
            try:
                with session_factory(fresh.engine).begin() as session:
                    session.query(m.ChainLog).delete()
                    session.query(m.IndexedBlock).delete()
                    session.query(m.IndexerCursor).delete()
                    fresh.indexer.projection.rebuild(session)
                started = time.perf_counter()
                self.result.indexer_events = fresh.indexer.run_once()
                self.result.indexer_seconds = time.perf_counter() - started
            finally:
                fresh.close()

    @contextlib.contextmanager
    def _copy_of_database(self) -> Iterator[str | None]:
        if self.database_url.startswith("sqlite"):
            copy = self.folder / "catch-up.db"
            copy.unlink(missing_ok=True)
            with sqlite3.connect(self.database_url.removeprefix("sqlite:///")) as source:
                source.execute("VACUUM INTO ?", (str(copy),))
            yield f"sqlite:///{copy}"
            return
        original = make_url(self.database_url)
        name = f"{original.database}_catch_up"
        self.engine.dispose()  # the template may have no other connection
        admin = make_engine(self.database_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{original.database}"'))
        except Exception as refused:  # not the database's owner, say: the catch-up is left unmeasured
            print(f"bench: no copy of the database for the catch-up ({refused})", file=sys.stderr)
            admin.dispose()
            yield None
            return
        try:
            yield original.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _send_batches(w3: Web3, wallet: LocalAccount, calls: list[dict[str, Any]], size: int = 200) -> list[HexBytes]:
    """Signs every call with consecutive nonces and posts them as JSON-RPC batches (web3's batches refuse
    eth_sendRawTransaction, so the array is posted directly)."""
    nonce = w3.eth.get_transaction_count(wallet.address)
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0))
    raws = []
    for i, call in enumerate(calls):
        tx: dict[str, Any] = {
            "to": Web3.to_checksum_address(call["to"]),
            "data": call["data"],
            "nonce": nonce + i,
            "gas": call.get("gas", 1_500_000),
            "chainId": w3.eth.chain_id,
            "maxFeePerGas": 2 * base_fee + 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
        raws.append("0x" + bytes(wallet.sign_transaction(tx).raw_transaction).hex())
    hashes: list[HexBytes] = []
    endpoint = str(w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    for start in range(0, len(raws), size):
        batch = [
            {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]}
            for i, raw in enumerate(raws[start : start + size])
        ]
        answers = httpx.post(endpoint, json=batch, timeout=120).json()
        for answer in sorted(answers, key=lambda a: a["id"]):
            if "error" in answer:
                raise RuntimeError(f"a deposit was refused: {answer['error']}")
            hashes.append(HexBytes(answer["result"]))
    return hashes


def _batches(items: list[Any]) -> Iterator[list[Any]]:
    """`items` a hundred at a time: what one batch request of the API takes."""
    for start in range(0, len(items), MAX_BATCH):
        yield items[start : start + MAX_BATCH]


def _children(pid: int) -> list[int]:
    """The processes `pid` started (uvicorn's workers under `daifa serve --workers N`), leaving out
    multiprocessing's resource tracker."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid and b"resource_tracker" not in command:
            children.append(int(stat.parent.name))
    return children


def _cpu_seconds(pid: int | None) -> float:
    """User and system CPU time of a process (not of its children)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return sum(int(f) for f in fields[11:13]) / os.sysconf("SC_CLK_TCK")


def _now(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


def _peak_rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def report(result: Result, console: Console) -> None:
    title = (
        f"payroll month: {result.payees} payees x {MONTHS} instalments ({result.database},"
        f" {result.api_processes} API processes, a worker process)"
    )
    table = Table(title=title)
    columns = ("phase", "items", "wall s", "transactions", "tx/s", "gas", "API requests", "API req/s", "CPU s")
    for column in columns:
        table.add_column(column, justify="right" if column != "phase" else "left")
    for p in result.phases:
        table.add_row(
            p.name,
            f"{p.items:,}",
            f"{p.seconds:.1f}",
            f"{p.transactions:,}",
            f"{p.tx_per_second:.0f}",
            f"{p.gas:,}",
            f"{p.api_requests:,}",
            f"{p.api_requests / p.seconds:.0f}" if p.seconds else "-",
            " ".join(f"{k} {v:.0f}" for k, v in p.cpu_seconds.items()),
        )
    console.print(table)
    rate = result.indexer_events / result.indexer_seconds if result.indexer_seconds else 0
    memory = ", ".join(f"{name} {mb:,.0f} MB" for name, mb in result.peak_rss_mb.items())
    lines = [
        f"whole month from a clean start: {result.month_seconds:.1f} s (target 60 s)",
        f"worker killed {result.worker_kills} times; every wage released exactly once:"
        f" {'yes' if result.released_exactly_once else 'NO'}; reconciled with the chain:"
        f" {'yes' if result.reconciled else 'NO'}",
        f"indexer catch-up: {result.indexer_events:,} events in {result.indexer_seconds:.1f} s"
        f" = {rate:,.0f} events/s (target 15,000)",
        f"peak memory: {memory}",
    ]
    for line in lines:
        console.print(line)
    reads = Table(title="reads, 50 keep-alive clients on the same cores (target, polled plans: 5,000/s, p99 25 ms)")
    for column in ("load", "requests", "requests/s", "p50 ms", "p99 ms"):
        reads.add_column(column, justify="right" if column != "load" else "left")
    for load in result.reads:
        figures = (f"{load.requests:,}", f"{load.requests_per_second:,.0f}", f"{load.p50_ms:.1f}", f"{load.p99_ms:.1f}")
        reads.add_row(load.name, *figures)
    console.print(reads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payees", type=int, default=1_000)
    parser.add_argument("--database-url", default=None, help="SQLite in a temporary folder unless given")
    parser.add_argument("--workers", type=int, default=8, help="client threads")
    parser.add_argument("--api-processes", type=int, default=2, help="`daifa serve --workers`")
    parser.add_argument("--kill-worker", type=int, default=0, metavar="K", help="SIGKILL the worker K times")
    parser.add_argument("--seed", type=int, default=None, help="for the moments the worker is killed")
    parser.add_argument(
        "--funding",
        choices=["at_recording", "after_recording"],
        default="at_recording",
        help="the employer's wallet records and funds the plans in batches, or the platform records each and "
        "the employer deposits the first 10 months afterwards",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "payroll.json")
    args = parser.parse_args()
    # SIGTERM ends the benchmark as Ctrl-C does: through every `finally`, so the API, the worker and
    # anvil it started are stopped (Python's default would leave them running).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    with tempfile.TemporaryDirectory(prefix="daifa-bench-") as folder:
        try:
            bench = Bench(
                args.payees,
                args.database_url,
                args.workers,
                Path(folder),
                args.api_processes,
                args.kill_worker,
                args.funding,
            )
        except DaifaError as error:  # a database it cannot use: what to do, not a traceback
            raise SystemExit(f"bench: {error.message}") from None
        result = bench.run(seed)
    report(result, Console(width=150))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = asdict(result) | {"phases": [asdict(p) | {"tx_per_second": p.tx_per_second} for p in result.phases]}
    args.out.write_text(json.dumps(payload | {"seed": seed}, indent=2) + "\n")
    print(f"written to {args.out} (seed {seed})")
    if not (result.released_exactly_once and result.reconciled):
        raise SystemExit("the month did not end with every wage paid exactly once and the chain reconciled")


if __name__ == "__main__":
    main()
