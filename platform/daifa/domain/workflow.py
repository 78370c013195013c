"""Workflows as explicit transition tables: every allowed move is a row; anything else is refused."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from daifa.errors import InvalidTransition

S = TypeVar("S", bound=Enum)
E = TypeVar("E", bound=Enum)


@dataclass(frozen=True)
class Workflow(Generic[S, E]):
    """A status machine: `moves[(status, event)]` is the status after `event`."""

    name: str
    initial: S
    moves: Mapping[tuple[S, E], S]

    def next(self, status: S, event: E) -> S:
        """The status after `event`, or InvalidTransition naming the events allowed now."""
        try:
            return self.moves[(status, event)]
        except KeyError:
            allowed = sorted(e.value for e in self.events_from(status))
            raise InvalidTransition(self.name, str(status.value), str(event.value), allowed) from None

    def events_from(self, status: S) -> frozenset[E]:
        return frozenset(event for (origin, event) in self.moves if origin == status)

    def is_final(self, status: S) -> bool:
        return not self.events_from(status)
