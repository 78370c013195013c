"""Rate limits by client address: token buckets, kept in memory per API process.

Two things a stranger can do without an account are limited: failing to authenticate (guessing keys)
and applying for one (each application stores documents). A bucket holds `burst` tokens and refills at
`burst` per `period`; an empty bucket answers 429 with Retry-After. The table of buckets is bounded: past
MAX_ADDRESSES the least recently seen address is forgotten (at worst it starts again with a full bucket).

With N API processes an address gets up to N times the limit (each process keeps its own buckets);
behind a reverse proxy the address is the one the proxy reports (`--forwarded-allow-ips`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from daifa.errors import RateLimited

MAX_ADDRESSES = 100_000


@dataclass(frozen=True)
class RateLimit:
    burst: int  # requests at once; 0 turns the limit off
    period: float  # seconds to refill `burst` tokens

    def __str__(self) -> str:
        return f"{self.burst} per {self.period:g} s"


@dataclass(frozen=True)
class RateLimits:
    failed_authentication: RateLimit = RateLimit(20, 60.0)
    applications: RateLimit = RateLimit(10, 3_600.0)


class Buckets:
    def __init__(self, limit: RateLimit, what: str, max_addresses: int = MAX_ADDRESSES) -> None:
        self.limit = limit
        self.what = what
        self.max_addresses = max_addresses
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (tokens, at)
        self._lock = threading.Lock()  # sync endpoints run in a thread pool

    def check(self, address: str) -> None:
        """Raises RateLimited if `address` has no token left (takes none)."""
        if self.limit.burst and self._tokens(address, take=0) < 1:
            raise self._refusal(address)

    def take(self, address: str) -> None:
        """Takes a token for `address`, or raises RateLimited if there is none."""
        if self.limit.burst and self._tokens(address, take=1) < 0:
            raise self._refusal(address)

    def _tokens(self, address: str, take: int) -> float:
        rate = self.limit.burst / self.limit.period
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.pop(address, (float(self.limit.burst), now))
            tokens = min(float(self.limit.burst), tokens + (now - at) * rate)
            left = tokens - take
            self._buckets[address] = (left if left >= 0 else tokens, now)  # a refused request takes nothing
            while len(self._buckets) > self.max_addresses:
                self._buckets.popitem(last=False)
            return left

    def _refusal(self, address: str) -> RateLimited:
        with self._lock:
            tokens, _ = self._buckets.get(address, (0.0, 0.0))
        wait = max(1, int((1 - tokens) * self.limit.period / self.limit.burst + 0.999))
        return RateLimited(f"too many {self.what} from your address ({self.limit}): wait {wait} s and try again", wait)
