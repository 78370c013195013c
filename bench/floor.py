"""The floor under a plan read: a bare ASGI application answering 1 KB of JSON to any request, served
as `daifa serve` serves the API (uvicorn, uvloop, httptools, the same number of processes) and read by
bench.readers the same way. What a plan read costs above it is the platform's own work.

    python -m uvicorn bench.floor:app --workers 2 --loop uvloop --http httptools --port PORT
"""

from __future__ import annotations

import json

from starlette.types import Receive, Scope, Send

BODY = json.dumps({"id": "pln_1", "padding": "x" * 990}).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
