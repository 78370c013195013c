"""The published OpenAPI document, completed with what the routers do not declare one by one: the
Idempotency-Key every POST needs, and the RFC 9457 problem+json answers any operation may give."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance", "code"],
    "properties": {
        "type": {"type": "string", "description": "urn:daifa:problem:<code>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "what went wrong and what to do"},
        "instance": {"type": "string"},
        "code": {"type": "string"},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
PROBLEMS = {
    "400": "a missing or malformed Idempotency-Key, or a JSON body nested too deep",
    "401": "no API key, or an unknown one",
    "403": "the caller's role may not do this",
    "404": "no such record, or not the caller's",
    "409": "the record's state does not allow it now, or the Idempotency-Key was used for another request",
    "413": "the request body is larger than this request takes, or the party's documents quota is used up",
    "422": "the request's values are wrong: `problems` names each",
    "429": "too many requests of this kind from one address (failed authentication, applications): see Retry-After",
    "500": "the platform failed and changed nothing",
    "503": "what the request needs (the chain's node, a place for an upload) is busy or unreachable: see Retry-After",
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "a fresh UUID per request; a retry with the same key and request gets the first answer",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def install(app: FastAPI) -> None:
    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
            document["components"]["schemas"].pop("HTTPValidationError", None)
            document["components"]["schemas"].pop("ValidationError", None)
            for operations in document.get("paths", {}).values():
                for method, operation in operations.items():
                    _complete(method, operation)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]


def _complete(method: str, operation: dict[str, Any]) -> None:
    if method == "post":
        operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
    responses = operation.setdefault("responses", {})
    for status, description in PROBLEMS.items():
        if status in responses and status != "422":  # declared by the route itself (health's 503)
            continue
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        responses[status] = {"description": description, "content": {"application/problem+json": problem}}
