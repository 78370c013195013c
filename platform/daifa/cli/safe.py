"""`daifa safe`: a Safe multisig as a party's wallet, from the command line. `daifa sign` signs for a Safe
(give it the owners' keystores, or export and import their signatures); these create one on a devnet and
send a deposit's transactions as the Safe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from eth_account import Account

from daifa import safe
from daifa.chain.client import http_web3
from daifa.cli.output import Settings
from daifa.cli.wallet import open_wallet
from daifa.devnet import Devnet
from daifa.errors import DaifaError

safe_app = typer.Typer(
    help="A Safe multisig as a party's wallet: create one (devnet), send as one.", no_args_is_help=True
)
Owners = Annotated[list[Path], typer.Option("--wallet", exists=True, help="an owner's keystore (repeat)")]
# anvil's dev account 9 (mnemonic "test test ... junk"): the platform never uses it, so devnet tools may.
DEVNET_DEPLOYER_KEY = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"
RpcUrl = Annotated[str | None, typer.Option(envvar="DAIFA_RPC_URL", help="the chain's node; the devnet's by default")]


def register(app: typer.Typer) -> None:
    app.add_typer(safe_app, name="safe")


@safe_app.command("create")
def create(
    ctx: typer.Context,
    owners: Annotated[list[str], typer.Option("--owner", help="an owner's address (repeat)")],
    threshold: Annotated[int, typer.Option(min=1, help="how many owners must sign")],
) -> None:
    """Create a Safe on the devnet (its contracts deployed there the first time, from the npm artifacts)."""
    out: Settings = ctx.obj
    devnet = Devnet.running(" (on another chain, create the Safe in its app)")
    w3 = devnet.web3()
    deployer = Account.from_key(DEVNET_DEPLOYER_KEY)
    record = devnet.state_dir / "safe-factory.json"
    if record.exists():
        factory = safe.Factory(**json.loads(record.read_text()))
    else:
        factory = safe.deploy_factory(w3, deployer)
        record.write_text(json.dumps(factory.__dict__))
    if threshold > len(owners):
        raise typer.BadParameter(f"a threshold of {threshold} needs at least {threshold} owners")
    address = safe.create(w3, factory, owners, threshold, deployer)
    out.say(f"Safe at {address}: {threshold} of {len(owners)} owners sign", address=address)


@safe_app.command("send")
def send(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="the Safe")],
    action: Annotated[str, typer.Option(help="the action whose transactions the Safe sends (a wallet deposit)")],
    wallets: Owners,
    rpc_url: RpcUrl = None,
) -> None:
    """Send an action's transactions (a deposit from the wallet) as the Safe, signed by its owners; the
    first owner pays the gas."""
    out: Settings = ctx.obj
    owners = [open_wallet(path) for path in wallets]
    w3 = http_web3(rpc_url or Devnet.running_url())
    with out.client() as client:
        details = client.get_action(action).details
    sent = []
    for tx in details.get("transactions", []):
        hash_ = safe.execute(
            w3, address, tx["to"], bytes.fromhex(tx["data"][2:]), [o.account for o in owners], owners[0].account
        )
        sent.append("0x" + hash_.hex())
        out.say(f"sent {tx['description']}: 0x{hash_.hex()}", transaction="0x" + hash_.hex())
    if not sent:
        raise DaifaError(f"{action} has no transactions to send: only a deposit from the wallet has")
