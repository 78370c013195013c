"""The gas record's scenario: the contracts' main operations measured on a chain with a pinned clock, so
every run sends the same bytes and the figures are exact. `tests/contracts/test_gas_record.py` holds the
committed record to it; `python -m bench.gas` prints the table and writes the record.
"""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

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
# Sablier Lockup 4.0.1 measured on the same anvil with the same token: a 12-tranche create (recorded and
# funded) 516,733, 478,415 a plan in a batch of 100; withdrawMax 125,477; withdrawMultiple 69,459 an item.
TARGETS = {
    "record_plan_12": 150_000,
    "record_and_fund_12": 180_000,
    "record_and_fund_batch_100_per_plan": 150_000,
    "deposit_1": 60_000,
    "deposit_12": 75_000,
    "permit_deposit_1": 90_000,
    "release_1": 50_000,
    "release_batch_100_per_item": 21_000,
}

NOTES = {
    "record_plan_12": "12 monthly TIME instalments, both signatures relayed, parties that signed before",
    "record_plan_120": "120 instalments (ten years of monthly pay)",
    "record_agreement_set": "product opening, both signatures, one token",
    "deposit_1": "one instalment from the payer's wallet, escrow already holds the token",
    "record_plans_batch_100_per_plan": "recordPlans: 100 plans of 12 to 100 payees, both signatures relayed, per plan",
    "record_and_fund_12": "12 instalments recorded and all funded by the payer's own transaction, payee's signature",
    "record_and_fund_batch_100_per_plan": "recordPlansAndDeposit: 100 plans of 12, 100 payees, one transfer, per plan",
    "deposit_12": "twelve instalments by depositInstalments (the plan's instalments, no proofs)",
    "deposit_12_with_proofs": "twelve instalments by deposit, one Merkle proof each",
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
    gas["deposit_12"] = world.deposit_instalments(bulk, range(12))["gasUsed"]
    with_proofs = world.record_plan(world.instalments(12))
    gas["deposit_12_with_proofs"] = world.deposit(with_proofs, list(range(12)))["gasUsed"]

    params = world.plan_params()
    instalments = world.instalments(12)
    auth = world.plan_auth(params, instalments, payer_sends=True)
    (funded,) = world.record_and_fund([world.new_plan(instalments, params, auth)])
    gas["record_and_fund_12"] = funded.receipt["gasUsed"]

    payees = _batch_payees(world, 100)
    gas["record_plans_batch_100_per_plan"] = _record_batch_per_plan(world, payees, fund=False)
    gas["record_and_fund_batch_100_per_plan"] = _record_batch_per_plan(world, payees, fund=True)

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

    gas["release_batch_100_per_item"] = _release_batch_per_item(world, payees)
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


def _batch_payees(world: World, count: int) -> list[tuple[LocalAccount, int]]:
    """`count` approved payees that hold the token, each with its own open agreement set with the payer."""
    payees = []
    for n in range(count):
        payee = world.chain.account(f"batch-payee-{n}", eth=1)
        world.approve_party(payee, 2)
        world.fund(payee, 1)
        set_params = world.agreement_set_params(payee=payee.address, limit=10**9 * USD)
        auth = world.agreement_set_auth(set_params, payee=payee)
        receipt = world.send(
            world.escrow.functions.recordAgreementSet(abi.agreement_set(set_params), auth), world.outsider
        )
        payees.append((payee, int(world.events(receipt, "AgreementSetRecorded")[0]["agreementSetId"])))
    return payees


def _record_batch_per_plan(world: World, payees: list[tuple[LocalAccount, int]], fund: bool) -> int:
    """A plan of 12 monthly wages to each payee in one transaction: relayed recordPlans with both
    signatures, or the payer's own recordPlansAndDeposit (payees' signatures only). Gas per plan."""
    plans = []
    for payee, set_id in payees:
        params = world.plan_params(agreement_set_id=set_id, payee=payee.address)
        instalments = world.instalments(12)
        plans.append(
            world.new_plan(instalments, params, world.plan_auth(params, instalments, payee=payee, payer_sends=fund))
        )
    if fund:
        world.fund(world.payer, sum(i.amount for _, instalments, _ in plans for i in instalments))
    recorded = world.record_and_fund(plans) if fund else world.record_plans(plans)
    assert len(recorded) == len(payees)
    return int(recorded[0].receipt["gasUsed"]) // len(payees)


def _release_batch_per_item(world: World, payees: list[tuple[LocalAccount, int]]) -> int:
    items = []
    for n, (payee, set_id) in enumerate(payees):
        params = world.plan_params(agreement_set_id=set_id, payee=payee.address)
        instalments = world.instalments(1, amount=(1_000 + n) * USD, first_release_in=DAY)
        plan = world.record_plan(instalments, params, world.plan_auth(params, instalments, payee=payee))
        world.deposit(plan, [0])
        items.append((plan.id, plan.params_abi, plan.ref(0)))
    world.chain.advance(2 * DAY)
    receipt = world.send(world.escrow.functions.releaseBatch(items), world.outsider, gas=10_000_000)
    assert len(world.events(receipt, "Released")) == len(payees)
    return int(receipt["gasUsed"]) // len(payees)


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
