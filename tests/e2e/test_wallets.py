"""Every kind of request the platform prepares, signed by two independent wallet implementations (eth_account
here, and anvil's own eth_signTypedData_v4 for its unlocked dev accounts) on a 6- and an 18-decimal token,
and each signature posted back and relayed: the typed data is served so that every wallet reads the same
numbers (uints as decimal strings, past JavaScript's 2**53 and the wallet RPC's 2**128)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from daifa import Wallet, WalletError
from daifa.chain import typed_data as td
from daifa.sdk.plans import Rule, instalment, plan_request
from tests.e2e.harness import DAY, PDF, Daifa, Party, Signer

pytestmark = pytest.mark.chains("anvil")

# anvil's dev accounts 1 and 2 (mnemonic "test test ... junk"): anvil signs for them itself.
ANVIL_KEYS = (
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)
PURPOSES = {
    "agreement_set", "plan", "permit", "deposit_authorization", "payer_approval", "materials", "dispute",
    "cancellation",
}  # fmt: skip


def eth_account(party: Party, typed: dict[str, Any]) -> str:
    return "0x" + party.wallet.sign_typed_data(full_message=typed).signature.hex()


def anvil(daifa: Daifa) -> Signer:
    def sign(party: Party, typed: dict[str, Any]) -> str:
        return str(daifa.chain.rpc("eth_signTypedData_v4", [party.address, json.dumps(typed)]))

    return sign


def kth_instalment(now: int, k: int, amount: int, rule: Rule) -> dict[str, Any]:
    materials = ["signed timesheets"] if rule == "materials" else []
    return instalment(now + (k + 1) * 20 * DAY, now + (k + 2) * 20 * DAY, amount, rule, required_materials=materials)


def integers_are_strings(value: Any) -> bool:
    if isinstance(value, dict):
        return all(integers_are_strings(v) for v in value.values())
    if isinstance(value, list):
        return all(integers_are_strings(v) for v in value)
    return not isinstance(value, int)


@pytest.mark.parametrize("decimals", [6, 18])
@pytest.mark.parametrize("wallet", ["eth_account", "anvil"])
def test_every_request_is_signed_alike_by_two_wallet_implementations(daifa: Daifa, wallet: str, decimals: int) -> None:
    sign = eth_account if wallet == "eth_account" else anvil(daifa)
    keys: list[LocalAccount] = [Account.from_key(k) for k in ANVIL_KEYS]
    payer = daifa.onboard("employer", "payer", wallet=keys[0])
    payee = daifa.onboard("labour-firm", "payee", wallet=keys[1])
    unit = 10**decimals
    if decimals == 6:
        token = daifa.token
        daifa.fund(payer, 10**6 * unit)  # the test dollar's faucet gives at most ten million
    else:
        token = daifa.chain.deploy("MockERC20", "Eighteen Dollar", "E18", 18, sender=daifa.chain.account("minter"))
        daifa.chain.send(token.functions.mint(payer.address, 10**9 * unit), daifa.chain.account("minter"))
    product = daifa.open_product(payer, payee, limit=10**6 * unit, token=token.address, sign=sign)

    # 12,345.678901 units: 12,345,678,901,000,000,000,000 base units on the 18-decimal token, past 2**53.
    amount = 12_345_678_901 * unit // 10**6
    now = daifa.chain.now()
    rules: list[Rule] = ["time", "payer_approval", "materials", "time"]
    plan = daifa.agree_plan(
        payer,
        payee,
        plan_request(
            product["id"],
            now + 200 * DAY,
            [kth_instalment(now, k, amount + k, rule) for k, rule in enumerate(rules)],
            token=token.address,
        ),
        sign=sign,
    )
    daifa.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": [0, 1, 2, 3]}, expect=201)
    daifa.sign_pending(payer, sign)
    daifa.settle()
    assert [i["status"] for i in daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"]] == ["funded"] * 4

    daifa.post(f"/v1/plans/{plan['id']}/instalments/1/approve", payer.key, expect=201)
    daifa.sign_pending(payer, sign)
    files = [("files", ("timesheets.pdf", PDF + b"timesheets", "application/pdf"))]
    daifa.post(f"/v1/plans/{plan['id']}/instalments/2/materials", payee.key, files=files, expect=201)
    daifa.sign_pending(payee, sign)
    daifa.settle()
    daifa.post(f"/v1/plans/{plan['id']}/instalments/2/attest", daifa.operator_key, expect=201)
    daifa.settle()
    daifa.post(
        f"/v1/plans/{plan['id']}/instalments/2/disputes", payer.key, data={"reason": "short"}, files=files, expect=201
    )
    daifa.sign_pending(payer, sign)
    daifa.post(f"/v1/plans/{plan['id']}/cancellations", payee.key, json={"indices": [3]}, expect=201)
    daifa.sign_pending(payee, sign)
    daifa.sign_pending(payer, sign)
    daifa.settle()

    requests = [
        *daifa.get("/v1/signature_requests?limit=100", payer.key)["data"],
        *daifa.get("/v1/signature_requests?limit=100", payee.key)["data"],
    ]
    assert {r["purpose"] for r in requests} == PURPOSES
    assert all(r["status"] == "signed" for r in requests)
    assert all(integers_are_strings(r["typed_data"]["message"]) for r in requests)
    assert all(isinstance(r["typed_data"]["domain"]["chainId"], str) for r in requests)
    actions = daifa.get(f"/v1/actions?plan={plan['id']}&limit=100", payer.key)["data"]
    assert {a["kind"]: a["status"] for a in actions} == {
        "deposit": "mined", "payer_approval": "mined", "materials": "mined", "attestation": "mined",
        "dispute": "mined", "cancellation": "mined",
    }  # fmt: skip
    instalments = daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"]
    assert [i["status"] for i in instalments] == ["funded", "closed", "disputed", "closed"]
    assert instalments[1]["to_payee"] == str(amount + 1)  # released to the unit, past 2**53
    daifa.reconcile()


def test_a_remote_signer_signs_as_the_key_itself_would(daifa: Daifa) -> None:
    url = str(daifa.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    key: LocalAccount = Account.from_key(ANVIL_KEYS[0])
    message = td.payer_approval_message(3, 1, 2**200, 2**40)  # a nonce past what a JSON number carries
    typed = td.as_json(td.payload("PayerApproval", message, daifa.chain.chain_id, daifa.escrow.address))
    remote = Wallet.remote(url, key.address)
    assert remote.sign_typed_data(typed) == "0x" + key.sign_typed_data(full_message=typed).signature.hex()
    with pytest.raises(WalletError, match="refused to sign"):
        Wallet.remote(url, "0x" + "12" * 20).sign_typed_data(typed)
    with pytest.raises(WalletError, match="did not answer"):
        Wallet.remote("http://127.0.0.1:1", key.address).sign_typed_data(typed)
