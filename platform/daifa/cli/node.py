"""The platform's own processes: `daifa serve`, `daifa worker`, `daifa operator-key`. They need the server's
packages (`pip install 'daifa[server]'`; the embedded chain also `daifa[devnet]`)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from eth_account import Account
from eth_account.signers.local import LocalAccount
from rich.progress import Progress
from web3 import Web3

from daifa import logs
from daifa.api.connection_limits import ConnectionLimits
from daifa.api.ratelimit import RateLimit, RateLimits
from daifa.chain.client import BATCH_BYTES, BATCH_ITEMS, MAX_FEE_PER_GAS, http_web3
from daifa.cli.devnet import DeploymentsDir, OperatorKey, RpcUrl, node_web3, operator_key_for
from daifa.cli.output import Settings
from daifa.deploy import DEPLOYMENTS_DIR, Deployment, deploy
from daifa.devnet import DEV_OPERATOR_KEY, PROJECT_ROOT
from daifa.errors import DaifaError
from daifa.private_files import private_directory, write_private
from daifa.runtime import restore_recursion_limit

if TYPE_CHECKING:  # the platform itself is imported by the commands that run it, not to list them
    from sqlalchemy.orm import Session, sessionmaker

    from daifa.bootstrap import Platform

VAR = PROJECT_ROOT / "var"
OPERATOR_KEY_FILE = "operator-api-key"
DatabaseUrl = Annotated[
    str, typer.Option(envvar="DAIFA_DATABASE_URL", help="SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://...")
]

DataDir = Annotated[Path, typer.Option(envvar="DAIFA_DATA_DIR", help="documents and the default database")]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.command("operator-key")(operator_key)


# ---------------------------------------------------------------------------------- serve

AllowLocalWebhooks = Annotated[
    bool,
    typer.Option(
        "--allow-local-webhooks",
        envvar="DAIFA_ALLOW_LOCAL_WEBHOOKS",
        help="development only: webhooks to loopback addresses and over plain http",
    ),
]
MaxFeeGwei = Annotated[
    float, typer.Option(envvar="DAIFA_MAX_FEE_GWEI", help="the most the relayer pays per gas, in gwei")
]
OperatorKeyFile = Annotated[
    Path | None,
    typer.Option(envvar="DAIFA_OPERATOR_KEY_FILE", help="a file (mode 0600) holding the operator's private key"),
]
RpcBatchItems = Annotated[
    int, typer.Option(min=1, envvar="DAIFA_RPC_BATCH_ITEMS", help="requests per JSON-RPC batch to the node")
]
RpcBatchBytes = Annotated[
    int, typer.Option(min=1_024, envvar="DAIFA_RPC_BATCH_BYTES", help="bytes per JSON-RPC batch to the node")
]
LogFormat = Annotated[str, typer.Option(help="json or text (default: text at a terminal, json otherwise)")]
LogLevel = Annotated[str, typer.Option(help="DEBUG, INFO (the default: a line per request), WARNING or ERROR")]


def serve(
    ctx: typer.Context,
    rpc_url: RpcUrl = None,
    database_url: DatabaseUrl = "",
    operator_key: OperatorKey = None,
    operator_key_file: OperatorKeyFile = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    confirmations: int = 0,
    data_dir: DataDir = VAR,
    deployments: DeploymentsDir = DEPLOYMENTS_DIR,
    workers: Annotated[int, typer.Option(min=1, help="API processes; more than one needs --rpc-url")] = 1,
    background: Annotated[
        bool, typer.Option(help="also run the background work (`daifa worker`, its own process on a node)")
    ] = True,
    allow_local_webhooks: AllowLocalWebhooks = False,
    max_fee_gwei: MaxFeeGwei = MAX_FEE_PER_GAS / 10**9,
    rpc_batch_items: RpcBatchItems = BATCH_ITEMS,
    rpc_batch_bytes: RpcBatchBytes = BATCH_BYTES,
    applications_per_hour: Annotated[
        int, typer.Option(min=0, help="applications one address may make an hour (0: no limit)")
    ] = RateLimits().applications.burst,
    max_connections: Annotated[
        int, typer.Option(min=1, help="open connections per API process")
    ] = ConnectionLimits().max_connections,
    per_client_connections: Annotated[
        int, typer.Option(min=0, help="open connections from one address (0: no limit, behind a proxy)")
    ] = ConnectionLimits().per_client,
    header_timeout: Annotated[
        float, typer.Option(min=0.1, help="seconds a client has to send a request's headers")
    ] = ConnectionLimits().header_timeout,
    body_timeout: Annotated[
        float, typer.Option(min=0.1, help="seconds a client has to send a request's body")
    ] = ConnectionLimits().body_timeout,
    forwarded_allow_ips: Annotated[
        str | None, typer.Option(help="proxies trusted for X-Forwarded-For (comma-separated), if any")
    ] = None,
    log_format: LogFormat = "",
    log_level: LogLevel = "",
) -> None:
    """Run the API, and with it the background work (relayer, indexer, scheduler, webhooks): on the embedded
    chain (in memory, contracts deployed at start) unless --rpc-url names a node with a `daifa deploy`. On a
    node the background work runs as a `daifa worker` child process, the only one that holds the operator's
    key; the API processes never see it. The first operator API key is written to DATA_DIR/operator-api-key
    (mode 0600), not printed."""
    from daifa.api import asgi
    from daifa.api.app import ApiSettings, create_app
    from daifa.api.server import run

    out: Settings = ctx.obj
    logs.configure(_log_format(log_format), _log_level(log_level))
    if workers > 1 and rpc_url is None:
        raise DaifaError("the embedded chain lives in one process: several API processes need --rpc-url")
    limits = ConnectionLimits(
        max_connections=max_connections,
        per_client=per_client_connections,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
    )
    api = ApiSettings(rates=RateLimits(applications=RateLimit(applications_per_hour, 3_600.0)))
    options = _Options(
        rpc_url, database_url, confirmations, data_dir, deployments, allow_local_webhooks, max_fee_gwei,
        rpc_batch_items, rpc_batch_bytes,
    )  # fmt: skip
    key = _operator_key(operator_key, operator_key_file)
    stop = threading.Event()
    child: subprocess.Popen[bytes] | None = None
    if rpc_url is None:
        platform = _platform(out, options, key, for_api=False)  # the embedded chain: one process for all
        worker_thread = threading.Thread(target=platform.run_forever, args=(stop,), name="daifa-worker", daemon=True)
    else:
        platform = _platform(out, options, key, for_api=True)
        worker_thread = None
        if background:
            child = _start_worker(options, operator_key_for(platform.ports.chain.w3, key))
    del key
    restore_recursion_limit()  # after every import that raises it (web3's py_ecc, the embedded chain's py-evm)
    _announce_operator_key(out, platform.sessions, options.state)
    if worker_thread is not None and background:
        worker_thread.start()
    out.say(f"API on http://{host}:{port} (OpenAPI at /docs); database {platform.settings.database_url}")
    # uvicorn shuts down on SIGTERM, then raises the signal again with the handler it found: this one turns
    # it into an exit that runs the `finally` below, which stops the worker child before this process ends.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        if workers == 1:
            run(create_app(platform, api), host, port, limits, forwarded_allow_ips=forwarded_allow_ips)
        else:
            assert rpc_url is not None
            os.environ[asgi.ENVIRONMENT] = asgi.environment_for(
                platform.settings, rpc_url, platform.ports.operator_address, applications_per_hour
            )
            os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_metrics_dir(options.state)))
            run(asgi.FACTORY, host, port, limits, workers=workers, forwarded_allow_ips=forwarded_allow_ips)
    finally:
        stop.set()
        if worker_thread is not None and worker_thread.is_alive():
            worker_thread.join(timeout=10)
        if child is not None:
            _stop_worker(child)
        platform.close()


def worker(
    ctx: typer.Context,
    rpc_url: RpcUrl = None,
    database_url: DatabaseUrl = "",
    operator_key: OperatorKey = None,
    operator_key_file: OperatorKeyFile = None,
    confirmations: int = 0,
    data_dir: DataDir = VAR,
    deployments: DeploymentsDir = DEPLOYMENTS_DIR,
    idle: Annotated[float, typer.Option(help="seconds to wait when there is nothing to do")] = 1.0,
    webhooks: Annotated[bool, typer.Option(help="deliver webhooks here too (on their own thread)")] = True,
    allow_local_webhooks: AllowLocalWebhooks = False,
    max_fee_gwei: MaxFeeGwei = MAX_FEE_PER_GAS / 10**9,
    rpc_batch_items: RpcBatchItems = BATCH_ITEMS,
    rpc_batch_bytes: RpcBatchBytes = BATCH_BYTES,
    log_format: LogFormat = "",
    log_level: LogLevel = "",
) -> None:
    """Run only the background work (relayer, indexer, scheduler, webhooks), beside `daifa serve` or as one
    of several workers on one PostgreSQL database. Stops cleanly on SIGTERM or Ctrl-C."""
    logs.configure(_log_format(log_format), _log_level(log_level))
    if rpc_url is None:
        raise DaifaError("a worker shares a chain with the server: pass --rpc-url (or DAIFA_RPC_URL)")
    out: Settings = ctx.obj
    options = _Options(
        rpc_url, database_url, confirmations, data_dir, deployments, allow_local_webhooks, max_fee_gwei,
        rpc_batch_items, rpc_batch_bytes,
    )  # fmt: skip
    from daifa.services.chain_identity import ChainMismatch

    try:
        platform = _platform(out, options, _operator_key(operator_key, operator_key_file), for_api=False)
    except ChainMismatch as mismatch:
        _report_stop(options, mismatch.message)  # so that /v1/health says why no worker runs
        raise
    restore_recursion_limit()  # it parses the node's answers
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    out.say(f"worker on {rpc_url}, database {platform.settings.database_url}")
    try:
        platform.run_forever(stop, idle=idle, deliver_webhooks=webhooks)
    except KeyboardInterrupt:
        pass
    finally:
        platform.close()


@dataclass(frozen=True)
class _Options:
    rpc_url: str | None
    database_url: str
    confirmations: int
    data_dir: Path
    deployments: Path
    allow_local_webhooks: bool
    max_fee_gwei: float
    rpc_batch_items: int = BATCH_ITEMS
    rpc_batch_bytes: int = BATCH_BYTES

    @property
    def state(self) -> Path:
        return self.data_dir / "embedded" if self.rpc_url is None else self.data_dir

    def worker_arguments(self) -> list[str]:
        assert self.rpc_url is not None
        return [
            "--rpc-url", self.rpc_url, "--database-url", self.database_url or _default_database(self.state),
            "--confirmations", str(self.confirmations), "--data-dir", str(self.data_dir),
            "--deployments", str(self.deployments), "--max-fee-gwei", str(self.max_fee_gwei),
            "--rpc-batch-items", str(self.rpc_batch_items), "--rpc-batch-bytes", str(self.rpc_batch_bytes),
            *(["--allow-local-webhooks"] if self.allow_local_webhooks else []),
        ]  # fmt: skip


def _report_stop(options: _Options, reason: str) -> None:
    """A worker report that says why this worker does not run, for `/v1/health`."""
    from daifa.services.health import Reporter
    from daifa.store.db import bookkeeping_session_factory, make_engine

    engine = make_engine(options.database_url or _default_database(options.state))
    try:
        reporter = Reporter(bookkeeping_session_factory(engine))
        reporter.note(stopped=reason)
        reporter.write(force=True)
    finally:
        engine.dispose()


def _operator_key(key: str | None, key_file: Path | None) -> str | None:
    """The operator's key from the option, its environment variable or a file; the variable is then
    removed from this process's environment, so no process started from here inherits it."""
    os.environ.pop("DAIFA_OPERATOR_KEY", None)
    if key_file is not None:
        if key_file.stat().st_mode & 0o077:
            raise DaifaError(f"{key_file} can be read by others: chmod 600 {key_file}")
        return key_file.read_text().strip()
    return key


