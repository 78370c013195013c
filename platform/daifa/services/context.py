"""What a use case is given: who acts, and the platform's ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from sqlalchemy.orm import Session

from daifa.chain.client import ChainClient
from daifa.errors import Forbidden
from daifa.services.outbound import Outbound
from daifa.store.documents import DocumentStore


class Role(StrEnum):
    OPERATOR = "operator"
    PARTY = "party"


@dataclass(frozen=True)
class Actor:
    role: Role
    party_id: int | None = None
    key_id: int | None = None  # the API key it authenticated with
    applicant: bool = False  # a party whose application is under review: it may only read it and add documents

    @property
    def is_operator(self) -> bool:
        return self.role == Role.OPERATOR

    def require_operator(self) -> None:
        if not self.is_operator:
            raise Forbidden("only the platform's operator may do this; use an operator API key")

    def require_party(self) -> int:
        if self.party_id is None:
            raise Forbidden("only a party may do this; use the party's own API key")
        return self.party_id


OPERATOR = Actor(Role.OPERATOR)

DAY = 86_400


class SignaturesComplete(Protocol):
    """What a flow does once everything its record (of the kind it is wired for) waits for is signed: ask
    the next party, or send the record to the relayer."""

    def __call__(self, session: Session, ports: Ports, record_id: int, /) -> None: ...


@dataclass
class Ports:
    chain: ChainClient
    documents: DocumentStore
    operator_address: str  # the platform's signer: the contracts' operator and the default arbiter
    outbound: Outbound = field(default_factory=Outbound)  # where webhooks may go
    signature_ttl: int = 14 * DAY  # how long a party has to sign what the platform prepared
    reminder_lead: int = 3 * DAY  # how long before a deposit-by time the payer is reminded
    # The flows by the kind of subject they own (product, plan, action), wired by the composition root
    # (daifa.bootstrap): the flows ask for signatures, so signatures cannot import them.
    signatures_complete: dict[str, SignaturesComplete] = field(default_factory=dict)
