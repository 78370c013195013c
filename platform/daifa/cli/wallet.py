"""`daifa wallet`: a party's encrypted keystore, and signing with it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from daifa.cli.output import Settings
from daifa.describe import describe
from daifa.wallet import PASSWORD_ENV, Wallet, verify

wallet_app = typer.Typer(
    help="A party's wallet: an encrypted keystore that signs EIP-712 typed data.", no_args_is_help=True
)

KeystorePath = Annotated[Path, typer.Argument(help="the keystore file")]


def register(app: typer.Typer) -> None:
    app.add_typer(wallet_app, name="wallet")


def password(confirm: bool = False) -> str:
    """The keystore password: $DAIFA_WALLET_PASSWORD, or asked for without echo."""
    return os.environ.get(PASSWORD_ENV) or str(
        typer.prompt("keystore password", hide_input=True, confirmation_prompt=confirm)
    )


def open_wallet(path: Path) -> Wallet:
    return Wallet.load(path, password())


@wallet_app.command("create")
def create(ctx: typer.Context, path: KeystorePath) -> None:
    """Create a new key in an encrypted keystore at PATH."""
    out: Settings = ctx.obj
    wallet = Wallet.create(path, password(confirm=True))
    out.say(f"created {path}: address {wallet.address}", address=wallet.address, path=str(path))


@wallet_app.command("import")
def import_key(ctx: typer.Context, path: KeystorePath) -> None:
    """Import a private key (asked for without echo) into an encrypted keystore at PATH."""
    out: Settings = ctx.obj
    key = str(typer.prompt("private key", hide_input=True))
    wallet = Wallet.import_key(path, key, password(confirm=True))
    out.say(f"imported into {path}: address {wallet.address}", address=wallet.address, path=str(path))


@wallet_app.command("address")
def address(ctx: typer.Context, path: KeystorePath) -> None:
    """Show the keystore's address (no password needed)."""
    out: Settings = ctx.obj
    shown = Wallet.address_of(path)
    out.say(shown, address=shown)


@wallet_app.command("sign")
def sign(
    ctx: typer.Context,
    path: KeystorePath,
    typed_data: Annotated[Path, typer.Option(help="a JSON file with an eth_signTypedData_v4 payload")],
) -> None:
    """Sign typed data from a file (what `daifa sign` does for the platform's requests)."""
    out: Settings = ctx.obj
    payload = json.loads(typed_data.read_text())
    if not out.json:
        out.terms(describe(payload), title="signing")
    signature = open_wallet(path).sign_typed_data(payload)
    out.say(signature, signature=signature)


@wallet_app.command("verify")
def verify_command(
    ctx: typer.Context,
    typed_data: Annotated[Path, typer.Option(help="the payload that was signed (JSON file)")],
    signature: Annotated[str, typer.Option(help="0x-prefixed signature")],
    signer: Annotated[str, typer.Option("--address", help="who should have signed")],
) -> None:
    """Check that ADDRESS signed the typed data."""
    out: Settings = ctx.obj
    valid = verify(json.loads(typed_data.read_text()), signature, signer)
    out.say(f"valid: signed by {signer}" if valid else f"NOT signed by {signer}", valid=valid)
    if not valid:
        raise typer.Exit(1)
