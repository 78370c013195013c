"""The embedded chain: eth-tester over py-evm, in this process, no node to run. It is the default for
`daifa serve` and `daifa demo`; it lives in memory and is gone when the process ends.

py-evm is not made for several threads at once, and the API, the background worker and the demo all use
the chain; every request goes through one lock."""

from __future__ import annotations

import threading
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint, RPCResponse

from daifa.errors import DaifaError

FUNDED_ETHER = 10_000


class LockedTesterProvider(EthereumTesterProvider):
    """EthereumTesterProvider, one request at a time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.RLock()

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self._lock:
            return super().make_request(method, params)


def embedded_web3() -> Web3:
    try:
        from eth_tester import EthereumTester, PyEVMBackend
    except ModuleNotFoundError as missing:
        raise DaifaError(
            f"the embedded chain needs eth-tester and py-evm ({missing.name} is missing): "
            "pip install 'daifa[devnet]', or pass --rpc-url to use a node"
        ) from None
    return Web3(LockedTesterProvider(EthereumTester(PyEVMBackend())))


def fund(w3: Web3, account: LocalAccount | str, ether: int = FUNDED_ETHER) -> None:
    """Gives an account ether from the embedded chain's prefunded accounts (for gas)."""
    address = account if isinstance(account, str) else account.address
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": address, "value": Web3.to_wei(ether, "ether")})
    w3.eth.wait_for_transaction_receipt(tx)


def advance(w3: Web3, seconds: int) -> int:
    """Moves the embedded chain's clock forward (mining a block); the new time."""
    provider = w3.provider
    assert isinstance(provider, EthereumTesterProvider)
    now = int(w3.eth.get_block("latest")["timestamp"])
    tester: Any = provider.ethereum_tester
    with getattr(provider, "_lock", threading.RLock()):
        # py-evm's backend mines the block one second short of the time asked for; ask one more.
        tester.time_travel(now + seconds + 1)
    return int(w3.eth.get_block("latest")["timestamp"])
