"""The gas record's scenario: the contracts' main operations measured on a chain with a pinned clock, so
every run sends the same bytes and the figures are exact. `tests/contracts/test_gas_record.py` holds the
committed record to it; `python -m bench.gas` prints the table and writes the record.
"""

from __future__ import annotations

from pathlib import Path

from daifa.chain import abi
from daifa.chain import typed_data as td
from daifa.domain.plans import ReleaseRule
from tests.chain_harness import Chain, in_process_chain
from tests.world import DAY, MAX_UINT, USD, Plan, World

SNAPSHOT = Path(__file__).resolve().parent.parent / "snapshots" / "gas.json"
FIXED_START = 2_000_000_000  # 2033-05-18: far from any wall clock, the same on every run

# Targets, next to what users would pick instead: Sablier Lockup Tranched create with 10
# tranches 389,206 and withdraw 30-35k; Coinbase Commerce authorize 155,657 + capture 69,915; Disperse ~26k
# per new recipient.
TARGETS = {
    "record_plan_12": 150_000,
    "deposit_1": 60_000,
    "permit_deposit_1": 90_000,
    "release_1": 55_000,
    "release_batch_100_per_item": 30_000,
}

NOTES = {
    "record_plan_12": "12 monthly TIME instalments, both signatures relayed, parties that signed before",
    "record_plan_120": "120 instalments (ten years of monthly pay)",
    "record_agreement_set": "product opening, both signatures, one token",
    "deposit_1": "one instalment from the payer's wallet, escrow already holds the token",
    "deposit_12": "twelve instalments in one deposit",
    "permit_deposit_1": "EIP-2612 permit + the payer's deposit authorisation, relayed by the platform",
    "release_1": "TIME instalment, no fee, payee already holds the token",
    "release_1_fee": "as release_1, with a 0.5% fee to a recipient that holds the token",
    "release_batch_100_per_item": "releaseBatch of 100 instalments of 100 plans to 100 payees, per instalment",
    "approve_release": "payer approval relayed with its EIP-712 signature",
    "dispute": "payer's own dispute transaction",
    "resolve_dispute": "arbiter's split between payee and payer",
    "cancel_1": "cancellation of one funded instalment, both signatures relayed",
    "refund_expired_1": "refund of one unapproved instalment after expiry",
}


def measure(chain: Chain | None = None) -> dict[str, int]:
    """Runs every measured operation on `chain` (a fresh in-process chain by default)."""
    chain = chain or in_process_chain()
    chain.pin_clock(FIXED_START)
    world = World(chain)
    world.fund(world.payee, 1)  # the payee already holds the token, as a payroll payee would
    world.fund(world.fee_recipient, 1)
    gas: dict[str, int] = {}

    receipt = world.send(
        world.escrow.functions.recordAgreementSet(
            abi.agreement_set(p := world.agreement_set_params(limit=5)), world.agreement_set_auth(p)
        ),
        world.outsider,
    )
    gas["record_agreement_set"] = receipt["gasUsed"]

    plan = world.record_plan(world.instalments(12))
    gas["record_plan_12"] = plan.receipt["gasUsed"]
    gas["record_plan_120"] = world.record_plan(world.instalments(120, amount=10 * USD, every=DAY)).receipt["gasUsed"]

    world.deposit(plan, [0])  # the escrow's first balance of the token is a one-off cost
    gas["deposit_1"] = world.deposit(plan, [1])["gasUsed"]
    bulk = world.record_plan(world.instalments(12))
    gas["deposit_12"] = world.deposit(bulk, list(range(12)))["gasUsed"]

    gas["permit_deposit_1"] = _permit_deposits(world, plan)

    chain.advance(31 * DAY)
    gas["release_1"] = world.release(plan, 0)["gasUsed"]
    fee_plan = world.record_plan(world.instalments(1), world.plan_params(fee_bps=50, fee_cap=100 * USD))
    world.deposit(fee_plan, [0])
    chain.advance(31 * DAY)
    gas["release_1_fee"] = world.release(fee_plan, 0)["gasUsed"]

    approval = world.record_plan(world.instalments(2, rule=ReleaseRule.PAYER_APPROVAL))
    nonce, deadline = world.nonce(), chain.now() + DAY
    signature = world.sign(world.payer, "PayerApproval", td.payer_approval_message(approval.id, 0, nonce, deadline))
    gas["approve_release"] = world.send(
        world.escrow.functions.approveRelease(
            approval.id, approval.params_abi, approval.ref(0), abi.party_signature(nonce, deadline, signature)
        ),
        world.outsider,
    )["gasUsed"]

    world.deposit(approval, [1])
    gas["dispute"] = world.dispute(approval, 1)["gasUsed"]
    gas["resolve_dispute"] = world.send(
        world.escrow.functions.resolveDispute(approval.id, approval.params_abi, approval.ref(1), USD), world.operator
    )["gasUsed"]

    gas["cancel_1"] = world.cancel(plan, [2])["gasUsed"]

    expiring = world.record_plan(
        world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL), world.plan_params(expiry=chain.now() + 40 * DAY)
    )
    world.deposit(expiring, [0])
    chain.advance(41 * DAY)
    gas["refund_expired_1"] = world.send(
        world.escrow.functions.refundExpired(expiring.id, expiring.params_abi, expiring.refs([0])), world.outsider
    )["gasUsed"]

    gas["release_batch_100_per_item"] = _batch_per_item(world, 100)
    return gas


