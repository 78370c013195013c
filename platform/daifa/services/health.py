"""The platform's health, told from what the workers last observed: no request to the node on the path
of `/v1/health` or `/metrics`, so they answer at once even when the node hangs.

Each worker keeps a `WorkerReport` row fresh (every second or so): whether the node answered its last
probe and with which head, each step of its turn (relayer, indexer, scheduler, housekeeping) with its
failures in a row and last error, the step under way and since when, the signer's nonces as the node
counts them, and why it stopped, if it did. `assess` reads those rows and the outbox, the indexer's
cursor and the webhook queue, and says ok or degraded with every reason, each written so an operator
knows what to look at.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from daifa.domain.outbox import WAITING
from daifa.domain.webhooks import DeliveryStatus
from daifa.store import models as m

log = logging.getLogger(__name__)

REPORT_EVERY = 1.0  # seconds between a worker's reports


@dataclass(frozen=True)
class HealthLimits:
    worker_silent_after: float = 15.0  # seconds without a fresh worker report
    node_silent_after: float = 5.0  # seconds since the node last answered a probe
    step_failures: int = 3  # failures in a row of one step
    step_running_after: float = 60.0  # seconds one step may run
    indexer_lag_blocks: int = 100
    outbox_wait: float = 300.0  # seconds the oldest transaction may wait to be mined
    webhook_backlog: int = 10_000  # deliveries due
    head_stale_after: float = 0.0  # seconds the head may stand still (0: not checked; a devnet mines on demand)


@dataclass
class Assessment:
    ok: bool
    reasons: list[str]
    figures: dict[str, Any]


# ------------------------------------------------------------------------------------------ reporting


@dataclass
class StepState:
    failures: int = 0
    error: str | None = None
    last_ok: float | None = None


@dataclass
class Reporter:
    """What one worker knows of itself, kept by its loop and its node probe (two threads), and written to
    its WorkerReport row at most every REPORT_EVERY seconds."""

    sessions: sessionmaker[Session]
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    steps: dict[str, StepState] = field(default_factory=dict)
    node: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)  # nonces, the indexer's wait, a stop
    current: tuple[str, float] | None = None  # the step under way and when it began (unix)
    _written_at: float = 0.0
    _verdict: tuple[Any, ...] = ()  # what health concluded from the last report written
    _head: tuple[int, float] | None = None  # (number, when first seen)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def step_started(self, name: str) -> None:
        with self._lock:
            self.current = (name, time.time())

    def step_ended(self, name: str, error: BaseException | None) -> None:
        with self._lock:
            state = self.steps.setdefault(name, StepState())
            self.current = None
            if error is None:
                state.failures, state.error, state.last_ok = 0, None, time.time()
            else:
                state.failures += 1
                state.error = f"{type(error).__name__}: {error}"[:500]

    def node_answered(self, head: int, head_time: int) -> None:
        now = time.time()
        with self._lock:
            if self._head is None or self._head[0] != head:
                self._head = (head, now)
            self.node = {"reachable": True, "head": head, "head_time": head_time, "head_seen_at": self._head[1],
                         "answered_at": now, "error": None}  # fmt: skip

    def node_failed(self, error: BaseException) -> None:
        with self._lock:
            self.node = {**self.node, "reachable": False, "error": f"{type(error).__name__}: {error}"[:500]}

    def note(self, **facts: Any) -> None:
        with self._lock:
            self.facts.update(facts)

    def write(self, force: bool = False) -> None:
        """Writes the report if REPORT_EVERY passed since the last, if what health concludes from it may
        have changed (a step failing or recovering, the node's answer, a wait, a stop), or if `force`d."""
        now = time.time()
        with self._lock:
            report = {
                "node": dict(self.node),
                "steps": {k: vars(v).copy() for k, v in self.steps.items()},
                "current": list(self.current) if self.current else None,
                **self.facts,
            }
            verdict = (
                self.node.get("reachable"),
                tuple(sorted((k, v.failures > 0) for k, v in self.steps.items())),
                self.facts.get("indexer_waiting"),
                self.facts.get("stopped"),
            )
        if not force and now - self._written_at < REPORT_EVERY and verdict == self._verdict:
            return
        self._written_at, self._verdict = now, verdict
        try:
            with self.sessions.begin() as session:
                row = session.get(m.WorkerReport, self.name)
                if row is None:
                    session.add(m.WorkerReport(name=self.name, report=report, updated_at=m.utcnow()))
                else:
                    row.report, row.updated_at = report, m.utcnow()
        except Exception:  # the database is down: health will say no worker reports
            log.warning("could not write the worker's report", exc_info=True)


# ------------------------------------------------------------------------------------------ assessing


def assess(session: Session, limits: HealthLimits, confirmations: int = 0) -> Assessment:
    now = m.utcnow()
    reasons: list[str] = []
    reports = list(session.scalars(select(m.WorkerReport).order_by(m.WorkerReport.updated_at.desc()).limit(50)))
    fresh = [r for r in reports if (now - r.updated_at).total_seconds() <= limits.worker_silent_after]
    figures: dict[str, Any] = {"workers": len(fresh)}
    if not fresh:
        silent = f"for {int((now - reports[0].updated_at).total_seconds())} s" if reports else "yet"
        reasons.append(f"no worker has reported {silent}: start `daifa worker` (or `daifa serve`) and check its log")
    latest = fresh[0].report if fresh else (reports[0].report if reports else {})
    for report in [r.report for r in fresh]:
        if report.get("stopped"):
            reasons.append(f"a worker stopped: {report['stopped']}")
    reasons += _node(latest, now, limits, figures)
    for r in fresh:
        reasons += _steps(r.report, now, limits)
    reasons += _indexer(session, latest, limits, confirmations, figures)
    reasons += _outbox(session, now, limits, figures)
    reasons += _nonces(session, latest, figures)
    reasons += _webhooks(session, limits, figures)
    return Assessment(not reasons, list(dict.fromkeys(reasons)), figures)


def _node(report: dict[str, Any], now: datetime, limits: HealthLimits, figures: dict[str, Any]) -> list[str]:
    node = report.get("node") or {}
    figures["head_block"] = node.get("head")
    figures["chain_time"] = node.get("head_time")
    answered = node.get("answered_at")
    silent = None if answered is None else now.timestamp() - answered
    reachable = bool(node.get("reachable")) and silent is not None and silent <= limits.node_silent_after
    figures["node_reachable"] = reachable if node else None
    head_seen = node.get("head_seen_at")
    figures["head_age_seconds"] = None if head_seen is None else round(now.timestamp() - head_seen, 1)
    reasons = []
    if node and not reachable:
        why = node.get("error") or f"no answer for {int(silent or 0)} s"
        reasons.append(f"the chain's node does not answer the worker ({why}): check the node and --rpc-url")
    stale = figures["head_age_seconds"]
    if limits.head_stale_after and stale is not None and stale > limits.head_stale_after:
        reasons.append(f"the chain's head has not moved for {int(stale)} s: is the node syncing?")
    return reasons


def _steps(report: dict[str, Any], now: datetime, limits: HealthLimits) -> list[str]:
    reasons = []
    for name, state in (report.get("steps") or {}).items():
        if state.get("failures", 0) >= limits.step_failures:
            reasons.append(f"the worker's {name} step failed {state['failures']} times in a row: {state.get('error')}")
    current = report.get("current")
    if current and now.timestamp() - current[1] > limits.step_running_after:
        reasons.append(f"the worker's {current[0]} step has been running for {int(now.timestamp() - current[1])} s")
    if report.get("indexer_waiting"):
        reasons.append(f"the indexer is waiting: {report['indexer_waiting']}")
    return reasons


def _indexer(
    session: Session, report: dict[str, Any], limits: HealthLimits, confirmations: int, figures: dict[str, Any]
) -> list[str]:
    next_block = session.scalar(select(func.max(m.IndexerCursor.next_block)))
    head = (report.get("node") or {}).get("head")
    lag = None if head is None or next_block is None else max(0, head - confirmations - next_block + 1)
    figures["indexer_lag_blocks"] = lag
    if lag is not None and lag > limits.indexer_lag_blocks:
        return [f"the indexer is {lag} blocks behind the chain"]
    return []


def _outbox(session: Session, now: datetime, limits: HealthLimits, figures: dict[str, Any]) -> list[str]:
    waiting = m.OutboxEntry.status.in_(WAITING)
    count, oldest = session.execute(
        select(func.count(), func.min(m.OutboxEntry.created_at)).select_from(m.OutboxEntry).where(waiting)
    ).one()
    figures["outbox_waiting"] = int(count or 0)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    age = None if oldest is None else round((now - oldest).total_seconds(), 1)
    figures["outbox_oldest_age_seconds"] = age
    reasons = []
    if age is not None and age > limits.outbox_wait:
        stuck = session.execute(
            select(m.OutboxEntry.id, m.OutboxEntry.status, m.OutboxEntry.error)
            .where(waiting)
            .order_by(m.OutboxEntry.id)
            .limit(1)
        ).one()
        reasons.append(
            f"transactions have waited up to {int(age)} s: tx_{stuck.id} is {stuck.status}"
            + (f" ({stuck.error})" if stuck.error else "")
        )
    return reasons


def _nonces(session: Session, report: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    nonces = report.get("nonces") or {}
    platform_next = session.scalar(select(func.max(m.SignerNonce.next_nonce)))
    chain_pending = nonces.get("pending")
    gap = None if chain_pending is None or platform_next is None else int(chain_pending) - int(platform_next)
    figures["nonce_gap"] = gap
    if gap is not None and gap > 0:
        return [f"{gap} nonces of the operator's key were used outside the platform: the relayer moves past them"]
    return []


def _webhooks(session: Session, limits: HealthLimits, figures: dict[str, Any]) -> list[str]:
    backlog = session.scalar(
        select(func.count()).select_from(m.WebhookDelivery).where(m.WebhookDelivery.status == DeliveryStatus.PENDING)
    )
    figures["webhook_backlog"] = int(backlog or 0)
    if figures["webhook_backlog"] > limits.webhook_backlog:
        return [f"{figures['webhook_backlog']} webhook deliveries are waiting"]
    return []
