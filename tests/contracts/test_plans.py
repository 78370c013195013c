"""recordPlan and amendPlan: one test per branch, and what the event and the commitment hold."""

from __future__ import annotations

from dataclasses import replace

from eth_utils.crypto import keccak

from daifa.chain import abi
from daifa.chain import typed_data as td
from daifa.chain.events import unpack_instalments
from daifa.domain.plans import ReleaseRule
from tests.chain_harness import expect_revert
from tests.world import DAY, USD, World


def test_record_plan_reverts_when_paused(world: World) -> None:
    world.send(world.escrow.functions.pause(), world.operator)
    with expect_revert("EnforcedPause"):
        world.record_plan()


def test_record_plan_reverts_when_fee_above_maximum(world: World) -> None:
    with expect_revert("Registry_FeeTooHigh", 10_001, 10_000):
        world.record_plan(params=world.plan_params(fee_bps=10_001))


def test_record_plan_reverts_when_fee_has_no_recipient(world: World) -> None:
    with expect_revert("Registry_FeeRecipientMissing"):
        world.record_plan(params=world.plan_params(fee_bps=50, fee_recipient="0x" + "00" * 20))


def test_record_plan_reverts_when_arbiter_missing(world: World) -> None:
    with expect_revert("Registry_ArbiterMissing"):
        world.record_plan(params=world.plan_params(arbiter="0x" + "00" * 20))


def test_record_plan_reverts_when_expiry_not_in_future(world: World) -> None:
    now = world.chain.now()
    with expect_revert("Registry_ExpiryNotInFuture"):
        world.record_plan(params=world.plan_params(expiry=now))


def test_record_plan_reverts_when_payee_suspended(world: World) -> None:
    world.send(world.escrow.functions.suspendParty(world.payee.address), world.operator)
    with expect_revert("Registry_PartySuspended", world.payee.address):
        world.record_plan()


def test_record_plan_reverts_when_payer_not_approved_as_payer(world: World) -> None:
    world.approve_party(world.payer, 2)  # re-approved as payee only
    with expect_revert("Registry_PartyNotApproved", world.payer.address, 1):
        world.record_plan()


def test_record_plan_reverts_when_no_instalments(world: World) -> None:
    with expect_revert("Registry_InstalmentCountOutOfRange", 0, 252):
        world.record_plan(instalments=[])


def test_record_plan_reverts_when_too_many_instalments(world: World) -> None:
    with expect_revert("Registry_InstalmentCountOutOfRange", 253, 252):
        world.record_plan(instalments=world.instalments(253, amount=1, every=DAY))


def test_record_plan_reverts_when_amount_is_zero(world: World) -> None:
    instalments = world.instalments(3)
    instalments[1] = replace(instalments[1], amount=0)
    with expect_revert("Registry_ZeroAmount", 1):
        world.record_plan(instalments=instalments)


def test_record_plan_reverts_when_deposit_by_after_release(world: World) -> None:
    instalments = world.instalments(2)
    bad = replace(instalments[1], deposit_by=instalments[1].release_at + 1)
    instalments[1] = bad
    with expect_revert("Registry_InstalmentTimesOutOfOrder", 1, bad.deposit_by, bad.release_at):
        world.record_plan(instalments=instalments)


def test_record_plan_reverts_when_release_after_expiry(world: World) -> None:
    params = world.plan_params()
    instalments = world.instalments(1)
    late = replace(instalments[0], release_at=params.expiry + 1)
    with expect_revert("Registry_ReleaseAfterExpiry", 0, late.release_at, params.expiry):
        world.record_plan(instalments=[late], params=params)


def test_record_plan_reverts_when_rule_unknown(world: World) -> None:
    instalments = world.instalments(1)
    unknown = replace(instalments[0], rule=3)  # type: ignore[arg-type]
    with expect_revert("Registry_UnknownReleaseRule", 0, 3):
        world.record_plan(instalments=[unknown])


def test_record_plan_reverts_when_materials_rule_has_no_materials_list(world: World) -> None:
    instalments = world.instalments(1, rule=ReleaseRule.MATERIALS)
    with expect_revert("Registry_MaterialsListMissing", 0):
        world.record_plan(instalments=[replace(instalments[0], materials_hash=b"\x00" * 32)])


def test_record_plan_reverts_when_agreement_set_unknown(world: World) -> None:
    unknown = 999_999
    with expect_revert("Registry_NoAgreementSet", unknown, world.payer.address, world.payee.address):
        world.record_plan(params=world.plan_params(agreement_set_id=unknown))


