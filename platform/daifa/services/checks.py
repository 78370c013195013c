"""Checks every use case makes on what a caller sent: addresses, text, and that a party's account is open
for the role it acts in. Each refusal names the field and says what would be accepted."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from typing import TypeVar

from eth_utils.address import is_address, to_checksum_address
from sqlalchemy.orm import Session

from daifa.domain.limits import MAX_NAME
from daifa.domain.onboarding import ROLES, PartyStatus
from daifa.domain.plans import PartyRole
from daifa.errors import Conflict, InvalidInput, NotFound, Problem
from daifa.services import records
from daifa.store import models as m

T = TypeVar("T")


def check_address(value: str, field: str = "address") -> str:
    """A checksummed address, or InvalidInput saying how an address looks."""
    if not isinstance(value, str) or not is_address(value) or value.lower() == "0x" + "00" * 20:
        raise InvalidInput([Problem(field, "must be a non-zero 0x-prefixed 20-byte hex address")])
    digits = value[2:]
    mixed_case = digits not in (digits.lower(), digits.upper())
    if mixed_case and to_checksum_address(value) != value:
        raise InvalidInput([Problem(field, "has a wrong EIP-55 checksum: copy the address again")])
    return to_checksum_address(value)


def check_text(value: str, field: str, max_length: int = MAX_NAME, required: bool = True) -> str:
    """The text in NFC, trimmed; refused when required and empty, too long, or with control characters."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if required and not text:
        raise InvalidInput([Problem(field, "is required")])
    if len(text) > max_length:
        raise InvalidInput([Problem(field, f"is {len(text)} characters; the most is {max_length}")])
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise InvalidInput([Problem(field, "must not contain control characters")])
    return text


def require_active(session: Session, party_id: int, role: PartyRole, field: str = "party") -> m.Party:
    """The party, if its account is open and it applied for `role`; else Conflict saying which is missing."""
    party = session.get(m.Party, party_id)
    if party is None or party.status != PartyStatus.ACTIVE:
        raise Conflict(f"{field}: the account is not open (approved on chain) yet; wait for party.activated")
    if not ROLES[party.kind] & role:
        raise Conflict(
            f"{field}: {records.public_id(m.Party, party.id)} did not apply as a {(role.name or str(role)).lower()}"
        )
    return party


def each_or_none(batch: str, ids: Sequence[str], act: Callable[[int], T], id_field: str = "") -> list[T]:
    """`act(i)` for each item of a batch request, or InvalidInput listing every refusal by the item's place:
    an id named twice and an item not found or not in a state to act on, at its id (`products[3]`,
    `signatures[3].request`), a wrong value at its field (`signatures[3].signature`). The caller's
    transaction is rolled back on the refusal, so the batch acts whole or not at all."""
    problems: list[Problem] = []
    done: list[T] = []
    seen: set[str] = set()
    for i, item_id in enumerate(ids):
        place = f"{batch}[{i}]"
        at_id = f"{place}.{id_field}" if id_field else place
        if item_id in seen:
            problems.append(Problem(at_id, "is named twice in this batch: name it once"))
            continue
        seen.add(item_id)
        try:
            done.append(act(i))
        except InvalidInput as refused:
            problems.extend(Problem(f"{place}.{p.field}", p.message) for p in refused.problems)
        except (NotFound, Conflict) as refused:
            problems.append(Problem(at_id, refused.message))
    if problems:
        raise InvalidInput(problems)
    return done
