"""Anyone can rebuild the platform's view from the chain's logs alone: fold every escrow log into a
Ledger and it agrees with the contract's own state and the token balances."""

from __future__ import annotations

from dataclasses import replace

from eth_utils.crypto import keccak
from web3.types import LogReceipt

from daifa.chain import typed_data as td
from daifa.chain.events import EscrowDecoder, decode_escrow_logs
from daifa.domain.ledger import Ledger
from daifa.domain.plans import ReleaseRule
from tests.world import DAY, USD, World


def escrow_logs(world: World) -> list[LogReceipt]:
    return list(world.chain.w3.eth.get_logs({"address": world.escrow.address, "fromBlock": 0, "toBlock": "latest"}))


def rebuild(world: World) -> Ledger:
    ledger = Ledger()
    ledger.apply_all(decode_escrow_logs(world.escrow, escrow_logs(world)))
    return ledger


def assert_decoded_as_web3_decodes(world: World) -> None:
    """The platform's decoder (eth_abi directly, one-word events read word by word) gives every value
    web3's own event decoding gives."""
    decoder = EscrowDecoder(world.escrow)
    names = set()
    for log in escrow_logs(world):
        event = decoder.decode(log)
        assert event is not None
        names.add(event.name)
        expected = dict(getattr(world.escrow.events, event.name)().process_log(log)["args"])
        for key, value in event.args.items():
            if key not in ("instalments", "params"):  # decoded further, from packedInstalments and a struct
                assert value == expected[key], (event.name, key)
    assert {"Released", "Deposited", "PlanRecorded", "DisputeResolved", "PaymentDeferred"} <= names


def test_ledger_rebuilt_from_logs_agrees_with_the_chain(world: World) -> None:
    blocking, blocking_set = world.adopt_token("BlockingToken")
    mixed = [
        *world.instalments(1, amount=100 * USD),
        *world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL, amount=200 * USD),
        *world.instalments(1, rule=ReleaseRule.MATERIALS, amount=300 * USD),
        *world.instalments(2, amount=400 * USD, first_release_in=90 * DAY),
    ]
    plan = world.record_plan(
        mixed, world.plan_params(fee_bps=100, fee_cap=2 * USD, expiry=world.chain.now() + 200 * DAY)
    )
    world.deposit(plan, [0, 1, 2, 3])
    world.approve_release(plan, 1)
    world.submit_and_attest(plan, 2)
    world.dispute(plan, 3, by=world.payee)
    world.send(world.escrow.functions.resolveDispute(plan.id, plan.params_abi, plan.ref(3), 150 * USD), world.operator)
    world.chain.advance(31 * DAY)
    world.send(
        world.escrow.functions.releaseBatch(
            [(plan.id, plan.params_abi, plan.ref(i)) for i in (0, 1, 2, 4)]  # 2 is in review, 4 unfunded: skipped
        ),
        world.outsider,
    )
    world.cancel(plan, [4])

    small = world.record_plan(world.instalments(2, amount=50 * USD))
    amended = [small.instalments[0], replace(small.instalments[1], amount=70 * USD)]
    world.amend(small, amended)
    small = replace(small, instalments=tuple(amended))
    world.deposit(small, [1])

    credited = world.record_plan(
        world.instalments(1), world.plan_params(agreement_set_id=blocking_set, token=blocking.address)
    )
    world.deposit(credited, [0])
    world.send(blocking.functions.setBlocked(world.payee.address, True), world.operator)
    world.chain.advance(30 * DAY)
    world.release(credited, 0)

    ledger = rebuild(world)
    assert_decoded_as_web3_decodes(world)

    assert set(ledger.plans) == {plan.id, small.id, credited.id}
    for recorded in (plan, small, credited):
        state = ledger.plans[recorded.id]
        assert [i.terms for i in state.instalments] == list(recorded.instalments)
        assert [int(i.status) for i in state.instalments] == [
            world.status(recorded, i) for i in range(len(recorded.instalments))
        ]
        assert bytes(world.escrow.functions.planCommitment(recorded.id).call()) == td.plan_commitment(
            state.params, state.instalments_root
        )
    assert ledger.plans[plan.id].instalments[2].delivered_hash == keccak(text="delivered materials 2")
    assert ledger.plans[plan.id].instalments[0].fee == USD  # 1% of 100, under the cap
    assert ledger.plans[plan.id].instalments[3].to_payer == 250 * USD
    assert ledger.held(world.token.address) == world.balance(world.escrow.address)
    assert ledger.held(blocking.address) == world.balance(world.escrow.address, blocking)
    assert ledger.credits[(blocking.address.lower(), world.payee.address.lower())] == credited.total()
