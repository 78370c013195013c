"""Looking records up for an actor, public ids, and records as domain objects.

Public ids are the table's key behind a prefix (`pln_12`), Stripe-style, so an id says what it is for.
A party asking for another party's record gets NotFound, never Forbidden: it must not learn the record
exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import Connection, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from daifa.domain.plans import Instalment as InstalmentTerms
from daifa.domain.plans import PlanParams, ReleaseRule
from daifa.errors import NotFound
from daifa.services.context import Actor
from daifa.store import models as m

T = TypeVar("T", bound=m.Base)

PREFIXES: dict[type[m.Base], str] = {
    m.Party: "pty",
    m.Product: "prd",
    m.Plan: "pln",
    m.PlanAction: "act",
    m.SignatureRequest: "sig",
    m.Document: "doc",
    m.Event: "evt",
    m.WebhookEndpoint: "we",
    m.OutboxEntry: "tx",
    m.ApiKey: "key",
    m.PayrollRun: "run",
}
NAMES: dict[type[m.Base], str] = {
    m.Party: "party",
    m.Product: "product",
    m.Plan: "plan",
    m.PlanAction: "action",
    m.SignatureRequest: "signature request",
    m.Document: "document",
    m.Event: "event",
    m.WebhookEndpoint: "webhook endpoint",
    m.OutboxEntry: "transaction",
    m.ApiKey: "API key",
    m.PayrollRun: "payroll run",
}


def public_id(model: type[m.Base], key: int) -> str:
    return f"{PREFIXES[model]}_{key}"


def parse_id(model: type[m.Base], value: str) -> int:
    prefix, _, number = value.partition("_")
    if prefix != PREFIXES[model] or not number.isdigit() or len(number) > 18:
        raise NotFound(f"no {NAMES[model]} {value!r}: {NAMES[model]} ids look like {PREFIXES[model]}_12")
    return int(number)


def get(session: Session, model: type[T], value: str | int, *, for_update: bool = False) -> T:
    key = parse_id(model, value) if isinstance(value, str) else value
    row = session.get(model, key, with_for_update=for_update)
    if row is None:
        raise NotFound(f"no {NAMES[model]} {public_id(model, key)}: check the id")
    return row


def visible_to(actor: Actor, *party_ids: int | None) -> bool:
    """Whether the actor may see a record whose parties are `party_ids` (the operator sees every record)."""
    return actor.is_operator or (actor.party_id is not None and actor.party_id in party_ids)


def visible(actor: Actor, model: type[m.Base]) -> ColumnElement[bool]:
    """The rows of `model` the actor may list, as a WHERE clause: the same rule `visible_to` applies to
    one record (a party sees itself, the products and plans it is a party to and what is about them,
    the signature requests made of it and the events it was told of; the operator sees everything)."""
    if actor.is_operator:
        return true()
    party = actor.party_id
    plans = select(m.Plan.id).where(or_(m.Plan.payer_id == party, m.Plan.payee_id == party))
    rules: dict[type[m.Base], ColumnElement[bool]] = {
        m.Party: m.Party.id == party,
        m.Product: or_(m.Product.payer_id == party, m.Product.payee_id == party),
        m.Plan: or_(m.Plan.payer_id == party, m.Plan.payee_id == party),
        m.PlanAction: m.PlanAction.plan_id.in_(plans),
        m.SignatureRequest: m.SignatureRequest.party_id == party,
        m.Event: m.Event.id.in_(select(m.EventRecipient.event_id).where(m.EventRecipient.party_id == party)),
        m.PayrollRun: m.PayrollRun.payer_id == party,
    }
    return rules[model]


def get_party(session: Session, actor: Actor, value: str | int, *, for_update: bool = False) -> m.Party:
    party = get(session, m.Party, value, for_update=for_update)
    if not visible_to(actor, party.id):
        raise NotFound(f"no party {public_id(m.Party, party.id)}: check the id")
    return party


def get_product(session: Session, actor: Actor, value: str | int, *, for_update: bool = False) -> m.Product:
    product = get(session, m.Product, value, for_update=for_update)
    if not visible_to(actor, product.payer_id, product.payee_id):
        raise NotFound(f"no product {public_id(m.Product, product.id)}: check the id")
    return product


def get_plan(session: Session, actor: Actor, value: str | int, *, for_update: bool = False) -> m.Plan:
    plan = get(session, m.Plan, value, for_update=for_update)
    if not visible_to(actor, plan.payer_id, plan.payee_id):
        raise NotFound(f"no plan {public_id(m.Plan, plan.id)}: check the id")
    return plan


def get_payroll_run(session: Session, actor: Actor, value: str | int) -> m.PayrollRun:
    run = get(session, m.PayrollRun, value)
    if not visible_to(actor, run.payer_id):
        raise NotFound(f"no payroll run {public_id(m.PayrollRun, run.id)}: check the id")
    return run


def get_action(session: Session, actor: Actor, value: str | int) -> m.PlanAction:
    action = get(session, m.PlanAction, value)
    plan = session.get(m.Plan, action.plan_id)
    if plan is None or not visible_to(actor, plan.payer_id, plan.payee_id):
        raise NotFound(f"no action {public_id(m.PlanAction, action.id)}: check the id")
    return action


def get_event(session: Session, actor: Actor, value: str | int) -> m.Event:
    event = get(session, m.Event, value)
    if not actor.is_operator and session.get(m.EventRecipient, (event.id, actor.party_id)) is None:
        raise NotFound(f"no event {public_id(m.Event, event.id)}: check the id")
    return event


def plan_version(session: Session | Connection, actor: Actor, value: str) -> tuple[int, int]:
    """(id, version) of a plan the actor may see: what a kept representation is checked against,
    without loading the plan."""
    key = parse_id(m.Plan, value)
    row = session.execute(select(m.Plan.payer_id, m.Plan.payee_id, m.Plan.version).where(m.Plan.id == key)).first()
    if row is None or not visible_to(actor, row.payer_id, row.payee_id):
        raise NotFound(f"no plan {public_id(m.Plan, key)}: check the id")
    return key, row.version


def instalment_rows(session: Session, plan: m.Plan) -> list[m.Instalment]:
    return list(
        session.scalars(select(m.Instalment).where(m.Instalment.plan_id == plan.id).order_by(m.Instalment.index))
    )


def terms(row: m.Instalment) -> InstalmentTerms:
    return InstalmentTerms(row.deposit_by, row.release_at, row.amount, ReleaseRule(row.rule), row.materials_hash)


def plan_params(session: Session, plan: m.Plan) -> PlanParams:
    product = session.get(m.Product, plan.product_id)
    payer, payee = session.get(m.Party, plan.payer_id), session.get(m.Party, plan.payee_id)
    assert product is not None and payer is not None and payee is not None
    return _plan_params(plan, product, payer, payee)


def plan_params_of(session: Session, plans: Iterable[m.Plan]) -> dict[int, PlanParams]:
    """`plan_params` of many plans by plan id, their products and parties read a few hundred at a time (a
    Session.get each would be a query each: the session keeps only the rows something still holds)."""
    plans = list(plans)
    products = _rows_by_id(session, m.Product, {p.product_id for p in plans})
    parties = _rows_by_id(session, m.Party, {i for p in plans for i in (p.payer_id, p.payee_id)})
    return {p.id: _plan_params(p, products[p.product_id], parties[p.payer_id], parties[p.payee_id]) for p in plans}


def _rows_by_id(session: Session, model: type[T], ids: set[int]) -> dict[int, T]:
    key: Any = model.id  # type: ignore[attr-defined]
    ordered = sorted(ids)
    found: dict[int, T] = {}
    for start in range(0, len(ordered), 500):
        for row in session.scalars(select(model).where(key.in_(ordered[start : start + 500]))):
            found[getattr(row, "id")] = row  # noqa: B009 (T is any model: each has an integer id)
    return found


def _plan_params(plan: m.Plan, product: m.Product, payer: m.Party, payee: m.Party) -> PlanParams:
    assert product.chain_agreement_set_id is not None
    return PlanParams(
        agreement_set_id=product.chain_agreement_set_id,
        payer=payer.address,
        payee=payee.address,
        token=plan.token,
        arbiter=plan.arbiter,
        fee_recipient=plan.fee_recipient,
        fee_bps=plan.fee_bps,
        fee_cap=plan.fee_cap,
        review_window=plan.review_window,
        expiry=plan.expiry,
    )