def _permit_deposits(world: World, plan: Plan) -> int:
    """Permit + deposit authorisation + deposit, measured on the second one (the payer has signed before)."""
    world.send(world.token.functions.approve(world.escrow.address, 0), world.payer)
    measured = 0
    for index in (3, 4):
        permit = world.permit(plan.instalments[index].amount, world.chain.now() + DAY)
        authorisation = world.deposit_authorization(plan, [index])
        call = world.escrow.functions.depositWithPermit(
            plan.id, plan.params_abi, plan.refs([index]), permit, authorisation
        )
        measured = world.send(call, world.outsider)["gasUsed"]
    world.send(world.token.functions.approve(world.escrow.address, MAX_UINT), world.payer)
    return measured


def _batch_per_item(world: World, count: int) -> int:
    items = []
    for n in range(count):
        payee = world.chain.account(f"batch-payee-{n}", eth=1)
        world.approve_party(payee, 2)
        world.fund(payee, 1)
        set_params = world.agreement_set_params(payee=payee.address)
        auth = world.agreement_set_auth(set_params, payee=payee)
        receipt = world.send(
            world.escrow.functions.recordAgreementSet(abi.agreement_set(set_params), auth), world.outsider
        )
        set_id = int(world.events(receipt, "AgreementSetRecorded")[0]["agreementSetId"])
        params = world.plan_params(agreement_set_id=set_id, payee=payee.address)
        instalments = world.instalments(1, amount=(1_000 + n) * USD, first_release_in=DAY)
        plan = world.record_plan(instalments, params, world.plan_auth(params, instalments, payee=payee))
        world.deposit(plan, [0])
        items.append((plan.id, plan.params_abi, plan.ref(0)))
    world.chain.advance(2 * DAY)
    receipt = world.send(world.escrow.functions.releaseBatch(items), world.outsider, gas=10_000_000)
    assert len(world.events(receipt, "Released")) == count
    return int(receipt["gasUsed"]) // count


def check(gas: dict[str, int], recorded: dict[str, int]) -> list[str]:
    """Every figure must be recorded and none may exceed its record."""
    problems = [f"{name}: not in snapshots/gas.json; run `make bench-gas`" for name in gas if name not in recorded]
    problems += [f"{name}: in snapshots/gas.json but no longer measured" for name in recorded if name not in gas]
    problems += [
        f"{name}: {gas[name]:,} gas, up from the recorded {recorded[name]:,}; explain the rise and run `make bench-gas`"
        for name in gas
        if name in recorded and gas[name] > recorded[name]
    ]
    return problems
