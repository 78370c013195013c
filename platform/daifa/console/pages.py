"""The console's pages for everyone signed in: home, a product, a plan, a signature request, a
document, statements (the forms that change something are daifa.console.decisions). What each may see
and do is what the API lets the same actor see and do: the pages call the same use cases with the
session's actor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from daifa.api import views
from daifa.api.deps import ports, reading
from daifa.api.routers.documents import content_disposition
from daifa.console import charts, overview, statements
from daifa.console.web import ConsoleRoute, SignedIn, render
from daifa.describe import describe
from daifa.domain.outbox import OutboxStatus
from daifa.domain.signature_requests import SignatureStatus
from daifa.errors import InvalidInput, Problem
from daifa.services import documents, records, signatures, verification
from daifa.services.context import Actor
from daifa.services.health import assess
from daifa.services.reconciliation import reconcile
from daifa.services.subjects import Subject
from daifa.store import models as m

Row = TypeVar("Row", bound=m.Base)
router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
RECENT = 50  # rows of a party's lists shown on its home page, newest first
YEAR = 365 * 86_400  # how far ahead the home page's chart of releases looks
DUE_SHOWN = 100  # rows of "due this month" (an employer's month may hold thousands; its statement has all)

# What a document may be shown as inside the console's frame: the bytes are served with a sandbox
# policy, so even a document that is not what its type says cannot run anything.
DOCUMENT_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"


@router.get("")
def home(request: Request, signed: SignedIn) -> Response:
    actor = signed.actor
    if actor.is_operator:
        return _operator_home(request)
    chain = ports(request).chain
    now = chain.now()
    start, end = overview.month_bounds(now)
    with reading(request) as session:
        party = views.party(session, records.get_party(session, actor, actor.require_party()))
        products = _newest(session, actor, m.Product)
        plans = _newest(session, actor, m.Plan)
        pending = list(
            session.scalars(
                select(m.SignatureRequest)
                .where(records.visible(actor, m.SignatureRequest), m.SignatureRequest.status == SignatureStatus.PENDING)
                .order_by(m.SignatureRequest.id)
                .limit(RECENT)
            )
        )
        escrow = overview.escrow_by_token(session, actor)
        # One read of the instalments for both: this month's (from its first day) and the year ahead.
        ahead = overview.due_between(session, actor, start, max(end, now + YEAR))
    due = [d for d in ahead if d.at < end]
    upcoming = [d for d in ahead if now <= d.at < now + YEAR]
    tokens = {t: chain.token_facts(t) for t in {*escrow, *(d.token for d in ahead), *(p.token for p in plans)}}
    return render(
        request,
        "party_home.html",
        party=party,
        products=products,
        plans=plans,
        pending=pending,
        escrow=escrow,
        due=due[:DUE_SHOWN],
        due_more=max(0, len(due) - DUE_SHOWN),
        tokens=tokens,
        month=start,
        releases_chart=charts.upcoming_releases([d for d in upcoming if d.what == "release"], tokens),
    )


def _newest(session: Session, actor: Actor, model: type[Row]) -> list[Row]:
    key: Any = model.id  # type: ignore[attr-defined]
    query = select(model).where(records.visible(actor, model)).order_by(key.desc()).limit(RECENT)
    return list(session.scalars(query))


def _names(session: Session, *party_ids: int) -> dict[int, str]:
    """The parties' legal names by id."""
    query = select(m.Party.id, m.Party.legal_name).where(m.Party.id.in_(party_ids))
    return {party_id: name for party_id, name in session.execute(query).tuples()}


def _operator_home(request: Request) -> Response:
    with reading(request) as session:
        return render(
            request,
            "operator_home.html",
            parties=overview.parties_waiting(session),
            products=overview.products_waiting(session),
            materials=overview.materials_to_attest(session),
            disputes=overview.open_disputes(session),
            health=assess(session, request.app.state.settings.health),
        )


