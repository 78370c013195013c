"""Idempotency keys claimed in the request's own transaction: a kept claim means the request took
effect, a refused request leaves nothing but its kept answer, and a key another request holds stops a
request before it changes anything. On both databases: PostgreSQL's unique index waits for the other
transaction where SQLite's write lock does."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from daifa.api.idempotency import Claim, IdempotencyMiddleware, KeyInUse
from daifa.store import models as m
from tests.e2e.harness import PDF, Daifa

pytestmark = [pytest.mark.chains("eth-tester"), pytest.mark.databases("sqlite", "postgresql")]


def apply(daifa: Daifa, key: str, kind: str = "payee", address: str | None = None) -> Any:
    data = {"address": address or daifa.chain.account("firm").address, "legal_name": "Firm Ltd", "kind": kind}
    files = [("files", ("licence.pdf", PDF, "application/pdf"))]
    return daifa.api.post("/v1/parties", headers={"Idempotency-Key": key}, data=data, files=files)


def kept(daifa: Daifa) -> list[tuple[int | None, str]]:
    with daifa.platform.sessions() as session:
        return [(r.status_code, r.key) for r in session.scalars(select(m.IdempotencyRecord))]


def test_the_claim_commits_with_the_request_so_a_lost_answer_still_says_it_took_effect(
    daifa: Daifa, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = str(uuid.uuid4())
    first = apply(daifa, key)
    assert first.status_code == 201, first.text
    assert kept(daifa) == [(201, key)] and daifa.count(m.Party) == 1

    # The answer is kept by a write after the request's own: were it never written (a crash between the
    # two), the claim that committed with the party still stands, and a retry does not apply again.
    monkeypatch.setattr(IdempotencyMiddleware, "_keep", lambda *_args: None)
    other_key = str(uuid.uuid4())
    applied = apply(daifa, other_key, address=daifa.chain.account("other").address)
    assert applied.status_code == 201 and (None, other_key) in kept(daifa)
    finishing = apply(daifa, other_key, address=daifa.chain.account("other").address)
    assert finishing.status_code == 409 and finishing.json()["code"] == "request_in_progress"
    with daifa.platform.sessions.begin() as session:
        session.execute(update(m.IdempotencyRecord).values(created_at=m.utcnow() - timedelta(minutes=3)))
    lost = apply(daifa, other_key, address=daifa.chain.account("other").address)
    assert lost.status_code == 409 and lost.json()["code"] == "idempotency_key_abandoned"
    assert "took effect" in lost.json()["detail"]
    assert daifa.count(m.Party) == 2


def test_a_refused_request_changes_nothing_and_its_answer_is_replayed(daifa: Daifa) -> None:
    key = str(uuid.uuid4())
    refused = apply(daifa, key, kind="landlord")
    assert refused.status_code == 422, refused.text
    assert daifa.count(m.Party) == 0 and kept(daifa) == [(422, key)]

    again = apply(daifa, key, kind="landlord")
    assert again.status_code == 422 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == refused.json() and daifa.count(m.Party) == 0


def test_a_key_another_request_holds_stops_the_transaction_that_would_claim_it(daifa: Daifa) -> None:
    with daifa.platform.sessions.begin() as session:
        session.add(m.IdempotencyRecord(scope="caller", key="k", request_hash="first"))
    claim = Claim("caller", "k", "second")
    with pytest.raises(KeyInUse), daifa.platform.sessions.begin() as session:
        session.add(
            m.Document(hash=b"\x01" * 32, filename="x", content_type="text/plain", size=1, purpose="t", subject="t:1")
        )
        session.flush()
        claim.take(session)
    assert claim.state == "lost"
    assert daifa.count(m.Document) == 0 and kept(daifa) == [(None, "k")]


def test_a_claim_taken_in_a_transaction_that_rolls_back_is_taken_again_by_the_next(daifa: Daifa) -> None:
    claim = Claim("caller", "k", "first")
    with pytest.raises(RuntimeError), daifa.platform.sessions.begin() as session:
        claim.take(session)
        raise RuntimeError("refused half-way")
    claim.transaction_ended(committed=False)
    assert claim.state == "open" and kept(daifa) == []
    with daifa.platform.sessions.begin() as session:
        claim.take(session)
    claim.transaction_ended(committed=True)
    assert claim.state == "committed" and kept(daifa) == [(None, "k")]
