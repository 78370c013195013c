"""The platform under test: contracts freshly deployed on a real chain, a real database, the FastAPI app
through its HTTP interface, and parties whose wallets sign locally, as they would in production."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from daifa.api.app import ApiSettings, create_app
from daifa.api.ratelimit import RateLimit, RateLimits
from daifa.bootstrap import Platform, Settings, build
from daifa.chain.relayer import FaultHook
from daifa.sdk.plans import monthly_plan
from daifa.services import credentials
from daifa.services.context import Role
from daifa.store import models as m
from tests.chain_harness import Chain

# Every test client calls from one address: rate limits are tested on their own (test_limits.py).
UNLIMITED = ApiSettings(rates=RateLimits(failed_authentication=RateLimit(0, 1), applications=RateLimit(0, 1)))
DAY = 86_400
USD = 10**6
PDF = b"%PDF-1.4\n% a qualification document\n"


@dataclass
class Party:
    name: str
    wallet: LocalAccount
    key: str
    id: str

    @property
    def address(self) -> str:
        return str(self.wallet.address)


Signer = Callable[[Party, dict[str, Any]], str]  # a wallet: the party and typed data -> 0x signature


class ApiError(AssertionError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class Daifa:
    def __init__(self, chain: Chain, database_url: str, workdir: Path, fault: FaultHook | None = None) -> None:
        self.chain = chain
        self.operator_wallet = chain.account("platform-operator")
        self.start_block = chain.w3.eth.block_number
        self.escrow = chain.deploy("DaifaEscrow", self.operator_wallet.address, sender=self.operator_wallet)
        self.token = chain.deploy("DaifaTestDollar", sender=self.operator_wallet)
        self.settings = Settings(
            database_url=database_url,
            documents_dir=workdir / "documents",
            escrow_address=self.escrow.address,
            start_block=self.start_block,
            webhooks_allow_local=True,  # the tests' receivers listen on 127.0.0.1
        )
        self.platform = self.restart(fault)
        with self.platform.sessions.begin() as session:
            self.operator_key = credentials.issue(session, Role.OPERATOR)

    def restart(self, fault: FaultHook | None = None, **settings: Any) -> Platform:
        """A new platform process on the same database and chain (what a crash and restart leaves);
        `settings` override the platform's settings from now on."""
        self.settings = replace(self.settings, **settings)
        if getattr(self, "platform", None) is not None:
            self.platform.close()
        self.platform = build(self.settings, self.chain.w3, self.operator_wallet, fault=fault)
        self.api = TestClient(create_app(self.platform, UNLIMITED), raise_server_exceptions=False)
        return self.platform

    def close(self) -> None:
        self.api.close()
        self.platform.close()

    # ------------------------------------------------------------------------------ HTTP

    def request(self, method: str, path: str, key: str | None, *, expect: int | None = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if method == "POST":
            headers.setdefault("Idempotency-Key", str(uuid.uuid4()))
        response = self.api.request(method, path, headers=headers, **kwargs)
        body = response.json() if response.headers.get("content-type", "").endswith("json") else response.content
        if expect is not None and response.status_code != expect:
            raise ApiError(response.status_code, body)
        if expect is None and response.status_code >= 400:
            raise ApiError(response.status_code, body)
        return body

    def get(self, path: str, key: str | None, **kwargs: Any) -> Any:
        return self.request("GET", path, key, **kwargs)

    def post(self, path: str, key: str | None, **kwargs: Any) -> Any:
        return self.request("POST", path, key, **kwargs)

    # ------------------------------------------------------------------------------ background work

    def settle(self) -> None:
        self.platform.settle()

    def reconcile(self) -> dict[str, Any]:
        report = self.get("/v1/reconciliation", self.operator_key)
        assert report["ok"], report["mismatches"]
        return report  # type: ignore[no-any-return]

    def count(self, model: type[m.Base], *where: Any) -> int:
        with self.platform.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    # ------------------------------------------------------------------------------ parties

    def apply(
        self,
        name: str,
        kind: str,
        legal_name: str | None = None,
        filename: str = "licence.pdf",
        address: str = "",
        content: bytes | None = None,
    ) -> Any:
        """The application of the party whose wallet is named `name` (or is at `address`), with its licence
        (a few bytes of PDF, unless `content` is given): the party and its API key."""
        return self.post(
            "/v1/parties",
            None,
            data={
                "address": address or self.chain.account(name).address,
                "legal_name": legal_name or f"{name.title()} Ltd",
                "kind": kind,
            },
            files=[("files", (filename, content or PDF + name.encode(), "application/pdf"))],
            expect=201,
        )

    def onboard(self, name: str, kind: str, wallet: LocalAccount | None = None) -> Party:
        """A party applies, the operator approves, the chain confirms: the account is open. Its wallet is
        the test key named `name`, unless one is given."""
        wallet = wallet or self.chain.account(name)
        application = self.apply(name, kind, address=wallet.address)
        party = Party(name, wallet, application["api_key"], application["party"]["id"])
        self.post(f"/v1/parties/{party.id}/approve", self.operator_key, json={"comment": "licence checked"})
        self.settle()
        assert self.get(f"/v1/parties/{party.id}", party.key)["status"] == "active"
        return party

    def sign_pending(self, party: Party, sign: Signer | None = None) -> list[dict[str, Any]]:
        """The party's wallet signs every pending request (locally with eth_account, unless another
        `sign` is given) and posts the signatures."""
        pending = self.get("/v1/signature_requests?status=pending&limit=100", party.key)["data"]
        signed = []
        for request in reversed(pending):  # oldest first
            if sign is None:
                signature = "0x" + party.wallet.sign_typed_data(full_message=request["typed_data"]).signature.hex()
            else:
                signature = sign(party, request["typed_data"])
            signed.append(
                self.post(f"/v1/signature_requests/{request['id']}/sign", party.key, json={"signature": signature})
            )
        return signed

    def fund(self, party: Party, amount: int) -> None:
        # Not from the operator: its nonces belong to the platform's relayer.
        self.chain.send(self.token.functions.faucet(party.address, amount), self.chain.account("faucet"))

    def balance(self, party: Party | str) -> int:
        address = party.address if isinstance(party, Party) else party
        return int(self.token.functions.balanceOf(address).call())

    def open_product(
        self,
        payer: Party,
        payee: Party,
        limit: int = 1_000_000 * USD,
        token: str | None = None,
        sign: Signer | None = None,
    ) -> dict[str, Any]:
        """The payee applies, the operator approves, the payer authorises, both sign: the product is open."""
        product = self.apply_for_product(payer, payee, limit, token)
        self.post(f"/v1/products/{product['id']}/approve", self.operator_key, json={"comment": "contract in order"})
        self.post(f"/v1/products/{product['id']}/authorise_credit", payer.key, json={})
        self.sign_pending(payer, sign)
        self.sign_pending(payee, sign)
        self.settle()
        opened = self.get(f"/v1/products/{product['id']}", payer.key)
        assert opened["status"] == "open", opened
        return opened  # type: ignore[no-any-return]

    def apply_for_product(
        self,
        payer: Party,
        payee: Party,
        limit: int = 1_000_000 * USD,
        token: str | None = None,
        business_name: str = "Warehouse staffing 2027",
        days: int = 400,
        contract: bytes | None = None,
    ) -> dict[str, Any]:
        """The payee's application for a product with `payer`, for `days`, its contract attached (a few
        bytes of PDF, unless `contract` is given)."""
        return self.post(  # type: ignore[no-any-return]
            "/v1/products",
            payee.key,
            data={
                "payer": payer.id,
                "business_name": business_name,
                "limit": str(limit),
                "tokens": [token or self.token.address],
                "expiry": str(self.chain.now() + days * DAY),
            },
            files=[("files", ("contract.pdf", contract or PDF + b"staffing contract", "application/pdf"))],
            expect=201,
        )

    def agree_plan(
        self, payer: Party, payee: Party, body: dict[str, Any], sign: Signer | None = None
    ) -> dict[str, Any]:
        plan = self.post("/v1/plans", payer.key, json=body, expect=201)
        self.sign_pending(payer, sign)
        self.sign_pending(payee, sign)
        self.settle()
        recorded = self.get(f"/v1/plans/{plan['id']}", payer.key)
        assert recorded["status"] == "recorded", recorded
        return recorded  # type: ignore[no-any-return]

    # ------------------------------------------------------------------------------ a ready world

    def recorded_plan(
        self, instalments: int = 3, amount: int = 100 * USD, fund: bool = True
    ) -> tuple[Party, Party, dict[str, Any]]:
        """A payer and a payee with an open product and a plan of TIME instalments a month apart,
        funded (by permit) unless told otherwise."""
        payer = self.onboard("employer", "payer")
        payee = self.onboard("labour-firm", "payee")
        self.fund(payer, 1_000_000 * USD)
        product = self.open_product(payer, payee)
        now = self.chain.now()
        body = monthly_plan(product["id"], now, amount, instalments, deposit_days_ahead=20, spare_months=3)
        plan = self.agree_plan(payer, payee, body)
        if fund:
            indices = list(range(instalments))
            self.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": indices}, expect=201)
            self.sign_pending(payer)
            self.settle()
            plan = self.get(f"/v1/plans/{plan['id']}", payer.key)
            assert {i["status"] for i in plan["instalments"]} == {"funded"}
        return payer, payee, plan
