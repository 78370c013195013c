"""The read load for the payroll benchmark, in its own process so that it does not share the server's
interpreter: `clients` concurrent clients, each on its own keep-alive connection, GET a random plan
`each` times, back to back. Prints the latencies' summary as JSON.

    python -m bench.readers URL API_KEY PLAN_IDS_FILE [--clients 50] [--each 40]

The clients speak HTTP/1.1 over asyncio streams themselves, as wrk or ab would: a general-purpose client
(httpx) spends more CPU per request than the server does, and on a 2-core machine the load generator
would then measure itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

import uvloop


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, key: str) -> None:
        self.reader, self.writer = reader, writer
        self.headers = f"Host: {host}\r\nAuthorization: Bearer {key}\r\nAccept: application/json\r\n\r\n"

    async def get(self, path: str) -> tuple[int, bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\n{self.headers}".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
        return status, await self.reader.readexactly(length)


async def run(url: str, key: str, plans: list[str], clients: int, each: int) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    rng = random.Random(7)
    latencies: list[float] = []
    connections = [Connection(*await asyncio.open_connection(host, port), parts.netloc, key) for _ in range(clients)]

    async def client(connection: Connection) -> None:
        for _ in range(each):
            began = time.perf_counter()
            status, body = await connection.get(f"/v1/plans/{rng.choice(plans)}")
            latencies.append((time.perf_counter() - began) * 1_000)
            if status != 200:
                raise RuntimeError(f"a plan read answered {status}: {body[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in connections))
    seconds = time.perf_counter() - started
    for connection in connections:
        connection.writer.close()
    latencies.sort()
    return {
        "requests": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)],
        "requests_per_second": len(latencies) / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("key")
    parser.add_argument("plans", type=Path)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--each", type=int, default=40)
    args = parser.parse_args()
    plans = json.loads(args.plans.read_text())
    # uvloop, as the server runs: the load generator then takes less of the cores it shares with it
    print(json.dumps(uvloop.run(run(args.url, args.key, plans, args.clients, args.each))))


if __name__ == "__main__":
    main()
