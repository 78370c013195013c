"""approveRelease, submitMaterials, attestMaterials and dispute: sent by the party or relayed signed."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.types import TxReceipt

from daifa.chain import abi
from daifa.chain import typed_data as td
from daifa.domain.plans import ReleaseRule
from tests.chain_harness import expect_revert
from tests.world import DAY, Plan, World

DELIVERED = keccak(text="signed timesheets, March")


Signature = tuple[object, ...]


def approve(world: World, plan: Plan, index: int, sender: LocalAccount, sig: Signature = abi.NO_SIGNATURE) -> TxReceipt:
    return world.send(world.escrow.functions.approveRelease(plan.id, plan.params_abi, plan.ref(index), sig), sender)


def submit(
    world: World,
    plan: Plan,
    index: int,
    sender: LocalAccount,
    delivered: bytes = DELIVERED,
    sig: Signature = abi.NO_SIGNATURE,
) -> TxReceipt:
    return world.send(
        world.escrow.functions.submitMaterials(plan.id, plan.params_abi, plan.ref(index), delivered, sig), sender
    )


def attest(world: World, plan: Plan, index: int, sender: LocalAccount, delivered: bytes = DELIVERED) -> TxReceipt:
    return world.send(
        world.escrow.functions.attestMaterials(plan.id, plan.params_abi, plan.ref(index), delivered), sender
    )


# ------------------------------------------------------------------------------------------ approveRelease


def test_approve_release_reverts_when_rule_is_not_payer_approval(world: World) -> None:
    plan = world.record_plan()
    with expect_revert("Registry_WrongReleaseRule", plan.id, 0, 0):
        approve(world, plan, 0, world.payer)


def test_approve_release_reverts_when_sender_is_not_payer(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL))
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        approve(world, plan, 0, world.payee)


def test_approve_release_reverts_when_already_approved(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL))
    approve(world, plan, 0, world.payer)
    with expect_revert("Registry_ConditionAlreadyMet", plan.id, 0):
        approve(world, plan, 0, world.payer)


def test_approve_release_reverts_when_instalment_closed(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL))
    world.cancel(plan, [0])
    with expect_revert("Registry_InstalmentClosed", plan.id, 0):
        approve(world, plan, 0, world.payer)


def test_approve_release_by_payer_signature_relayed_by_anyone(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL))
    nonce, deadline = world.nonce(), world.chain.now() + DAY
    signature = world.sign(world.payer, "PayerApproval", td.payer_approval_message(plan.id, 0, nonce, deadline))
    receipt = approve(world, plan, 0, world.outsider, abi.party_signature(nonce, deadline, signature))
    assert world.events(receipt, "PayerApproved") == [{"planId": plan.id, "index": 0}]
    assert world.status(plan, 0) == 2


def test_approve_release_reverts_when_signature_is_the_payees(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL))
    nonce, deadline = world.nonce(), world.chain.now() + DAY
    signature = world.sign(world.payee, "PayerApproval", td.payer_approval_message(plan.id, 0, nonce, deadline))
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        approve(world, plan, 0, world.outsider, abi.party_signature(nonce, deadline, signature))


# ------------------------------------------------------------------------------------------ materials


def test_submit_materials_reverts_when_rule_is_not_materials(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL))
    with expect_revert("Registry_WrongReleaseRule", plan.id, 0, 1):
        submit(world, plan, 0, world.payee)


def test_submit_materials_reverts_when_sender_is_not_payee(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.MATERIALS))
    with expect_revert("Registry_InvalidSignature", world.payee.address):
        submit(world, plan, 0, world.payer)


def test_submit_materials_reverts_when_already_attested(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.MATERIALS))
    submit(world, plan, 0, world.payee)
    attest(world, plan, 0, world.operator)
    with expect_revert("Registry_ConditionAlreadyMet", plan.id, 0):
        submit(world, plan, 0, world.payee, keccak(text="late swap"))


def test_submit_materials_reverts_when_instalment_closed(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.MATERIALS))
    world.cancel(plan, [0])
    with expect_revert("Registry_InstalmentClosed", plan.id, 0):
        submit(world, plan, 0, world.payee)


def test_submit_materials_by_payee_signature_replaces_earlier_submission(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.MATERIALS))
    submit(world, plan, 0, world.payee, keccak(text="first draft"))
    nonce, deadline = world.nonce(), world.chain.now() + DAY
    message = td.materials_submission_message(plan.id, 0, DELIVERED, nonce, deadline)
    signature = world.sign(world.payee, "MaterialsSubmission", message)
    receipt = submit(world, plan, 0, world.outsider, DELIVERED, abi.party_signature(nonce, deadline, signature))
    assert world.events(receipt, "MaterialsSubmitted") == [{"planId": plan.id, "index": 0, "deliveredHash": DELIVERED}]
    assert world.escrow.functions.materials(plan.id, 0).call() == [DELIVERED, 0]


def test_attest_materials_reverts_when_sender_is_not_operator(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.MATERIALS))
    submit(world, plan, 0, world.payee)
    with expect_revert("OwnableUnauthorizedAccount", world.payer.address):
        attest(world, plan, 0, world.payer)


def test_attest_materials_reverts_when_nothing_submitted(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.MATERIALS))
    with expect_revert("Registry_MaterialsNotSubmitted", plan.id, 0):
        attest(world, plan, 0, world.operator)


def test_attest_materials_reverts_when_hash_differs_from_submission(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.MATERIALS))
    submit(world, plan, 0, world.payee)
    other = keccak(text="something else")
    with expect_revert("Registry_MaterialsHashMismatch", plan.id, 0, DELIVERED, other):
        attest(world, plan, 0, world.operator, other)


def test_attest_materials_reverts_when_rule_is_not_materials(world: World) -> None:
    plan = world.record_plan()
    with expect_revert("Registry_WrongReleaseRule", plan.id, 0, 0):
        attest(world, plan, 0, world.operator)


def test_attest_materials_reverts_when_already_attested(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.MATERIALS))
    submit(world, plan, 0, world.payee)
    attest(world, plan, 0, world.operator)
    with expect_revert("Registry_ConditionAlreadyMet", plan.id, 0):
        attest(world, plan, 0, world.operator)


def test_attest_materials_starts_review_window(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.MATERIALS))
    submit(world, plan, 0, world.payee)
    receipt = attest(world, plan, 0, world.operator)
    (event,) = world.events(receipt, "MaterialsAttested")
    attested_at = world.escrow.functions.materials(plan.id, 0).call()[1]
    assert event["reviewEndsAt"] == attested_at + plan.params.review_window
    assert world.status(plan, 0) == 2


# ------------------------------------------------------------------------------------------ dispute


def test_dispute_reverts_when_by_is_not_a_plan_party(world: World) -> None:
    plan = world.record_plan()
    with expect_revert("Registry_NotPlanParty", plan.id, world.outsider.address):
        world.dispute(plan, 0, by=world.outsider)


def test_dispute_reverts_when_sender_is_not_the_named_party(world: World) -> None:
    plan = world.record_plan()
    call = world.escrow.functions.dispute(
        plan.id, plan.params_abi, plan.ref(0), world.payer.address, keccak(text="x"), abi.NO_SIGNATURE
    )
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        world.send(call, world.payee)


def test_dispute_reverts_when_already_disputed(world: World) -> None:
    plan = world.record_plan()
    world.dispute(plan, 0)
    with expect_revert("Registry_AlreadyDisputed", plan.id, 0):
        world.dispute(plan, 0, by=world.payee)


def test_dispute_reverts_when_instalment_closed(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    world.chain.advance(31 * DAY)
    world.release(plan, 0)
    with expect_revert("Registry_InstalmentClosed", plan.id, 0):
        world.dispute(plan, 0, by=world.payee)


def test_dispute_by_payee_freezes_instalment(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    receipt = world.dispute(plan, 0, by=world.payee)
    assert world.events(receipt, "Disputed") == [
        {"planId": plan.id, "index": 0, "by": world.payee.address, "reasonHash": keccak(text="reason")}
    ]
    assert world.status(plan, 0) == 1 | 4


def test_dispute_during_review_window_blocks_release(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.MATERIALS))
    world.deposit(plan, [0])
    submit(world, plan, 0, world.payee)
    attest(world, plan, 0, world.operator)
    world.dispute(plan, 0, by=world.payer)
    world.chain.advance(plan.params.review_window + 1)
    with expect_revert("Escrow_InstalmentDisputed", plan.id, 0):
        world.release(plan, 0)
