"""The platform's job end to end, as a timeline (`daifa demo`).

An employer (the payer) and a labour-service firm (the payee) are onboarded, open the product with its
three agreements, agree a monthly wage plan of six instalments with mixed release rules, and the
employer funds it; then time moves month by month: wages are released by date, by the employer's
approval, by timesheets the operator attests; one month is disputed and split by the arbiter. Every
chain transaction is shown with its gas; the demo ends with the balances and a reconciliation of the
database with the chain. Everything runs here: the chain (embedded, or a temporary anvil), the database
(a temporary SQLite file), the API (on a local port), the parties' wallets (keys in memory).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from eth_account import Account
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from web3 import Web3
from web3.contract import Contract

from daifa.api.app import ApiSettings, create_app
from daifa.api.server import serving
from daifa.bootstrap import Settings, build
from daifa.chain import embedded
from daifa.chain.artifacts import load_artifact
from daifa.cli.output import Settings as CliSettings
from daifa.deploy import deploy
from daifa.devnet import DEV_OPERATOR_KEY, Devnet, free_port
from daifa.domain.outbox import OutboxStatus
from daifa.sdk.client import Client
from daifa.sdk.verify import verify_plan
from daifa.services import credentials, subjects
from daifa.services.context import Role
from daifa.store import models as m
from daifa.wallet import Wallet

DAY = 86_400
USD = 10**6
WAGE = 8_000 * USD
PDF = b"%PDF-1.4\n"


# With --console, the parties are anvil's dev accounts 1 and 2 (mnemonic "test test ... junk"), so that on
# the devnet a browser wallet holding that mnemonic can sign in as them too.
CONSOLE_PARTY_KEYS = (
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)


def run(out: CliSettings, chain: str, console: bool = False) -> None:
    """The demo on `chain` (embedded or anvil), printed to `out`'s console; with `console`, the server
    then keeps running with the demo's data for the web console, until interrupted."""
    with _chain(chain) as (w3, advance, label):
        Demo(out.console, w3, advance, label, web_console=console).run()


@contextmanager
def _chain(kind: str) -> Iterator[tuple[Web3, Callable[[int], int], str]]:
    if kind == "embedded":
        w3 = embedded.embedded_web3()
        embedded.fund(w3, Account.from_key(DEV_OPERATOR_KEY).address)
        yield w3, lambda seconds: embedded.advance(w3, seconds), "the embedded chain (eth-tester, in process)"
        return
    devnet = Devnet(state_dir=Path(tempfile.mkdtemp(prefix="daifa-demo-anvil-")), port=free_port())
    devnet.up()
    try:
        yield devnet.web3(), devnet.advance, f"a temporary anvil devnet at {devnet.url}"
    finally:
        devnet.down()


