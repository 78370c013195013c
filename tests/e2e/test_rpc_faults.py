"""The chain client under a flaky node: requests refused before they arrive, and answers lost after the
node acted on them (the send that did happen but looked like it failed). The platform's turns fail and are
retried; at the end every wage is paid exactly once and the database reconciles with the chain."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import requests
from fastapi.testclient import TestClient
from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint, RPCResponse

from daifa.api.app import create_app
from daifa.bootstrap import build
from daifa.chain.client import http_web3
from tests.chain_harness import Chain
from tests.e2e.harness import DAY, UNLIMITED, Daifa
from tests.e2e.payroll_world import MONTHS, all_paid, assert_paid_exactly_once, payroll
from tests.e2e.rpc_proxy import RpcProxy

pytestmark = [pytest.mark.chains("anvil")]
T = TypeVar("T")


class FlakyProvider(HTTPProvider):
    """An HTTP provider that fails `rate` of the requests: half before the node sees them (connection
    refused), half after (the answer lost: a timeout), so a transaction may be sent and look unsent."""

    def __init__(self, url: str, rng: random.Random, rate: float, lose_sends: int = 0) -> None:
        super().__init__(url, request_kwargs={"timeout": 10})
        self.rng = rng
        self.rate = rate
        self.lose_sends = lose_sends  # the answers to the first sends are lost for certain
        self.injected: Counter[str] = Counter()

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        send = super().make_request
        return self._flaky(method, method == "eth_sendRawTransaction", lambda: send(method, params))

    def make_batch_request(self, requests_: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        """A batch fails as a whole, as one HTTP request does: refused, or its answers lost."""
        methods = {method for method, _ in requests_}
        send = super().make_batch_request
        label = "batch of " + ",".join(sorted(methods))
        return self._flaky(label, "eth_sendRawTransaction" in methods, lambda: send(requests_))

    def _flaky(self, label: str, sends: bool, call: Callable[[], T]) -> T:
        if sends and self.lose_sends > 0:
            self.lose_sends -= 1
            call()
            self.injected[f"lost {label}"] += 1
            raise requests.Timeout(f"injected: the answer to {label} was lost")
        roll = self.rng.random()
        if roll < self.rate / 2:
            self.injected[f"refused {label}"] += 1
            raise requests.ConnectionError(f"injected: {label} refused")
        response = call()
        if roll < self.rate:
            self.injected[f"lost {label}"] += 1
            raise requests.Timeout(f"injected: the answer to {label} was lost")
        return response


def test_a_flaky_node_never_makes_the_platform_pay_twice(daifa: Daifa, fresh_chain: Chain) -> None:
    payees, _plans = payroll(daifa)
    seed = random.randrange(2**32)
    url = str(fresh_chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    provider = FlakyProvider(url, random.Random(seed), rate=0.0)
    flaky = build(daifa.settings, Web3(provider), daifa.operator_wallet)
    provider.rate, provider.lose_sends = 0.2, 3
    failed_turns = 0

    def turn() -> int:
        nonlocal failed_turns
        try:
            return flaky.run_once()
        except Exception:  # what run_forever does: log it, wait, try again
            failed_turns += 1
            return 1

    try:
        for _month in range(MONTHS):
            fresh_chain.advance(30 * DAY)
            for _ in range(300):
                if not turn():  # a whole turn went through and found nothing to do
                    break
        for _ in range(300):
            if all_paid(daifa):
                break
            turn()
    finally:
        flaky.close()
    assert all_paid(daifa), f"seed {seed}: {provider.injected}"
    assert failed_turns > 0 and sum(provider.injected.values()) > 20, provider.injected
    lost_sends = sum(n for what, n in provider.injected.items() if what.startswith("lost") and "RawTransaction" in what)
    assert lost_sends >= 3, provider.injected
    assert_paid_exactly_once(daifa, payees)


def test_questions_to_a_slow_node_hold_up_no_other_write(daifa: Daifa, fresh_chain: Chain) -> None:
    """What a request asks the node (the chain's time for a deadline; for a signature that does not
    recover to the party's address, whether the address is a contract wallet) it asks before its write
    transaction: while the node is slow to answer, everyone else's writes go on (on SQLite they would all
    wait for the one write lock, and fail after its timeout)."""
    payer, payee = daifa.onboard("employer", "payer"), daifa.onboard("carrier", "payee")
    product = daifa.apply_for_product(payer, payee)
    daifa.post(f"/v1/products/{product['id']}/approve", daifa.operator_key, json={"comment": "in order"})
    proxy = RpcProxy(str(fresh_chain.w3.provider.endpoint_uri))  # type: ignore[attr-defined]
    slow = build(daifa.settings, http_web3(proxy.url), daifa.operator_wallet)
    try:
        with TestClient(create_app(slow, UNLIMITED)) as api:
            authorised = _while_the_node_holds(
                daifa, proxy, "eth_getBlockByNumber", "first",
                lambda: api.post(f"/v1/products/{product['id']}/authorise_credit", json={},
                                 headers={"Authorization": f"Bearer {payer.key}", "Idempotency-Key": "authorise-1"}),
            )  # fmt: skip
            assert authorised.status_code == 200 and authorised.json()["status"] == "awaiting_signatures"
            [request] = daifa.get("/v1/signature_requests?status=pending", payer.key)["data"]
            stranger = fresh_chain.account("someone else")
            forged = "0x" + bytes(stranger.sign_typed_data(full_message=request["typed_data"]).signature).hex()
            refused = _while_the_node_holds(
                daifa, proxy, "eth_getCode", "second",
                lambda: api.post(f"/v1/signature_requests/{request['id']}/sign", json={"signature": forged},
                                 headers={"Authorization": f"Bearer {payer.key}", "Idempotency-Key": "forged-1"}),
            )  # fmt: skip
    finally:
        slow.close()
        proxy.close()
    assert refused.status_code == 422 and "not by your wallet" in refused.json()["problems"][0]["message"]
    assert daifa.get(f"/v1/signature_requests/{request['id']}", payer.key)["status"] == "pending"


def _while_the_node_holds(daifa: Daifa, proxy: RpcProxy, method: str, name: str, send: Callable[[], T]) -> T:
    """`send()` on a thread while the proxy holds `method`'s requests; meanwhile another party applies (a
    write), which must be answered at once. Then the node answers, and so does `send()`."""
    released = proxy.held[method] = threading.Event()
    proxy.seen["held"] = 0
    answers: list[T] = []
    sending = threading.Thread(target=lambda: answers.append(send()))
    sending.start()
    try:
        deadline = time.monotonic() + 30
        while not proxy.seen["held"] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proxy.seen["held"], f"the request did not ask the node {method}"
        started = time.monotonic()
        other = daifa.apply(f"newcomer {name}", "payee")  # a write, while the request waits on the node
        assert time.monotonic() - started < 5 and other["party"]["status"] == "submitted"
        assert sending.is_alive(), "the request did not wait for the node"
    finally:
        released.set()
        del proxy.held[method]
        sending.join(timeout=60)
    [answer] = answers
    return answer
