"""The composition root: builds the platform's parts from settings and wires them together.

`Platform.run_once` is one turn of the work that moves money (relayer, indexer, scheduler, and some
housekeeping); `Platform.run_forever` runs turns in a loop, with two helpers beside it on their own
threads: the webhook dispatcher (deliveries never wait on the money, nor the money on deliveries) and a
node monitor that probes the chain every second with a short timeout and writes the worker's report
(what `/v1/health` answers from), even while a turn waits on a hung node. `daifa worker` and `daifa
serve` run it; the tests call the steps one by one; several processes may run it against one
PostgreSQL database.

Every step of a turn runs even when another failed: a turn that had failures raises `TurnFailed` at
its end, and each step's failures in a row show in the worker's report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from time import monotonic
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from web3 import HTTPProvider, Web3

from daifa.chain.client import BATCH_BYTES, BATCH_ITEMS, MAX_FEE_PER_GAS, ChainClient, http_web3
from daifa.chain.indexer import Indexer
from daifa.chain.relayer import FaultHook, Relayer
from daifa.services import (
    actions,
    chain_identity,
    housekeeping,
    outcomes,
    payroll,
    plans,
    products,
    recording,
    records,
)
from daifa.services.chain_identity import ChainMismatch
from daifa.services.context import Ports
from daifa.services.health import REPORT_EVERY, Reporter
from daifa.services.notifications import emit
from daifa.services.outbound import Outbound, Resolver, system_resolver
from daifa.services.projection import Projection
from daifa.services.scheduler import Scheduler
from daifa.services.subjects import Kind
from daifa.services.webhook_delivery import WebhookDispatcher
from daifa.store import models as m
from daifa.store.db import bookkeeping_session_factory, make_engine, migrate, read_session_factory, session_factory
from daifa.store.documents import DocumentStore

log = logging.getLogger(__name__)

MAX_PAUSE = 5.0  # seconds between turns while they keep failing (the node or the database down)
SCHEDULER_AT_LEAST = 1.0  # seconds between scheduler runs when nothing seems to change
HOUSEKEEPING_EVERY = 60.0  # seconds
PROBE_TIMEOUT = 2.0  # seconds the node monitor waits for the node
IDENTITY_EVERY = 10  # node probes between checks that the node is still on the database's chain
T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    database_url: str
    documents_dir: Path
    escrow_address: str
    confirmations: int = 0  # blocks behind the head the indexer stays; 0 on a devnet
    start_block: int = 0  # the escrow's deployment block: the indexer starts there
    replace_after: timedelta = timedelta(seconds=30)  # a transaction unmined this long is re-sent with a higher fee
    max_fee_per_gas: int = MAX_FEE_PER_GAS  # the relayer never signs above this (wei per gas)
    rpc_batch_items: int = BATCH_ITEMS  # requests per JSON-RPC batch
    rpc_batch_bytes: int = BATCH_BYTES  # bytes per JSON-RPC batch
    webhooks_allow_local: bool = False  # development: webhooks to loopback addresses and over plain http


class TurnFailed(Exception):
    """One or more steps of a turn failed (each ran; see the worker's report and the log)."""

    def __init__(self, failures: list[tuple[str, BaseException]]) -> None:
        super().__init__("; ".join(f"{name}: {type(error).__name__}: {error}" for name, error in failures))
        self.failures = failures


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
    webhooks: WebhookDispatcher
    reporter: Reporter
    probe: ChainClient  # the node monitor's: its own connection, a short timeout
    genesis: bytes = b""
    stopped: str | None = None  # why this worker will not work (another chain under its database)
    _scheduled_at: tuple[int, float] = (-1, 0.0)  # (chain time, monotonic time) of the last idle scheduler run
    _housekept_at: float = field(default_factory=monotonic)
    _failures: list[tuple[str, BaseException]] = field(default_factory=list)

    def run_once(self) -> int:
        """One turn of the work that moves money; returns how much moved (0: nothing to do right now).
        Raises TurnFailed after the turn if any step failed."""
        if self.stopped:
            raise ChainMismatch(self.stopped)
        self._failures = []
        self._step("nonces", self.relayer.sync_nonces)
        moved = self._step("payroll runs", lambda: payroll.create_plans(self.sessions, self.readers, self.ports)) or 0
        moved += self._step("recording", lambda: recording.queue(self.sessions, self.readers, self.ports)) or 0
        moved += self._relay()
        latest = self._step("chain", self.ports.chain.latest)  # one read of the head serves the next two steps
        if latest is not None:
            head, now = latest
            self.reporter.node_answered(head, now)
            moved += self._step("indexer", lambda: self.indexer.run_once(head=head)) or 0
            # The scheduler decides from the chain's clock and the records; when neither the clock nor
            # anything here moved since its last run found nothing, it would find nothing again (it still
            # runs every SCHEDULER_AT_LEAST seconds, for what other workers changed).
            if moved or now != self._scheduled_at[0] or monotonic() - self._scheduled_at[1] >= SCHEDULER_AT_LEAST:
                scheduled = sum((self._step("scheduler", lambda: self.scheduler.run_once(now)) or {}).values())
                self._scheduled_at = (now if not scheduled else -1, monotonic())
                moved += scheduled
        moved += self._relay()
        moved += self._step("indexer", self.indexer.run_once) or 0
        if monotonic() - self._housekept_at >= HOUSEKEEPING_EVERY:
            self._step("housekeeping", lambda: housekeeping.purge(self.sessions))
            self._housekept_at = monotonic()
        self.reporter.note(indexer_waiting=self.indexer.waiting, nonces=self.relayer.nonces)
        self.reporter.write()
        if self._failures:
            raise TurnFailed(self._failures)
        return moved

    def settle(self, max_turns: int = 20) -> None:
        """Runs turns, and delivers webhooks, until nothing moves (on a chain that mines each transaction
        at once). For the tests and the demo: a running worker delivers on its own thread."""
        for _ in range(max_turns):
            if not self.run_once() + self.webhooks.run_once():
                return
        raise RuntimeError(f"the platform still had work after {max_turns} turns")

    def run_forever(self, stop: threading.Event, idle: float = 1.0, deliver_webhooks: bool = True) -> None:
        """Turns until `stop` is set, pausing `idle` seconds when nothing moved and longer (up to MAX_PAUSE)
        while turns keep failing; the node monitor and (unless told not to) the webhook dispatcher run
        beside it. Nothing is lost between turns: every step commits before the next begins."""
        helpers = [threading.Thread(target=self.monitor, args=(stop,), name="daifa-node-monitor", daemon=True)]
        if deliver_webhooks:
            helpers.append(threading.Thread(target=self.webhooks.run_forever, args=(stop,), name="daifa-webhooks"))
        for helper in helpers:
            helper.start()
        failures = 0
        try:
            while not stop.is_set():
                if self.stopped:
                    log.error("worker stopped: %s", self.stopped)
                    stop.wait(60)
                    continue
                try:
                    moved = self.run_once()
                except Exception as error:
                    failures += 1
                    log.warning("turn failed (%s in a row), trying again: %s", failures, error)
                    stop.wait(min(MAX_PAUSE, idle * 2**failures))
                    continue
                failures = 0
                if not moved:
                    stop.wait(idle)
        finally:
            stop.set()
            for helper in helpers:
                helper.join(timeout=30)

    def monitor(self, stop: threading.Event) -> None:
        """Probes the node every REPORT_EVERY seconds and writes the worker's report; every IDENTITY_EVERY
        probes checks the node is still on the database's chain (a devnet reset stops the worker)."""
        probes = 0
        while not stop.is_set():
            try:
                head, now = self.probe.latest()
                self.reporter.node_answered(head, now)
                probes += 1
                if probes % IDENTITY_EVERY == 0:
                    self._check_identity()
            except Exception as error:
                self.reporter.node_failed(error)
            self.reporter.write(force=True)
            stop.wait(REPORT_EVERY)

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------------------------- helpers

    def _relay(self) -> int:
        """The relayer's three steps, each run whatever the others did: a batch the node refuses to
        estimate must not keep the platform from broadcasting or following what it signed before."""
        return sum(self._step(name, run) or 0 for name, run in (
            ("sign", self.relayer.sign), ("broadcast", self.relayer.broadcast), ("follow", self.relayer.follow),
        ))  # fmt: skip

    def _step(self, name: str, run: Callable[[], T]) -> T | None:
        self.reporter.step_started(name)
        try:
            result = run()
        except Exception as error:
            self.reporter.step_ended(name, error)
            self._failures.append((name, error))
            log.warning("%s step failed: %s: %s", name, type(error).__name__, error)
            return None
        self.reporter.step_ended(name, None)
        return result

    def _check_identity(self) -> None:
        genesis = self.probe.genesis_hash()
        if genesis != self.genesis:
            try:
                chain_identity.check(self.sessions, self.probe, genesis)
            except ChainMismatch as mismatch:
                self.stopped = mismatch.message
                self.reporter.note(stopped=mismatch.message)
                log.error("%s", mismatch.message)


def build(
    settings: Settings,
    w3: Web3,
    operator: LocalAccount | str,
    *,
    fault: FaultHook | None = None,
    migrate_schema: bool = True,
    resolver: Resolver = system_resolver,
    probe: Web3 | None = None,
) -> Platform:
    """A platform on `w3` for the escrow's operator: its key (`LocalAccount`) in the process that relays,
    only its address in processes that do not (the API's).

    Args:
        settings: the database, the documents folder, the escrow and the relayer's and indexer's limits.
        w3: the node (an HTTP provider) or the embedded chain.
        operator: the escrow operator's key where this process relays, else its address.
        fault: tests crash the relayer at named points with it.
        migrate_schema: migrate the database first (an API process its parent started passes False).
        resolver: how webhook hosts are resolved (tests inject one; the system's by default).
        probe: the node monitor's own connection (by default a short-timeout one to the same node).

    Raises:
        ChainMismatch: the node is on another chain than the one the database recorded (a devnet reset,
            a wrong --rpc-url).
        sqlalchemy.exc.OperationalError: the database cannot be reached or migrated.
    """
    signer = operator if isinstance(operator, LocalAccount) else None
    address = operator.address if isinstance(operator, LocalAccount) else Web3.to_checksum_address(operator)
    engine = make_engine(settings.database_url)
    if migrate_schema:
        migrate(engine)
    sessions = session_factory(engine)
    chain = ChainClient(
        w3, settings.escrow_address, batch_items=settings.rpc_batch_items, batch_bytes=settings.rpc_batch_bytes
    )
    genesis = chain_identity.check(sessions, chain)
    outbound = Outbound(allow_local=settings.webhooks_allow_local, resolver=resolver)
    ports = Ports(
        chain=chain, documents=DocumentStore(settings.documents_dir), operator_address=address, outbound=outbound
    )
    # Each flow goes on when everything its record waits for is signed.
    ports.signatures_complete.update(
        {
            Kind.PRODUCT: products.on_signatures_complete,
            Kind.PLAN: plans.on_signatures_complete,
            Kind.ACTION: actions.on_signatures_complete,
        }
    )
    relayer = Relayer(
        sessions,
        chain,
        address,
        signer,
        replace_after=settings.replace_after,
        max_fee_per_gas=settings.max_fee_per_gas,
        fault=fault,
    )
    relayer.listeners.append(outcomes.on_transaction_settled)
    relayer.alerts.append(lambda session, kind, data: _alert(session, kind, address, data))
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
        webhooks=WebhookDispatcher(sessions, outbound),
        reporter=Reporter(bookkeeping_session_factory(engine)),
        probe=ChainClient(probe or _probe_web3(w3), settings.escrow_address),
        genesis=genesis,
    )


def _alert(session: Session, kind: str, address: str, data: dict[str, Any]) -> None:
    """A relayer's alert as an event only the operator sees."""
    shown = {k: records.public_id(m.OutboxEntry, v) if k == "transaction" else v for k, v in data.items()}
    emit(session, kind, f"signer:{address}", shown, [])


def _probe_web3(w3: Web3) -> Web3:
    """A connection of its own to the same node, with a short timeout, for the node monitor."""
    provider = w3.provider
    if isinstance(provider, HTTPProvider):
        return http_web3(str(provider.endpoint_uri), timeout=PROBE_TIMEOUT)
    return w3  # the embedded chain answers in process
