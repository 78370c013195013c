"""Every workflow, every move: each allowed one lands where the table says, each other one is refused."""

from __future__ import annotations

from enum import Enum
from itertools import product
from typing import Any

import pytest

from daifa.domain.actions import ACTION_LIFECYCLE, ActionEvent, ActionStatus
from daifa.domain.onboarding import ONBOARDING, PartyEvent, PartyStatus
from daifa.domain.outbox import OUTBOX, OutboxEvent, OutboxStatus
from daifa.domain.plan_requests import PLAN_LIFECYCLE, PlanEvent, PlanStatus
from daifa.domain.products import PRODUCT_OPENING, ProductEvent, ProductStatus
from daifa.domain.signature_requests import SIGNATURE_REQUEST, SignatureEvent, SignatureStatus
from daifa.domain.webhooks import DELIVERY, DeliveryEvent, DeliveryStatus
from daifa.domain.workflow import Workflow
from daifa.errors import Conflict, InvalidTransition

WORKFLOWS: list[tuple[Workflow[Any, Any], type[Enum], type[Enum]]] = [
    (ONBOARDING, PartyStatus, PartyEvent),
    (PRODUCT_OPENING, ProductStatus, ProductEvent),
    (PLAN_LIFECYCLE, PlanStatus, PlanEvent),
    (ACTION_LIFECYCLE, ActionStatus, ActionEvent),
    (SIGNATURE_REQUEST, SignatureStatus, SignatureEvent),
    (OUTBOX, OutboxStatus, OutboxEvent),
    (DELIVERY, DeliveryStatus, DeliveryEvent),
]

# What each workflow must allow, written out here and not read from the tables under test: (status,
# event) -> the status it leads to. Every other pair of status and event must be refused.
EXPECTED_MOVES: dict[str, dict[tuple[str, str], str]] = {
    "party application": {
        ("submitted", "request_documents"): "documents_requested",
        ("submitted", "approve"): "approved",
        ("submitted", "reject"): "rejected",
        ("documents_requested", "resubmit"): "submitted",
        ("documents_requested", "reject"): "rejected",
        ("approved", "approval_confirmed"): "active",
        ("active", "suspension_confirmed"): "suspended",
        ("suspended", "reinstatement_confirmed"): "active",
    },
    "product opening": {
        ("submitted", "request_documents"): "documents_requested",
        ("submitted", "approve"): "awaiting_credit_authorisation",
        ("submitted", "reject"): "rejected",
        ("documents_requested", "resubmit"): "submitted",
        ("documents_requested", "reject"): "rejected",
        ("awaiting_credit_authorisation", "authorise_credit"): "awaiting_signatures",
        ("awaiting_credit_authorisation", "decline_credit"): "credit_declined",
        ("awaiting_signatures", "signatures_complete"): "recording",
        ("recording", "record_confirmed"): "open",
        ("open", "expire"): "expired",
    },
    "plan": {
        ("awaiting_payer", "payer_sign"): "awaiting_payee",
        ("awaiting_payer", "payer_sends"): "awaiting_payee",  # a run funded at recording: its transaction
        ("awaiting_payer", "payer_withdraw"): "withdrawn",
        ("awaiting_payer", "signatures_expired"): "expired",
        ("awaiting_payee", "payee_confirm"): "recording",
        ("awaiting_payee", "payee_confirm_payer_funds"): "awaiting_funding",  # the payer's wallet records it
        ("awaiting_payee", "payee_reject"): "rejected",
        ("awaiting_payee", "payer_withdraw"): "withdrawn",
        ("awaiting_payee", "signatures_expired"): "expired",
        ("recording", "record_confirmed"): "recorded",
        ("recording", "signatures_expired"): "expired",
        ("awaiting_funding", "record_confirmed"): "recorded",
        ("awaiting_funding", "signatures_expired"): "expired",
        ("recorded", "all_instalments_closed"): "completed",
    },
    "action": {
        ("awaiting_signatures", "left_to_wallet"): "awaiting_wallet",
        ("awaiting_signatures", "queued"): "queued",
        ("queued", "transaction_mined"): "mined",
        ("queued", "transaction_failed"): "failed",
        ("mined", "transaction_dropped"): "queued",  # a reorg dropped its block: sent again
        ("failed", "transaction_dropped"): "queued",
    },
    "signature request": {
        ("pending", "sign"): "signed",
        ("pending", "void"): "void",
    },
    "outbox entry": {
        ("pending", "signed"): "signed",
        ("pending", "would_revert"): "failed",
        ("signed", "broadcast"): "sent",
        ("sent", "mined"): "mined",
        ("sent", "reverted"): "failed",
        ("sent", "nonce_lost"): "signed",
        ("mined", "dropped_by_reorg"): "sent",
        ("failed", "dropped_by_reorg"): "sent",
    },
    "webhook delivery": {
        ("pending", "delivered"): "delivered",
        ("pending", "given_up"): "failed",
    },
}

EVERY_MOVE = [
    pytest.param(workflow, status, event, id=f"{workflow.name}:{status.value}+{event.value}")
    for workflow, statuses, events in WORKFLOWS
    for status, event in product(statuses, events)
]


@pytest.mark.parametrize(("workflow", "status", "event"), EVERY_MOVE)
def test_move_is_taken_or_refused_as_the_table_says(workflow: Workflow[Any, Any], status: Enum, event: Enum) -> None:
    expected = EXPECTED_MOVES[workflow.name]
    after = expected.get((status.value, event.value))
    if after is not None:
        assert workflow.next(status, event).value == after
        return
    with pytest.raises(InvalidTransition) as refused:
        workflow.next(status, event)
    assert isinstance(refused.value, Conflict)
    assert refused.value.http_status == 409
    assert refused.value.allowed == sorted(e for (s, e) in expected if s == status.value)


def test_every_expected_move_names_real_statuses_and_events() -> None:
    """A misspelt expectation would otherwise only ever be 'refused', and pass."""
    for workflow, statuses, events in WORKFLOWS:
        for (status, event), after in EXPECTED_MOVES[workflow.name].items():
            assert {status, after} <= {s.value for s in statuses}, workflow.name
            assert event in {e.value for e in events}, workflow.name


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
