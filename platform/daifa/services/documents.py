"""Documents attached to records: stored content-addressed, listed per subject, shown only to the
subject's parties and the operator, and re-verifiable against the chain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from eth_utils.crypto import keccak
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daifa.domain.onboarding import PartyStatus
from daifa.errors import DaifaError, InvalidInput, NotFound, Problem
from daifa.services import records, subjects
from daifa.services.context import Actor, Ports
from daifa.services.subjects import Subject
from daifa.store import models as m

MAX_FILES_PER_REQUEST = 20
QUOTA_UNDER_REVIEW = 64 * 1024 * 1024  # bytes of documents a party may store before its account opens
QUOTA_OPEN = 2 * 1024 * 1024 * 1024  # and after


class QuotaExceeded(DaifaError):
    code = "upload_quota_exceeded"
    http_status = 413


@dataclass(frozen=True)
class Upload:
    """A file as it arrived: the name and type the sender gave, and the bytes."""

    filename: str
    content_type: str
    data: bytes


def store(
    session: Session,
    ports: Ports,
    uploads: Sequence[Upload],
    *,
    purpose: str,
    subject: Subject,
    owner_party_id: int | None,
    required: bool = True,
) -> list[m.Document]:
    """Checks every upload first (so one bad file stores none), then stores them all."""
    if required and not uploads:
        raise InvalidInput([Problem("files", "attach at least one file")])
    if len(uploads) > MAX_FILES_PER_REQUEST:
        raise InvalidInput([Problem("files", f"at most {MAX_FILES_PER_REQUEST} files per request")])
    problems: list[Problem] = []
    for i, upload in enumerate(uploads):
        try:
            ports.documents.check(upload.data, upload.content_type)
        except InvalidInput as error:
            problems.extend(Problem(f"files[{i}] ({upload.filename[:80]})", p.message) for p in error.problems)
    if problems:
        raise InvalidInput(problems)
    if owner_party_id is not None:
        _check_quota(session, owner_party_id, sum(len(u.data) for u in uploads))
    rows = []
    for upload in uploads:
        stored = ports.documents.put(upload.data, upload.content_type)
        row = m.Document(
            hash=stored.hash,
            content_type=stored.content_type,
            size=stored.size,
            filename=_safe_filename(upload.filename),
            purpose=purpose,
            subject=str(subject),
            owner_party_id=owner_party_id,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def set_hash(hashes: Iterable[bytes]) -> bytes:
    """One hash for a set of documents: keccak of their hashes sorted, so the order of upload is irrelevant.
    It is what goes on chain for a party's reviewed documents, delivered materials and dispute evidence."""
    return keccak(b"".join(sorted(set(hashes))))


def of_subject(session: Session, subject: Subject, purpose: str | None = None) -> list[m.Document]:
    query = select(m.Document).where(m.Document.subject == str(subject))
    if purpose is not None:
        query = query.where(m.Document.purpose == purpose)
    return list(session.scalars(query.order_by(m.Document.id)))


def get(session: Session, actor: Actor, document_id: str) -> m.Document:
    document = records.get(session, m.Document, document_id)
    if not actor.is_operator and actor.party_id not in subjects.parties(session, document.subject):
        raise NotFound(f"no document {document_id}: check the id")
    return document


def _check_quota(session: Session, party_id: int, adding: int) -> None:
    party = session.get(m.Party, party_id)
    open_ = party is not None and party.status in (PartyStatus.ACTIVE, PartyStatus.SUSPENDED)
    quota = QUOTA_OPEN if open_ else QUOTA_UNDER_REVIEW
    used = int(
        session.scalar(select(func.coalesce(func.sum(m.Document.size), 0)).where(m.Document.owner_party_id == party_id))
        or 0
    )
    if used + adding > quota:
        raise QuotaExceeded(
            f"your documents take {used:,} bytes and these {adding:,} more; the most a party "
            f"{'with an open account' if open_ else 'under review'} may store is {quota:,}: ask the operator"
        )


def _safe_filename(name: str) -> str:
    """The name without any path or control characters, for display only (files are stored by hash)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:255] or "unnamed"
