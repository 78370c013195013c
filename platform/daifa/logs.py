"""The platform's logs: one JSON object a line for machines (the default when stderr is not a terminal),
plain lines for people at a terminal. Every line written while an API request runs carries its
request id, the same one the response's `Request-Id` header shows, so a caller's report finds its lines.

Secrets never reach a log line: API keys, the operator's key and webhook secrets are not passed to the
loggers anywhere in the platform.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID: ContextVar[str | None] = ContextVar("daifa_request_id", default=None)

# Attributes every LogRecord has; anything else a call passes in `extra=` goes into the JSON line.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = REQUEST_ID.get()
        return f"{text} [{request_id}]" if request_id else text


FORMAT_ENVIRONMENT, LEVEL_ENVIRONMENT = "DAIFA_LOG_FORMAT", "DAIFA_LOG_LEVEL"


def configure(json_lines: bool | None = None, level: str | None = None) -> None:
    """Sends the platform's and uvicorn's logs to stderr, as JSON lines unless stderr is a terminal (or
    `json_lines` says otherwise), at `level` (INFO). What is chosen is put in the environment, so processes
    started from this one (API processes, the worker) log the same way. A second call replaces the handler."""
    if json_lines is None:
        chosen = os.environ.get(FORMAT_ENVIRONMENT)
        json_lines = chosen == "json" if chosen in ("json", "text") else not sys.stderr.isatty()
    level = level or os.environ.get(LEVEL_ENVIRONMENT) or "INFO"
    os.environ[FORMAT_ENVIRONMENT] = "json" if json_lines else "text"
    os.environ[LEVEL_ENVIRONMENT] = level
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_daifa", False):
            root.removeHandler(old)
    handler._daifa = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