def _start_worker(options: _Options, key: str) -> subprocess.Popen[bytes]:
    """`daifa worker` as a child process: the operator's key goes to it alone, through its environment.
    On Linux it is told to stop when this process ends, however it ends (a SIGKILL included)."""
    command = [sys.executable, "-m", "daifa.cli.main", "worker", *options.worker_arguments()]
    environment = {**os.environ, "DAIFA_OPERATOR_KEY": key}
    return subprocess.Popen(command, env=environment, preexec_fn=_stop_with_parent if sys.platform == "linux" else None)


def _stop_with_parent() -> None:
    """In the child before it runs: SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _stop_worker(child: subprocess.Popen[bytes]) -> None:
    child.terminate()
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=10)


def _log_level(text: str) -> str | None:
    if not text:
        return None
    if text.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise DaifaError(f"--log-level is DEBUG, INFO, WARNING or ERROR, not {text!r}")
    return text.upper()


def _log_format(text: str) -> bool | None:
    if text not in ("", "json", "text"):
        raise DaifaError(f"--log-format is json or text, not {text!r}")
    return None if not text else text == "json"


def _metrics_dir(state: Path) -> Path:
    folder = state / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    return folder


def _default_database(state: Path) -> str:
    return f"sqlite:///{state / 'daifa.db'}"


def _platform(out: Settings, options: _Options, key: str | None, *, for_api: bool) -> Platform:
    """The platform for this process: with the operator's key where it relays, with only its address in
    the API's processes on a node (their chain client waits at most a few seconds on the node, and only a
    few requests wait at once, so a hung node holds a few threads of the API, not all)."""
    from daifa.bootstrap import Settings as PlatformSettings
    from daifa.bootstrap import build

    state = options.state
    if options.rpc_url is None:
        from daifa.chain import embedded  # eth-tester: `pip install 'daifa[devnet]'`

        w3 = embedded.embedded_web3()
        signer: LocalAccount = Account.from_key(DEV_OPERATOR_KEY)
        embedded.fund(w3, signer)
        deployment = deploy(w3, signer)
        operator: LocalAccount | str = signer
        if not options.database_url:
            # The embedded chain lives in memory: a database kept from an earlier run would describe
            # another chain, so it starts empty too.
            (state / "daifa.db").unlink(missing_ok=True)
        out.say(f"embedded chain (in memory): escrow {deployment.escrow}, test dollar {deployment.token}")
    else:
        if for_api:
            from daifa.api.asgi import RPC_CONCURRENCY, RPC_TIMEOUT

            w3 = http_web3(options.rpc_url, timeout=RPC_TIMEOUT, cooldown=2.0, concurrency=RPC_CONCURRENCY)
        else:
            w3 = node_web3(options.rpc_url)
        _ensure_reachable(w3, options.rpc_url)
        chain_id = int(w3.eth.chain_id)
        secret = operator_key_for(w3, key)
        operator = Account.from_key(secret).address if for_api else Account.from_key(secret)
        deployment = Deployment.load(chain_id, options.deployments)
    private_directory(state)
    settings = PlatformSettings(
        database_url=options.database_url or _default_database(state),
        documents_dir=state / "documents",
        escrow_address=deployment.escrow,
        confirmations=options.confirmations,
        start_block=deployment.start_block,
        max_fee_per_gas=int(options.max_fee_gwei * 10**9),
        rpc_batch_items=options.rpc_batch_items,
        rpc_batch_bytes=options.rpc_batch_bytes,
        webhooks_allow_local=options.allow_local_webhooks,
    )
    platform = build(settings, w3, operator)
    if not for_api:
        _catch_up(out, platform)
    return platform


def _ensure_reachable(w3: Web3, url: str) -> None:
    if not w3.is_connected():
        raise DaifaError(f"no node answers at {url}: start one (`daifa devnet up`) or pass --rpc-url")


def _catch_up(out: Settings, platform: Platform) -> None:
    """Reads the chain's history into the database before serving, with a progress bar."""
    with Progress(console=out.error_console, transient=True) as progress:
        task = progress.add_task("indexer catching up", total=None)

        def advance(block: int, target: int) -> None:
            progress.update(
                task, completed=block - platform.indexer.start_block, total=target - platform.indexer.start_block
            )

        platform.indexer.run_once(progress=advance)


