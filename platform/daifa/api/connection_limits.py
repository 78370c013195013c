"""The bounds on connections that `daifa.api.server` enforces, apart from the server itself: `daifa serve`
shows them as its options' defaults without loading uvicorn."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

LIMITS_ENVIRONMENT = "DAIFA_CONNECTION_LIMITS"  # JSON, for API processes uvicorn spawns


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = 4_096  # open connections per API process; the file descriptor limit is above it
    per_client: int = 128  # open connections from one address (0: unlimited, for a proxy in front)
    header_timeout: float = 10.0  # seconds from a request's first byte (or the connection's) to its last header
    body_timeout: float = 60.0  # seconds from a request's last header to the end of its body
    keep_alive: float = 5.0  # seconds an idle keep-alive connection stays open
    max_header_bytes: int = 32 * 1024  # request line and headers
    max_requests_per_connection: int = 1_000

    @classmethod
    def from_environment(cls) -> ConnectionLimits:
        text = os.environ.get(LIMITS_ENVIRONMENT)
        return cls(**json.loads(text)) if text else cls()

    def to_environment(self) -> str:
        return json.dumps(asdict(self))
