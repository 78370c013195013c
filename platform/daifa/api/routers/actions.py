"""Actions on plans (deposits, approvals, materials, disputes, ...) and dispute resolutions."""

from __future__ import annotations

from fastapi import APIRouter, Request

from daifa import wire as s
from daifa.api import views
from daifa.api.deps import CurrentActor, Paginated, ports, transaction
from daifa.services import actions, records
from daifa.store import models as m

router = APIRouter(prefix="/v1/actions", tags=["actions"])


@router.get("", response_model=s.Page[s.ActionOut])
def list_actions(
    request: Request, actor: CurrentActor, page: Paginated, plan: str | None = None
) -> s.Page[s.ActionOut]:
    with transaction(request) as session:
        of_plan = None if plan is None else m.PlanAction.plan_id == records.get_plan(session, actor, plan).id
        return page.visible(session, actor, m.PlanAction, lambda row: views.action(session, row), of_plan)


@router.get("/{action_id}", response_model=s.ActionOut)
def get_action(request: Request, actor: CurrentActor, action_id: str) -> s.ActionOut:
    with transaction(request) as session:
        return views.action(session, records.get_action(session, actor, action_id))


@router.post("/{action_id}/resolve", status_code=201, response_model=s.ActionOut)
def resolve(request: Request, actor: CurrentActor, action_id: str, body: s.ResolutionIn) -> s.ActionOut:
    """The arbiter splits a disputed instalment: `to_payee` to the payee, the rest back to the payer."""
    with transaction(request) as session:
        return views.action(
            session, actions.resolve(session, ports(request), actor, action_id, body.to_payee, body.note)
        )
