"""The operator's and the parties' work, over the SDK: parties, products, plans, signatures, deposits,
releases, disputes, cancellations, events, reconciliation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from daifa import safe
from daifa import wire as s
from daifa.cli.output import Settings
from daifa.cli.wallet import open_wallet
from daifa.describe import describe
from daifa.errors import DaifaError
from daifa.wallet import RemoteWallet, Wallet

Signer = Wallet | RemoteWallet

party_app = typer.Typer(help="Onboarding: apply, review, suspend.", no_args_is_help=True)
product_app = typer.Typer(help="Product opening: apply, review, authorise the credit.", no_args_is_help=True)
plan_app = typer.Typer(help="Plans: request, list, show, reject, withdraw.", no_args_is_help=True)
release_app = typer.Typer(help="Release conditions: approve, deliver materials, attest.", no_args_is_help=True)
dispute_app = typer.Typer(help="Disputes: open one, resolve one (the arbiter).", no_args_is_help=True)
key_app = typer.Typer(help="API keys: list, create, roll, revoke.", no_args_is_help=True)

Files = Annotated[list[Path], typer.Option("--file", help="a file to upload (repeat for several)", exists=True)]
WalletPath = Annotated[Path, typer.Option("--wallet", envvar="DAIFA_WALLET", help="your keystore", exists=True)]
PARTY_COLUMNS = ["id", "legal_name", "kind", "status", "address"]
PLAN_COLUMNS = ["id", "product", "status", "total", "chain_plan_id"]


def register(app: typer.Typer) -> None:
    app.add_typer(party_app, name="party")
    app.add_typer(product_app, name="product")
    app.add_typer(plan_app, name="plan")
    app.add_typer(release_app, name="release")
    app.add_typer(dispute_app, name="dispute")
    app.add_typer(key_app, name="key")
    for command in (sign, deposit, cancel, events, reconcile, transactions):
        app.command(command.__name__.replace("_", "-"))(command)


def _indices(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter("instalment indices, comma-separated: 0,1,2") from None


# ---------------------------------------------------------------------------------- parties


@party_app.command("apply")
def party_apply(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="the legal name")],
    kind: Annotated[str, typer.Option(help="payer, payee or both")],
    files: Files,
    wallet: Annotated[
        Path | None, typer.Option("--wallet", envvar="DAIFA_WALLET", exists=True, help="your keystore")
    ] = None,
    address: Annotated[str | None, typer.Option(help="or the wallet's address (a multisig's, a signer's)")] = None,
) -> None:
    """Apply for an account with the wallet's address; prints the API key (shown once)."""
    out: Settings = ctx.obj
    if (wallet is None) == (address is None):
        raise typer.BadParameter("give the wallet as --wallet KEYSTORE or as --address 0x...")
    with out.client() as client:
        application = client.apply(address or Wallet.address_of(wallet), name, kind, files)  # type: ignore[arg-type]
    if out.json:
        out.record(application)
        return
    out.record(application.party, PARTY_COLUMNS)
    out.say(f"API key (shown once, keep it): {application.api_key}")


@party_app.command("list")
def party_list(ctx: typer.Context) -> None:
    """The parties you may see: yourself (a party), or every applicant and account (the operator)."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.rows(client.list_parties(), PARTY_COLUMNS)


@party_app.command("show")
def party_show(ctx: typer.Context, party_id: str) -> None:
    """One party: its status, roles, review note and documents."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.get_party(party_id))


@party_app.command("approve")
def party_approve(ctx: typer.Context, party_id: str, comment: str = "") -> None:
    """(operator) Approve an application: approveParty goes on chain."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.approve_party(party_id, comment), PARTY_COLUMNS)


@party_app.command("reject")
def party_reject(ctx: typer.Context, party_id: str, reason: Annotated[str, typer.Option()]) -> None:
    """(operator) Reject an application, with the reason the applicant will read."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.reject_party(party_id, reason), PARTY_COLUMNS)


@party_app.command("request-documents")
def party_request_documents(ctx: typer.Context, party_id: str, reason: Annotated[str, typer.Option()]) -> None:
    """(operator) Ask the applicant for more documents, saying which."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.request_party_documents(party_id, reason), PARTY_COLUMNS)


@party_app.command("suspend")
def party_suspend(ctx: typer.Context, party_id: str) -> None:
    """(operator) Suspend an open account on chain: it cannot take part in new plans until reinstated."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.suspend_party(party_id), PARTY_COLUMNS)


