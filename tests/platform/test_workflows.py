"""Every workflow, every move: each allowed one lands where the table says, each other one is refused."""

from __future__ import annotations

from enum import Enum
from itertools import product
from typing import Any

import pytest

from daifa.domain.onboarding import ONBOARDING, PartyEvent, PartyStatus
from daifa.domain.plan_requests import PLAN_LIFECYCLE, PlanEvent, PlanStatus
from daifa.domain.products import PRODUCT_OPENING, ProductEvent, ProductStatus
from daifa.domain.workflow import Workflow
from daifa.errors import Conflict, InvalidTransition

WORKFLOWS: list[tuple[Workflow[Any, Any], type[Enum], type[Enum]]] = [
    (ONBOARDING, PartyStatus, PartyEvent),
    (PRODUCT_OPENING, ProductStatus, ProductEvent),
    (PLAN_LIFECYCLE, PlanStatus, PlanEvent),
]

EVERY_MOVE = [
    pytest.param(workflow, status, event, id=f"{workflow.name}:{status.value}+{event.value}")
    for workflow, statuses, events in WORKFLOWS
    for status, event in product(statuses, events)
]


@pytest.mark.parametrize(("workflow", "status", "event"), EVERY_MOVE)
def test_move_is_taken_or_refused_as_the_table_says(workflow: Workflow[Any, Any], status: Enum, event: Enum) -> None:
    expected = workflow.moves.get((status, event))
    if expected is not None:
        assert workflow.next(status, event) == expected
        return
    with pytest.raises(InvalidTransition) as refused:
        workflow.next(status, event)
    assert isinstance(refused.value, Conflict)
    assert refused.value.http_status == 409
    assert refused.value.allowed == sorted(e.value for e in workflow.events_from(status))


@pytest.mark.parametrize(("workflow", "statuses", "events"), WORKFLOWS, ids=[w.name for w, _, _ in WORKFLOWS])
def test_every_status_is_reachable_from_the_initial_one(
    workflow: Workflow[Any, Any], statuses: type[Enum], events: type[Enum]
) -> None:
    reached = {workflow.initial}
    frontier = [workflow.initial]
    while frontier:
        status = frontier.pop()
        for event in workflow.events_from(status):
            after = workflow.next(status, event)
            if after not in reached:
                reached.add(after)
                frontier.append(after)
    assert reached == set(statuses)
    assert {event for (_, event) in workflow.moves} == set(events), "an event no move uses"


def test_refusal_says_what_is_allowed_now() -> None:
    with pytest.raises(InvalidTransition, match="allowed now: reject, resubmit"):
        ONBOARDING.next(PartyStatus.DOCUMENTS_REQUESTED, PartyEvent.APPROVE)


def test_refusal_from_a_final_status_says_it_is_final() -> None:
    with pytest.raises(InvalidTransition, match="a plan that is completed is final"):
        PLAN_LIFECYCLE.next(PlanStatus.COMPLETED, PlanEvent.PAYEE_CONFIRM)
    assert PLAN_LIFECYCLE.is_final(PlanStatus.COMPLETED)
    assert not PLAN_LIFECYCLE.is_final(PlanStatus.RECORDING)


def test_account_opens_only_when_the_chain_confirms_the_approval() -> None:
    approved = ONBOARDING.next(PartyStatus.SUBMITTED, PartyEvent.APPROVE)
    assert approved == PartyStatus.APPROVED
    with pytest.raises(InvalidTransition):
        ONBOARDING.next(approved, PartyEvent.SUSPENSION_CONFIRMED)
    assert ONBOARDING.next(approved, PartyEvent.APPROVAL_CONFIRMED) == PartyStatus.ACTIVE
