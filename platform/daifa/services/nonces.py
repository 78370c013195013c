"""The EIP-712 nonces parties sign with."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from daifa.store import models as m


def take(session: Session, party: m.Party) -> int:
    """The next nonce `party` will sign with. The contract's nonces are unordered (a bitmap), so any unused
    number works; a counter per party, taken with one atomic UPDATE, keeps them unique across workers."""
    taken = session.execute(
        update(m.Party)
        .where(m.Party.id == party.id)
        .values(next_nonce=m.Party.next_nonce + 1)
        .returning(m.Party.next_nonce)
    ).scalar_one()
    return int(taken) - 1