@party_app.command("reinstate")
def party_reinstate(ctx: typer.Context, party_id: str) -> None:
    """(operator) Reinstate a suspended account on chain."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.reinstate_party(party_id), PARTY_COLUMNS)


# ---------------------------------------------------------------------------------- products

PRODUCT_COLUMNS = ["id", "business_name", "status", "payer", "payee", "limit", "agreement_set_id"]


@product_app.command("apply")
def product_apply(
    ctx: typer.Context,
    payer: Annotated[str, typer.Option(help="the payer's party id")],
    business: Annotated[str, typer.Option(help="the piece of business")],
    limit: Annotated[int, typer.Option(help="credit limit, in the token's smallest unit")],
    token: Annotated[list[str], typer.Option(help="a token address the plans may use")],
    days: Annotated[int, typer.Option(help="how long the product stays open")],
    files: Files,
) -> None:
    """(payee) Apply to open the product for a piece of business with a payer."""
    out: Settings = ctx.obj
    with out.client() as client:
        chain_time = client.health().chain_time
        if chain_time is None:
            raise DaifaError("the platform has not read the chain's clock yet: is its worker running?")
        expiry = chain_time + days * 86_400
        out.record(client.apply_for_product(payer, business, limit, token, expiry, files), PRODUCT_COLUMNS)


@product_app.command("list")
def product_list(ctx: typer.Context) -> None:
    """The products you are a party to (every product, for the operator)."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.rows(client.list_products(), PRODUCT_COLUMNS)


@product_app.command("show")
def product_show(ctx: typer.Context, product_id: str) -> None:
    """One product: its status, limit, tokens, expiry and agreements."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.get_product(product_id))


@product_app.command("approve")
def product_approve(ctx: typer.Context, product_id: str, comment: str = "") -> None:
    """(operator) Approve a product application: the payer is asked to authorise the credit."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.approve_product(product_id, comment), PRODUCT_COLUMNS)


@product_app.command("reject")
def product_reject(ctx: typer.Context, product_id: str, reason: Annotated[str, typer.Option()]) -> None:
    """(operator) Reject a product application, with the reason both parties will read."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.reject_product(product_id, reason), PRODUCT_COLUMNS)


@product_app.command("authorise")
def product_authorise(ctx: typer.Context, product_id: str, limit: int | None = None) -> None:
    """(payer) Authorise the credit; the three agreements are generated for both to sign."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.authorise_credit(product_id, limit), PRODUCT_COLUMNS)


@product_app.command("decline")
def product_decline(ctx: typer.Context, product_id: str, reason: Annotated[str, typer.Option()]) -> None:
    """(payer) Decline the credit the payee asked for, with a reason."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.decline_credit(product_id, reason), PRODUCT_COLUMNS)


# ---------------------------------------------------------------------------------- plans


@plan_app.command("request")
def plan_request(
    ctx: typer.Context,
    plan_file: Annotated[Path, typer.Argument(help="the plan as JSON (the body of POST /v1/plans)", exists=True)],
) -> None:
    """(payer) Ask for a plan; then sign it with `daifa sign`."""
    out: Settings = ctx.obj
    body = s.PlanIn.model_validate(json.loads(plan_file.read_text()))
    with out.client() as client:
        out.record(client.request_plan(body), PLAN_COLUMNS)


@plan_app.command("amend")
def plan_amend(
    ctx: typer.Context,
    plan_id: str,
    amendment_file: Annotated[
        Path, typer.Argument(help='the instalments as JSON: {"instalments": [...]}, every one', exists=True)
    ],
) -> None:
    """(payer or payee) Propose new instalments for a recorded plan; both sign with `daifa sign`."""
    out: Settings = ctx.obj
    body = s.AmendmentIn.model_validate(json.loads(amendment_file.read_text()))
    with out.client() as client:
        out.record(client.amend(plan_id, body.instalments), ACTION_COLUMNS)


@plan_app.command("list")
def plan_list(ctx: typer.Context, product: str | None = None) -> None:
    """The plans you are a party to (every plan, for the operator); --product narrows to one product."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.rows(client.list_plans(product), PLAN_COLUMNS)


@plan_app.command("show")
def plan_show(ctx: typer.Context, plan_id: str) -> None:
    """One plan with its instalments: what each holds, its rule and where it stands on chain."""
    out: Settings = ctx.obj
    with out.client() as client:
        plan = client.get_plan(plan_id)
    if out.json:
        out.record(plan)
        return
    out.record(plan, [*PLAN_COLUMNS, "token", "expiry"])
    columns = ["index", "rule", "amount", "deposit_by", "release_at", "status", "to_payee", "to_payer"]
    out.rows(plan.instalments, columns, title="instalments")


@plan_app.command("reject")
def plan_reject(ctx: typer.Context, plan_id: str, reason: Annotated[str, typer.Option()]) -> None:
    """(payee) Reject a plan the payer asked for, with the reason the payer will read."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.reject_plan(plan_id, reason), PLAN_COLUMNS)


@plan_app.command("withdraw")
def plan_withdraw(ctx: typer.Context, plan_id: str) -> None:
    """(payer) Withdraw a plan before the payee confirmed it."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.withdraw_plan(plan_id), PLAN_COLUMNS)


