"""The API's problem+json answers as the platform's own exceptions, so a caller catches `daifa.NotFound`
or `daifa.InvalidInput` whether it runs the platform in process or talks to it over HTTP. Every failure
the SDK raises is a `daifa.DaifaError`: an answer it has no more precise class for is an `ApiError`, a
platform that does not answer at all is `Unavailable`."""

from __future__ import annotations

from typing import Any

from daifa.errors import (
    Conflict,
    DaifaError,
    Forbidden,
    InvalidInput,
    NotFound,
    Problem,
    RateLimited,
    Unauthenticated,
    Unavailable,
)


class ApiError(DaifaError):
    """An answer the SDK has no more precise class for (a 5xx after the retries, a 400, a 405)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.http_status = status
        self.code = code


def from_problem(status: int, body: Any, retry_after: float | None = None) -> DaifaError:
    """The exception for an error response; `problem` on it is the whole RFC 9457 body."""
    problem = body if isinstance(body, dict) else {}
    code = str(problem.get("code") or f"http_{status}")
    detail = str(problem.get("detail") or f"the platform answered {status}")
    error: DaifaError
    if status == 422 and problem.get("problems"):
        error = InvalidInput(
            [
                Problem(
                    str(p.get("field")), str(p.get("message")), p["line"] if isinstance(p.get("line"), int) else None
                )
                for p in problem["problems"]
            ]
        )
        error.message = detail
    elif status == 401:
        error = Unauthenticated(detail)
    elif status == 403:
        error = Forbidden(detail)
    elif status == 404:
        error = NotFound(detail)
    elif status == 409:
        error = Conflict(detail)
    elif status == 429:
        error = RateLimited(detail, int(retry_after or 60))
    elif status == 503:
        error = Unavailable(detail, int(retry_after or 5))
    else:
        error = ApiError(status, code, detail)
    error.code = code
    error.http_status = status
    error.problem = problem
    return error


def unreachable(base_url: str, error: Exception) -> Unavailable:
    """The platform did not answer at all (after the retries): nothing was done, or it was done once (the
    Idempotency-Key makes a retry safe)."""
    unavailable = Unavailable(
        f"the platform at {base_url} did not answer ({type(error).__name__}: {error}): is it running, and is "
        "the URL right? A POST may be sent again with the same idempotency_key"
    )
    unavailable.code = "unreachable"  # told apart from a 503, which is an answer
    return unavailable
