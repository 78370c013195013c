"""Invariants of the money over random sequences of every action, on a real chain.

Hypothesis drives deposits, releases, batch releases, approvals, materials, disputes, resolutions,
cancellations, refunds, pauses and time jumps against the deployed escrow. Every receipt's logs are folded
into the platform's own Ledger (daifa.domain.ledger), so the ledger is tested on the same sequences.
After every step:
- the escrow's token balance equals what was deposited minus what was paid out (released, fees,
  refunded, split);
- no instalment pays out more than its amount, and a closed funded one paid out exactly its amount;
- tokens leave the escrow only to the plan's payee, its payer or its signed fee recipient;
- statuses only move forward, and the chain's statuses equal the ledger's;
- an action that succeeded was allowed by the plan's rules at that block's time.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from web3.logs import DISCARD

from daifa.chain import abi
from daifa.chain.events import decode_escrow_logs
from daifa.chain.reverts import Reverted
from daifa.domain.ledger import ChainEvent, InstalmentState, Ledger, PlanState
from daifa.domain.plans import Instalment, ReleaseRule
from tests.chain_harness import Chain
from tests.world import DAY, Plan, World

FUNDED, CONDITION_MET, DISPUTED, CLOSED = 1, 2, 4, 8
# anvil runs ~30 steps a second here and the pure-Python chain ~5, so the long run is anvil's.
MIN_STEPS = {
    "anvil": int(os.environ.get("DAIFA_INVARIANT_STEPS", "5000")),
    "eth-tester": int(os.environ.get("DAIFA_INVARIANT_STEPS_IN_PROCESS", "300")),
}
STEPS_PER_EXAMPLE = 50


def build_machine(world: World, counter: list[int]) -> type[RuleBasedStateMachine]:
    chain: Chain = world.chain
    escrow = world.escrow
    token = world.token
    transfer_event = token.events.Transfer()

    class EscrowMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = chain.snapshot()
            world.reset_nonces()
            self.plans: list[Plan] = []  # what the rules build calls from
            self.ledger = Ledger()  # what the logs say
            self.paused = False

        def teardown(self) -> None:
            try:
                for plan in self.plans:
                    for index, item in enumerate(self.state(plan).instalments):
                        assert world.status(plan, index) == item.status
            finally:
                chain.revert(self.snapshot)

        # ------------------------------------------------------------------ plumbing

        def attempt(self, call: Any, sender: Any) -> dict[str, Any] | None:
            counter[0] += 1
            try:
                receipt = chain.send(call, sender)
            except Reverted:
                return None
            block_time = int(chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
            self.apply(receipt, block_time)
            return {"receipt": receipt, "time": block_time}

        def state(self, plan: Plan) -> PlanState:
            return self.ledger.plans[plan.id]

        def item(self, plan: Plan, index: int) -> InstalmentState:
            return self.ledger.plans[plan.id].instalments[index]

        def apply(self, receipt: Any, now: int) -> None:
            """Folds the receipt's logs into the ledger, checking first that each payout was allowed."""
            events = decode_escrow_logs(escrow, receipt["logs"])
            for event in events:
                self.assert_allowed(event, now)
                self.ledger.apply(event)
            allowed = {
                address.lower()
                for state in self.ledger.plans.values()
                for address in (state.params.payer, state.params.payee, state.params.fee_recipient)
            }
            for log in transfer_event.process_receipt(receipt, errors=DISCARD):
                if log.args["from"] == escrow.address:
                    assert log.args.to.lower() in allowed, f"escrow paid {log.args.to}, not a plan party"
            touched = {(int(e.args["planId"]), int(e.args["index"])) for e in events if "index" in e.args}
            for plan_id, index in touched:
                plan = next(p for p in self.plans if p.id == plan_id)
                assert world.status(plan, index) == self.item(plan, index).status

        def assert_allowed(self, event: ChainEvent, now: int) -> None:
            if event.name not in ("Released", "DisputeResolved", "Refunded"):
                return  # the ledger itself refuses double funding and double closing
            state = self.ledger.plans[int(event.args["planId"])]
            item = state.instalments[int(event.args["index"])]
            if event.name == "DisputeResolved":
                assert item.status & DISPUTED and not item.status & CLOSED
                return
            if event.name == "Refunded":
                assert now > state.params.expiry and item.status & FUNDED
                assert not item.status & (DISPUTED | CONDITION_MET)
                assert item.terms.rule != ReleaseRule.TIME
                return
            assert item.status & FUNDED and not item.status & (DISPUTED | CLOSED)
            rule = item.terms.rule
            if rule == ReleaseRule.TIME:
                assert now >= item.terms.release_at
            elif rule == ReleaseRule.PAYER_APPROVAL:
                assert item.status & CONDITION_MET
            else:
                assert item.status & CONDITION_MET
                assert item.review_ends_at is not None and now >= item.review_ends_at

        def pick(self, choice: int) -> Plan:
            return self.plans[choice % len(self.plans)]

        # ------------------------------------------------------------------ rules

        @rule(
            rules=st.lists(st.sampled_from(list(ReleaseRule)), min_size=1, max_size=4),
            amount=st.integers(1, 10**9),
            fee_bps=st.sampled_from([0, 0, 25, 300]),
            fee_cap=st.integers(0, 10**7),
            life=st.integers(20, 200),
            funded=st.booleans(),
        )
        def record_plan(
            self, rules: list[ReleaseRule], amount: int, fee_bps: int, fee_cap: int, life: int, funded: bool
        ) -> None:
            if self.paused or len(self.plans) >= 12:
                return
            counter[0] += 1
            now = chain.now()
            expiry = now + life * DAY
            instalments = [
                Instalment(
                    deposit_by=now + (i + 1) * (life * DAY) // (len(rules) + 1) - DAY,
                    release_at=now + (i + 1) * (life * DAY) // (len(rules) + 1),
                    amount=amount + i,
                    rule=r,
                    materials_hash=b"\x07" * 32 if r == ReleaseRule.MATERIALS else b"\x00" * 32,
                )
                for i, r in enumerate(rules)
            ]
            params = world.plan_params(fee_bps=fee_bps, fee_cap=fee_cap, expiry=expiry)
            try:
                if funded:  # recordPlanAndDeposit: recorded with every instalment funded
                    (plan,) = world.record_and_fund([world.new_plan(instalments, params)])
                else:
                    plan = world.record_plan(instalments, params)
            except Reverted as error:
                assert error.name in ("Registry_AgreementSetExpired", "Registry_PlanOutlivesAgreementSet"), error
                return
            self.plans.append(plan)
            self.apply(plan.receipt, int(chain.w3.eth.get_block(plan.receipt["blockNumber"])["timestamp"]))

        @precondition(lambda self: self.plans)
        @rule(
            choice=st.integers(0, 99),
            indices=st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True),
            without_proofs=st.booleans(),
        )
        def deposit(self, choice: int, indices: list[int], without_proofs: bool) -> None:
            plan = self.pick(choice)
            indices = [i % len(plan.instalments) for i in indices]
            indices = list(dict.fromkeys(indices))
            expected_ok = not self.paused and all(self.item(plan, i).status & (FUNDED | CLOSED) == 0 for i in indices)
            call = (
                escrow.functions.depositInstalments(
                    plan.id, plan.params_abi, [abi.instalment(i) for i in plan.instalments], indices
                )
                if without_proofs
                else escrow.functions.deposit(plan.id, plan.params_abi, plan.refs(indices))
            )
            result = self.attempt(call, world.payer)
            if result is not None:
                assert expected_ok and result["time"] <= plan.params.expiry
            elif expected_ok:
                assert chain.now() + 1 >= plan.params.expiry, "a valid deposit was refused"

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), index=st.integers(0, 3))
        def release(self, choice: int, index: int) -> None:
            plan = self.pick(choice)
            index %= len(plan.instalments)
            self.attempt(escrow.functions.release(plan.id, plan.params_abi, plan.ref(index)), world.outsider)

        @precondition(lambda self: self.plans)
        @rule(picks=st.lists(st.tuples(st.integers(0, 99), st.integers(0, 3)), min_size=1, max_size=5))
        def release_batch(self, picks: list[tuple[int, int]]) -> None:
            items = []
            for choice, index in picks:
                plan = self.pick(choice)
                index %= len(plan.instalments)
                items.append((plan.id, plan.params_abi, plan.ref(index)))
            result = self.attempt(escrow.functions.releaseBatch(items), world.outsider)
            assert result is not None, "a batch release never reverts as a whole"

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), index=st.integers(0, 3))
        def approve(self, choice: int, index: int) -> None:
            plan = self.pick(choice)
            index %= len(plan.instalments)
            item = self.item(plan, index)
            expected_ok = item.terms.rule == ReleaseRule.PAYER_APPROVAL and not item.status & (CLOSED | CONDITION_MET)
            result = self.attempt(
                escrow.functions.approveRelease(plan.id, plan.params_abi, plan.ref(index), abi.NO_SIGNATURE),
                world.payer,
            )
            assert (result is not None) == expected_ok

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), index=st.integers(0, 3))
        def deliver_materials(self, choice: int, index: int) -> None:
            plan = self.pick(choice)
            index %= len(plan.instalments)
            delivered = b"\x09" * 32
            ref = plan.ref(index)
            if self.attempt(
                escrow.functions.submitMaterials(plan.id, plan.params_abi, ref, delivered, abi.NO_SIGNATURE),
                world.payee,
            ):
                self.attempt(
                    escrow.functions.attestMaterials(plan.id, plan.params_abi, ref, delivered),
                    world.operator,
                )

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), index=st.integers(0, 3), by_payee=st.booleans())
        def dispute(self, choice: int, index: int, by_payee: bool) -> None:
            plan = self.pick(choice)
            index %= len(plan.instalments)
            item = self.item(plan, index)
            party = world.payee if by_payee else world.payer
            expected_ok = not item.status & (CLOSED | DISPUTED)
            result = self.attempt(
                escrow.functions.dispute(
                    plan.id,
                    plan.params_abi,
                    plan.ref(index),
                    party.address,
                    b"\x01" * 32,
                    abi.NO_SIGNATURE,
                ),
                party,
            )
            assert (result is not None) == expected_ok

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), index=st.integers(0, 3), share=st.integers(0, 100))
        def resolve(self, choice: int, index: int, share: int) -> None:
            plan = self.pick(choice)
            index %= len(plan.instalments)
            item = self.item(plan, index)
            funded = item.terms.amount if item.status & FUNDED else 0
            self.attempt(
                escrow.functions.resolveDispute(plan.id, plan.params_abi, plan.ref(index), funded * share // 100),
                world.operator,
            )

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), indices=st.lists(st.integers(0, 3), min_size=1, max_size=2, unique=True))
        def cancel(self, choice: int, indices: list[int]) -> None:
            plan = self.pick(choice)
            indices = list(dict.fromkeys(i % len(plan.instalments) for i in indices))
            auth = world.cancellation_auth(plan, indices)
            expected_ok = all(not self.item(plan, i).status & CLOSED for i in indices)
            result = self.attempt(
                escrow.functions.cancelInstalments(plan.id, plan.params_abi, plan.refs(indices), auth),
                world.outsider,
            )
            assert (result is not None) == expected_ok

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), index=st.integers(0, 3))
        def refund_expired(self, choice: int, index: int) -> None:
            plan = self.pick(choice)
            index %= len(plan.instalments)
            self.attempt(
                escrow.functions.refundExpired(plan.id, plan.params_abi, plan.refs([index])),
                world.outsider,
            )

        @rule(days=st.integers(1, 45))
        def advance_time(self, days: int) -> None:
            counter[0] += 1
            chain.advance(days * DAY)

        @rule()
        def toggle_pause(self) -> None:
            call = escrow.functions.unpause() if self.paused else escrow.functions.pause()
            assert self.attempt(call, world.operator) is not None
            self.paused = not self.paused

        # ------------------------------------------------------------------ invariants

        @invariant()
        def escrow_holds_exactly_what_was_deposited_and_not_paid_out(self) -> None:
            assert world.balance(escrow.address) == self.ledger.held(token.address)

        @invariant()
        def no_instalment_pays_out_more_than_its_amount(self) -> None:
            for state in self.ledger.plans.values():
                for item in state.instalments:
                    assert item.paid_out <= item.terms.amount
                    if item.status & CLOSED and item.status & FUNDED:
                        assert item.paid_out == item.terms.amount
                    if not item.status & FUNDED:
                        assert item.paid_out == 0

    return EscrowMachine


def test_money_invariants_hold_over_random_action_sequences(world: World) -> None:
    counter = [0]
    machine = build_machine(world, counter)
    runs = 0
    min_steps = MIN_STEPS[world.chain.kind]
    while counter[0] < min_steps:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=10,
                stateful_step_count=STEPS_PER_EXAMPLE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
        runs += 1
    print(f"\ninvariant test: {counter[0]} steps in {runs} runs on {world.chain.kind}")
    assert counter[0] >= min_steps