# ---------------------------------------------------------------------------------- signatures


def sign(
    ctx: typer.Context,
    request_id: Annotated[str | None, typer.Argument(help="one request; all pending ones if left out")] = None,
    wallets: Annotated[
        list[Path] | None,
        typer.Option("--wallet", envvar="DAIFA_WALLET", exists=True, help="a keystore (repeat: a multisig's owners)"),
    ] = None,
    signer_url: Annotated[
        str | None, typer.Option(help="a JSON-RPC signer answering eth_signTypedData_v4 (a wallet daemon, a devnet)")
    ] = None,
    signer_addresses: Annotated[
        list[str] | None, typer.Option("--signer-address", help="whom the signer at --signer-url signs for (repeat)")
    ] = None,
    owner_signatures: Annotated[
        list[str] | None,
        typer.Option("--owner-signature", help="a multisig owner's signature of the exported message (repeat)"),
    ] = None,
    export: Annotated[
        Path | None, typer.Option(help="write what a multisig's owners sign for REQUEST_ID to this file, and stop")
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="show times in this zone (e.g. Asia/Shanghai)")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="sign without asking")] = False,
) -> None:
    """Sign the platform's pending requests: each is shown in words first (amounts in the token's units,
    dates, rules, fee, parties, agreements, the digest). One keystore or signer signs for a key's wallet;
    several sign for a multisig (a Safe) as its owners, or --export the message the owners sign elsewhere
    and --owner-signature each signature back."""
    out: Settings = ctx.obj
    signers: list[Signer] = [open_wallet(path) for path in wallets or []]
    if signer_url:
        signers += [Wallet.remote(signer_url, address) for address in signer_addresses or []]
        if not signer_addresses:
            raise typer.BadParameter("say whom the signer signs for: --signer-address 0x...")
    with out.client() as client:
        requests = [client.get_signature_request(request_id)] if request_id else list(client.list_signature_requests())
        if not requests:
            out.say("nothing to sign", signed=[])
            return
        party = next(iter(client.list_parties())).address
        if (export or owner_signatures) and len(requests) != 1:
            raise typer.BadParameter("--export and --owner-signature take one REQUEST_ID")
        if export is not None:
            payload = safe.message_payload(
                party, int(requests[0].typed_data["domain"]["chainId"]), requests[0].typed_data
            )
            export.write_text(json.dumps(payload, indent=2))
            out.say(f"wrote what the owners of {party} sign to {export}", path=str(export))
            return
        if not signers and not owner_signatures:
            raise typer.BadParameter("sign with --wallet, --signer-url, or --owner-signature")
        made = []
        for request in requests:
            if not out.json:
                shown = describe(request.typed_data, request.context, timezone)
                out.terms(shown, title=f"{request.id}: {request.purpose} for {request.subject}")
            if not yes and not typer.confirm("sign this?"):
                continue
            made.append((request.id, _signature(party, request.typed_data, signers, owner_signatures or [])))
        signed = [result.id for result in client.sign_many(made)]  # a hundred to a request
        if not out.json:
            for request_id in signed:
                out.say(f"signed {request_id}")
    if out.json:
        out.say("signed", signed=signed)


def _signature(party: str, typed: dict[str, Any], signers: list[Signer], owners: list[str]) -> str:
    """The party's signature: its own wallet's, or a Safe's from its owners' (signed here, or given)."""
    if len(signers) == 1 and not owners and signers[0].address.lower() == party.lower():
        return signers[0].sign_typed_data(typed)
    payload = safe.message_payload(party, int(typed["domain"]["chainId"]), typed)
    return safe.combine(payload, [*owners, *(s.sign_typed_data(payload) for s in signers)])


# ---------------------------------------------------------------------------------- money


ACTION_COLUMNS = ["id", "plan", "kind", "indices", "status", "transaction"]


def deposit(
    ctx: typer.Context,
    plan_id: str,
    indices: Annotated[str, typer.Option(help="instalments, comma-separated: 0,1,2")],
    method: Annotated[
        str, typer.Option(help="auto, permit (the platform relays) or wallet (you send the transactions)")
    ] = "auto",
) -> None:
    """(payer) Fund instalments; with a permit, then `daifa sign`."""
    out: Settings = ctx.obj
    with out.client() as client:
        action = client.deposit(plan_id, _indices(indices), method)
    out.record(action, [*ACTION_COLUMNS, "details"] if action.status == "awaiting_wallet" else ACTION_COLUMNS)


@release_app.command("approve")
def release_approve(ctx: typer.Context, plan_id: str, index: int) -> None:
    """(payer) Approve the release of a payer-approval instalment; then `daifa sign`."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.approve_release(plan_id, index), ACTION_COLUMNS)


@release_app.command("materials")
def release_materials(ctx: typer.Context, plan_id: str, index: int, files: Files) -> None:
    """(payee) Deliver the materials of a materials instalment; then `daifa sign`."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.submit_materials(plan_id, index, files), ACTION_COLUMNS)


