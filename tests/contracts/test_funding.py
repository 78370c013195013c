"""deposit and depositWithPermit: one test per branch, and the token zoo."""

from __future__ import annotations

from dataclasses import replace

from web3.logs import DISCARD

from daifa.chain import abi
from tests.chain_harness import expect_revert
from tests.world import DAY, USD, World


def test_deposit_reverts_when_paused(world: World) -> None:
    plan = world.record_plan()
    world.send(world.escrow.functions.pause(), world.operator)
    with expect_revert("EnforcedPause"):
        world.deposit(plan, [0])


def test_deposit_reverts_when_no_instalments(world: World) -> None:
    plan = world.record_plan()
    with expect_revert("Escrow_NoInstalments"):
        world.deposit(plan, [])


def test_deposit_reverts_when_plan_expired(world: World) -> None:
    params = world.plan_params(expiry=world.chain.now() + 40 * DAY)
    plan = world.record_plan(world.instalments(1), params)
    world.chain.advance(41 * DAY)
    with expect_revert("Escrow_PlanExpired", plan.id, params.expiry):
        world.deposit(plan, [0])


def test_deposit_reverts_when_plan_unknown(world: World) -> None:
    plan = world.record_plan()
    ghost = replace(plan, id=999_999)
    with expect_revert("Registry_UnknownPlan", ghost.id):
        world.deposit(ghost, [0])


def test_deposit_reverts_when_instalment_is_not_the_plans(world: World) -> None:
    plan = world.record_plan()
    forged = replace(plan.instalments[0], amount=1)
    with expect_revert("Registry_InstalmentNotInPlan", plan.id, 0):
        world.send(world.escrow.functions.deposit(plan.id, plan.params_abi, [plan.ref(0, forged)]), world.payer)


def test_deposit_reverts_when_params_are_not_the_plans(world: World) -> None:
    plan = world.record_plan()
    other_payee = replace(plan.params, payee=world.outsider.address)
    with expect_revert("Registry_InstalmentNotInPlan", plan.id, 0):
        world.send(world.escrow.functions.deposit(plan.id, abi.plan_params(other_payee), [plan.ref(0)]), world.payer)


def test_deposit_reverts_when_instalment_closed(world: World) -> None:
    plan = world.record_plan()
    world.cancel(plan, [1])
    with expect_revert("Registry_InstalmentClosed", plan.id, 1):
        world.deposit(plan, [1])


def test_deposit_reverts_when_instalment_already_funded(world: World) -> None:
    plan = world.record_plan()
    world.deposit(plan, [0])
    with expect_revert("Escrow_InstalmentAlreadyFunded", plan.id, 0):
        world.deposit(plan, [0])


def test_deposit_reverts_when_same_instalment_listed_twice(world: World) -> None:
    plan = world.record_plan()
    with expect_revert("Escrow_InstalmentAlreadyFunded", plan.id, 2):
        world.deposit(plan, [2, 2])


def test_deposit_funds_several_instalments_in_one_transfer(world: World) -> None:
    plan = world.record_plan(world.instalments(3, amount=250 * USD))
    before = world.balance(world.payer)
    receipt = world.deposit(plan, [0, 2])
    assert world.balance(world.payer) == before - 500 * USD
    assert world.balance(world.escrow.address) == 500 * USD
    assert [e["index"] for e in world.events(receipt, "Deposited")] == [0, 2]
    assert [world.status(plan, i) for i in range(3)] == [1, 0, 1]


def test_deposit_by_third_party_funds_payers_plan(world: World) -> None:
    plan = world.record_plan()
    sponsor = world.chain.account("sponsor")
    world.fund(sponsor, 1_000 * USD)
    world.send(world.token.functions.approve(world.escrow.address, 1_000 * USD), sponsor)
    receipt = world.deposit(plan, [0], sender=sponsor)
    (transfer,) = world.token.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert (transfer.args["from"], transfer.args.to) == (sponsor.address, world.escrow.address)
    assert world.balance(sponsor) == 0


