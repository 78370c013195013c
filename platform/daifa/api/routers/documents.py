"""Documents: metadata, the bytes (re-hashed on every read), and verification against the chain."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from daifa import wire as s
from daifa.api import views
from daifa.api.deps import CurrentActor, ports, transaction
from daifa.services import documents, verification

router = APIRouter(prefix="/v1/documents", tags=["documents"])


class VerificationOut(BaseModel):
    document: str
    hash: str
    intact: bool
    on_chain: bool | None
    detail: str


def content_disposition(filename: str, disposition: Literal["attachment", "inline"] = "attachment") -> str:
    """`attachment` (or `inline`: shown in the page, as the console frames a document) with the name as
    RFC 6266 asks: an ASCII fallback in quotes, of letters, digits and ` ._-()` only (anything else is
    `_`), and the exact name UTF-8 percent-encoded in `filename*`, so no name can add, end or smuggle a
    parameter."""
    fallback = "".join(ch if ch.isascii() and (ch.isalnum() or ch in " ._-()") else "_" for ch in filename)
    return f"{disposition}; filename=\"{fallback or 'document'}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get("/{document_id}", response_model=s.DocumentOut)
def get_document(request: Request, actor: CurrentActor, document_id: str) -> s.DocumentOut:
    with transaction(request) as session:
        return views.document(documents.get(session, actor, document_id))


@router.get("/{document_id}/content", response_class=Response)
def get_content(request: Request, actor: CurrentActor, document_id: str) -> Response:
    with transaction(request) as session:
        document = documents.get(session, actor, document_id)
        data = ports(request).documents.get(document.hash)
        headers = {"Content-Disposition": content_disposition(document.filename)}
        return Response(data, media_type=document.content_type, headers=headers)


@router.get("/{document_id}/verification", response_model=VerificationOut)
def verify(request: Request, actor: CurrentActor, document_id: str) -> VerificationOut:
    with transaction(request) as session:
        document = documents.get(session, actor, document_id)
        result = verification.verify(session, ports(request), document)
        return VerificationOut(
            document=document_id,
            hash="0x" + document.hash.hex(),
            intact=result.intact,
            on_chain=result.on_chain,
            detail=result.detail,
        )
