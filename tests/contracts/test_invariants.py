"""Invariants of the money over random sequences of every action, on a real chain.

Hypothesis drives deposits, releases, batch releases, approvals, materials, disputes, resolutions,
cancellations, refunds, pauses and time jumps against the deployed escrow. After every step:
- the escrow's token balance equals what was deposited minus what was paid out (released, fees,
  refunded, split);
- no instalment pays out more than its amount, and a closed funded one paid out exactly its amount;
- tokens leave the escrow only to the plan's payee, its payer or its signed fee recipient;
- statuses only move forward, and the chain's statuses equal the model's;
- an action that succeeded was allowed by the plan's rules at that block's time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from web3.logs import DISCARD

from daifa.chain import abi
from daifa.domain.plans import Instalment, ReleaseRule
from tests.chain_harness import Chain, Reverted
from tests.world import DAY, Plan, World

FUNDED, CONDITION_MET, DISPUTED, CLOSED = 1, 2, 4, 8
# anvil runs ~30 steps a second here and the pure-Python chain ~5, so the long run is anvil's.
MIN_STEPS = {
    "anvil": int(os.environ.get("DAIFA_INVARIANT_STEPS", "5000")),
    "eth-tester": int(os.environ.get("DAIFA_INVARIANT_STEPS_IN_PROCESS", "300")),
}
STEPS_PER_EXAMPLE = 50


@dataclass
class Item:
    instalment: Instalment
    status: int = 0
    attested_at: int = 0
    paid: int = 0


@dataclass
class Model:
    plan: Plan
    items: list[Item] = field(default_factory=list)


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
            self.plans: list[Model] = []
            self.deposited = 0
            self.paid_out = 0
            self.paused = False

        def teardown(self) -> None:
            try:
                for model in self.plans:
                    for index, item in enumerate(model.items):
                        assert world.status(model.plan, index) == item.status
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

        def model(self, plan_id: int) -> Model:
            return next(m for m in self.plans if m.plan.id == plan_id)

        def apply(self, receipt: Any, now: int) -> None:
            touched: set[tuple[int, int]] = set()
            for log in escrow.events.Deposited().process_receipt(receipt, errors=DISCARD):
                item = self.item(log.args.planId, log.args.index, touched)
                assert item.status & (FUNDED | CLOSED) == 0, "deposit into a funded or closed instalment"
                assert log.args.amount == item.instalment.amount
                item.status |= FUNDED
                self.deposited += log.args.amount
            for log in escrow.events.PayerApproved().process_receipt(receipt, errors=DISCARD):
                self.item(log.args.planId, log.args.index, touched).status |= CONDITION_MET
            for log in escrow.events.MaterialsAttested().process_receipt(receipt, errors=DISCARD):
                item = self.item(log.args.planId, log.args.index, touched)
                item.status |= CONDITION_MET
                item.attested_at = now
            for log in escrow.events.Disputed().process_receipt(receipt, errors=DISCARD):
                self.item(log.args.planId, log.args.index, touched).status |= DISPUTED
            for log in escrow.events.Released().process_receipt(receipt, errors=DISCARD):
                model = self.model(log.args.planId)
                item = self.item(log.args.planId, log.args.index, touched)
                self.assert_releasable(model, item, now)
                self.pay(item, log.args.toPayee + log.args.fee)
            for log in escrow.events.DisputeResolved().process_receipt(receipt, errors=DISCARD):
                item = self.item(log.args.planId, log.args.index, touched)
                assert item.status & DISPUTED and not item.status & CLOSED
                self.pay(item, log.args.toPayee + log.args.toPayer)
            for log in escrow.events.InstalmentCancelled().process_receipt(receipt, errors=DISCARD):
                item = self.item(log.args.planId, log.args.index, touched)
                assert not item.status & CLOSED
                self.pay(item, log.args.refunded)
            for log in escrow.events.Refunded().process_receipt(receipt, errors=DISCARD):
                model = self.model(log.args.planId)
                item = self.item(log.args.planId, log.args.index, touched)
                assert now > model.plan.params.expiry and item.status & FUNDED
                assert not item.status & (DISPUTED | CONDITION_MET)
                assert item.instalment.rule != ReleaseRule.TIME
                self.pay(item, log.args.amount)
            recipients = {(m.plan.params.payer, m.plan.params.payee, m.plan.params.fee_recipient) for m in self.plans}
            allowed = {address for trio in recipients for address in trio}
            for log in transfer_event.process_receipt(receipt, errors=DISCARD):
                if log.args["from"] == escrow.address:
                    assert log.args.to in allowed, f"escrow paid {log.args.to}, not a plan party"
            for plan_id, index in touched:
                model = self.model(plan_id)
                assert world.status(model.plan, index) == model.items[index].status

        def item(self, plan_id: int, index: int, touched: set[tuple[int, int]]) -> Item:
            touched.add((plan_id, index))
            return self.model(plan_id).items[index]

        def pay(self, item: Item, amount: int) -> None:
            item.paid += amount
            item.status |= CLOSED
            self.paid_out += amount

        def assert_releasable(self, model: Model, item: Item, now: int) -> None:
            assert item.status & FUNDED and not item.status & (DISPUTED | CLOSED)
            rule = item.instalment.rule
            if rule == ReleaseRule.TIME:
                assert now >= item.instalment.release_at
            elif rule == ReleaseRule.PAYER_APPROVAL:
                assert item.status & CONDITION_MET
            else:
                assert item.status & CONDITION_MET and now >= item.attested_at + model.plan.params.review_window

        def pick(self, choice: int) -> Model:
            return self.plans[choice % len(self.plans)]

        # ------------------------------------------------------------------ rules

        @rule(
            rules=st.lists(st.sampled_from(list(ReleaseRule)), min_size=1, max_size=4),
            amount=st.integers(1, 10**9),
            fee_bps=st.sampled_from([0, 0, 25, 300]),
            fee_cap=st.integers(0, 10**7),
            life=st.integers(20, 200),
        )
        def record_plan(self, rules: list[ReleaseRule], amount: int, fee_bps: int, fee_cap: int, life: int) -> None:
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
            try:
                plan = world.record_plan(
                    instalments, world.plan_params(fee_bps=fee_bps, fee_cap=fee_cap, expiry=expiry)
                )
            except Reverted as error:
                assert error.name in ("Registry_AgreementSetExpired", "Registry_PlanOutlivesAgreementSet"), error
                return
            self.plans.append(Model(plan, [Item(i) for i in instalments]))

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), indices=st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True))
        def deposit(self, choice: int, indices: list[int]) -> None:
            model = self.pick(choice)
            indices = [i % len(model.items) for i in indices]
            indices = list(dict.fromkeys(indices))
            expected_ok = not self.paused and all(model.items[i].status & (FUNDED | CLOSED) == 0 for i in indices)
            result = self.attempt(
                escrow.functions.deposit(model.plan.id, model.plan.params_abi, model.plan.refs(indices)), world.payer
            )
            if result is not None:
                assert expected_ok and result["time"] <= model.plan.params.expiry
            elif expected_ok:
                assert chain.now() + 1 >= model.plan.params.expiry, "a valid deposit was refused"

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), index=st.integers(0, 3))
        def release(self, choice: int, index: int) -> None:
            model = self.pick(choice)
            index %= len(model.items)
            self.attempt(
                escrow.functions.release(model.plan.id, model.plan.params_abi, model.plan.ref(index)), world.outsider
            )

        @precondition(lambda self: self.plans)
        @rule(picks=st.lists(st.tuples(st.integers(0, 99), st.integers(0, 3)), min_size=1, max_size=5))
        def release_batch(self, picks: list[tuple[int, int]]) -> None:
            items = []
            for choice, index in picks:
                model = self.pick(choice)
                index %= len(model.items)
                items.append((model.plan.id, model.plan.params_abi, model.plan.ref(index)))
            result = self.attempt(escrow.functions.releaseBatch(items), world.outsider)
            assert result is not None, "a batch release never reverts as a whole"

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), index=st.integers(0, 3))
        def approve(self, choice: int, index: int) -> None:
            model = self.pick(choice)
            index %= len(model.items)
            item = model.items[index]
            expected_ok = item.instalment.rule == ReleaseRule.PAYER_APPROVAL and not item.status & (
                CLOSED | CONDITION_MET
            )
            result = self.attempt(
                escrow.functions.approveRelease(
                    model.plan.id, model.plan.params_abi, model.plan.ref(index), abi.NO_SIGNATURE
                ),
                world.payer,
            )
            assert (result is not None) == expected_ok

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), index=st.integers(0, 3))
        def deliver_materials(self, choice: int, index: int) -> None:
            model = self.pick(choice)
            index %= len(model.items)
            delivered = b"\x09" * 32
            ref = model.plan.ref(index)
            if self.attempt(
                escrow.functions.submitMaterials(
                    model.plan.id, model.plan.params_abi, ref, delivered, abi.NO_SIGNATURE
                ),
                world.payee,
            ):
                self.attempt(
                    escrow.functions.attestMaterials(model.plan.id, model.plan.params_abi, ref, delivered),
                    world.operator,
                )

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), index=st.integers(0, 3), by_payee=st.booleans())
        def dispute(self, choice: int, index: int, by_payee: bool) -> None:
            model = self.pick(choice)
            index %= len(model.items)
            item = model.items[index]
            party = world.payee if by_payee else world.payer
            expected_ok = not item.status & (CLOSED | DISPUTED)
            result = self.attempt(
                escrow.functions.dispute(
                    model.plan.id,
                    model.plan.params_abi,
                    model.plan.ref(index),
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
            model = self.pick(choice)
            index %= len(model.items)
            item = model.items[index]
            funded = item.instalment.amount if item.status & FUNDED else 0
            self.attempt(
                escrow.functions.resolveDispute(
                    model.plan.id, model.plan.params_abi, model.plan.ref(index), funded * share // 100
                ),
                world.operator,
            )

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), indices=st.lists(st.integers(0, 3), min_size=1, max_size=2, unique=True))
        def cancel(self, choice: int, indices: list[int]) -> None:
            model = self.pick(choice)
            indices = list(dict.fromkeys(i % len(model.items) for i in indices))
            auth = world.cancellation_auth(model.plan, indices)
            expected_ok = all(not model.items[i].status & CLOSED for i in indices)
            result = self.attempt(
                escrow.functions.cancelInstalments(
                    model.plan.id, model.plan.params_abi, model.plan.refs(indices), auth
                ),
                world.outsider,
            )
            assert (result is not None) == expected_ok

        @precondition(lambda self: self.plans)
        @rule(choice=st.integers(0, 99), index=st.integers(0, 3))
        def refund_expired(self, choice: int, index: int) -> None:
            model = self.pick(choice)
            index %= len(model.items)
            self.attempt(
                escrow.functions.refundExpired(model.plan.id, model.plan.params_abi, model.plan.refs([index])),
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
            assert world.balance(escrow.address) == self.deposited - self.paid_out

        @invariant()
        def no_instalment_pays_out_more_than_its_amount(self) -> None:
            for model in self.plans:
                for item in model.items:
                    assert item.paid <= item.instalment.amount
                    if item.status & CLOSED and item.status & FUNDED:
                        assert item.paid == item.instalment.amount
                    if not item.status & FUNDED:
                        assert item.paid == 0

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