@dataclass
class Demo:
    console: Console
    w3: Web3
    advance: Callable[[int], int]
    chain_label: str
    web_console: bool = False
    seen_transactions: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.web_console:
            self.payer_wallet, self.payee_wallet = (Wallet(Account.from_key(k)) for k in CONSOLE_PARTY_KEYS)
        else:
            self.payer_wallet, self.payee_wallet = Wallet(Account.create()), Wallet(Account.create())

    def run(self) -> None:
        c = self.console
        c.rule("[bold]Daifa demo: a monthly wage plan, end to end")
        c.print(f"chain: {self.chain_label}")
        with tempfile.TemporaryDirectory(prefix="daifa-demo-") as folder, self._platform(Path(folder)) as api:
            self._story(api)
            if self.web_console:
                self._stay_for_the_console(api)

    # ------------------------------------------------------------------------------ set-up

    @contextmanager
    def _platform(self, folder: Path) -> Iterator[Client]:
        operator = Account.from_key(DEV_OPERATOR_KEY)
        deployment = deploy(self.w3, operator)
        self.deployment = deployment
        self.start = self._now()
        self.step(
            "deploy",
            f"DaifaEscrow {deployment.escrow} (gas {deployment.gas['DaifaEscrow']:,}); "
            f"test dollar {deployment.token} (gas {deployment.gas['DaifaTestDollar']:,})",
        )
        settings = Settings(
            database_url=f"sqlite:///{folder / 'daifa.db'}",
            documents_dir=folder / "documents",
            escrow_address=deployment.escrow,
            start_block=deployment.start_block,
        )
        self.platform = build(settings, self.w3, operator)
        with self.platform.sessions.begin() as session:
            operator_key = credentials.issue(session, Role.OPERATOR)
        # Development only: with --console the pages offer to sign with the demo parties' keys.
        signers = {w.address: w for w in (self.payer_wallet, self.payee_wallet)} if self.web_console else {}
        self.operator_key = operator_key
        try:
            with serving(create_app(self.platform, ApiSettings(demo_signers=signers))) as base_url:
                self.base_url = base_url
                self.step("serve", f"API on {base_url}, SQLite database, relayer, indexer and scheduler")
                with Client(base_url, operator_key) as client:
                    yield client
        finally:
            self.platform.close()

    # ------------------------------------------------------------------------------ the story

    def _story(self, operator: Client) -> None:
        payer_wallet, payee_wallet = self.payer_wallet, self.payee_wallet
        payer = self._onboard(operator, payer_wallet, "Huadong Logistics Co., Ltd.", "payer")
        payee = self._onboard(operator, payee_wallet, "Xinda Labour Services Co., Ltd.", "payee")
        self._faucet(payer_wallet.address, 100_000 * USD)

        # Product opening: the payee applies with the contract, the operator reviews, the payer authorises.
        product = payee.apply_for_product(
            payer=self.payer_id,
            business_name="Warehouse staffing, Shanghai DC, 2027",
            limit=60_000 * USD,
            tokens=[self.deployment.token or ""],
            expiry=self._now() + 400 * DAY,
            files=[("staffing-contract.pdf", PDF + b"staffing contract", "application/pdf")],
        )
        self.product_id = product.id
        self.step("product", f"{product.id}: the payee applies with the staffing contract")
        operator.approve_product(product.id, "contract reviewed")
        payer.authorise_credit(product.id)
        agreements = [d for d in payer.get_product(product.id).documents if d.purpose == "agreement"]
        for document in agreements:
            self.step("", f"  generated {document.filename} {document.hash[:18]}…")
        self._sign(payer, payer_wallet)
        self._sign(payee, payee_wallet)
        self._settle()
        opened = payer.get_product(product.id)
        self.step(
            "product", f"{opened.status}: agreement set {opened.agreement_set_id} on chain, both parties' signatures"
        )

        # The plan: six monthly wages with mixed release rules and a fee both sign for.
        rules = ["time", "time", "payer_approval", "materials", "time", "payer_approval"]
        timesheets = {
            "required_materials": ["signed timesheets"],
            "verification": "the operator checks the timesheets against the roster",
        }
        now = self._now()
        plan = payer.request_plan(
            {
                "product": product.id,
                "expiry": now + 220 * DAY,
                "fee_bps": 30,
                "fee_cap": str(20 * USD),
                "review_window": 5 * DAY,
                "instalments": [
                    {
                        "deposit_by": now + (30 * month + 20) * DAY,
                        "release_at": now + 30 * (month + 1) * DAY,
                        "amount": str(WAGE),
                        "rule": rule,
                        **(timesheets if rule == "materials" else {}),
                    }
                    for month, rule in enumerate(rules)
                ],
            }
        )
        self._sign(payer, payer_wallet)
        self._sign(payee, payee_wallet)
        self._settle()
        plan = payer.get_plan(plan.id)
        self.step(
            "plan",
            f"{plan.id} {plan.status} as chain plan {plan.chain_plan_id}: 6 x {WAGE // USD:,} USD, "
            "rules " + ", ".join(rules) + "; fee 0.3% capped at 20 USD",
        )

        payer.deposit(plan.id, list(range(6)))
        self._sign(payer, payer_wallet)
        self._settle()
        self.step(
            "deposit", f"the payer funds all six by permit: escrow holds {self._balance(self.deployment.escrow):,} USD"
        )

        for month, rule in enumerate(rules):
            self._month(month, rule, plan.id, operator, payer, payee, payer_wallet, payee_wallet)

        self._ending(operator, plan.id, payer_wallet.address, payee_wallet.address)

    def _month(
        self,
        month: int,
        rule: str,
        plan_id: str,
        operator: Client,
        payer: Client,
        payee: Client,
        payer_wallet: Wallet,
        payee_wallet: Wallet,
    ) -> None:
        release_at = payer.get_plan(plan_id).instalments[month].release_at
        self.advance(max(1, release_at - self._now()))  # to the pay date itself
        self._settle()
        if rule == "payer_approval":
            payer.approve_release(plan_id, month)
            self._sign(payer, payer_wallet)
            self.step("approve", f"month {month + 1}: the employer approves the wage")
        elif rule == "materials":
            payee.submit_materials(plan_id, month, [("timesheets.pdf", PDF + b"timesheets", "application/pdf")])
            self._sign(payee, payee_wallet)
            self._settle()
            operator.attest_materials(plan_id, month)
            self._settle()
            self.step("materials", f"month {month + 1}: timesheets delivered and attested; the review window opens")
            dispute = payer.dispute(
                plan_id,
                month,
                "two night shifts are missing from the timesheets",
                [("roster.pdf", PDF + b"roster", "application/pdf")],
            )
            self._sign(payer, payer_wallet)
            self._settle()
            self.step("dispute", f"month {month + 1}: the employer disputes: the instalment is frozen")
            operator.resolve_dispute(dispute.id, WAGE * 9 // 10, "shifts confirmed missing: 90% to the payee")
            self.step("arbiter", f"month {month + 1}: split 7,200 USD to the payee, 800 USD back to the employer")
        self._settle()
        instalment = payer.get_plan(plan_id).instalments[month]
        self.step(
            "release",
            f"month {month + 1}: {instalment.status}: payee {int(instalment.to_payee) / USD:,.2f}, "
            f"fee {int(instalment.fee) / USD:,.2f}, payer {int(instalment.to_payer) / USD:,.2f} USD",
        )

    def _ending(self, operator: Client, plan_id: str, payer: str, payee: str) -> None:
        c = self.console
        c.rule("balances")
        table = Table("account", "USD")
        for name, address in [
            ("employer (payer)", payer),
            ("labour firm (payee)", payee),
            ("platform (fee recipient)", self.platform.ports.operator_address),
            ("escrow", self.deployment.escrow),
        ]:
            table.add_row(name, f"{self._balance(address):,.2f}")
        c.print(table)
        c.rule("chain transactions")
        transactions = Table("transaction", "what", "for", "gas")
        total = 0
        for tx in reversed(list(operator.list_transactions())):
            transactions.add_row(tx.id, tx.kind, tx.subject, f"{tx.gas_used or 0:,}")
            total += tx.gas_used or 0
        c.print(transactions)
        c.print(f"{total:,} gas in all, relayed by the platform; the parties paid none")
        report = operator.reconciliation()
        checks = verify_plan(operator, self.w3, plan_id)
        c.rule("checks")
        c.print(f"verify {plan_id}: {sum(ch.ok for ch in checks)} of {len(checks)} hashes match the chain")
        if report.ok:
            c.print(
                f"[bold green]database and chain agree[/]: {report.parties} parties, {report.products} product, "
                f"{report.plans} plan, {report.instalments} instalments, escrow balance, "
                f"{report.transactions} transactions, at block {report.block}"
            )
        else:
            c.print(f"[bold red]database and chain disagree[/]: {report.mismatches}")
            raise typer.Exit(1)

    # ------------------------------------------------------------------------------ the web console

    def _stay_for_the_console(self, operator: Client) -> None:
        """Leaves work for each role (a carrier's application to review, a new plan for both parties to
        sign), prints how to sign in, and keeps the platform working until Ctrl-C."""
        self._onboard_application(Wallet(Account.create()), "Nanhai Freight Co., Ltd.")
        payer = Client(self.base_url, self.payer_key)
        plan = payer.request_plan(self._next_plan())
        payer.close()
        c = self.console
        c.rule("[bold]the web console")
        c.print(f"open {self.base_url}/console")
        c.print(f"operator: sign in with the demo's operator API key {self.operator_key}")
        c.print(
            "payer and payee: 'Sign in as ...' on the sign-in page (this demo server signs for its parties; "
            "development only), or, on --chain anvil, a browser wallet holding anvil's test mnemonic "
            f"(accounts 1 and 2: {self.payer_wallet.address}, {self.payee_wallet.address})"
        )
        c.print(f"waiting for you: a carrier's application to review; plan {plan.id} for both parties to sign")
        c.print("Ctrl-C stops the server")
        try:
            while True:
                self._settle()
                time.sleep(1)
        except KeyboardInterrupt:
            c.print("stopped")

    def _onboard_application(self, wallet: Wallet, name: str) -> None:
        anonymous = Client(self.base_url)
        anonymous.apply(wallet.address, name, "payee", [("licence.pdf", PDF + name.encode(), "application/pdf")])
        anonymous.close()

    def _next_plan(self) -> dict[str, Any]:
        now = self._now()
        return {
            "product": self.product_id,
            "expiry": now + 120 * DAY,
            "instalments": [
                {"deposit_by": now + (30 * month + 20) * DAY, "release_at": now + 30 * (month + 1) * DAY,
                 "amount": str(5_000 * USD), "rule": "time"}
                for month in range(2)
            ],
        }  # fmt: skip

    # ------------------------------------------------------------------------------ helpers

    def _onboard(self, operator: Client, wallet: Wallet, name: str, kind: str) -> Client:
        anonymous = Client(self.base_url)
        application = anonymous.apply(
            wallet.address, name, kind, [("licence.pdf", PDF + name.encode(), "application/pdf")]
        )
        anonymous.close()
        if kind == "payer":
            self.payer_id, self.payer_key = application.party.id, application.api_key
        self.step("apply", f"{name} applies as {kind} with its business licence ({application.party.id})")
        operator.approve_party(application.party.id, "licence checked")
        self._settle()
        party = Client(self.base_url, application.api_key)
        self.step("account", f"{name}: {party.get_party(application.party.id).status}, approved on chain")
        return party

    def _sign(self, client: Client, wallet: Wallet) -> None:
        for request in client.list_signature_requests():
            client.sign(request.id, wallet.sign_typed_data(request.typed_data))

    def _settle(self) -> None:
        self.platform.settle()
        for tx in sorted(self._new_transactions(), key=lambda t: t["id"]):
            failure = f" FAILED {tx['error']}" if tx["error"] else ""
            self.step("  tx", f"  {tx['kind']} for {subjects.public(tx['subject'])}: gas {tx['gas']:,}{failure}")

    def _new_transactions(self) -> list[dict[str, Any]]:
        with self.platform.sessions() as session:
            rows = session.scalars(
                select(m.OutboxEntry).where(m.OutboxEntry.status.in_([OutboxStatus.MINED, OutboxStatus.FAILED]))
            ).all()
            fresh = [r for r in rows if str(r.id) not in self.seen_transactions]
            self.seen_transactions |= {str(r.id) for r in fresh}
            return [
                {"id": r.id, "kind": r.kind, "subject": r.subject, "gas": r.gas_used or 0, "error": r.error}
                for r in fresh
            ]

    def _token(self) -> Contract:
        address = Web3.to_checksum_address(self.deployment.token or "")
        return self.w3.eth.contract(address=address, abi=load_artifact("DaifaTestDollar")["abi"])

    def _faucet(self, address: str, amount: int) -> None:
        token = self._token()
        funder = list(self.w3.eth.accounts)[1]  # prefunded; the operator's nonces are the relayer's
        self.w3.eth.wait_for_transaction_receipt(token.functions.faucet(address, amount).transact({"from": funder}))
        self.step("faucet", f"the employer gets {amount // USD:,} test dollars")

    def _balance(self, address: str) -> float:
        token = self._token()
        return int(token.functions.balanceOf(Web3.to_checksum_address(address)).call()) / USD

    def _now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def step(self, tag: str, text: str) -> None:
        day = (self._now() - self.start) // DAY if hasattr(self, "start") else 0
        self.console.print(f"[dim]day {day:>3}[/] [bold cyan]{tag:<9}[/] {text}")
