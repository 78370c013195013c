"""recordAgreementSet: one test per branch."""

from __future__ import annotations

from dataclasses import replace

from eth_utils.crypto import keccak

from daifa.chain import abi
from daifa.chain import typed_data as td
from tests.chain_harness import expect_revert
from tests.world import DAY, World

ZERO = "0x" + "00" * 20


def record(world: World, params: object, auth: object, sender: object = None) -> object:
    return world.send(
        world.escrow.functions.recordAgreementSet(abi.agreement_set(params), auth),  # type: ignore[arg-type]
        sender or world.outsider,  # type: ignore[arg-type]
    )


def test_record_agreement_set_reverts_when_paused(world: World) -> None:
    world.send(world.escrow.functions.pause(), world.operator)
    params = world.agreement_set_params()
    with expect_revert("EnforcedPause"):
        record(world, params, world.agreement_set_auth(params))


def test_record_agreement_set_reverts_when_payer_is_payee(world: World) -> None:
    world.approve_party(world.payer, 3)
    params = world.agreement_set_params(payee=world.payer.address)
    with expect_revert("Registry_SameParty", world.payer.address):
        record(world, params, world.agreement_set_auth(params, payee=world.payer))


def test_record_agreement_set_reverts_when_payer_not_approved_as_payer(world: World) -> None:
    params = world.agreement_set_params(payer=world.payee.address, payee=world.outsider.address)
    with expect_revert("Registry_PartyNotApproved", world.payee.address, 1):
        record(world, params, world.agreement_set_auth(params, payer=world.payee, payee=world.outsider))


def test_record_agreement_set_reverts_when_payee_not_approved_as_payee(world: World) -> None:
    params = world.agreement_set_params(payee=world.outsider.address)
    with expect_revert("Registry_PartyNotApproved", world.outsider.address, 2):
        record(world, params, world.agreement_set_auth(params, payee=world.outsider))


def test_record_agreement_set_reverts_when_payer_suspended(world: World) -> None:
    world.send(world.escrow.functions.suspendParty(world.payer.address), world.operator)
    params = world.agreement_set_params()
    with expect_revert("Registry_PartySuspended", world.payer.address):
        record(world, params, world.agreement_set_auth(params))


def test_record_agreement_set_reverts_when_no_tokens(world: World) -> None:
    params = world.agreement_set_params(tokens=())
    with expect_revert("Registry_NoTokens"):
        record(world, params, world.agreement_set_auth(params))


def test_record_agreement_set_reverts_when_limit_is_zero(world: World) -> None:
    params = world.agreement_set_params(limit=0)
    with expect_revert("Registry_ZeroLimit"):
        record(world, params, world.agreement_set_auth(params))


def test_record_agreement_set_reverts_when_expiry_not_in_future(world: World) -> None:
    now = world.chain.now()
    params = world.agreement_set_params(expiry=now)
    with expect_revert("Registry_ExpiryNotInFuture"):
        record(world, params, world.agreement_set_auth(params))


def test_record_agreement_set_reverts_when_an_agreement_hash_is_missing(world: World) -> None:
    params = world.agreement_set_params(payer_payee_agreement=b"\x00" * 32)
    with expect_revert("Registry_MissingAgreementHash"):
        record(world, params, world.agreement_set_auth(params))


def test_record_agreement_set_reverts_when_a_token_is_zero(world: World) -> None:
    params = world.agreement_set_params(tokens=(world.token.address, ZERO))
    with expect_revert("Registry_ZeroToken"):
        record(world, params, world.agreement_set_auth(params))


def test_record_agreement_set_reverts_when_deadline_passed(world: World) -> None:
    params = world.agreement_set_params()
    auth = world.agreement_set_auth(params, deadline=world.chain.now() - 1)
    with expect_revert("Registry_SignatureExpired"):
        record(world, params, auth)


def test_record_agreement_set_reverts_when_payee_signature_is_by_another_key(world: World) -> None:
    params = world.agreement_set_params()
    with expect_revert("Registry_InvalidSignature", world.payee.address):
        record(world, params, world.agreement_set_auth(params, payee=world.outsider))


def test_record_agreement_set_reverts_when_payer_nonce_reused(world: World) -> None:
    params = world.agreement_set_params()
    auth = world.agreement_set_auth(params)
    record(world, params, auth)
    second = world.agreement_set_params(limit=5)
    nonce = auth[0]
    deadline = world.chain.now() + DAY
    message = td.agreement_set_message(second, nonce, world.nonce(), deadline)  # type: ignore[arg-type]
    reused = abi.joint_authorization(
        nonce,  # type: ignore[arg-type]
        message["payeeNonce"],
        deadline,
        world.sign(world.payer, "AgreementSet", message),
        world.sign(world.payee, "AgreementSet", message),
    )
    with expect_revert("Registry_NonceAlreadyUsed", world.payer.address, nonce):
        record(world, second, reused)


def test_record_agreement_set_stores_budget_tokens_and_emits_everything(world: World) -> None:
    params = world.agreement_set_params(limit=123_456)
    auth = world.agreement_set_auth(params)
    receipt = record(world, params, auth)
    (event,) = world.events(receipt, "AgreementSetRecorded")  # type: ignore[arg-type]
    set_id = event["agreementSetId"]
    assert set_id == world.agreement_set_id + 1  # ids count up from 1
    assert event["consentHash"] == td.agreement_set_consent_hash(params, auth[0], auth[1], auth[2])  # type: ignore[arg-type]
    signed = td.agreement_set_message(params, 0, 0, 0)
    assert dict(event["params"]) == {
        k: v for k, v in signed.items() if k not in ("payerNonce", "payeeNonce", "deadline")
    }
    stored = world.escrow.functions.agreementSet(set_id).call()
    assert stored == (world.payer.address, world.payee.address, params.expiry, 123_456, 0)
    assert world.escrow.functions.isTokenAllowed(set_id, world.token.address).call() is True
    assert world.escrow.functions.isTokenAllowed(set_id, world.payer.address).call() is False


def test_record_agreement_set_accepts_party_sending_itself_without_signature(world: World) -> None:
    params = world.agreement_set_params(limit=7)
    auth = list(world.agreement_set_auth(params))
    auth[3] = b""  # the payer sends the transaction: its transaction is its consent
    receipt = record(world, params, tuple(auth), sender=world.payer)
    assert len(world.events(receipt, "AgreementSetRecorded")) == 1  # type: ignore[arg-type]


def test_record_agreement_set_reverts_when_signature_empty_and_sender_not_party(world: World) -> None:
    params = world.agreement_set_params(limit=7)
    auth = list(world.agreement_set_auth(params))
    auth[4] = b""
    with expect_revert("Registry_InvalidSignature", world.payee.address):
        record(world, params, tuple(auth), sender=world.payer)


def test_agreement_set_documents_hash_survives_in_event(world: World) -> None:
    contract_hash = keccak(text="freight master agreement v3")
    params = replace(world.agreement_set_params(), payer_payee_agreement=contract_hash)
    receipt = record(world, params, world.agreement_set_auth(params))
    (event,) = world.events(receipt, "AgreementSetRecorded")  # type: ignore[arg-type]
    assert event["params"]["payerPayeeAgreement"] == contract_hash
