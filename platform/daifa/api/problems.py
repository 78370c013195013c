"""Errors as RFC 9457 problem details (application/problem+json), each saying what to do."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from daifa.errors import DaifaError, InvalidInput, RateLimited, Unavailable

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


def problem(status: int, code: str, detail: str, instance: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"urn:daifa:problem:{code}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def install(app: FastAPI) -> None:
    @app.exception_handler(DaifaError)
    async def _daifa(request: Request, error: DaifaError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if isinstance(error, InvalidInput):
            extra["problems"] = [
                {"field": p.field, "message": p.message, **({} if p.line is None else {"line": p.line})}
                for p in error.problems
            ]
        response = problem(error.http_status, error.code, error.message, request.url.path, **extra)
        if isinstance(error, RateLimited | Unavailable):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": _field(e.get("loc", ())), "message": str(e.get("msg", "is not valid"))} for e in error.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        detail = f"fix these and send the request again: {summary}"
        return problem(422, "invalid_input", detail, request.url.path, problems=problems)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> JSONResponse:
        hints = {
            404: "no such path: see /openapi.json for the API's paths",
            405: "this path does not take that method: see /openapi.json",
        }
        detail = hints.get(error.status_code, str(error.detail))
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return problem(error.status_code, code, detail, request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        detail = "the platform failed on this request and changed nothing; retry later or tell the operator"
        return problem(500, "internal_error", detail, request.url.path)


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "request"
