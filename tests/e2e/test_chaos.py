"""The platform when its node misbehaves: cut off (a proxy that stops answering), hung (SIGSTOP), its key's
nonces used from outside, the chain reset under a kept database, and a node that refuses large requests
while a thousand plans wait to be recorded. In each case no record goes backwards, no event is
duplicated, health says what is wrong within a few seconds, and the platform either recovers by itself,
every instalment paid exactly once, or stops with an error that says what to do."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import func, select
from web3.types import Wei

from daifa.bootstrap import TurnFailed, build
from daifa.chain import abi
from daifa.chain import typed_data as td
from daifa.chain.client import http_web3
from daifa.chain.relayer import enqueue
from daifa.devnet import Devnet, free_port
from daifa.domain.plans import Instalment, PlanParams, ReleaseRule
from daifa.services.chain_identity import ChainMismatch
from daifa.store import models as m
from tests.chain_harness import Chain
from tests.e2e.harness import DAY, USD, Daifa
from tests.e2e.payroll_world import MONTHS, PAYEES, Worker, all_paid, assert_paid_exactly_once, payroll
from tests.e2e.rpc_proxy import RpcProxy

pytestmark = [pytest.mark.chains("anvil")]
NO_HASH = b"\0" * 32


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took; fails after `timeout`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - started


def health(daifa: Daifa) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = daifa.api.get("/v1/health")
    return response.status_code, response.json(), time.monotonic() - started


def degraded_because(daifa: Daifa, words: str) -> bool:
    status, body, _ = health(daifa)
    return status == 503 and any(words in reason for reason in body["reasons"])


def records(daifa: Daifa) -> dict[str, Any]:
    """What must never go backwards while the node misbehaves: accounts, plans, instalments' status bits."""
    with daifa.platform.sessions() as session:
        return {
            "parties": dict(session.execute(select(m.Party.id, m.Party.status)).tuples().all()),
            "plans": dict(session.execute(select(m.Plan.id, m.Plan.status)).tuples().all()),
            "instalments": dict(session.execute(select(m.Instalment.id, m.Instalment.chain_status)).tuples().all()),
        }


