"""release and releaseBatch: one test per branch of the release rules, fees and failed pushes."""

from __future__ import annotations

from eth_abi.abi import encode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.crypto import keccak

from daifa.chain import abi
from daifa.domain.plans import ReleaseRule
from tests.chain_harness import expect_revert
from tests.world import DAY, USD, World


def test_release_reverts_when_instalment_not_funded(world: World) -> None:
    plan = world.record_plan()
    world.chain.advance(31 * DAY)
    with expect_revert("Escrow_InstalmentNotFunded", plan.id, 0):
        world.release(plan, 0)


def test_release_reverts_when_instalment_disputed(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    world.dispute(plan, 0)
    world.chain.advance(31 * DAY)
    with expect_revert("Escrow_InstalmentDisputed", plan.id, 0):
        world.release(plan, 0)


def test_release_reverts_when_already_released(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    world.chain.advance(31 * DAY)
    world.release(plan, 0)
    with expect_revert("Registry_InstalmentClosed", plan.id, 0):
        world.release(plan, 0)


def test_release_reverts_when_time_rule_not_due(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    with expect_revert("Escrow_InstalmentNotDue", plan.id, 0, plan.instalments[0].release_at):
        world.release(plan, 0)


def test_release_reverts_when_payer_has_not_approved(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL))
    world.deposit(plan, [0])
    world.chain.advance(31 * DAY)
    with expect_revert("Escrow_PayerApprovalMissing", plan.id, 0):
        world.release(plan, 0)


def test_release_reverts_when_materials_not_attested(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.MATERIALS))
    world.deposit(plan, [0])
    with expect_revert("Escrow_MaterialsNotAttested", plan.id, 0):
        world.release(plan, 0)


def test_release_reverts_while_review_window_open(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.MATERIALS))
    world.deposit(plan, [0])
    receipt = world.submit_and_attest(plan, 0)
    ends_at = world.events(receipt, "MaterialsAttested")[0]["reviewEndsAt"]
    with expect_revert("Escrow_ReviewWindowOpen", plan.id, 0, ends_at):
        world.release(plan, 0)


def test_release_pays_time_instalment_to_payee_once_due(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    world.chain.advance(30 * DAY)
    receipt = world.release(plan, 0)
    assert world.events(receipt, "Released") == [
        {"planId": plan.id, "index": 0, "toPayee": plan.instalments[0].amount, "fee": 0}
    ]
    assert world.balance(world.payee) == plan.instalments[0].amount
    assert world.status(plan, 0) == 1 | 8


def test_release_pays_approved_instalment_before_its_release_time(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL))
    world.deposit(plan, [0])
    world.approve_release(plan, 0)
    world.release(plan, 0)
    assert world.balance(world.payee) == plan.instalments[0].amount


def test_release_pays_materials_instalment_after_undisputed_review_window(world: World) -> None:
    plan = world.record_plan(world.instalments(1, rule=ReleaseRule.MATERIALS))
    world.deposit(plan, [0])
    world.submit_and_attest(plan, 0)
    world.chain.advance(plan.params.review_window)
    world.release(plan, 0)
    assert world.balance(world.payee) == plan.instalments[0].amount


def test_release_takes_fee_in_basis_points_to_signed_recipient(world: World) -> None:
    plan = world.record_plan(world.instalments(1, amount=1_000 * USD), world.plan_params(fee_bps=50, fee_cap=100 * USD))
    world.deposit(plan, [0])
    world.chain.advance(31 * DAY)
    receipt = world.release(plan, 0)
    assert world.events(receipt, "Released")[0]["fee"] == 5 * USD
    assert world.balance(world.fee_recipient) == 5 * USD
    assert world.balance(world.payee) == 995 * USD


def test_release_caps_fee_at_signed_cap(world: World) -> None:
    plan = world.record_plan(world.instalments(1, amount=1_000 * USD), world.plan_params(fee_bps=500, fee_cap=7 * USD))
    world.deposit(plan, [0])
    world.chain.advance(31 * DAY)
    world.release(plan, 0)
    assert world.balance(world.fee_recipient) == 7 * USD
    assert world.balance(world.payee) == 993 * USD


