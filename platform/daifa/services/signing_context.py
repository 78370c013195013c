"""What a person needs beside the typed data to read what they are asked to sign: the token's symbol and
decimals (24,000.00 tUSD, not 24000000000), the parties' legal names, and for an agreement set the
agreements' titles and first lines with their hashes. Kept with each signature request when it is made,
so reading a request asks neither the chain nor the document store."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from daifa.services import documents, records
from daifa.services.context import Ports
from daifa.services.subjects import Kind, Subject
from daifa.store import models as m


def of(session: Session, ports: Ports, subject: Subject) -> dict[str, Any]:
    if subject.kind == Kind.PRODUCT:
        product = session.get(m.Product, subject.id)
        assert product is not None
        return {
            "parties": _parties(session, product.payer_id, product.payee_id),
            "tokens": [_token(ports, t) for t in product.tokens],
            "documents": [_agreement(ports, d) for d in documents.of_subject(session, subject, "agreement")],
        }
    plan = subject.plan(session)
    if plan is None:
        return {}
    return {
        "parties": _parties(session, plan.payer_id, plan.payee_id),
        "token": _token(ports, plan.token),
        "plan": records.public_id(m.Plan, plan.id),
    }


def _parties(session: Session, payer_id: int, payee_id: int) -> dict[str, Any]:
    shown = {}
    for role, party_id in (("payer", payer_id), ("payee", payee_id)):
        party = session.get(m.Party, party_id)
        assert party is not None
        shown[role] = {"address": party.address, "legal_name": party.legal_name}
    return shown


def _token(ports: Ports, address: str) -> dict[str, Any]:
    facts = ports.chain.token_facts(address)
    return {"address": facts.address, "symbol": facts.symbol, "decimals": facts.decimals}


def _agreement(ports: Ports, document: m.Document) -> dict[str, Any]:
    text = ports.documents.get(document.hash).decode("utf-8", errors="replace")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return {"title": document.filename, "first_line": first[:200], "hash": "0x" + document.hash.hex()}
