"""The chain and the server: `daifa devnet`, `daifa deploy`, `daifa serve`, `daifa operator-key`."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from eth_account import Account
from rich.progress import Progress
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from daifa.bootstrap import Platform, build
from daifa.bootstrap import Settings as PlatformSettings
from daifa.chain import embedded
from daifa.chain.client import http_web3
from daifa.cli.output import Settings
from daifa.deploy import DEPLOYMENTS_DIR, Deployment, deploy
from daifa.devnet import DEFAULT_PORT, DEV_OPERATOR_KEY, DEVNET_CHAIN_ID, PROJECT_ROOT, Devnet, parse_duration
from daifa.errors import DaifaError
from daifa.services import credentials
from daifa.services.context import Role
from daifa.store import models as m
from daifa.store.db import make_engine, migrate, session_factory

VAR = PROJECT_ROOT / "var"
RpcUrl = Annotated[str | None, typer.Option(envvar="DAIFA_RPC_URL", help="a JSON-RPC node; the devnet's by default")]
OperatorKey = Annotated[
    str | None,
    typer.Option(envvar="DAIFA_OPERATOR_KEY", help="the operator's private key (on a devnet: anvil's first account)"),
]
DatabaseUrl = Annotated[
    str, typer.Option(envvar="DAIFA_DATABASE_URL", help="SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://...")
]

DataDir = Annotated[Path, typer.Option(envvar="DAIFA_DATA_DIR", help="documents and the default database")]
DeploymentsDir = Annotated[Path, typer.Option(help="where `daifa deploy` wrote the deployment")]

devnet_app = typer.Typer(help="A local anvil devnet under var/devnet.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(devnet_app, name="devnet")
    app.command("deploy")(deploy_command)
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.command("operator-key")(operator_key)


# ---------------------------------------------------------------------------------- devnet


@devnet_app.command("up")
def devnet_up(ctx: typer.Context, port: int = DEFAULT_PORT) -> None:
    """Start anvil in the background (--prune-history, its files under var/devnet)."""
    out: Settings = ctx.obj
    devnet = Devnet(port=port)
    pid = devnet.up()
    out.say(f"devnet up at {devnet.url} (pid {pid}); `daifa deploy` next", url=devnet.url, pid=pid)


@devnet_app.command("down")
def devnet_down(ctx: typer.Context) -> None:
    """Stop the devnet and remove its files."""
    out: Settings = ctx.obj
    stopped = Devnet().down()
    out.say("devnet stopped and removed" if stopped else "no devnet was running", stopped=stopped)


@devnet_app.command("status")
def devnet_status(ctx: typer.Context) -> None:
    out: Settings = ctx.obj
    devnet = Devnet()
    pid = devnet.pid()
    if pid is None:
        out.say("no devnet running: `daifa devnet up`", running=False)
        raise typer.Exit(1)
    w3 = devnet.web3()
    block = w3.eth.get_block("latest")
    out.record(
        {
            "running": True,
            "url": devnet.url,
            "pid": pid,
            "chain_id": w3.eth.chain_id,
            "block": block["number"],
            "time": block["timestamp"],
        }
    )


@devnet_app.command("advance")
def devnet_advance(ctx: typer.Context, duration: Annotated[str, typer.Argument(help="e.g. 30d, 6h, 90s")]) -> None:
    """Move the devnet's clock forward (and mine a block)."""
    out: Settings = ctx.obj
    seconds = parse_duration(duration)
    devnet = Devnet()
    if devnet.pid() is None:
        raise DaifaError("no devnet running: `daifa devnet up` first")
    now = devnet.advance(seconds)
    out.say(f"devnet time is now {now}", time=now)


# ---------------------------------------------------------------------------------- deploy


def _web3(rpc_url: str | None) -> Web3:
    w3 = http_web3(rpc_url or Devnet().url)
    if not w3.is_connected():
        raise DaifaError(
            f"no node answers at {rpc_url or Devnet().url}: start one (`daifa devnet up`) or pass --rpc-url"
        )
    return w3


def _operator(w3: Web3, key: str | None) -> str:
    if key:
        return key
    if int(w3.eth.chain_id) == DEVNET_CHAIN_ID:
        return DEV_OPERATOR_KEY
    raise DaifaError("this is not a devnet: pass the operator's key with --operator-key or DAIFA_OPERATOR_KEY")


def deploy_command(
    ctx: typer.Context,
    rpc_url: RpcUrl = None,
    operator_key: OperatorKey = None,
    test_token: Annotated[bool, typer.Option(help="also deploy the devnet test dollar")] = True,
    directory: Annotated[Path, typer.Option(help="where deployment files go")] = DEPLOYMENTS_DIR,
) -> None:
    """Deploy the contracts and write deployments/<chain-id>.json, which `daifa serve` reads."""
    out: Settings = ctx.obj
    w3 = _web3(rpc_url)
    operator = Account.from_key(_operator(w3, operator_key))
    with Progress(console=out.error_console, transient=True) as progress:
        task = progress.add_task("deploying", total=2 if test_token else 1)
        deployment = deploy(w3, operator, test_token=test_token, progress=lambda name, gas: progress.advance(task))
    path = deployment.save(directory)
    if out.json:
        out.record(deployment.__dict__)
        return
    out.say(f"DaifaEscrow at {deployment.escrow} (gas {deployment.gas['DaifaEscrow']:,})")
    if deployment.token:
        out.say(f"DaifaTestDollar at {deployment.token} (gas {deployment.gas['DaifaTestDollar']:,})")
    out.say(f"written to {path}")


# ---------------------------------------------------------------------------------- serve