def test_release_works_while_paused(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    world.send(world.escrow.functions.pause(), world.operator)
    world.chain.advance(31 * DAY)
    world.release(plan, 0)
    assert world.balance(world.payee) == plan.instalments[0].amount


def test_release_works_when_payee_suspended_after_recording(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    world.send(world.escrow.functions.suspendParty(world.payee.address), world.operator)
    world.chain.advance(31 * DAY)
    world.release(plan, 0)
    assert world.balance(world.payee) == plan.instalments[0].amount


def test_release_credits_payee_when_token_blocks_it_and_payee_withdraws_elsewhere(world: World) -> None:
    token, set_id = world.adopt_token("BlockingToken")
    plan = world.record_plan(params=world.plan_params(agreement_set_id=set_id, token=token.address))
    world.deposit(plan, [0])
    world.send(token.functions.setBlocked(world.payee.address, True), world.operator)
    world.chain.advance(31 * DAY)
    amount = plan.instalments[0].amount
    receipt = world.release(plan, 0)
    assert world.events(receipt, "PaymentDeferred") == [
        {"token": token.address, "account": world.payee.address, "amount": amount}
    ]
    assert world.escrow.functions.credit(token.address, world.payee.address).call() == amount
    new_wallet = world.chain.account("payee-new-wallet")
    world.send(world.escrow.functions.withdraw(token.address, new_wallet.address), world.payee)
    assert world.balance(new_wallet, token) == amount
    assert world.escrow.functions.credit(token.address, world.payee.address).call() == 0


def test_withdraw_reverts_when_nothing_credited(world: World) -> None:
    with expect_revert("Escrow_NothingToWithdraw", world.token.address, world.payee.address):
        world.send(world.escrow.functions.withdraw(world.token.address, world.payee.address), world.payee)


def test_withdraw_reverts_when_recipient_is_zero(world: World) -> None:
    with expect_revert("Escrow_ZeroRecipient"):
        world.send(world.escrow.functions.withdraw(world.token.address, "0x" + "00" * 20), world.payee)


def _selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def test_release_batch_releases_due_items_and_reports_the_others(world: World) -> None:
    first = world.record_plan(world.instalments(3, amount=100 * USD))
    second = world.record_plan(world.instalments(2, amount=200 * USD))
    world.deposit(first, [0, 1])
    world.deposit(second, [0])
    world.chain.advance(31 * DAY)  # instalment 0 of each plan is due; 1 is not
    items = [
        (first.id, first.params_abi, first.ref(0)),
        (first.id, first.params_abi, first.ref(1)),  # funded, not due
        (second.id, second.params_abi, second.ref(0)),
        (second.id, second.params_abi, second.ref(1)),  # not funded
        (first.id, first.params_abi, first.ref(0)),  # already released above in this batch
    ]
    receipt = world.send(world.escrow.functions.releaseBatch(items), world.outsider)
    released = [(e["planId"], e["index"]) for e in world.events(receipt, "Released")]
    assert released == [(first.id, 0), (second.id, 0)]
    skipped = world.events(receipt, "ReleaseSkipped")
    assert [(e["planId"], e["index"], bytes(e["reason"][:4])) for e in skipped] == [
        (first.id, 1, _selector("Escrow_InstalmentNotDue(uint64,uint16,uint40,uint256)")),
        (second.id, 1, _selector("Escrow_InstalmentNotFunded(uint64,uint16)")),
        (first.id, 0, _selector("Registry_InstalmentClosed(uint64,uint16)")),
    ]
    assert bytes(skipped[1]["reason"]) == _selector("Escrow_InstalmentNotFunded(uint64,uint16)") + encode(
        ["uint64", "uint16"], [second.id, 1]
    )
    assert world.balance(world.payee) == 300 * USD


def test_release_batch_skips_forged_items(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    world.chain.advance(31 * DAY)
    forged = abi.instalment_ref(0, plan.instalments[0], [keccak(text="not a proof")])
    receipt = world.send(world.escrow.functions.releaseBatch([(plan.id, plan.params_abi, forged)]), world.outsider)
    (skipped,) = world.events(receipt, "ReleaseSkipped")
    assert bytes(skipped["reason"][:4]) == _selector("Registry_InstalmentNotInPlan(uint64,uint16)")
    assert world.balance(world.payee) == 0
