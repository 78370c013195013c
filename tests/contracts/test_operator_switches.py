"""pause and unpause, the nonce revocation, and the devnet test dollar."""

from __future__ import annotations

from tests.chain_harness import expect_revert
from tests.world import DAY, USD, World


def test_pause_reverts_when_sender_is_not_operator(world: World) -> None:
    with expect_revert("OwnableUnauthorizedAccount", world.payer.address):
        world.send(world.escrow.functions.pause(), world.payer)


def test_pause_reverts_when_already_paused(world: World) -> None:
    world.send(world.escrow.functions.pause(), world.operator)
    with expect_revert("EnforcedPause"):
        world.send(world.escrow.functions.pause(), world.operator)


def test_pause_stops_new_business_and_says_so(world: World) -> None:
    receipt = world.send(world.escrow.functions.pause(), world.operator)
    assert world.events(receipt, "Paused") == [{"account": world.operator.address}]
    assert world.escrow.functions.paused().call() is True
    plan_params = world.plan_params()
    with expect_revert("EnforcedPause"):
        world.record_plan(params=plan_params)


def test_unpause_reverts_when_sender_is_not_operator(world: World) -> None:
    world.send(world.escrow.functions.pause(), world.operator)
    with expect_revert("OwnableUnauthorizedAccount", world.payee.address):
        world.send(world.escrow.functions.unpause(), world.payee)


def test_unpause_reverts_when_not_paused(world: World) -> None:
    with expect_revert("ExpectedPause"):
        world.send(world.escrow.functions.unpause(), world.operator)


def test_unpause_lets_deposits_through_again(world: World) -> None:
    plan = world.record_plan()
    world.send(world.escrow.functions.pause(), world.operator)
    receipt = world.send(world.escrow.functions.unpause(), world.operator)
    assert world.events(receipt, "Unpaused") == [{"account": world.operator.address}]
    world.deposit(plan, [0])
    assert world.status(plan, 0) == 1


def test_invalidate_nonce_reverts_when_already_used(world: World) -> None:
    world.send(world.escrow.functions.invalidateNonce(77), world.payee)
    with expect_revert("Registry_NonceAlreadyUsed", world.payee.address, 77):
        world.send(world.escrow.functions.invalidateNonce(77), world.payee)


def test_nonces_are_per_signer(world: World) -> None:
    world.send(world.escrow.functions.invalidateNonce(5), world.payee)
    assert world.escrow.functions.isNonceUsed(world.payee.address, 5).call() is True
    assert world.escrow.functions.isNonceUsed(world.payer.address, 5).call() is False


def test_release_batch_of_nothing_releases_nothing(world: World) -> None:
    assert world.escrow.functions.releaseBatch([]).call() == 0


def test_test_dollar_has_six_decimals_and_a_capped_faucet(world: World) -> None:
    token = world.token
    assert token.functions.decimals().call() == 6
    assert "devnet only" in token.functions.name().call()
    limit = token.functions.FAUCET_LIMIT().call()
    assert limit == 10_000_000 * USD
    with expect_revert("TestDollar_FaucetLimitExceeded", limit + 1, limit):
        world.send(token.functions.faucet(world.outsider.address, limit + 1), world.outsider)
    world.send(token.functions.faucet(world.outsider.address, limit), world.outsider)
    assert world.balance(world.outsider) == limit


def test_pause_does_not_block_disputes_or_withdrawals(world: World) -> None:
    token, set_id = world.adopt_token("BlockingToken")
    plan = world.record_plan(world.instalments(2), world.plan_params(agreement_set_id=set_id, token=token.address))
    world.deposit(plan, [0, 1])
    world.send(token.functions.setBlocked(world.payee.address, True), world.operator)
    world.chain.advance(31 * DAY)
    world.release(plan, 0)  # the push fails and is credited
    world.send(world.escrow.functions.pause(), world.operator)
    world.dispute(plan, 1, by=world.payee)
    assert world.status(plan, 1) & 4
    elsewhere = world.chain.account("payee-other-wallet")
    world.send(world.escrow.functions.withdraw(token.address, elsewhere.address), world.payee)
    assert world.balance(elsewhere, token) == plan.instalments[0].amount