def not_backwards(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert {k: v for k, v in after["parties"].items() if k in before["parties"]} == before["parties"]
    for key, status in before["plans"].items():
        assert after["plans"][key] == status or status == "recorded", (key, status, after["plans"][key])
    for key, bits in before["instalments"].items():
        assert after["instalments"][key] & bits == bits, f"instalment {key} lost status bits"


def no_event_twice(daifa: Daifa) -> None:
    with daifa.platform.sessions() as session:
        released = session.scalar(
            select(func.count()).select_from(m.Event).where(m.Event.type == "instalment.released")
        )
        activated = session.scalar(select(func.count()).select_from(m.Event).where(m.Event.type == "party.activated"))
        keys = session.scalars(select(m.Event.key).where(m.Event.key.is_not(None))).all()
    assert len(keys) == len(set(keys))
    assert released == PAYEES * MONTHS and activated == PAYEES + 1


@pytest.fixture
def proxied(fresh_chain: Chain) -> Iterator[RpcProxy]:
    proxy = RpcProxy(str(fresh_chain.w3.provider.endpoint_uri))  # type: ignore[attr-defined]
    yield proxy
    proxy.close()


@pytest.mark.databases("sqlite", "postgresql")
def test_a_node_cut_off_then_hung_is_waited_for_and_nothing_goes_backwards(
    daifa: Daifa, fresh_chain: Chain, proxied: RpcProxy, worker: Callable[[Daifa, str], Worker], tmp_path: Path
) -> None:
    payees, plans = payroll(daifa)
    process = worker(daifa, proxied.url)
    process.start()
    fresh_chain.advance(2 * 30 * DAY)
    wait_until(lambda: daifa.balance(payees[0]) >= 2 * 1_000 * USD, 60, "the first wages")
    wait_until(lambda: health(daifa)[0] == 200, 30, "health ok while all is well")

    # Cut off for 9 s: health says so within a few seconds, answering at once; nothing is rolled back.
    before = records(daifa)
    proxied.cut()
    noticed = wait_until(lambda: degraded_because(daifa, "node does not answer"), 10, "health on a cut node")
    assert noticed < 8
    time.sleep(9 - noticed)
    assert health(daifa)[2] < 1.0
    not_backwards(before, records(daifa))
    proxied.start()
    wait_until(lambda: health(daifa)[0] == 200, 30, "health after the node came back")

    # Hung (SIGSTOP) for 8 s: health answers within a second from the worker's reports, reads still serve.
    pid = _anvil_pid(fresh_chain)
    before = records(daifa)
    os.kill(pid, signal.SIGSTOP)
    try:
        noticed = wait_until(lambda: degraded_because(daifa, "node does not answer"), 10, "health on a hung node")
        status, body, took = health(daifa)
        assert status == 503 and took < 1.0, body
        started = time.monotonic()
        assert daifa.api.get(f"/v1/plans/{plans[0]}", headers={"Authorization": f"Bearer {payees[0].key}"}).is_success
        assert time.monotonic() - started < 1.0
        time.sleep(max(0.0, 8 - noticed))
    finally:
        os.kill(pid, signal.SIGCONT)
    not_backwards(before, records(daifa))

    fresh_chain.advance(4 * 30 * DAY)
    wait_until(lambda: all_paid(daifa), 90, "every wage paid after the node recovered")
    wait_until(lambda: health(daifa)[0] == 200, 30, "health ok again")
    process.stop()
    log = (tmp_path / "worker.log").read_text()
    assert "reorganised" not in log, log[-2000:]
    assert_paid_exactly_once(daifa, payees)
    no_event_twice(daifa)


def _anvil_pid(chain: Chain) -> int:
    port = str(chain.w3.provider.endpoint_uri).rsplit(":", 1)[-1]  # type: ignore[attr-defined]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if command and command[0].endswith(b"anvil") and port.encode() in command:
            return int(entry.name)
    raise AssertionError(f"no anvil on port {port}")


# ------------------------------------------------------------------------------------------ nonces


def _send_from_operator(daifa: Daifa, nonce: int | None = None, tip: int | None = None) -> HexBytes:
    """A transaction from the operator's key that the platform did not send (as `daifa deploy` run
    again while the platform runs would)."""
    w3 = daifa.chain.w3
    wallet: LocalAccount = daifa.operator_wallet
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    tip = tip or 10**9
    tx = {
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(wallet.address, "pending") if nonce is None else nonce,
        "to": wallet.address,
        "value": 0,
        "gas": 21_000,
        "maxFeePerGas": 4 * base + tip,
        "maxPriorityFeePerGas": tip,
        "type": 2,
    }
    signed = wallet.sign_transaction(tx)  # type: ignore[arg-type]
    return w3.eth.send_raw_transaction(signed.raw_transaction)


def _alerts(daifa: Daifa) -> list[dict[str, Any]]:
    events = daifa.get("/v1/events?type=relayer.nonce_conflict&limit=100", daifa.operator_key)["data"]
    return [e["data"] for e in events]


def test_nonces_used_outside_the_platform_are_passed_and_a_lost_one_is_signed_again_once(daifa: Daifa) -> None:
    daifa.onboard("employer", "payer")

    # Two transactions from the operator's key outside the platform: the relayer moves past their nonces.
    for _ in range(2):
        daifa.chain.w3.eth.wait_for_transaction_receipt(_send_from_operator(daifa))
    daifa.onboard("labour-firm", "payee")  # signed at the next free nonce, not stuck
    [passed] = _alerts(daifa)
    assert passed["skipped"] == 2

    # A transaction of the platform's waits in the mempool; a foreign one takes its nonce with a higher fee.
    rpc = daifa.chain.rpc
    daifa.chain.account("carrier")  # funded while blocks are still mined on demand
    rpc("evm_setAutomine", [False])
    try:
        application = daifa.apply("carrier", "payee")
        daifa.post(f"/v1/parties/{application['party']['id']}/approve", daifa.operator_key, json={"comment": "ok"})
        relayer = daifa.platform.relayer
        relayer.sign()
        relayer.broadcast()
        with daifa.platform.sessions() as session:
            [entry] = session.scalars(select(m.OutboxEntry).where(m.OutboxEntry.status == "sent")).all()
        assert entry.nonce is not None and entry.max_fee_per_gas is not None
        _send_from_operator(daifa, nonce=entry.nonce, tip=entry.max_fee_per_gas)  # replaces ours in the mempool
        rpc("evm_mine", [])
        relayer.follow()  # its nonce is mined, by no version of it: signed again, at a fresh nonce
        relayer.follow()  # nothing more to do for it: once only
        with daifa.platform.sessions() as session:
            again = session.get(m.OutboxEntry, entry.id)
        assert again is not None and again.status == "signed" and again.nonce == entry.nonce + 1
        assert len(again.tx_hashes) == 2 and "did not send" in (again.error or "")
    finally:
        rpc("evm_setAutomine", [True])
    daifa.settle()
    assert daifa.get(f"/v1/parties/{application['party']['id']}", daifa.operator_key)["status"] == "active"
    lost = [a for a in _alerts(daifa) if "lost_nonce" in a]
    assert [(a["lost_nonce"], a["new_nonce"]) for a in lost] == [(entry.nonce, entry.nonce + 1)]
    approvals = daifa.escrow.events.PartyApproved.get_logs(from_block=daifa.start_block)
    assert len(approvals) == 3 and len({e["args"]["account"] for e in approvals}) == 3
    with daifa.platform.sessions() as session:
        nonces = [n for n in session.scalars(select(m.OutboxEntry.nonce)) if n is not None]
    assert len(nonces) == len(set(nonces))
    assert health(daifa)[1]["nonce_gap"] <= 0
    daifa.reconcile()


def test_a_fee_ceiling_holds_a_stuck_transaction_instead_of_bumping_it_for_ever(daifa: Daifa) -> None:
    payer = daifa.onboard("employer", "payer")
    base = int(daifa.chain.w3.eth.get_block("latest")["baseFeePerGas"])
    rpc = daifa.chain.rpc
    rpc("evm_setAutomine", [False])
    try:
        daifa.restart(replace_after=timedelta(0), max_fee_per_gas=3 * base + 10**9)
        daifa.post(f"/v1/parties/{payer.id}/suspend", daifa.operator_key)
        relayer = daifa.platform.relayer
        relayer.sign()
        relayer.broadcast()
        fees = []
        for _ in range(4):
            relayer.follow()
            with daifa.platform.sessions() as session:
                entry = session.scalars(select(m.OutboxEntry).where(m.OutboxEntry.status == "sent")).one()
            fees.append(entry.max_fee_per_gas)
        assert all(fee is not None and fee <= 3 * base + 10**9 for fee in fees)
        assert len(entry.tx_hashes) <= 2 and "fee ceiling" in (entry.error or "")
        alerts = daifa.get("/v1/events?type=relayer.fee_ceiling_reached", daifa.operator_key)["data"]
        assert len(alerts) == 1
    finally:
        rpc("evm_mine", [])
        rpc("evm_setAutomine", [True])
    daifa.settle()
    assert daifa.get(f"/v1/parties/{payer.id}", payer.key)["status"] == "suspended"


# ------------------------------------------------------------------------------------------ another chain


@pytest.fixture
def resettable(tmp_path: Path) -> Iterator[tuple[Chain, Devnet]]:
    devnet = Devnet(state_dir=tmp_path / "anvil", port=free_port())
    devnet.up(extra_args=("--silent",))
    yield Chain(devnet.web3(), "anvil"), devnet
    devnet.down()


def test_a_chain_reset_under_a_kept_database_is_refused_with_what_to_do(
    resettable: tuple[Chain, Devnet], database_url: str, tmp_path: Path, worker: Callable[[Daifa, str], Worker]
) -> None:
    chain, devnet = resettable
    daifa = Daifa(chain, database_url, tmp_path)
    try:
        daifa.onboard("employer", "payer")
        process = worker(daifa, devnet.url)
        process.start()
        log = tmp_path / "worker.log"
        wait_until(lambda: log.exists() and "worker on" in log.read_text(), 60, "the worker started")
        wait_until(lambda: health(daifa)[0] == 200, 30, "health ok on the first chain")
        before = records(daifa)

        devnet.stop()  # the devnet is reset: a new chain on the same port, the escrow at the same address
        devnet.up(extra_args=("--silent",))
        fresh = Chain(devnet.web3(), "anvil")
        operator = daifa.operator_wallet
        fresh.w3.eth.wait_for_transaction_receipt(
            fresh.w3.eth.send_transaction(
                {"from": fresh.w3.eth.accounts[0], "to": operator.address, "value": Wei(10**21)}
            )
        )
        again = fresh.deploy("DaifaEscrow", operator.address, sender=operator)
        assert again.address == daifa.escrow.address

        stopped = wait_until(lambda: degraded_because(daifa, "the devnet was reset"), 30, "health on another chain")
        assert stopped < 20
        with pytest.raises(ChainMismatch, match="start with a new database"):
            build(daifa.settings, http_web3(devnet.url), operator)
        assert records(daifa) == before
        assert process.process is not None and process.process.poll() is None  # it waits, saying why

        # A worker started now refuses at once, says why on its way out, and health keeps saying it.
        process.stop()
        again_worker = worker(daifa, devnet.url)
        again_worker.start()
        assert again_worker.process is not None and again_worker.process.wait(timeout=60) == 1
        assert "error: this database describes chain" in log.read_text()
        assert degraded_because(daifa, "the devnet was reset")
        assert records(daifa) == before
    finally:
        daifa.close()


# ------------------------------------------------------------------------------------------ large batches


def _signed_plans(daifa: Daifa, payer: Any, payee: Any, product: dict[str, Any], count: int) -> list[bytes]:
    """`count` recordPlan calls for 12 monthly wages each, signed by both parties' wallets."""
    now = daifa.chain.now()
    params = PlanParams(
        agreement_set_id=int(product["agreement_set_id"]),
        payer=payer.address,
        payee=payee.address,
        token=daifa.token.address,
        arbiter=daifa.operator_wallet.address,
        fee_recipient=daifa.operator_wallet.address,
        fee_bps=0,
        fee_cap=0,
        review_window=3 * DAY,
        expiry=now + 390 * DAY,
    )
    deadline = now + DAY
    calls = []
    for n in range(count):
        instalments = [
            Instalment(now + month * 30 * DAY - DAY, now + month * 30 * DAY, 10 * USD + n, ReleaseRule.TIME, NO_HASH)
            for month in range(1, 13)
        ]
        nonces = (1_000_000 + n, 1_000_000 + n)
        message = td.plan_message(params, instalments, *nonces, deadline)
        typed = td.payload("Plan", message, daifa.chain.chain_id, daifa.escrow.address)
        auth = abi.joint_authorization(
            *nonces,
            deadline,
            bytes(payer.wallet.sign_typed_data(full_message=typed).signature),
            bytes(payee.wallet.sign_typed_data(full_message=typed).signature),
        )
        calls.append(
            daifa.platform.ports.chain.encode(
                "recordPlan", abi.plan_params(params), [abi.instalment(i) for i in instalments], auth
            )
        )
    return calls


def test_a_node_refusing_large_requests_still_records_a_thousand_waiting_plans(
    daifa: Daifa, fresh_chain: Chain
) -> None:
    payer = daifa.onboard("employer", "payer")
    payee = daifa.onboard("labour-firm", "payee")
    product = daifa.open_product(payer, payee)
    calls = _signed_plans(daifa, payer, payee, product, 1_000)
    with daifa.platform.sessions.begin() as session:
        for n, data in enumerate(calls):
            enqueue(session, "record_plan", f"test:{n}", daifa.escrow.address, data)
        oversized = enqueue(session, "record_plan", "test:oversized", daifa.escrow.address, b"\x12" * 400_000)

    # Batches of up to 1,000 requests and 8 MB are allowed here; the node takes 256 KB a request at most.
    proxy = RpcProxy(str(fresh_chain.w3.provider.endpoint_uri), max_body=256 * 1024)  # type: ignore[attr-defined]
    try:
        settings = replace(daifa.settings, rpc_batch_items=1_000, rpc_batch_bytes=8 * 1024 * 1024)
        platform = build(settings, http_web3(proxy.url), daifa.operator_wallet)
        for _ in range(30):
            with contextlib.suppress(TurnFailed):  # the oversized entry fails its step each turn
                platform.run_once()
            with platform.sessions() as session:
                waiting = session.scalar(
                    select(func.count())
                    .select_from(m.OutboxEntry)
                    .where(m.OutboxEntry.status.in_(["pending", "signed", "sent"]), m.OutboxEntry.id != oversized.id)
                )
            if not waiting:
                break
        platform.close()
    finally:
        proxy.close()
    assert proxy.seen["refused"] > 0, "the proxy never refused: the test did not test splitting"
    recorded = daifa.escrow.events.PlanRecorded.get_logs(from_block=daifa.start_block)
    with daifa.platform.sessions() as session:
        failed = session.execute(
            select(m.OutboxEntry.status, m.OutboxEntry.error).where(m.OutboxEntry.status != "mined")
        ).all()
    assert len(recorded) == 1_000, failed[:5]
    with daifa.platform.sessions() as session:
        entries = session.scalars(select(m.OutboxEntry).where(m.OutboxEntry.kind == "record_plan")).all()
        aside = session.get(m.OutboxEntry, oversized.id)
    assert sum(e.status == "mined" for e in entries) == 1_000
    nonces = [e.nonce for e in entries if e.nonce is not None]
    assert len(nonces) == len(set(nonces)) == 1_000
    assert aside is not None and aside.status == "pending" and aside.nonce is None
    assert aside.error and "refused" in aside.error and aside.retry_at is not None


def test_signing_that_fails_keeps_no_one_from_broadcasting_and_following(daifa: Daifa, fresh_chain: Chain) -> None:
    daifa.onboard("employer", "payer")
    first = daifa.apply("labour-firm", "payee")["party"]["id"]
    daifa.post(f"/v1/parties/{first}/approve", daifa.operator_key, json={"comment": "ok"})
    assert daifa.platform.relayer.sign() == 1  # signed, not yet sent
    second = daifa.apply("carrier", "payee")["party"]["id"]
    daifa.post(f"/v1/parties/{second}/approve", daifa.operator_key, json={"comment": "ok"})

    proxy = RpcProxy(str(fresh_chain.w3.provider.endpoint_uri))  # type: ignore[attr-defined]
    proxy.unanswered = {"eth_estimateGas"}  # every gas estimate goes unanswered: signing cannot happen
    platform = build(daifa.settings, http_web3(proxy.url), daifa.operator_wallet)
    try:
        with pytest.raises(TurnFailed) as failed:
            platform.run_once()
        assert [name for name, _ in failed.value.failures] == ["sign", "sign"]
        assert platform.reporter.steps["sign"].failures == 2 and "did not answer" in str(
            platform.reporter.steps["sign"].error
        )
        with platform.sessions() as session:
            statuses = dict(session.execute(select(m.OutboxEntry.subject, m.OutboxEntry.status)).tuples().all())
        assert statuses[f"party:{first[4:]}"] == "mined"  # broadcast and followed all the same
        assert statuses[f"party:{second[4:]}"] == "pending"
    finally:
        platform.close()
        proxy.close()
    daifa.settle()  # and the node answers again
    for party in (first, second):
        assert daifa.get(f"/v1/parties/{party}", daifa.operator_key)["status"] == "active"
