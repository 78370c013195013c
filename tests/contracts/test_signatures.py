"""EIP-712 consent: wrong signer, replay across chains and registries, nonces, deadlines, malleability,
changed terms, ERC-1271 contract wallets."""

from __future__ import annotations

from dataclasses import replace

from eth_account import Account
from eth_utils.crypto import keccak
from web3.contract.contract import ContractFunction

from daifa.chain import abi
from daifa.chain import typed_data as td
from daifa.domain.plans import Instalment, PlanParams
from tests.chain_harness import expect_revert
from tests.world import DAY, World

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def plan_auth_with(
    world: World,
    payer_signature: bytes,
    params: PlanParams,
    instalments: list[Instalment],
    nonces: tuple[int, int],
    deadline: int,
) -> tuple[object, ...]:
    message = td.plan_message(params, instalments, nonces[0], nonces[1], deadline)
    return abi.joint_authorization(
        nonces[0], nonces[1], deadline, payer_signature, world.sign(world.payee, "Plan", message)
    )


def test_record_plan_reverts_when_payer_signature_is_by_another_key(world: World) -> None:
    params = world.plan_params()
    instalments = world.instalments(2)
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        world.record_plan(instalments, params, world.plan_auth(params, instalments, payer=world.outsider))


def test_record_plan_reverts_when_signed_for_another_chain_id(world: World) -> None:
    params = world.plan_params()
    instalments = world.instalments(2)
    nonces, deadline = (world.nonce(), world.nonce()), world.chain.now() + DAY
    message = td.plan_message(params, instalments, *nonces, deadline)
    other_chain = td.payload("Plan", message, world.chain.chain_id + 1, world.escrow.address)
    signature = world.chain.sign_typed(world.payer, other_chain)
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        world.record_plan(instalments, params, plan_auth_with(world, signature, params, instalments, nonces, deadline))


def test_record_agreement_set_reverts_when_signed_for_another_registry(world: World) -> None:
    other = world.chain.deploy("DaifaEscrow", world.operator.address, sender=world.operator)
    for party, roles in ((world.payer, 1), (world.payee, 2)):
        world.send(other.functions.approveParty(party.address, roles, b"\x00" * 32), world.operator)
    params = world.agreement_set_params()
    auth = world.agreement_set_auth(params)  # signed for world.escrow
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        world.send(other.functions.recordAgreementSet(abi.agreement_set(params), auth), world.outsider)


def test_record_plan_reverts_when_payer_nonce_already_used(world: World) -> None:
    params = world.plan_params()
    used = world.nonce()
    world.record_plan(
        params=params,
        auth=world.plan_auth(params, world.instalments(1), nonces=(used, world.nonce())),
        instalments=world.instalments(1),
    )
    second = world.instalments(2)
    with expect_revert("Registry_NonceAlreadyUsed", world.payer.address, used):
        world.record_plan(second, params, world.plan_auth(params, second, nonces=(used, world.nonce())))


def test_record_plan_reverts_when_nonce_invalidated_by_its_owner(world: World) -> None:
    params = world.plan_params()
    instalments = world.instalments(2)
    nonce = world.nonce()
    auth = world.plan_auth(params, instalments, nonces=(nonce, world.nonce()))
    receipt = world.send(world.escrow.functions.invalidateNonce(nonce), world.payer)
    assert world.events(receipt, "NonceInvalidated") == [{"owner": world.payer.address, "nonce": nonce}]
    assert world.escrow.functions.isNonceUsed(world.payer.address, nonce).call() is True
    with expect_revert("Registry_NonceAlreadyUsed", world.payer.address, nonce):
        world.record_plan(instalments, params, auth)


def test_record_plan_reverts_when_deadline_passed(world: World) -> None:
    params = world.plan_params()
    instalments = world.instalments(2)
    auth = world.plan_auth(params, instalments, deadline=world.chain.now() + 60)
    world.chain.advance(120)
    with expect_revert("Registry_SignatureExpired"):
        world.record_plan(instalments, params, auth)


def test_record_plan_reverts_when_a_param_changed_after_signing(world: World) -> None:
    params = world.plan_params()
    instalments = world.instalments(2)
    auth = world.plan_auth(params, instalments)
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        world.record_plan(instalments, replace(params, fee_bps=1, fee_cap=1), auth)


def test_record_plan_reverts_when_signature_is_malleated_to_high_s(world: World) -> None:
    params = world.plan_params()
    instalments = world.instalments(2)
    nonces, deadline = (world.nonce(), world.nonce()), world.chain.now() + DAY
    message = td.plan_message(params, instalments, *nonces, deadline)
    good = world.sign(world.payer, "Plan", message)
    r, s, v = good[:32], int.from_bytes(good[32:64], "big"), good[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # the same point, other half
    assert (
        Account._recover_hash(
            td.digest(world.chain.chain_id, world.escrow.address, td.hash_struct("Plan", message)), signature=high_s
        )
        == world.payer.address
    )  # valid for ecrecover...
    with expect_revert("Registry_InvalidSignature", world.payer.address):  # ...but refused by the registry
        world.record_plan(instalments, params, plan_auth_with(world, high_s, params, instalments, nonces, deadline))


def _contract_wallet_payer(world: World, approves: bool) -> tuple[str, ContractFunction]:
    wallet = world.chain.deploy("MockERC1271Wallet", world.payer.address, approves, sender=world.operator)
    world.approve_party(wallet.address, 1)
    params = world.agreement_set_params(payer=wallet.address)
    payer_nonce, payee_nonce, deadline = world.nonce(), world.nonce(), world.chain.now() + DAY
    message = td.agreement_set_message(params, payer_nonce, payee_nonce, deadline)
    auth = abi.joint_authorization(
        payer_nonce,
        payee_nonce,
        deadline,
        world.sign(world.payer, "AgreementSet", message),  # the wallet's owner key signs for the wallet
        world.sign(world.payee, "AgreementSet", message),
    )
    return wallet.address, world.escrow.functions.recordAgreementSet(abi.agreement_set(params), auth)


def test_record_agreement_set_accepts_erc1271_wallet_that_approves(world: World) -> None:
    wallet, call = _contract_wallet_payer(world, approves=True)
    receipt = world.send(call, world.outsider)
    (event,) = world.events(receipt, "AgreementSetRecorded")
    assert event["payer"] == wallet


def test_record_agreement_set_reverts_when_erc1271_wallet_refuses(world: World) -> None:
    wallet, call = _contract_wallet_payer(world, approves=False)
    with expect_revert("Registry_InvalidSignature", wallet):
        world.send(call, world.outsider)


def test_dispute_by_signature_reverts_when_replayed(world: World) -> None:
    plan = world.record_plan()
    nonce, deadline = world.nonce(), world.chain.now() + DAY
    reason = keccak(text="short delivery")
    signature = world.sign(world.payee, "Dispute", td.dispute_message(plan.id, 0, reason, nonce, deadline))
    call = world.escrow.functions.dispute(
        plan.id,
        plan.params_abi,
        plan.ref(0),
        world.payee.address,
        reason,
        abi.party_signature(nonce, deadline, signature),
    )
    world.send(call, world.outsider)
    call_again = world.escrow.functions.dispute(
        plan.id,
        plan.params_abi,
        plan.ref(1),
        world.payee.address,
        reason,
        abi.party_signature(nonce, deadline, signature),
    )
    with expect_revert("Registry_InvalidSignature", world.payee.address):  # signed for instalment 0 only
        world.send(call_again, world.outsider)