def test_record_plan_reverts_when_agreement_set_is_between_other_parties(world: World) -> None:
    other_payee = world.chain.account("other-payee")
    world.approve_party(other_payee, 2)
    params = world.plan_params(payee=other_payee.address)
    with expect_revert("Registry_NoAgreementSet", world.agreement_set_id, world.payer.address, other_payee.address):
        world.record_plan(params=params, auth=world.plan_auth(params, world.instalments(3), payee=other_payee))


def test_record_plan_reverts_when_agreement_set_expired(world: World) -> None:
    short = world.open_agreement_set(expiry=world.chain.now() + 10 * DAY)
    world.chain.advance(11 * DAY)
    params = world.plan_params(agreement_set_id=short)
    with expect_revert("Registry_AgreementSetExpired"):
        world.record_plan(params=params, instalments=world.instalments(1))


def test_record_plan_reverts_when_plan_outlives_agreement_set(world: World) -> None:
    set_expiry = world.chain.now() + 100 * DAY
    short = world.open_agreement_set(expiry=set_expiry)
    params = world.plan_params(agreement_set_id=short, expiry=set_expiry + 1)
    with expect_revert("Registry_PlanOutlivesAgreementSet", set_expiry + 1, set_expiry):
        world.record_plan(params=params, instalments=world.instalments(1))


def test_record_plan_reverts_when_token_not_allowed(world: World) -> None:
    other = world.chain.deploy("MockERC20", "Other", "OTH", 18, sender=world.operator)
    params = world.plan_params(token=other.address)
    with expect_revert("Registry_TokenNotAllowed", world.agreement_set_id, other.address):
        world.record_plan(params=params)


def test_record_plan_reverts_when_agreement_set_limit_exceeded(world: World) -> None:
    small = world.open_agreement_set(limit=2_500 * USD)
    params = world.plan_params(agreement_set_id=small)
    world.record_plan(params=params, instalments=world.instalments(2))  # 2,000 of 2,500
    with expect_revert("Registry_LimitExceeded", small, 1_000 * USD, 500 * USD):
        world.record_plan(params=params, instalments=world.instalments(1))


def test_record_plan_reverts_when_payee_signed_other_terms(world: World) -> None:
    params = world.plan_params()
    instalments = world.instalments(3)
    auth = world.plan_auth(params, instalments)
    changed = [*instalments[:2], replace(instalments[2], amount=instalments[2].amount + 1)]
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        world.record_plan(instalments=changed, params=params, auth=auth)


def test_record_plan_commits_to_params_and_instalments_root(world: World) -> None:
    plan = world.record_plan(world.instalments(12))
    commitment = bytes(world.escrow.functions.planCommitment(plan.id).call())
    assert commitment == td.plan_commitment(plan.params, plan.root)
    for i in range(12):
        assert world.status(plan, i) == 0


def test_record_plan_event_holds_the_whole_plan(world: World) -> None:
    instalments = [
        *world.instalments(2),
        *world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL, amount=7),
        *world.instalments(1, rule=ReleaseRule.MATERIALS, amount=2**100),
    ]
    big = world.open_agreement_set(limit=2**104 - 1)
    plan = world.record_plan(instalments, params=world.plan_params(agreement_set_id=big, fee_bps=30, fee_cap=5 * USD))
    (event,) = world.events(plan.receipt, "PlanRecorded")
    assert event["planId"] == plan.id
    assert event["agreementSetId"] == big
    signed = td.plan_message(plan.params, instalments, 0, 0, 0)
    assert dict(event["params"]) == {k: v for k, v in signed.items() if k in dict(event["params"])}
    assert unpack_instalments(event["packedInstalments"]) == instalments
    assert event["instalmentsRoot"] == plan.root


def test_record_plan_event_names_the_struct_hash_both_parties_signed(world: World) -> None:
    params = world.plan_params()
    instalments = world.instalments(3)
    auth = world.plan_auth(params, instalments)
    first = world.record_plan(instalments, params=params, auth=auth)
    second = world.record_plan(instalments, params=params)
    assert second.id == first.id + 1  # ids count up
    (event,) = world.events(first.receipt, "PlanRecorded")
    assert event["consentHash"] == td.plan_consent_hash(params, instalments, auth[0], auth[1], auth[2])  # type: ignore[arg-type]


def test_record_plan_handles_instalments_beyond_the_first_status_word(world: World) -> None:
    plan = world.record_plan(world.instalments(120, amount=10 * USD, every=5 * DAY))
    world.deposit(plan, [0, 15, 16, 78, 79, 119])
    funded = {i for i in range(120) if world.status(plan, i) == 1}
    assert funded == {0, 15, 16, 78, 79, 119}


