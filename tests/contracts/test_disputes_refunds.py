"""resolveDispute, cancelInstalments and refundExpired: one test per branch."""

from __future__ import annotations

from daifa.domain.plans import ReleaseRule
from tests.chain_harness import expect_revert
from tests.world import DAY, USD, Plan, World


def resolve(world: World, plan: Plan, index: int, to_payee: int, sender: object = None) -> object:
    return world.send(
        world.escrow.functions.resolveDispute(plan.id, plan.params_abi, plan.ref(index), to_payee),
        sender or world.operator,  # type: ignore[arg-type]
    )


def test_resolve_dispute_reverts_when_sender_is_not_arbiter(world: World) -> None:
    plan = world.record_plan()
    world.dispute(plan, 0)
    with expect_revert("Escrow_NotArbiter", plan.id, world.payer.address):
        resolve(world, plan, 0, 0, world.payer)


def test_resolve_dispute_reverts_when_not_disputed(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    with expect_revert("Escrow_InstalmentNotDisputed", plan.id, 0):
        resolve(world, plan, 0, 1)


def test_resolve_dispute_reverts_when_already_resolved(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    world.dispute(plan, 0)
    resolve(world, plan, 0, 1)
    with expect_revert("Registry_InstalmentClosed", plan.id, 0):
        resolve(world, plan, 0, 1)


def test_resolve_dispute_reverts_when_split_exceeds_funds(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    world.dispute(plan, 0)
    amount = plan.instalments[0].amount
    with expect_revert("Escrow_SplitExceedsFunds", plan.id, 0, amount + 1, amount):
        resolve(world, plan, 0, amount + 1)


def test_resolve_dispute_reverts_when_unfunded_and_split_positive(world: World) -> None:
    plan = world.record_plan()
    world.dispute(plan, 0)
    with expect_revert("Escrow_SplitExceedsFunds", plan.id, 0, 1, 0):
        resolve(world, plan, 0, 1)


def test_resolve_dispute_splits_between_payee_and_payer(world: World) -> None:
    plan = world.record_plan(world.instalments(1, amount=1_000 * USD))
    world.deposit(plan, [0])
    payer_before = world.balance(world.payer)
    world.dispute(plan, 0, by=world.payee)
    receipt = resolve(world, plan, 0, 600 * USD)
    assert world.events(receipt, "DisputeResolved") == [  # type: ignore[arg-type]
        {"planId": plan.id, "index": 0, "toPayee": 600 * USD, "toPayer": 400 * USD}
    ]
    assert world.balance(world.payee) == 600 * USD
    assert world.balance(world.payer) == payer_before + 400 * USD
    assert world.status(plan, 0) == 1 | 4 | 8


def test_resolve_dispute_by_named_arbiter_other_than_operator(world: World) -> None:
    arbiter = world.chain.account("arbitration-commission")
    plan = world.record_plan(params=world.plan_params(arbiter=arbiter.address))
    world.deposit(plan, [0])
    world.dispute(plan, 0)
    with expect_revert("Escrow_NotArbiter", plan.id, world.operator.address):
        resolve(world, plan, 0, 0)
    resolve(world, plan, 0, 0, arbiter)
    assert world.balance(world.escrow.address) == 0


def test_resolve_dispute_works_while_paused(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    world.dispute(plan, 0)
    world.send(world.escrow.functions.pause(), world.operator)
    resolve(world, plan, 0, 0)
    assert world.status(plan, 0) & 8


# ------------------------------------------------------------------------------------------ cancellation


def test_cancel_instalments_reverts_when_no_instalments(world: World) -> None:
    plan = world.record_plan()
    with expect_revert("Escrow_NoInstalments"):
        world.send(
            world.escrow.functions.cancelInstalments(plan.id, plan.params_abi, [], world.cancellation_auth(plan, [])),
            world.outsider,
        )


def test_cancel_instalments_reverts_when_payee_did_not_sign(world: World) -> None:
    plan = world.record_plan()
    auth = world.cancellation_auth(plan, [0], payee=world.outsider)
    with expect_revert("Registry_InvalidSignature", world.payee.address):
        world.send(
            world.escrow.functions.cancelInstalments(plan.id, plan.params_abi, plan.refs([0]), auth), world.outsider
        )


def test_cancel_instalments_reverts_when_signed_for_other_indices(world: World) -> None:
    plan = world.record_plan()
    auth = world.cancellation_auth(plan, [0])
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        world.send(
            world.escrow.functions.cancelInstalments(plan.id, plan.params_abi, plan.refs([1]), auth), world.outsider
        )


def test_cancel_instalments_reverts_when_instalment_closed(world: World) -> None:
    plan = world.record_plan()
    world.cancel(plan, [0])
    with expect_revert("Registry_InstalmentClosed", plan.id, 0):
        world.cancel(plan, [0])


def test_cancel_instalments_refunds_funded_and_restores_limit(world: World) -> None:
    plan = world.record_plan(world.instalments(3, amount=100 * USD))
    world.deposit(plan, [0, 1])
    payer_before = world.balance(world.payer)
    receipt = world.cancel(plan, [1, 2])
    assert world.events(receipt, "InstalmentCancelled") == [
        {"planId": plan.id, "index": 1, "refunded": 100 * USD},
        {"planId": plan.id, "index": 2, "refunded": 0},
    ]
    assert world.balance(world.payer) == payer_before + 100 * USD
    assert world.escrow.functions.agreementSet(world.agreement_set_id).call()[4] == 100 * USD
    assert [world.status(plan, i) for i in range(3)] == [1, 1 | 8, 8]


def test_cancel_instalments_unfreezes_a_dispute_with_both_signatures(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    world.dispute(plan, 0)
    world.cancel(plan, [0])
    assert world.balance(world.escrow.address) == 0


def test_cancel_instalments_by_payer_transaction_and_payee_signature(world: World) -> None:
    plan = world.record_plan()
    auth = list(world.cancellation_auth(plan, [0]))
    auth[3] = b""
    world.send(
        world.escrow.functions.cancelInstalments(plan.id, plan.params_abi, plan.refs([0]), tuple(auth)), world.payer
    )
    assert world.status(plan, 0) == 8


def test_cancel_instalments_works_while_paused(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    world.send(world.escrow.functions.pause(), world.operator)
    world.cancel(plan, [0])
    assert world.balance(world.escrow.address) == 0


# ------------------------------------------------------------------------------------------ refund after expiry


def expiring_plan(world: World, rule: ReleaseRule) -> Plan:
    params = world.plan_params(expiry=world.chain.now() + 60 * DAY)
    return world.record_plan(world.instalments(1, rule=rule), params)


def refund(world: World, plan: Plan, indices: list[int]) -> object:
    return world.send(
        world.escrow.functions.refundExpired(plan.id, plan.params_abi, plan.refs(indices)), world.outsider
    )


def test_refund_expired_reverts_when_plan_not_expired(world: World) -> None:
    plan = expiring_plan(world, ReleaseRule.PAYER_APPROVAL)
    world.deposit(plan, [0])
    with expect_revert("Escrow_PlanNotExpired", plan.id, plan.params.expiry):
        refund(world, plan, [0])


def test_refund_expired_reverts_when_no_instalments(world: World) -> None:
    plan = expiring_plan(world, ReleaseRule.PAYER_APPROVAL)
    with expect_revert("Escrow_NoInstalments"):
        refund(world, plan, [])


def test_refund_expired_reverts_when_not_funded(world: World) -> None:
    plan = expiring_plan(world, ReleaseRule.PAYER_APPROVAL)
    world.chain.advance(61 * DAY)
    with expect_revert("Escrow_InstalmentNotFunded", plan.id, 0):
        refund(world, plan, [0])


def test_refund_expired_reverts_when_disputed(world: World) -> None:
    plan = expiring_plan(world, ReleaseRule.PAYER_APPROVAL)
    world.deposit(plan, [0])
    world.dispute(plan, 0)
    world.chain.advance(61 * DAY)
    with expect_revert("Escrow_InstalmentDisputed", plan.id, 0):
        refund(world, plan, [0])


def test_refund_expired_reverts_when_time_rule_fell_due(world: World) -> None:
    plan = expiring_plan(world, ReleaseRule.TIME)
    world.deposit(plan, [0])
    world.chain.advance(61 * DAY)
    with expect_revert("Escrow_ReleaseConditionMet", plan.id, 0):
        refund(world, plan, [0])


def test_refund_expired_reverts_when_payer_approved(world: World) -> None:
    plan = expiring_plan(world, ReleaseRule.PAYER_APPROVAL)
    world.deposit(plan, [0])
    world.approve_release(plan, 0)
    world.chain.advance(61 * DAY)
    with expect_revert("Escrow_ReleaseConditionMet", plan.id, 0):
        refund(world, plan, [0])


def test_refund_expired_reverts_when_already_closed(world: World) -> None:
    plan = expiring_plan(world, ReleaseRule.PAYER_APPROVAL)
    world.deposit(plan, [0])
    world.chain.advance(61 * DAY)
    refund(world, plan, [0])
    with expect_revert("Registry_InstalmentClosed", plan.id, 0):
        refund(world, plan, [0])


def test_refund_expired_returns_unapproved_and_unattested_funds_to_payer(world: World) -> None:
    params = world.plan_params(expiry=world.chain.now() + 60 * DAY)
    instalments = [
        *world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL),
        *world.instalments(1, rule=ReleaseRule.MATERIALS),
    ]
    plan = world.record_plan(instalments, params)
    world.deposit(plan, [0, 1])
    payer_before = world.balance(world.payer)
    world.send(world.escrow.functions.pause(), world.operator)  # refunds go on while paused
    world.chain.advance(61 * DAY)
    receipt = refund(world, plan, [0, 1])
    assert [e["amount"] for e in world.events(receipt, "Refunded")] == [i.amount for i in instalments]  # type: ignore[arg-type]
    assert world.balance(world.payer) == payer_before + plan.total()
    assert world.balance(world.escrow.address) == 0


def test_refund_expired_reverts_for_instalment_of_another_plan(world: World) -> None:
    plan = expiring_plan(world, ReleaseRule.PAYER_APPROVAL)
    other = world.record_plan(world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL, amount=3 * USD))
    world.chain.advance(61 * DAY)
    with expect_revert("Registry_InstalmentNotInPlan", plan.id, 0):
        world.send(world.escrow.functions.refundExpired(plan.id, plan.params_abi, [other.ref(0)]), world.outsider)