@router.get("/parties/{party_id}")
def party_page(request: Request, signed: SignedIn, party_id: str) -> Response:
    with reading(request) as session:
        row = records.get_party(session, signed.actor, party_id)
        return render(
            request, "party.html", party=views.party(session, row), checks=_checks(request, session, row),
            is_self=signed.actor.party_id == row.id, month=_this_month(request),
        )  # fmt: skip


@router.get("/products/{product_id}")
def product_page(request: Request, signed: SignedIn, product_id: str) -> Response:
    with reading(request) as session:
        row = records.get_product(session, signed.actor, product_id)
        product = views.product(session, row)
        names = _names(session, row.payer_id, row.payee_id)
        plans = list(
            session.scalars(select(m.Plan).where(m.Plan.product_id == row.id).order_by(m.Plan.id.desc()).limit(RECENT))
        )
        checks = _checks(request, session, row)
    tokens = {t: ports(request).chain.token_facts(t) for t in product.tokens}
    return render(
        request, "product.html", product=product, row=row, names=names, plans=plans, checks=checks, tokens=tokens,
        is_payer=signed.actor.party_id == row.payer_id, is_party=signed.actor.party_id in (row.payer_id, row.payee_id),
    )  # fmt: skip


def _checks(request: Request, session: Session, row: m.Party | m.Product) -> dict[str, verification.Verification]:
    """Each document of a party or product checked again: its bytes against its hash, its hash against the
    chain (the review page shows the result beside the document)."""
    shown = documents.of_subject(session, Subject.of(row))
    return {records.public_id(m.Document, d.id): verification.verify(session, ports(request), d) for d in shown}


@router.get("/plans/{plan_id}")
def plan_page(request: Request, signed: SignedIn, plan_id: str) -> Response:
    actor = signed.actor
    with reading(request) as session:
        row = records.get_plan(session, actor, plan_id)
        plan = views.plan(session, row)
        query = select(m.PlanAction).where(m.PlanAction.plan_id == row.id).order_by(m.PlanAction.id.desc())
        plan_actions = list(session.scalars(query.limit(RECENT)))
        names = _names(session, row.payer_id, row.payee_id)
        chain = ports(request).chain
        token = chain.token_facts(plan.token)
        now = chain.now()
        moves = statements.of_plans(session, chain, [row], "", 0, now + 1).get(row.token)
    points, balance = [], 0
    for line in moves.lines if moves else []:
        balance += line.escrow_change
        points.append((line.at, balance))
    return render(
        request, "plan.html", plan=plan, row=row, token=token, actions=plan_actions, names=names,
        is_payer=actor.party_id == row.payer_id, is_payee=actor.party_id == row.payee_id,
        chain_now=now, balance_chart=charts.escrow_balance(points, token, now),
    )  # fmt: skip


@router.get("/actions/{action_id}")
def action_page(request: Request, signed: SignedIn, action_id: str) -> Response:
    with reading(request) as session:
        row = records.get_action(session, signed.actor, action_id)
        action = views.action(session, row)
        plan = records.get_plan(session, signed.actor, row.plan_id)
        item = session.scalar(
            select(m.Instalment).where(m.Instalment.plan_id == plan.id, m.Instalment.index == row.indices[0])
        )
    token = ports(request).chain.token_facts(plan.token)
    texts = {d.id: _text_of(request, d) for d in action.documents if d.content_type == "text/plain"}
    status = views.instalment_status(item.chain_status) if item is not None else ""
    return render(
        request, "action.html", action=action, plan=plan, item=item, token=token, texts=texts, instalment_status=status,
        splittable=action.kind == "dispute" and action.status == "mined" and status == "disputed",
    )  # fmt: skip


def _text_of(request: Request, document: Any) -> str:
    return ports(request).documents.get(bytes.fromhex(document.hash[2:])).decode("utf-8", errors="replace")