@release_app.command("attest")
def release_attest(ctx: typer.Context, plan_id: str, index: int) -> None:
    """(operator) Attest the delivered materials; the review window starts."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.attest_materials(plan_id, index), ACTION_COLUMNS)


@dispute_app.command("open")
def dispute_open(
    ctx: typer.Context,
    plan_id: str,
    index: int,
    reason: Annotated[str, typer.Option()],
    files: Annotated[list[Path] | None, typer.Option("--file", exists=True)] = None,
) -> None:
    """(payer or payee) Dispute an instalment; then `daifa sign`."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.dispute(plan_id, index, reason, files or []), ACTION_COLUMNS)


@dispute_app.command("resolve")
def dispute_resolve(
    ctx: typer.Context,
    action_id: str,
    to_payee: Annotated[int, typer.Option(help="to the payee; the rest goes back to the payer")],
    note: str = "",
) -> None:
    """(operator, as arbiter) Split a disputed instalment."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.resolve_dispute(action_id, to_payee, note), ACTION_COLUMNS)


def cancel(ctx: typer.Context, plan_id: str, indices: Annotated[str, typer.Option()]) -> None:
    """(payer or payee) Propose to cancel instalments; both sign; funded ones are refunded."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.cancel(plan_id, _indices(indices)), ACTION_COLUMNS)


# ---------------------------------------------------------------------------------- API keys

KEY_COLUMNS = ["id", "prefix", "role", "party", "label", "status", "expires_at"]


@key_app.command("list")
def key_list(
    ctx: typer.Context, party: Annotated[str | None, typer.Option(help="(operator) one party's")] = None
) -> None:
    """Your keys (a party), or every key (the operator)."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.rows(client.list_api_keys(party), KEY_COLUMNS)


@key_app.command("create")
def key_create(
    ctx: typer.Context,
    party: Annotated[str | None, typer.Option(help="(operator) whose key; none: an operator key")] = None,
    label: Annotated[str | None, typer.Option(help="what the key is for")] = None,
) -> None:
    """A new key, printed once."""
    out: Settings = ctx.obj
    with out.client() as client:
        _show_new_key(out, client.create_api_key(party, label))


@key_app.command("roll")
def key_roll(
    ctx: typer.Context,
    key_id: str,
    expires_in: Annotated[int, typer.Option(help="seconds the old key keeps working (0: stops now)")] = 0,
) -> None:
    """Replace a key: the new one is printed once; the old one stops after --expires-in seconds."""
    out: Settings = ctx.obj
    with out.client() as client:
        _show_new_key(out, client.roll_api_key(key_id, expires_in))


@key_app.command("revoke")
def key_revoke(ctx: typer.Context, key_id: str) -> None:
    """Stop a key now."""
    out: Settings = ctx.obj
    with out.client() as client:
        out.record(client.revoke_api_key(key_id), KEY_COLUMNS)


def _show_new_key(out: Settings, key: s.ApiKeyOut) -> None:
    if out.json:
        out.record(key)
        return
    out.record(key, KEY_COLUMNS)
    out.say(f"API key (shown once, keep it): {key.secret}")


# ---------------------------------------------------------------------------------- following


def events(ctx: typer.Context, type: str | None = None, limit: int = 20) -> None:
    """The newest events you may see."""
    out: Settings = ctx.obj
    with out.client() as client:
        items = []
        for event in client.list_events(type):
            items.append(event)
            if len(items) >= limit:
                break
        out.rows(items, ["id", "created", "type", "subject", "data"])


def reconcile(ctx: typer.Context) -> None:
    """(operator) Compare the database with the chain."""
    out: Settings = ctx.obj
    with out.client() as client:
        report = client.reconciliation()
    if out.json:
        out.record(report)
    elif report.ok:
        out.say(
            f"database and chain agree at block {report.block}: {report.parties} parties, {report.products} products, "
            f"{report.plans} plans, {report.instalments} instalments, {report.tokens} token balances, "
            f"{report.transactions} transactions"
        )
    else:
        out.rows(report.mismatches, ["subject", "field", "database", "chain"], title="database and chain DISAGREE")
    if not report.ok:
        raise typer.Exit(1)


def transactions(ctx: typer.Context, limit: int = 20) -> None:
    """(operator) The platform's transactions, newest first."""
    out: Settings = ctx.obj
    with out.client() as client:
        items = []
        for tx in client.list_transactions():
            items.append(tx)
            if len(items) >= limit:
                break
        out.rows(items, ["id", "kind", "subject", "status", "nonce", "gas_used", "mined_block", "error"])
