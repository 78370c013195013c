"""The read load for the payroll benchmark, in its own process so that it does not share the server's
interpreter: `clients` concurrent clients (asyncio tasks over httpx) each GET a random plan `each` times.
Prints the latencies' summary as JSON.

    python -m bench.readers URL API_KEY PLAN_IDS_FILE [--clients 50] [--each 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from pathlib import Path

import httpx


async def run(url: str, key: str, plans: list[str], clients: int, each: int) -> dict[str, float]:
    rng = random.Random(7)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60
    ) as http:

        async def client() -> None:
            for _ in range(each):
                began = time.perf_counter()
                response = await http.get(f"/v1/plans/{rng.choice(plans)}")
                latencies.append((time.perf_counter() - began) * 1_000)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds = time.perf_counter() - started
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
    print(json.dumps(asyncio.run(run(args.url, args.key, plans, args.clients, args.each))))


if __name__ == "__main__":
    main()
