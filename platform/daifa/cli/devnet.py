"""The chain side of the command line: `daifa devnet` (a local anvil) and `daifa deploy`. They need only
the client's packages (`pip install daifa`) and, for the devnet, anvil."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from eth_account import Account
from rich.progress import Progress
from web3 import Web3

from daifa.chain.client import http_web3
from daifa.cli.output import Settings
from daifa.deploy import DEPLOYMENTS_DIR, Deployment, deploy
from daifa.devnet import DEFAULT_PORT, DEV_OPERATOR_KEY, DEVNET_CHAIN_ID, Devnet, parse_duration
from daifa.errors import DaifaError

RpcUrl = Annotated[str | None, typer.Option(envvar="DAIFA_RPC_URL", help="a JSON-RPC node; the devnet's by default")]
OperatorKey = Annotated[
    str | None,
    typer.Option(envvar="DAIFA_OPERATOR_KEY", help="the operator's private key (on a devnet: anvil's first account)"),
]
DeploymentsDir = Annotated[Path, typer.Option(help="where `daifa deploy` wrote the deployment")]

devnet_app = typer.Typer(help="A local anvil devnet under var/devnet.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(devnet_app, name="devnet")
    app.command("deploy")(deploy_command)


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
    """Whether the devnet runs, and its URL, chain id, block and time."""
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
    now = Devnet.running().advance(seconds)
    out.say(f"devnet time is now {now}", time=now)


@devnet_app.command("fund")
def devnet_fund(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="the wallet (or multisig) to fund")],
    amount: Annotated[str, typer.Argument(help="test dollars, as people write them: 25000 or 1234.56")],
    eth: Annotated[float, typer.Option(help="ether for gas, added to what it holds")] = 1.0,
    deployments: DeploymentsDir = DEPLOYMENTS_DIR,
) -> None:
    """Give a wallet on the devnet test dollars from the faucet, and ether for gas."""
    out: Settings = ctx.obj
    devnet = Devnet.running()
    w3 = devnet.web3()
    deployment = Deployment.load(int(w3.eth.chain_id), deployments)
    if deployment.token is None:
        raise DaifaError("this deployment has no test dollar: `daifa deploy` with --test-token")
    try:
        account = Web3.to_checksum_address(address)
    except ValueError:
        raise DaifaError(f"{address!r} is not an address: 0x and 40 hex digits") from None
    base_units = devnet.fund(deployment.token, account, _amount(amount, 6), int(eth * 10**18))
    out.say(
        f"{account} received {amount} test dollars ({base_units} base units) and {eth:g} ETH",
        address=account,
        amount=str(base_units),
    )


def _amount(text: str, decimals: int) -> int:
    try:
        value = Decimal(text.replace(",", "").replace("_", ""))
    except InvalidOperation:
        raise DaifaError(f"{text!r} is not an amount: write it like 25000 or 1234.56") from None
    base = value * 10**decimals
    if value < 0 or base != base.to_integral_value():
        raise DaifaError(f"{text!r}: an amount of at least 0 with at most {decimals} decimals")
    return int(base)


def node_web3(rpc_url: str | None) -> Web3:
    """A connection to the node at `rpc_url`, or to the running devnet; refused when nothing answers."""
    w3 = http_web3(rpc_url or Devnet.running_url())
    if not w3.is_connected():
        raise DaifaError(
            f"no node answers at {rpc_url or Devnet.running_url()}: start one (`daifa devnet up`) or pass --rpc-url"
        )
    return w3


def operator_key_for(w3: Web3, key: str | None) -> str:
    """The operator's private key: the one given, or on a devnet anvil's first account."""
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
    w3 = node_web3(rpc_url)
    operator = Account.from_key(operator_key_for(w3, operator_key))
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
