"""Deposits in the stablecoins payers hold: one shaped like USDT (no permit, no return values, an allowance
set only from zero) funds through the payer's wallet, its leftover allowance reset first; a token that
takes a fee on transfer is refused before the payer sends anything; a deposit the payer cannot cover is
refused with the numbers. Through the API, on both chains."""

from __future__ import annotations

from typing import Any

from web3.contract import Contract

from daifa.sdk.plans import monthly_plan
from tests.e2e.harness import Daifa, Party
from tests.e2e.test_full_life import _send_from_wallet

UNIT = 10**6  # both tokens have 6 decimals


def world(daifa: Daifa, token_name: str) -> tuple[Party, Party, Contract, dict[str, Any]]:
    """A payer holding 100,000 of the token, a payee, an open product in it and a recorded plan of three
    monthly 1,000s."""
    minter = daifa.chain.account("minter")
    token = daifa.chain.deploy(token_name, sender=minter)
    payer = daifa.onboard("employer", "payer")
    payee = daifa.onboard("labour-firm", "payee")
    daifa.chain.send(token.functions.mint(payer.address, 100_000 * UNIT), minter)
    product = daifa.open_product(payer, payee, limit=1_000_000 * UNIT, token=token.address)
    body = {**monthly_plan(product["id"], daifa.chain.now(), 1_000 * UNIT, 3), "token": token.address}
    return payer, payee, token, daifa.agree_plan(payer, payee, body)


def send_all(daifa: Daifa, payer: Party, transactions: list[dict[str, str]]) -> None:
    for tx in transactions:
        receipt = daifa.chain.w3.eth.wait_for_transaction_receipt(_send_from_wallet(daifa, payer.wallet, tx))
        assert receipt["status"] == 1, tx["description"]


def test_a_token_like_usdt_funds_through_the_wallet_with_its_allowance_reset(daifa: Daifa) -> None:
    payer, _payee, token, plan = world(daifa, "NoReturnToken")
    deposits = f"/v1/plans/{plan['id']}/deposits"
    refused = daifa.post(deposits, payer.key, json={"indices": [0], "method": "permit"}, expect=422)
    assert "NORET has no permit()" in refused["problems"][0]["message"]

    first = daifa.post(deposits, payer.key, json={"indices": [0]}, expect=201)  # auto: the wallet, for want of permit
    assert first["status"] == "awaiting_wallet"
    assert [t["description"] for t in first["details"]["transactions"]] == [
        "let the escrow take the deposit",
        "the deposit",
    ]
    send_all(daifa, payer, first["details"]["transactions"])

    # An allowance is left over (a wallet approved something earlier): USDT refuses to change it to
    # another non-zero amount, so the platform asks for a reset first.
    daifa.chain.send(token.functions.approve(daifa.escrow.address, 5 * UNIT), payer.wallet)
    second = daifa.post(deposits, payer.key, json={"indices": [1, 2]}, expect=201)
    assert [t["description"] for t in second["details"]["transactions"]] == [
        "reset the allowance left",
        "let the escrow take the deposit",
        "the deposit",
    ]
    send_all(daifa, payer, second["details"]["transactions"])
    daifa.settle()
    assert [i["status"] for i in daifa.get(f"/v1/plans/{plan['id']}", payer.key)["instalments"]] == ["funded"] * 3
    assert int(token.functions.balanceOf(daifa.escrow.address).call()) == 3_000 * UNIT
    daifa.reconcile()


def test_a_deposit_the_payer_cannot_cover_is_refused_with_the_numbers(daifa: Daifa) -> None:
    payer, _payee, token, plan = world(daifa, "NoReturnToken")
    daifa.chain.send(token.functions.transfer(daifa.chain.account("elsewhere").address, 99_500 * UNIT), payer.wallet)
    refused = daifa.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": [0, 1]}, expect=409)
    assert "holds 500.00 NORET" in refused["detail"] and "need 2,000.00 NORET" in refused["detail"]
    assert "1,500.00 NORET more" in refused["detail"]
    assert daifa.get(f"/v1/actions?plan={plan['id']}", payer.key)["data"] == []


def test_a_token_that_takes_a_fee_on_transfer_is_refused_before_anything_is_sent(daifa: Daifa) -> None:
    payer, _payee, token, plan = world(daifa, "FeeOnTransferToken")
    daifa.chain.send(token.functions.approve(daifa.escrow.address, 10_000 * UNIT), payer.wallet)
    refused = daifa.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": [0]}, expect=409)
    assert "fee on transfer" in refused["detail"] and "FOT" in refused["detail"]
    assert daifa.get(f"/v1/actions?plan={plan['id']}", payer.key)["data"] == []