def serve(
    ctx: typer.Context,
    rpc_url: RpcUrl = None,
    database_url: DatabaseUrl = "",
    operator_key: OperatorKey = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    confirmations: int = 0,
    data_dir: DataDir = VAR,
    deployments: DeploymentsDir = DEPLOYMENTS_DIR,
    workers: Annotated[int, typer.Option(min=1, help="API processes; more than one needs --rpc-url")] = 1,
    background: Annotated[
        bool, typer.Option(help="run the relayer, indexer, scheduler and webhooks here (off: `daifa worker`s do)")
    ] = True,
) -> None:
    """Run the API with the relayer, the indexer, the scheduler and the webhooks: on the embedded chain
    (in memory, contracts deployed at start) unless --rpc-url names a node with a `daifa deploy`."""
    import uvicorn

    from daifa.api import asgi
    from daifa.api.app import create_app

    out: Settings = ctx.obj
    if workers > 1 and rpc_url is None:
        raise DaifaError("the embedded chain lives in one process: several API processes need --rpc-url")
    platform = _platform(out, rpc_url, database_url, operator_key, confirmations, data_dir, deployments)
    key = _first_operator_key(platform.sessions)
    if key:
        out.say(f"operator API key (shown once): {key}")
    stop = threading.Event()
    worker = threading.Thread(target=platform.run_forever, args=(stop,), name="daifa-worker", daemon=True)
    if background:
        worker.start()
    out.say(f"API on http://{host}:{port} (OpenAPI at /docs); database {platform.settings.database_url}")
    try:
        if workers == 1:
            uvicorn.run(create_app(platform), host=host, port=port, log_level="warning")
        else:
            assert rpc_url is not None
            key_hex = _operator(platform.ports.chain.w3, operator_key)
            os.environ[asgi.ENVIRONMENT] = asgi.environment_for(platform.settings, rpc_url, key_hex)
            uvicorn.run(
                "daifa.api.asgi:app_from_environment",
                factory=True,
                workers=workers,
                host=host,
                port=port,
                log_level="warning",
            )
    finally:
        stop.set()
        if background:
            worker.join(timeout=10)
        platform.close()


def worker(
    ctx: typer.Context,
    rpc_url: RpcUrl = None,
    database_url: DatabaseUrl = "",
    operator_key: OperatorKey = None,
    confirmations: int = 0,
    data_dir: DataDir = VAR,
    deployments: DeploymentsDir = DEPLOYMENTS_DIR,
    idle: Annotated[float, typer.Option(help="seconds to wait when there is nothing to do")] = 1.0,
) -> None:
    """Run only the background work (relayer, indexer, scheduler, webhooks), beside `daifa serve` or as one
    of several workers on one PostgreSQL database. Stops cleanly on SIGTERM or Ctrl-C."""
    if rpc_url is None:
        raise DaifaError("a worker shares a chain with the server: pass --rpc-url (or DAIFA_RPC_URL)")
    out: Settings = ctx.obj
    platform = _platform(out, rpc_url, database_url, operator_key, confirmations, data_dir, deployments)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    out.say(f"worker on {rpc_url}, database {platform.settings.database_url}")
    try:
        platform.run_forever(stop, idle=idle)
    except KeyboardInterrupt:
        pass
    finally:
        platform.close()


def _platform(
    out: Settings,
    rpc_url: str | None,
    database_url: str,
    operator_key: str | None,
    confirmations: int,
    data_dir: Path,
    deployments: Path,
) -> Platform:
    if rpc_url is None:
        w3 = embedded.embedded_web3()
        operator = Account.from_key(DEV_OPERATOR_KEY)
        embedded.fund(w3, operator)
        deployment = deploy(w3, operator)
        state = data_dir / "embedded"
        if not database_url:
            # The embedded chain lives in memory: a database kept from an earlier run would describe
            # another chain, so it starts empty too.
            (state / "daifa.db").unlink(missing_ok=True)
        out.say(f"embedded chain (in memory): escrow {deployment.escrow}, test dollar {deployment.token}")
    else:
        w3 = _web3(rpc_url)
        operator = Account.from_key(_operator(w3, operator_key))
        deployment = Deployment.load(int(w3.eth.chain_id), deployments)
        state = data_dir
    state.mkdir(parents=True, exist_ok=True)
    settings = PlatformSettings(
        database_url=database_url or f"sqlite:///{state / 'daifa.db'}",
        documents_dir=state / "documents",
        escrow_address=deployment.escrow,
        confirmations=confirmations,
        start_block=deployment.start_block,
    )
    platform = build(settings, w3, operator)
    _catch_up(out, platform)
    return platform


def _catch_up(out: Settings, platform: Platform) -> None:
    """Reads the chain's history into the database before serving, with a progress bar."""
    with Progress(console=out.error_console, transient=True) as progress:
        task = progress.add_task("indexer catching up", total=None)

        def advance(block: int, target: int) -> None:
            progress.update(
                task, completed=block - platform.indexer.start_block, total=target - platform.indexer.start_block
            )

        platform.indexer.run_once(progress=advance)


def _first_operator_key(sessions: sessionmaker[Session]) -> str | None:
    """An operator key when the database has none yet (a new platform), else None."""
    with sessions.begin() as session:
        if session.scalars(select(m.ApiKey.id).where(m.ApiKey.role == Role.OPERATOR.value)).first() is not None:
            return None
        return credentials.issue(session, Role.OPERATOR)


def operator_key(ctx: typer.Context, database_url: DatabaseUrl = f"sqlite:///{VAR / 'daifa.db'}") -> None:
    """Issue a new operator API key (shown once) straight into the platform's database."""
    out: Settings = ctx.obj
    engine = make_engine(database_url)
    migrate(engine)
    with session_factory(engine).begin() as session:
        key = credentials.issue(session, Role.OPERATOR)
    engine.dispose()
    out.say(f"operator API key (shown once): {key}", api_key=key)
