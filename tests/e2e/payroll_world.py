"""A small payroll on the platform for the fault tests: an employer, PAYEES labour firms, MONTHS monthly
wages each, all funded; `daifa worker` as a separate process; and the checks that every wage was paid
exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from daifa.deploy import Deployment
from daifa.sdk.plans import monthly_plan
from daifa.store import models as m
from tests.e2e.harness import USD, Daifa, Party

MONTHS = 6
PAYEES = 3
WAGE = 1_000 * USD


def payroll(daifa: Daifa) -> tuple[list[Party], list[str]]:
    """One employer, PAYEES labour firms, one plan each of MONTHS monthly TIME wages, all funded."""
    payer = daifa.onboard("employer", "payer")
    daifa.fund(payer, 1_000_000 * USD)
    payees, plans = [], []
    start = daifa.chain.now()
    for n in range(PAYEES):
        payee = daifa.onboard(f"labour-firm-{n}", "payee")
        product = daifa.open_product(payer, payee)
        plan = daifa.agree_plan(payer, payee, monthly_plan(product["id"], start, WAGE, MONTHS))
        daifa.post(f"/v1/plans/{plan['id']}/deposits", payer.key, json={"indices": list(range(MONTHS))}, expect=201)
        daifa.sign_pending(payer)
        daifa.settle()
        payees.append(payee)
        plans.append(plan["id"])
    return payees, plans


class Worker:
    """`daifa worker` in its own process, on the same chain and database as the test's platform."""

    def __init__(self, daifa: Daifa, rpc_url: str, folder: Path) -> None:
        deployment = Deployment(
            chain_id=daifa.chain.chain_id,
            escrow=daifa.escrow.address,
            token=daifa.token.address,
            operator=daifa.operator_wallet.address,
            start_block=daifa.start_block,
            deployed_at="",
            gas={},
        )
        deployment.save(folder / "deployments")
        self.command = [
            sys.executable, "-m", "daifa.cli.main", "worker", "--rpc-url", rpc_url,
            "--database-url", daifa.settings.database_url, "--deployments", str(folder / "deployments"),
            "--data-dir", str(folder / "worker-data"), "--idle", "0.05",
        ]  # fmt: skip
        self.env = {**os.environ, "DAIFA_OPERATOR_KEY": daifa.operator_wallet.key.hex()}
        self.log = open(folder / "worker.log", "ab")  # noqa: SIM115 (closed in stop)
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.log.close()


def wait_until(condition: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.1)


def all_paid(daifa: Daifa) -> bool:
    with daifa.platform.sessions() as session:
        statuses = session.scalars(select(m.Instalment.chain_status)).all()
        waiting = session.scalars(
            select(m.OutboxEntry.id).where(m.OutboxEntry.status.in_(["pending", "signed", "sent"]))
        ).all()
    return bool(statuses) and all(s & 8 for s in statuses) and not waiting


def assert_paid_exactly_once(daifa: Daifa, payees: list[Party]) -> None:
    escrow = daifa.escrow
    released = escrow.events.Released.get_logs(from_block=daifa.start_block)
    assert len(released) == PAYEES * MONTHS
    assert len({(e["args"]["planId"], e["args"]["index"]) for e in released}) == PAYEES * MONTHS
    assert escrow.events.ReleaseSkipped.get_logs(from_block=daifa.start_block) == []
    for payee in payees:
        assert daifa.balance(payee) == MONTHS * WAGE
    assert daifa.balance(daifa.escrow.address) == 0
    with daifa.platform.sessions() as session:
        entries = session.scalars(select(m.OutboxEntry)).all()
    sent = [e.nonce for e in entries if e.nonce is not None]
    assert len(sent) == len(set(sent)), "a nonce was used twice"
    assert {e.status for e in entries} <= {"mined"}, [(e.id, e.kind, e.status, e.error) for e in entries]
    daifa.reconcile()