def test_amend_plan_reverts_when_plan_unknown(world: World) -> None:
    plan = world.record_plan()
    ghost = replace(plan, id=999_999)
    with expect_revert("Registry_UnknownPlan", ghost.id):
        world.amend(ghost, list(plan.instalments))


def test_amend_plan_reverts_when_current_instalments_are_not_the_plans(world: World) -> None:
    plan = world.record_plan()
    wrong = [replace(plan.instalments[0], amount=1), *plan.instalments[1:]]
    with expect_revert("Registry_TermsMismatch", plan.id):
        world.amend(plan, current=wrong, amended=wrong)


def test_amend_plan_reverts_when_a_funded_instalment_changes(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [1])
    amended = list(plan.instalments)
    amended[1] = replace(amended[1], amount=amended[1].amount * 2)
    with expect_revert("Registry_InstalmentLocked", plan.id, 1):
        world.amend(plan, amended)


def test_amend_plan_reverts_when_it_drops_a_touched_instalment(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [2])
    with expect_revert("Registry_InstalmentLocked", plan.id, 2):
        world.amend(plan, list(plan.instalments[:2]))


def test_amend_plan_reverts_when_it_exceeds_the_limit(world: World) -> None:
    small = world.open_agreement_set(limit=3_000 * USD)
    plan = world.record_plan(params=world.plan_params(agreement_set_id=small))
    grown = [*plan.instalments, *world.instalments(1, first_release_in=200 * DAY)]
    with expect_revert("Registry_LimitExceeded", small, 4_000 * USD, 3_000 * USD):
        world.amend(plan, grown)


def test_amend_plan_replaces_untouched_instalments_and_keeps_statuses(world: World) -> None:
    plan = world.record_plan(world.instalments(3))
    world.deposit(plan, [0])
    extra = world.instalments(20, amount=5 * USD, first_release_in=100 * DAY, every=7 * DAY)
    amended = [plan.instalments[0], replace(plan.instalments[1], amount=42 * USD), *extra]
    receipt = world.amend(plan, amended)
    (event,) = world.events(receipt, "PlanAmended")
    assert unpack_instalments(event["packedInstalments"]) == amended
    amended_plan = replace(plan, instalments=tuple(amended))
    assert bytes(world.escrow.functions.planCommitment(plan.id).call()) == td.plan_commitment(
        plan.params, amended_plan.root
    )
    assert world.status(amended_plan, 0) == 1
    world.deposit(amended_plan, [1, 21])  # index 21 lives in the second status word
    assert [world.status(amended_plan, i) for i in (1, 2, 21)] == [1, 0, 1]
    assert world.escrow.functions.agreementSet(world.agreement_set_id).call()[4] == sum(i.amount for i in amended)


def test_amend_plan_reverts_when_paused(world: World) -> None:
    plan = world.record_plan()
    world.send(world.escrow.functions.pause(), world.operator)
    with expect_revert("EnforcedPause"):
        world.amend(plan, list(plan.instalments))


def test_amend_plan_reverts_when_payee_did_not_sign(world: World) -> None:
    plan = world.record_plan()
    nonces, deadline = (world.nonce(), world.nonce()), world.chain.now() + DAY
    message = td.amendment_message(plan.id, plan.root, plan.instalments, *nonces, deadline)
    auth = abi.joint_authorization(
        *nonces, deadline, world.sign(world.payer, "Amendment", message), world.sign(world.payer, "Amendment", message)
    )
    call = world.escrow.functions.amendPlan(
        plan.id,
        plan.params_abi,
        [abi.instalment(i) for i in plan.instalments],
        [abi.instalment(i) for i in plan.instalments],
        auth,
    )
    with expect_revert("Registry_InvalidSignature", world.payee.address):
        world.send(call, world.outsider)


def test_amend_plan_reverts_when_payee_already_delivered_materials(world: World) -> None:
    plan = world.record_plan(world.instalments(2, rule=ReleaseRule.MATERIALS))
    world.send(
        world.escrow.functions.submitMaterials(
            plan.id, plan.params_abi, plan.ref(1), keccak(text="delivered"), abi.NO_SIGNATURE
        ),
        world.payee,
    )
    amended = [plan.instalments[0], replace(plan.instalments[1], amount=1)]
    with expect_revert("Registry_InstalmentLocked", plan.id, 1):
        world.amend(plan, amended)