def test_deposit_reverts_when_token_takes_a_fee_on_transfer(world: World) -> None:
    token, set_id = world.adopt_token("FeeOnTransferToken")
    plan = world.record_plan(params=world.plan_params(agreement_set_id=set_id, token=token.address))
    amount = plan.instalments[0].amount
    with expect_revert("Escrow_TransferShortfall", token.address, amount, amount - amount // 100):
        world.deposit(plan, [0])


def test_deposit_and_release_work_with_token_without_return_values(world: World) -> None:
    token, set_id = world.adopt_token("NoReturnToken")
    plan = world.record_plan(params=world.plan_params(agreement_set_id=set_id, token=token.address))
    world.deposit(plan, [0])
    world.chain.advance(31 * DAY)
    world.release(plan, 0)
    assert world.balance(world.payee, token) == plan.instalments[0].amount


def test_deposit_and_release_work_with_18_decimal_token(world: World) -> None:
    token, set_id = world.adopt_token("MockERC20", "Wrapped Dollar", "WD18", 18)
    big = world.open_agreement_set(tokens=(token.address,), limit=2**104 - 1)
    amount = 12_345 * 10**18
    plan = world.record_plan(
        world.instalments(2, amount=amount), world.plan_params(agreement_set_id=big, token=token.address)
    )
    world.deposit(plan, [0, 1])
    world.chain.advance(61 * DAY)
    world.release(plan, 0)
    world.release(plan, 1)
    assert world.balance(world.payee, token) == 2 * amount
    assert world.balance(world.escrow.address, token) == 0
    del set_id


def test_deposit_with_permit_pulls_from_payer_without_prior_approval(world: World) -> None:
    world.send(world.token.functions.approve(world.escrow.address, 0), world.payer)
    plan = world.record_plan()
    amount = plan.instalments[0].amount
    permit = world.permit(amount, world.chain.now() + DAY)
    receipt = world.send(
        world.escrow.functions.depositWithPermit(
            plan.id, plan.params_abi, plan.refs([0]), permit, world.deposit_authorization(plan, [0])
        ),
        world.outsider,
    )
    (transfer,) = world.token.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert (transfer.args["from"], transfer.args.value) == (world.payer.address, amount)
    assert world.balance(world.escrow.address) == amount


def test_deposit_with_permit_succeeds_when_permit_was_front_run(world: World) -> None:
    world.send(world.token.functions.approve(world.escrow.address, 0), world.payer)
    plan = world.record_plan()
    amount = plan.instalments[0].amount
    permit = world.permit(amount, world.chain.now() + DAY)
    world.send(world.token.functions.permit(world.payer.address, world.escrow.address, *permit), world.outsider)
    world.send(
        world.escrow.functions.depositWithPermit(
            plan.id, plan.params_abi, plan.refs([0]), permit, world.deposit_authorization(plan, [0])
        ),
        world.outsider,
    )
    assert world.status(plan, 0) == 1


def test_deposit_with_permit_reverts_when_permit_invalid_and_no_allowance(world: World) -> None:
    world.send(world.token.functions.approve(world.escrow.address, 0), world.payer)
    plan = world.record_plan()
    amount = plan.instalments[0].amount
    permit = world.permit(amount, world.chain.now() + DAY, nonce=99)  # wrong nonce: permit fails
    with expect_revert("ERC20InsufficientAllowance", world.escrow.address, 0, amount):
        world.send(
            world.escrow.functions.depositWithPermit(
                plan.id, plan.params_abi, plan.refs([0]), permit, world.deposit_authorization(plan, [0])
            ),
            world.outsider,
        )


def test_deposit_with_permit_reverts_when_paused(world: World) -> None:
    plan = world.record_plan()
    permit = world.permit(plan.instalments[0].amount, world.chain.now() + DAY)
    world.send(world.escrow.functions.pause(), world.operator)
    with expect_revert("EnforcedPause"):
        world.send(
            world.escrow.functions.depositWithPermit(
                plan.id, plan.params_abi, plan.refs([0]), permit, world.deposit_authorization(plan, [0])
            ),
            world.outsider,
        )


def test_deposit_with_permit_reverts_when_payer_did_not_authorise_these_instalments(world: World) -> None:
    # The payer has a standing allowance (World approves the escrow): without its deposit authorisation, a
    # relayer with a garbage permit must not be able to spend it on instalments the payer did not choose.
    plan = world.record_plan()
    garbage = (plan.instalments[1].amount, world.chain.now() + DAY, 27, b"\x01" * 32, b"\x02" * 32)
    signed_for_0 = world.deposit_authorization(plan, [0])
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        world.send(
            world.escrow.functions.depositWithPermit(plan.id, plan.params_abi, plan.refs([1]), garbage, signed_for_0),
            world.outsider,
        )
    with expect_revert("Registry_InvalidSignature", world.payer.address):
        world.send(
            world.escrow.functions.depositWithPermit(
                plan.id, plan.params_abi, plan.refs([1]), garbage, world.deposit_authorization(plan, [1], world.payee)
            ),
            world.outsider,
        )
    assert world.status(plan, 1) == 0
