"""Company treasuries that are multisigs: a real Safe 1.4.1 (deployed from the published npm artifacts) with
two of three owners as the payer, another as the payee, through the whole life of a plan via the API.
Each signature the platform asks for is the Safe's (ERC-1271: its owners sign a SafeMessage over the
request's digest); the deposit goes out as the Safe's own transactions. Enough owners are accepted; too
few, or a stranger, get a 4xx naming the reason."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from daifa import safe
from daifa.sdk.plans import instalment, plan_request
from tests.e2e.harness import DAY, PDF, USD, Daifa, Party

pytestmark = pytest.mark.chains("anvil")


class Treasury:
    """A Safe with three owners and a threshold of two, as a party of the platform."""

    def __init__(self, daifa: Daifa, factory: safe.Factory, name: str, kind: str) -> None:
        self.owners: list[LocalAccount] = [daifa.chain.account(f"{name}-owner-{n}", eth=10) for n in range(3)]
        self.address = safe.create(daifa.chain.w3, factory, [o.address for o in self.owners], 2, self.owners[0])
        application = daifa.apply(name, kind, address=self.address)
        daifa.post(f"/v1/parties/{application['party']['id']}/approve", daifa.operator_key, json={"comment": "ok"})
        daifa.settle()
        self.party = Party(name, self.owners[0], application["api_key"], application["party"]["id"])
        self.chain_id = daifa.chain.chain_id

    def sign(self, typed: dict[str, Any], owners: int = 2) -> str:
        return safe.sign_as(self.owners[:owners], self.address, self.chain_id, typed)


def pending(daifa: Daifa, party: Party) -> list[dict[str, Any]]:
    return daifa.get("/v1/signature_requests?status=pending", party.key)["data"]  # type: ignore[no-any-return]


def test_two_multisig_treasuries_through_the_whole_life_of_a_plan(daifa: Daifa) -> None:
    factory = safe.deploy_factory(daifa.chain.w3, daifa.chain.account("safe-deployer"))
    payer = Treasury(daifa, factory, "employer", "payer")
    payee = Treasury(daifa, factory, "labour-firm", "payee")
    treasuries = {payer.party.id: payer, payee.party.id: payee}
    assert daifa.get(f"/v1/parties/{payer.party.id}", payer.party.key)["status"] == "active"
    daifa.chain.send(daifa.token.functions.faucet(payer.address, 100_000 * USD), daifa.chain.account("faucet"))

    def by_two_owners(party: Party, typed: dict[str, Any]) -> str:
        return treasuries[party.id].sign(typed)

    product = daifa.open_product(payer.party, payee.party, sign=by_two_owners)
    now = daifa.chain.now()
    plan = daifa.agree_plan(
        payer.party,
        payee.party,
        plan_request(
            product["id"],
            now + 200 * DAY,
            [
                instalment(now + 10 * DAY, now + 30 * DAY, 1_000 * USD),
                instalment(now + 10 * DAY, now + 30 * DAY, 2_000 * USD, "payer_approval"),
                instalment(
                    now + 10 * DAY, now + 30 * DAY, 3_000 * USD, "materials", required_materials=["signed timesheets"]
                ),
                instalment(now + 50 * DAY, now + 60 * DAY, 4_000 * USD),
            ],
        ),
        sign=by_two_owners,
    )

    # A multisig cannot sign a permit: the deposit comes back as the Safe's own transactions.
    deposit = daifa.post(
        f"/v1/plans/{plan['id']}/deposits", payer.party.key, json={"indices": [0, 1, 2, 3]}, expect=201
    )
    assert deposit["details"]["method"] == "wallet"
    for tx in deposit["details"]["transactions"]:
        safe.execute(
            daifa.chain.w3, payer.address, tx["to"], bytes.fromhex(tx["data"][2:]), payer.owners[1:], payer.owners[0]
        )
    daifa.settle()
    assert [i["status"] for i in daifa.get(f"/v1/plans/{plan['id']}", payer.party.key)["instalments"]] == ["funded"] * 4

    daifa.chain.advance(30 * DAY)
    daifa.settle()
    assert daifa.balance(payee.address) == 1_000 * USD

    # The payer approves instalment 1: one owner is not enough, a stranger is nobody, two are the Safe.
    daifa.post(f"/v1/plans/{plan['id']}/instalments/1/approve", payer.party.key, expect=201)
    [request] = pending(daifa, payer.party)
    sign_path = f"/v1/signature_requests/{request['id']}/sign"
    too_few = daifa.post(
        sign_path, payer.party.key, json={"signature": payer.sign(request["typed_data"], 1)}, expect=422
    )
    assert "fewer owners signed than its threshold (GS020)" in too_few["problems"][0]["message"]
    stranger = daifa.chain.account("stranger", eth=1)
    forged = safe.sign_as([payer.owners[0], stranger], payer.address, payer.chain_id, request["typed_data"])
    refused = daifa.post(sign_path, payer.party.key, json={"signature": forged}, expect=422)
    assert "GS026" in refused["problems"][0]["message"]
    daifa.post(sign_path, payer.party.key, json={"signature": payer.sign(request["typed_data"])})
    daifa.settle()
    assert daifa.balance(payee.address) == 3_000 * USD

    # Materials from the payee's Safe, attested; the payer's Safe disputes; the arbiter splits.
    files = [("files", ("timesheets.pdf", PDF + b"timesheets", "application/pdf"))]
    daifa.post(f"/v1/plans/{plan['id']}/instalments/2/materials", payee.party.key, files=files, expect=201)
    daifa.sign_pending(payee.party, by_two_owners)
    daifa.settle()
    daifa.post(f"/v1/plans/{plan['id']}/instalments/2/attest", daifa.operator_key, expect=201)
    daifa.settle()
    dispute = daifa.post(
        f"/v1/plans/{plan['id']}/instalments/2/disputes",
        payer.party.key,
        data={"reason": "short"},
        files=files,
        expect=201,
    )
    daifa.sign_pending(payer.party, by_two_owners)
    daifa.settle()
    daifa.post(
        f"/v1/actions/{dispute['id']}/resolve", daifa.operator_key, json={"to_payee": str(2_000 * USD)}, expect=201
    )
    daifa.settle()
    assert daifa.balance(payee.address) == 5_000 * USD

    # Both Safes cancel the last instalment: refunded to the payer's Safe.
    before = daifa.balance(payer.address)
    daifa.post(f"/v1/plans/{plan['id']}/cancellations", payee.party.key, json={"indices": [3]}, expect=201)
    daifa.sign_pending(payee.party, by_two_owners)
    daifa.sign_pending(payer.party, by_two_owners)
    daifa.settle()
    assert daifa.balance(payer.address) == before + 4_000 * USD  # the dispute gave the other 1,000 back before
    final = daifa.get(f"/v1/plans/{plan['id']}", payer.party.key)
    assert final["status"] == "completed" and daifa.balance(daifa.escrow.address) == 0
    daifa.reconcile()
