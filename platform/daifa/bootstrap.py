"""The composition root: builds the platform's parts from settings and wires them together.

`Platform.run_once` is one turn of the background work (relayer, indexer, scheduler, webhooks); `daifa
serve` runs it in a loop beside the API, the tests call it step by step, and several processes may run it
against one PostgreSQL database.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from time import monotonic

import httpx
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from daifa.chain.client import ChainClient
from daifa.chain.indexer import Indexer
from daifa.chain.relayer import FaultHook, Relayer
from daifa.services import outcomes
from daifa.services.context import Ports
from daifa.services.projection import Projection
from daifa.services.scheduler import Scheduler
from daifa.services.webhooks import WebhookSender
from daifa.store.db import make_engine, migrate, read_session_factory, session_factory
from daifa.store.documents import DocumentStore

log = logging.getLogger(__name__)

MAX_PAUSE = 30.0  # seconds between attempts while the node or the database is down
SCHEDULER_AT_LEAST = 1.0  # seconds between scheduler runs when nothing seems to change


@dataclass(frozen=True)
class Settings:
    database_url: str
    documents_dir: Path
    escrow_address: str
    confirmations: int = 0  # blocks behind the head the indexer stays; 0 on a devnet
    start_block: int = 0  # the escrow's deployment block: the indexer starts there
    replace_after: timedelta = timedelta(seconds=30)  # a transaction unmined this long is re-sent with a higher fee


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]  # read-only sessions: the API's GETs
    ports: Ports
    relayer: Relayer
    indexer: Indexer
    scheduler: Scheduler
    webhooks: WebhookSender
    _scheduled_at: tuple[int, float] = (-1, 0.0)  # (chain time, monotonic time) of the last idle scheduler run

    def run_once(self) -> int:
        """One turn of background work; returns how much moved (0: nothing to do right now)."""
        moved = self.relayer.run_once()
        moved += self.indexer.run_once()
        now = self.ports.chain.now()
        # The scheduler decides from the chain's clock and the records; when neither the clock nor
        # anything here moved since its last run found nothing, it would find nothing again (it still
        # runs every SCHEDULER_AT_LEAST seconds, for what other workers changed).
        if moved or now != self._scheduled_at[0] or monotonic() - self._scheduled_at[1] >= SCHEDULER_AT_LEAST:
            scheduled = sum(self.scheduler.run_once(now).values())
            self._scheduled_at = (now if not scheduled else -1, monotonic())
            moved += scheduled
        moved += self.relayer.run_once()
        moved += self.indexer.run_once()
        moved += self.webhooks.run_once()
        return moved

    def settle(self, max_turns: int = 20) -> None:
        """Runs turns until nothing moves (on a chain that mines each transaction at once)."""
        for _ in range(max_turns):
            if not self.run_once():
                return
        raise RuntimeError(f"the platform still had work after {max_turns} turns")

    def run_forever(self, stop: threading.Event, idle: float = 1.0) -> None:
        """Background work until `stop` is set: turn after turn, pausing `idle` seconds when nothing
        moved. A turn that fails (the node or the database unreachable) is logged and tried again after
        a growing pause; nothing is lost, since every step commits before the next begins."""
        failures = 0
        while not stop.is_set():
            try:
                moved = self.run_once()
            except Exception:
                failures += 1
                log.exception("background work failed (%s in a row); trying again", failures)
                stop.wait(min(MAX_PAUSE, idle * 2**failures))
                continue
            failures = 0
            if not moved:
                stop.wait(idle)

    def close(self) -> None:
        self.webhooks.client.close()
        self.engine.dispose()


def build(
    settings: Settings,
    w3: Web3,
    operator: LocalAccount,
    *,
    http: httpx.Client | None = None,
    fault: FaultHook | None = None,
    migrate_schema: bool = True,
) -> Platform:
    """A platform on `w3` whose transactions `operator` (the escrow's operator) signs. Migrates the database
    unless told the schema is current (an API process its parent started)."""
    engine = make_engine(settings.database_url)
    if migrate_schema:
        migrate(engine)
    sessions = session_factory(engine)
    chain = ChainClient(w3, settings.escrow_address)
    ports = Ports(chain=chain, documents=DocumentStore(settings.documents_dir), operator_address=operator.address)
    relayer = Relayer(sessions, chain, operator, replace_after=settings.replace_after, fault=fault)
    relayer.listeners.append(outcomes.on_transaction_settled)
    indexer = Indexer(
        sessions, chain, Projection(chain), confirmations=settings.confirmations, start_block=settings.start_block
    )
    readers = read_session_factory(engine)
    return Platform(
        settings=settings,
        engine=engine,
        sessions=sessions,
        readers=readers,
        ports=ports,
        relayer=relayer,
        indexer=indexer,
        scheduler=Scheduler(sessions, readers, ports),
        webhooks=WebhookSender(sessions, http or httpx.Client()),
    )
