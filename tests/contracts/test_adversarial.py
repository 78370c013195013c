"""Tokens that fight back, and an operator that tries everything it is allowed to do."""

from __future__ import annotations

from daifa.chain import abi
from daifa.domain.plans import ReleaseRule
from tests.chain_harness import expect_revert
from tests.world import DAY, World

ZERO = "0x" + "00" * 20


def test_release_credits_payee_when_token_reenters_the_escrow_during_payout(world: World) -> None:
    token, set_id = world.adopt_token("ReentrantToken")
    plan = world.record_plan(world.instalments(2), world.plan_params(agreement_set_id=set_id, token=token.address))
    world.deposit(plan, [0, 1])
    world.chain.advance(61 * DAY)
    second_release = world.escrow.functions.release(plan.id, plan.params_abi, plan.ref(1))._encode_transaction_data()
    world.send(token.functions.arm(world.escrow.address, second_release), world.operator)
    amount = plan.instalments[0].amount
    receipt = world.release(plan, 0)
    # The nested release hit the reentrancy guard, so the token's transfer failed and the payment was credited.
    assert world.events(receipt, "PaymentDeferred") == [
        {"token": token.address, "account": world.payee.address, "amount": amount}
    ]
    assert world.status(plan, 0) == 1 | 8
    assert world.status(plan, 1) == 1
    assert world.balance(world.escrow.address, token) == 2 * amount


def test_withdraw_reverts_when_token_reenters_the_escrow(world: World) -> None:
    token, set_id = world.adopt_token("ReentrantToken")
    plan = world.record_plan(world.instalments(1), world.plan_params(agreement_set_id=set_id, token=token.address))
    world.deposit(plan, [0])
    world.chain.advance(31 * DAY)
    reenter = world.escrow.functions.withdraw(token.address, world.payee.address)._encode_transaction_data()
    world.send(token.functions.arm(world.escrow.address, reenter), world.operator)
    world.release(plan, 0)  # credited: the push re-entered
    world.send(token.functions.arm(world.escrow.address, reenter), world.operator)
    with expect_revert("ReentrancyGuardReentrantCall"):
        world.send(world.escrow.functions.withdraw(token.address, world.payee.address), world.payee)
    world.send(token.functions.arm(ZERO, b""), world.operator)
    world.send(world.escrow.functions.withdraw(token.address, world.payee.address), world.payee)
    assert world.balance(world.payee, token) == plan.instalments[0].amount


# Every state-changing function of the escrow, and who may call it. A new function fails this test until
# it is added here and to the operator walk below. (renounceOwnership is a view that always reverts.)
STATE_CHANGING = {
    "acceptOwnership": "pending operator",
    "amendPlan": "anyone, with both parties' consent",
    "approveParty": "operator",
    "approveRelease": "payer or its signature",
    "attestMaterials": "operator",
    "cancelInstalments": "anyone, with both parties' consent",
    "deposit": "anyone, with its own tokens",
    "depositInstalments": "anyone, with its own tokens",
    "depositWithPermit": "anyone, with the payer's permit and deposit authorisation",
    "dispute": "payer or payee, or its signature",
    "invalidateNonce": "anyone, for itself",
    "pause": "operator",
    "recordAgreementSet": "anyone, with both parties' consent",
    "recordPlan": "anyone, with both parties' consent",
    "recordPlanAndDeposit": "anyone, with both parties' consent and its own tokens",
    "recordPlans": "anyone, with both parties' consent",
    "recordPlansAndDeposit": "anyone, with both parties' consent and its own tokens",
    "refundExpired": "anyone",
    "reinstateParty": "operator",
    "release": "anyone",
    "releaseBatch": "anyone",
    "resolveDispute": "the plan's arbiter",
    "submitMaterials": "payee or its signature",
    "suspendParty": "operator",
    "transferOwnership": "operator",
    "unpause": "operator",
    "withdraw": "anyone, for its own credit",
}


def test_state_changing_functions_are_all_accounted_for(world: World) -> None:
    functions = {
        item["name"]
        for item in world.escrow.abi
        if item["type"] == "function" and item["stateMutability"] not in ("view", "pure")
    }
    assert functions == set(STATE_CHANGING)


