"""The API as an ASGI application factory, for `daifa serve --workers N`: uvicorn starts N processes and
each builds its own platform (database engine, chain client) from what the serving command put in its
environment. The serving command has migrated the database already; its children only connect. The
environment carries the operator's address, never its key: API processes sign nothing."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from fastapi import FastAPI

from daifa import logs
from daifa.api.app import ApiSettings, create_app
from daifa.api.ratelimit import RateLimit, RateLimits
from daifa.bootstrap import Settings, build
from daifa.chain.client import http_web3
from daifa.runtime import restore_recursion_limit

ENVIRONMENT = "DAIFA_API_PROCESS"  # JSON: the settings, the node's URL and the operator's address
FACTORY = "daifa.api.asgi:app_from_environment"
RPC_TIMEOUT = 5.0  # seconds an API process waits on the node
RPC_CONCURRENCY = 8  # requests an API process lets wait on the node at once


def environment_for(settings: Settings, rpc_url: str, operator_address: str, applications_per_hour: int) -> str:
    fields = asdict(settings) | {"documents_dir": str(settings.documents_dir)}
    fields.pop("replace_after")  # the relayer's; API processes do not relay
    return json.dumps(
        {
            "settings": fields,
            "rpc_url": rpc_url,
            "operator": operator_address,
            "applications_per_hour": applications_per_hour,
        }
    )


def app_from_environment() -> FastAPI:
    config = json.loads(os.environ[ENVIRONMENT])
    logs.configure()
    restore_recursion_limit()
    fields = config["settings"] | {"documents_dir": Path(config["settings"]["documents_dir"])}
    w3 = http_web3(config["rpc_url"], timeout=RPC_TIMEOUT, cooldown=2.0, concurrency=RPC_CONCURRENCY)
    platform = build(Settings(**fields), w3, config["operator"], migrate_schema=False)
    rates = RateLimits(applications=RateLimit(int(config["applications_per_hour"]), 3_600.0))
    return create_app(platform, ApiSettings(rates=rates))
