"""Funding a payroll run at recording: the payer's wallet records the run's plans that both parties signed
and funds every instalment of them, a batch of plans a transaction (the escrow's recordPlansAndDeposit),
instead of the platform recording each plan and the payer depositing afterwards.

The platform only prepares the transactions: the payer's wallet sends them, pays the gas, and its tokens
are what the escrow takes. The indexer sees the plans recorded and funded as for any other transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from daifa.chain.client import TokenFacts
from daifa.domain.payroll import Funding
from daifa.domain.plan_requests import PlanStatus
from daifa.errors import Conflict
from daifa.services import payroll_progress, plans, records
from daifa.services.actions import require_balance, wallet_transactions
from daifa.services.calls import in_batches
from daifa.services.context import Actor, Ports
from daifa.store import models as m

MAX_PLANS = 200  # plans one answer covers: the payer asks again for the rest once these are mined
# A transaction's data: nodes refuse transactions over 128 KiB (geth's txpool limit), so a batch stops
# short of it (about 36 plans of twelve instalments).
MAX_CALLDATA = 96 * 1024


@dataclass(frozen=True)
class RunFunding:
    run: m.PayrollRun
    plans: list[m.Plan]
    token: TokenFacts
    value: int  # what the transactions take from the payer's wallet
    deadline: int  # the earliest of the plans' signature deadlines: sent after it, a batch is refused
    transactions: list[dict[str, str]]
    has_more: bool  # more plans wait (beyond MAX_PLANS, or in another token)


def prepare(session: Session, ports: Ports, actor: Actor, run_id: str) -> RunFunding:
    """The wallet transactions that record and fund the run's plans waiting for them (oldest first)."""
    run = records.get_payroll_run(session, actor, run_id)
    if actor.party_id != run.payer_id:
        raise Conflict("only the run's payer funds it, from its own wallet")
    public = records.public_id(m.PayrollRun, run.id)
    if run.funding != Funding.AT_RECORDING:
        raise Conflict(
            f"the platform records {public}'s plans: fund each with POST /v1/plans/{{id}}/deposits once recorded "
            f"(submit a run with funding={Funding.AT_RECORDING} to record and fund its plans from your wallet)"
        )
    waiting = list(
        session.scalars(
            select(m.Plan)
            .where(m.Plan.payroll_run_id == run.id, m.Plan.status == PlanStatus.AWAITING_FUNDING)
            .order_by(m.Plan.id)
            .limit(MAX_PLANS + 1)
        )
    )
    if not waiting:
        counts = payroll_progress.progress(session, run).plans
        raise Conflict(
            f"no plan of {public} waits to be funded (plans by status: {counts}): a plan waits once the payer "
            f"and its payee have both signed it"
        )
    token_address = waiting[0].token
    chosen = [plan for plan in waiting[:MAX_PLANS] if plan.token == token_address]  # one token a batch
    token = ports.chain.token_facts(token_address)
    payer = session.get(m.Party, run.payer_id)
    assert payer is not None
    value = sum(plan.total for plan in chosen)
    require_balance(ports, token, payer.address, value)

    def encode(arguments: list[tuple[object, ...]]) -> bytes:
        return ports.chain.encode("recordPlansAndDeposit", arguments)

    items = [(plan, plans.record_arguments(session, plan)) for plan in chosen]
    calls = [
        (encode([args for _, args in batch]), _describe(batch)) for batch in in_batches(encode, items, MAX_CALLDATA)
    ]
    return RunFunding(
        run=run,
        plans=chosen,
        token=token,
        value=value,
        deadline=min(plan.deadline for plan in chosen),
        transactions=wallet_transactions(ports, payer.address, token, value, calls),
        has_more=len(chosen) < len(waiting),
    )


def _describe(batch: list[tuple[m.Plan, tuple[object, ...]]]) -> str:
    ids = [records.public_id(m.Plan, plan.id) for plan, _ in batch]
    named = ids[0] if len(ids) == 1 else f"{ids[0]} to {ids[-1]}"
    return f"record and fund {len(ids)} plan{'s' if len(ids) > 1 else ''}: {named}"