def _announce_operator_key(out: Settings, sessions: sessionmaker[Session], state: Path) -> None:
    """A first operator key when the database has none (a new platform), written to a file only its owner
    can read; its path is printed, never the key (service logs keep what is printed)."""
    from sqlalchemy import select

    from daifa.services import credentials
    from daifa.services.context import Role
    from daifa.store import models as m

    with sessions.begin() as session:
        if session.scalars(select(m.ApiKey.id).where(m.ApiKey.role == Role.OPERATOR.value)).first() is not None:
            return
        key = credentials.issue(session, Role.OPERATOR, label="the first operator key")
        path = state / OPERATOR_KEY_FILE
        write_private(path, key + "\n")
    out.say(f"operator API key written to {path} (readable by you alone)", operator_key_file=str(path))


def operator_key(
    ctx: typer.Context,
    database_url: DatabaseUrl = f"sqlite:///{VAR / 'daifa.db'}",
    out_file: Annotated[Path | None, typer.Option("--out", help="write the key to this file (mode 0600)")] = None,
    label: Annotated[str | None, typer.Option(help="what the key is for")] = None,
) -> None:
    """Issue a new operator API key straight into the platform's database (for when no operator key
    works any more); printed once, or written to --out."""
    from daifa.services import credentials
    from daifa.services.context import Role
    from daifa.store.db import make_engine, migrate, session_factory

    out: Settings = ctx.obj
    engine = make_engine(database_url)
    migrate(engine)
    with session_factory(engine).begin() as session:
        key = credentials.issue(session, Role.OPERATOR, label=label)
    engine.dispose()
    if out_file is not None:
        write_private(out_file, key + "\n")
        out.say(f"operator API key written to {out_file} (readable by you alone)", operator_key_file=str(out_file))
    else:
        out.say(f"operator API key (shown once): {key}", api_key=key)
