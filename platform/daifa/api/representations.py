"""Serialized representations kept in the API process while the record they show is unchanged.

A plan is the platform's most read record (payers, payees and their systems poll it for each wage) and
the costliest to build (the plan, its product, both parties, every instalment). The database raises
`plans.version` on every change to a plan or its instalments (triggers: no writer can forget), so the
API reads the version with the access check and serves the kept JSON while it still matches.

A representation is built from the same read transaction in which its version was read, after it; it
can only be as new as that version or newer, never older, so serving it for that version is safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

CAPACITY = 20_000  # plans; a 12-instalment plan's JSON is ~6 KB, so ~120 MB at most per process


class RepresentationCache:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._items: OrderedDict[int, tuple[int, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: int, version: int) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] != version:
                return None
            self._items.move_to_end(key)
            return item[1]

    def get_or_put(self, key: int, version: int, build: Callable[[], bytes]) -> bytes:
        """The kept body for `version`, else `build()`'s, kept for it (see the module's docstring for when
        that is safe)."""
        body = self.get(key, version)
        if body is None:
            body = build()
            self.put(key, version, body)
        return body

    def put(self, key: int, version: int, body: bytes) -> None:
        with self._lock:
            self._items[key] = (version, body)
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