@router.get("/signature_requests/{request_id}")
def signature_request_page(request: Request, signed: SignedIn, request_id: str) -> Response:
    with reading(request) as session:
        shown = views.signature_request(signatures.get(session, signed.actor, request_id))
    return render(request, "sign.html", shown=shown, terms=describe(shown.typed_data, shown.context, "UTC"))


@router.get("/documents/{document_id}")
def document_content(request: Request, signed: SignedIn, document_id: str) -> Response:
    """A document's bytes for the page's frame: shown inline, under a sandbox policy."""
    with reading(request) as session:
        document = documents.get(session, signed.actor, document_id)
        data = ports(request).documents.get(document.hash)
    headers = {
        "Content-Disposition": content_disposition(document.filename, "inline"),
        "Content-Security-Policy": DOCUMENT_CSP,
        "Cache-Control": "private, no-store",
    }
    media = "text/plain; charset=utf-8" if document.content_type == "text/plain" else document.content_type
    return Response(data, media_type=media, headers=headers)


@router.get("/machinery")
def machinery(request: Request, signed: SignedIn, reconciliation: bool = False) -> Response:
    """The platform's health; with `?reconciliation=true`, the database checked against the chain too (it
    reads every plan's state on chain, so it runs when asked, not on every view)."""
    signed.actor.require_operator()
    with reading(request) as session:
        health = assess(session, request.app.state.settings.health)
        waiting = list(
            session.scalars(
                select(m.OutboxEntry)
                .where(m.OutboxEntry.status.not_in((OutboxStatus.MINED, OutboxStatus.FAILED)))
                .order_by(m.OutboxEntry.id)
                .limit(RECENT)
            )
        )
        failed = list(
            session.scalars(
                select(m.OutboxEntry)
                .where(m.OutboxEntry.status == OutboxStatus.FAILED)
                .order_by(m.OutboxEntry.id.desc())
                .limit(10)
            )
        )
        hooks = list(session.scalars(select(m.WebhookEndpoint).where(m.WebhookEndpoint.failures > 0).limit(RECENT)))
        report = reconcile(session, ports(request)) if reconciliation else None
    return render(request, "machinery.html", health=health, waiting=waiting, failed=failed, hooks=hooks, report=report)


@router.get("/statements/{scope}.{kind}")
def statement(
    request: Request, signed: SignedIn, scope: str, kind: Literal["csv", "pdf"], party: str | None = None
) -> Response:
    """A plan's statement (`pln_3.csv`) or a month's (`2027-01.pdf`) of the signed-in party; the
    operator names the party (`?party=pty_2`)."""
    actor = signed.actor
    chain = ports(request).chain
    with reading(request) as session:
        if scope.startswith("pln_"):
            title = f"Plan {scope}"
            plans = [records.get_plan(session, actor, scope)]
            by_token = statements.of_plans(session, chain, plans, title, 0, chain.now() + 1)
        else:
            start, end = _month(scope)
            holder = records.get_party(session, actor, party or actor.require_party())
            title = f"Escrow statement {scope} of {records.public_id(m.Party, holder.id)}"
            plans = statements.visible_plans(session, actor, holder.id)
            by_token = statements.of_plans(session, chain, plans, title, start, end)
            statements.add_credits(session, chain, by_token, holder.address, title, start, end)
        shown = list(by_token.values())
    filename = f"daifa-statement-{scope}.{kind}"
    headers = {"Content-Disposition": content_disposition(filename)}
    if kind == "csv":
        return Response(statements.to_csv(shown), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(statements.to_pdf(shown, title), media_type="application/pdf", headers=headers)


def _this_month(request: Request) -> str:
    """The chain's current month as a statement names it: 2027-01."""
    return datetime.fromtimestamp(ports(request).chain.now(), UTC).strftime("%Y-%m")


def _month(text: str) -> tuple[int, int]:
    try:
        first = datetime.strptime(text, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput([Problem("month", "name a month as YYYY-MM, such as 2027-01")]) from None
    return overview.month_bounds(int(first.timestamp()))
