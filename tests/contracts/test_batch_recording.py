"""recordPlans, recordPlanAndDeposit, recordPlansAndDeposit and depositInstalments: plans recorded in
batches, recorded and funded in one transaction, and deposits of several instalments without proofs."""

from __future__ import annotations

from dataclasses import replace

from web3.logs import DISCARD

from tests.chain_harness import expect_revert
from tests.world import DAY, USD, World

FUNDED = 1


def test_record_plan_and_deposit_funds_every_instalment_from_the_sender(world: World) -> None:
    instalments = world.instalments(3, amount=250 * USD)
    params = world.plan_params()
    before = world.balance(world.payer)
    (plan,) = world.record_and_fund(
        [world.new_plan(instalments, params, world.plan_auth(params, instalments, payer_sends=True))]
    )
    assert [world.status(plan, i) for i in range(3)] == [FUNDED] * 3
    assert world.balance(world.payer) == before - 750 * USD
    assert world.balance(world.escrow.address) == 750 * USD
    deposited = world.events(plan.receipt, "Deposited")
    assert [(e["planId"], e["index"], e["amount"]) for e in deposited] == [(plan.id, i, 250 * USD) for i in range(3)]
    (transfer,) = world.token.events.Transfer().process_receipt(plan.receipt, errors=DISCARD)
    assert (transfer.args["from"], transfer.args.value) == (world.payer.address, 750 * USD)


def test_record_plan_and_deposit_funds_statuses_past_the_head_word(world: World) -> None:
    """Statuses 16 and up live in further words: each must start funded, and the last must still release."""
    (plan,) = world.record_and_fund([world.new_plan(world.instalments(120, amount=USD, every=DAY))])
    assert all(world.status(plan, i) == FUNDED for i in (0, 15, 16, 78, 79, 119))
    world.chain.advance(150 * DAY)
    world.release(plan, 119)
    assert world.status(plan, 119) == FUNDED | 8
    with expect_revert("Escrow_InstalmentAlreadyFunded", plan.id, 79):
        world.deposit(plan, [79])


def test_record_plan_and_deposit_by_a_sponsor_is_paid_from_the_sponsors_tokens(world: World) -> None:
    sponsor = world.chain.account("sponsor")
    world.fund(sponsor, 3_000 * USD)
    world.send(world.token.functions.approve(world.escrow.address, 3_000 * USD), sponsor)
    payer_before = world.balance(world.payer)
    (plan,) = world.record_and_fund([world.new_plan(world.instalments(3))], sender=sponsor)
    assert world.balance(sponsor) == 0
    assert world.balance(world.payer) == payer_before
    assert world.status(plan, 2) == FUNDED


def test_record_plan_and_deposit_needs_the_payers_consent_when_someone_else_sends(world: World) -> None:
    instalments = world.instalments(2)
    params = world.plan_params()
    auth = world.plan_auth(params, instalments, payer_sends=True)
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        world.record_and_fund([world.new_plan(instalments, params, auth)], sender=world.outsider)


