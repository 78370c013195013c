"""The API's problem+json answers as the platform's own exceptions, so a caller catches `daifa.NotFound`
or `daifa.InvalidInput` whether it runs the platform in process or talks to it over HTTP."""

from __future__ import annotations

from typing import Any

from daifa.errors import Conflict, DaifaError, Forbidden, InvalidInput, NotFound, Problem, Unauthenticated


class ApiError(DaifaError):
    """An answer the SDK has no more precise class for (a 5xx after the retries, a 400, a 405)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.http_status = status
        self.code = code


def from_problem(status: int, body: Any) -> DaifaError:
    """The exception for an error response; `problem` on it is the whole RFC 9457 body."""
    problem = body if isinstance(body, dict) else {}
    code = str(problem.get("code") or f"http_{status}")
    detail = str(problem.get("detail") or f"the platform answered {status}")
    error: DaifaError
    if status == 422 and problem.get("problems"):
        error = InvalidInput([Problem(str(p.get("field")), str(p.get("message"))) for p in problem["problems"]])
        error.message = detail
    elif status == 401:
        error = Unauthenticated(detail)
    elif status == 403:
        error = Forbidden(detail)
    elif status == 404:
        error = NotFound(detail)
    elif status == 409:
        error = Conflict(detail)
    else:
        error = ApiError(status, code, detail)
    error.code = code
    error.http_status = status
    error.problem = problem
    return error
