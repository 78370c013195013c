"""The errors the platform raises on purpose. Each says what went wrong and what to do about it.

DaifaError                    the root: `code` for machines, `message` for people
├── InvalidInput              the request's values are wrong; `problems` lists each field (HTTP 422)
├── Unauthenticated           no API key, or an unknown or revoked one (HTTP 401)
├── NotFound                  no such record, or not the caller's (HTTP 404)
├── Forbidden                 the caller's role may not do this (HTTP 403)
├── Conflict                  the record's state does not allow it now (HTTP 409)
│   └── InvalidTransition     a workflow move that is not allowed from the current status
├── RateLimited               too many requests of a kind from one address (HTTP 429, Retry-After)
└── Unavailable               what the request needs (the chain's node) is unreachable now (HTTP 503)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class DaifaError(Exception):
    """Root of the platform's errors."""

    code = "daifa_error"
    http_status = 500
    problem: dict[str, Any] | None = None  # the RFC 9457 body, when the error came back from the API

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


SUMMARISED = 5  # problems an InvalidInput's message names; its `problems` list every one


@dataclass(frozen=True)
class Problem:
    """One wrong value: where it is (`instalments[2].amount`; in a file, also its `line`) and what is wrong
    with it."""

    field: str
    message: str
    line: int | None = None

    def where(self) -> str:
        return self.field if self.line is None else f"line {self.line}: {self.field}"


class InvalidInput(DaifaError):
    code = "invalid_input"
    http_status = 422

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("InvalidInput needs at least one problem")
        summary = "; ".join(f"{p.where()}: {p.message}" for p in problems[:SUMMARISED])
        more = f" (and {len(problems) - SUMMARISED} more: see problems)" if len(problems) > SUMMARISED else ""
        super().__init__(f"fix these and send the request again: {summary}{more}")
        self.problems = problems


class Unauthenticated(DaifaError):
    code = "unauthenticated"
    http_status = 401


class NotFound(DaifaError):
    code = "not_found"
    http_status = 404


class Forbidden(DaifaError):
    code = "forbidden"
    http_status = 403


class Conflict(DaifaError):
    code = "conflict"
    http_status = 409


class RateLimited(DaifaError):
    """Too many requests of a kind from one address; `retry_after` says when to try again."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DaifaError):
    """Something the request needs (the chain's node) cannot be reached now; `retry_after` is a hint."""

    code = "unavailable"
    http_status = 503

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidTransition(Conflict):
    code = "invalid_transition"

    def __init__(self, workflow: str, status: str, event: str, allowed: list[str]) -> None:
        hint = f"allowed now: {', '.join(allowed)}" if allowed else f"a {workflow} that is {status} is final"
        super().__init__(f"a {workflow} that is {status} cannot take '{event}'; {hint}")
        self.workflow = workflow
        self.status = status
        self.event = event
        self.allowed = allowed