def test_record_plan_and_deposit_reverts_when_the_token_short_pays(world: World) -> None:
    token, set_id = world.adopt_token("FeeOnTransferToken")
    params = world.plan_params(agreement_set_id=set_id, token=token.address)
    instalments = world.instalments(2)
    total = sum(i.amount for i in instalments)
    with expect_revert("Escrow_TransferShortfall", token.address, total, total - total // 100):
        world.record_and_fund([world.new_plan(instalments, params)])


def test_record_plan_and_deposit_reverts_when_paused(world: World) -> None:
    world.send(world.escrow.functions.pause(), world.operator)
    with expect_revert("EnforcedPause"):
        world.record_and_fund([world.new_plan(world.instalments(1))])


def test_record_plans_and_deposit_records_consecutive_plans_with_one_transfer(world: World) -> None:
    plans = [world.new_plan(world.instalments(n, amount=100 * USD)) for n in (1, 2, 3)]
    before = world.balance(world.payer)
    recorded = world.record_and_fund(plans)
    ids = [p.id for p in recorded]
    assert ids == list(range(ids[0], ids[0] + 3))
    assert world.balance(world.payer) == before - 600 * USD
    (transfer,) = world.token.events.Transfer().process_receipt(recorded[0].receipt, errors=DISCARD)
    assert transfer.args.value == 600 * USD
    assert [world.status(p, len(p.instalments) - 1) for p in recorded] == [FUNDED] * 3


def test_record_plans_and_deposit_cannot_replay_the_same_consent(world: World) -> None:
    plans = [world.new_plan(world.instalments(1)), world.new_plan(world.instalments(1))]
    world.record_and_fund(plans)
    _, _, auth = plans[0]
    with expect_revert("Registry_NonceAlreadyUsed", world.payer.address, auth[0]):
        world.record_and_fund(plans)


def test_record_plans_and_deposit_refuses_a_batch_in_two_tokens(world: World) -> None:
    token, set_id = world.adopt_token("MockERC20", "Other Dollar", "ODL", 6)
    other = world.plan_params(agreement_set_id=set_id, token=token.address)
    plans = [world.new_plan(world.instalments(1)), world.new_plan(world.instalments(1), other)]
    with expect_revert("Escrow_MixedTokens", world.token.address, token.address):
        world.record_and_fund(plans)


def test_record_plans_and_deposit_refuses_an_empty_batch(world: World) -> None:
    with expect_revert("Registry_NoPlans"):
        world.send(world.escrow.functions.recordPlansAndDeposit([]), world.payer)


def test_record_plans_records_a_relayed_batch(world: World) -> None:
    plans = [world.new_plan(world.instalments(n)) for n in (2, 3)]
    first, plan = world.record_plans(plans)
    assert plan.id == first.id + 1
    assert world.events(plan.receipt, "Deposited") == []
    world.deposit(plan, [2])  # recorded exactly as signed: its proofs hold
    assert world.status(plan, 2) == FUNDED


def test_record_plans_records_none_when_one_plan_is_refused(world: World) -> None:
    good = world.new_plan(world.instalments(1))
    params, instalments, auth = world.new_plan(world.instalments(1))
    forged = (params, (replace(instalments[0], amount=2 * instalments[0].amount),), auth)
    before = world.record_plan(world.instalments(1))
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        world.record_plans([good, forged])
    after = world.record_plan(world.instalments(1))
    assert after.id == before.id + 1  # the batch's first plan was not kept either


def test_record_plans_refuses_an_empty_batch(world: World) -> None:
    with expect_revert("Registry_NoPlans"):
        world.send(world.escrow.functions.recordPlans([]), world.outsider)


def test_deposit_instalments_funds_the_chosen_instalments_without_proofs(world: World) -> None:
    plan = world.record_plan(world.instalments(5, amount=100 * USD))
    before = world.balance(world.payer)
    receipt = world.deposit_instalments(plan, [4, 0, 2])
    assert [world.status(plan, i) for i in range(5)] == [FUNDED, 0, FUNDED, 0, FUNDED]
    assert world.balance(world.payer) == before - 300 * USD
    assert [e["index"] for e in world.events(receipt, "Deposited")] == [4, 0, 2]


def test_deposit_instalments_reverts_when_a_listed_instalment_differs(world: World) -> None:
    plan = world.record_plan(world.instalments(3))
    forged = replace(
        plan, instalments=(plan.instalments[0], replace(plan.instalments[1], amount=1), plan.instalments[2])
    )
    with expect_revert("Registry_TermsMismatch", plan.id):
        world.deposit_instalments(forged, [1])


def test_deposit_instalments_reverts_when_the_list_is_not_the_whole_plan(world: World) -> None:
    plan = world.record_plan(world.instalments(3))
    with expect_revert("Registry_TermsMismatch", plan.id):
        world.deposit_instalments(replace(plan, instalments=plan.instalments[:2]), [0])


def test_deposit_instalments_reverts_when_an_index_is_past_the_plan(world: World) -> None:
    plan = world.record_plan(world.instalments(3))
    with expect_revert("Registry_InstalmentNotInPlan", plan.id, 3):
        world.deposit_instalments(plan, [0, 3])


def test_deposit_instalments_reverts_when_funded_twice_or_closed(world: World) -> None:
    plan = world.record_plan(world.instalments(3))
    world.deposit_instalments(plan, [0])
    with expect_revert("Escrow_InstalmentAlreadyFunded", plan.id, 1):
        world.deposit_instalments(plan, [1, 1])
    world.cancel(plan, [2])
    with expect_revert("Registry_InstalmentClosed", plan.id, 2):
        world.deposit_instalments(plan, [2])


def test_deposit_instalments_reverts_when_empty_expired_paused_or_unknown(world: World) -> None:
    params = world.plan_params(expiry=world.chain.now() + 40 * DAY)
    plan = world.record_plan(world.instalments(1), params)
    with expect_revert("Escrow_NoInstalments"):
        world.deposit_instalments(plan, [])
    with expect_revert("Registry_UnknownPlan", 999_999):
        world.deposit_instalments(replace(plan, id=999_999), [0])
    world.send(world.escrow.functions.pause(), world.operator)
    with expect_revert("EnforcedPause"):
        world.deposit_instalments(plan, [0])
    world.send(world.escrow.functions.unpause(), world.operator)
    world.chain.advance(41 * DAY)
    with expect_revert("Escrow_PlanExpired", plan.id, params.expiry):
        world.deposit_instalments(plan, [0])


def test_deposit_instalments_takes_an_amended_plans_new_list(world: World) -> None:
    plan = world.record_plan(world.instalments(2, amount=100 * USD))
    amended_list = (*plan.instalments, *world.instalments(1, amount=50 * USD, first_release_in=90 * DAY))
    world.amend(plan, list(amended_list))
    with expect_revert("Registry_TermsMismatch", plan.id):
        world.deposit_instalments(plan, [0])
    world.deposit_instalments(replace(plan, instalments=amended_list), [2])
    assert world.status(plan, 2) == FUNDED