def test_operator_using_every_power_moves_no_funds_to_itself_or_anyone_else(world: World) -> None:
    op = world.operator
    instalments = [
        *world.instalments(1),
        *world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL),
        *world.instalments(1, rule=ReleaseRule.MATERIALS),
        *world.instalments(1),
    ]
    plan = world.record_plan(instalments, world.plan_params(expiry=world.chain.now() + 90 * DAY))
    world.deposit(plan, [0, 1, 2, 3])
    deposited = plan.total()
    payer_start = world.balance(world.payer)

    # Parties: the operator approves itself as both roles and suspends the real parties.
    world.send(world.escrow.functions.approveParty(op.address, 3, b"\x01" * 32), op)
    world.send(world.escrow.functions.suspendParty(world.payee.address), op)
    world.send(world.escrow.functions.suspendParty(world.payer.address), op)
    # It cannot open business with the payer without the payer's signature.
    params = world.agreement_set_params(payee=op.address)
    with expect_revert("Registry_PartySuspended", world.payer.address):
        world.send(
            world.escrow.functions.recordAgreementSet(
                abi.agreement_set(params), world.agreement_set_auth(params, payee=op)
            ),
            op,
        )
    world.send(world.escrow.functions.reinstateParty(world.payer.address), op)
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        world.send(
            world.escrow.functions.recordAgreementSet(
                abi.agreement_set(params), world.agreement_set_auth(params, payer=op, payee=op)
            ),
            op,
        )
    # It cannot name itself payee of the existing plan: the commitment does not match.
    forged = abi.plan_params(world.plan_params(payee=op.address, expiry=plan.params.expiry))
    with expect_revert("Registry_InstalmentNotInPlan", plan.id, 0):
        world.send(world.escrow.functions.release(plan.id, forged, plan.ref(0)), op)
    with expect_revert("Registry_TermsMismatch", plan.id):
        world.send(
            world.escrow.functions.depositInstalments(plan.id, forged, [abi.instalment(i) for i in instalments], [0]),
            op,
        )
    # It cannot record a plan paying itself, in one call or a batch, funded or not: the payer never opened
    # business with it (and the payer's signature would be missing next).
    own = world.plan_params(payee=op.address)
    own_plan = (
        abi.plan_params(own),
        [abi.instalment(i) for i in world.instalments(1)],
        world.plan_auth(own, world.instalments(1), payer=op, payee=op),
    )
    for call in (
        world.escrow.functions.recordPlanAndDeposit(*own_plan),
        world.escrow.functions.recordPlans([own_plan]),
        world.escrow.functions.recordPlansAndDeposit([own_plan]),
    ):
        with expect_revert("Registry_NoAgreementSet", own.agreement_set_id, world.payer.address, op.address):
            world.send(call, op)
    # It cannot approve for the payer.
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        world.send(world.escrow.functions.approveRelease(plan.id, plan.params_abi, plan.ref(1), abi.NO_SIGNATURE), op)
    # It cannot dispute as a party.
    with expect_revert("Registry_NotPlanParty", plan.id, op.address):
        world.send(
            world.escrow.functions.dispute(
                plan.id, plan.params_abi, plan.ref(3), op.address, b"\x00" * 32, abi.NO_SIGNATURE
            ),
            op,
        )
    # Pausing does not stop money that is owed.
    world.send(world.escrow.functions.pause(), op)
    world.chain.advance(31 * DAY)
    world.release(plan, 0, sender=op)
    # As arbiter it can only split a disputed instalment between payee and payer, within what was funded.
    world.dispute(plan, 3, by=world.payee)
    with expect_revert("Escrow_SplitExceedsFunds"):
        world.send(world.escrow.functions.resolveDispute(plan.id, plan.params_abi, plan.ref(3), deposited), op)
    world.send(world.escrow.functions.resolveDispute(plan.id, plan.params_abi, plan.ref(3), 1), op)
    # Attesting materials only starts the payer's review window; release still pays the payee.
    world.send(
        world.escrow.functions.submitMaterials(plan.id, plan.params_abi, plan.ref(2), b"\x02" * 32, abi.NO_SIGNATURE),
        world.payee,
    )
    world.send(world.escrow.functions.attestMaterials(plan.id, plan.params_abi, plan.ref(2), b"\x02" * 32), op)
    world.chain.advance(plan.params.review_window)
    world.release(plan, 2, sender=op)
    # Nothing is credited to it, so it has nothing to withdraw.
    with expect_revert("Escrow_NothingToWithdraw", world.token.address, op.address):
        world.send(world.escrow.functions.withdraw(world.token.address, op.address), op)
    # After expiry it can only refund the unapproved instalment to the payer.
    world.chain.advance(90 * DAY)
    world.send(world.escrow.functions.refundExpired(plan.id, plan.params_abi, plan.refs([1])), op)
    # Handing over the key changes nothing either.
    successor = world.chain.account("successor")
    world.send(world.escrow.functions.transferOwnership(successor.address), op)
    world.send(world.escrow.functions.acceptOwnership(), successor)
    world.send(world.escrow.functions.unpause(), successor)

    assert world.balance(op) == 0
    assert world.balance(successor) == 0
    assert world.balance(world.outsider) == 0
    assert world.balance(world.fee_recipient) == 0
    amounts = [i.amount for i in instalments]
    assert world.balance(world.payee) == amounts[0] + amounts[2] + 1
    assert world.balance(world.payer) == payer_start + amounts[1] + amounts[3] - 1
    assert world.balance(world.escrow.address) == 0
