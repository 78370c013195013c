"""The API as an ASGI application factory, for `daifa serve --workers N`: uvicorn starts N processes and
each builds its own platform (database engine, chain client) from what the serving command put in its
environment. The serving command has migrated the database already; its children only connect."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from eth_account import Account
from fastapi import FastAPI

from daifa.api.app import create_app
from daifa.bootstrap import Settings, build
from daifa.chain.client import http_web3

ENVIRONMENT = "DAIFA_API_PROCESS"  # JSON: the settings, the node's URL and the operator's key


def environment_for(settings: Settings, rpc_url: str, operator_key: str) -> str:
    fields = asdict(settings) | {"documents_dir": str(settings.documents_dir)}
    fields.pop("replace_after")  # the relayer's; API processes do not relay
    return json.dumps({"settings": fields, "rpc_url": rpc_url, "operator_key": operator_key})


def app_from_environment() -> FastAPI:
    config = json.loads(os.environ[ENVIRONMENT])
    fields = config["settings"] | {"documents_dir": Path(config["settings"]["documents_dir"])}
    platform = build(
        Settings(**fields),
        http_web3(config["rpc_url"]),
        Account.from_key(config["operator_key"]),
        migrate_schema=False,
    )
    return create_app(platform)
