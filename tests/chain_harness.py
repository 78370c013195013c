"""A thin test harness over a real chain: the in-process eth-tester/py-evm chain or an anvil devnet.

Accounts are local keys (deterministic from a name) that sign their own transactions, so the same
tests run unchanged on both chains. A revert is raised as `Reverted` with the decoded custom error.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import RPCEndpoint, TxParams, TxReceipt

from daifa.chain.artifacts import load_artifact
from daifa.chain.embedded import embedded_web3
from daifa.chain.reverts import Reverted, decode_revert, revert_data
from daifa.devnet import Devnet, free_port


@contextmanager
def expect_revert(name: str, *args: Any) -> Iterator[None]:
    """Asserts that the block reverts with custom error `name` whose leading arguments are `args` (leave out
    trailing ones that depend on the block, such as the chain's time)."""
    with pytest.raises(Reverted) as info:
        yield
    error = info.value
    assert error.name == name, f"expected {name}, got {error.name}{error.args_}"
    if args:
        got = _normalise(error.args_[: len(args)])
        assert got == _normalise(args), f"{name}: got {error.args_}, expected {args}"


def _normalise(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(v.lower() if isinstance(v, str) else v for v in values)


class Chain:
    """A real chain, local signing accounts and helpers to deploy, transact and move time."""

    def __init__(self, w3: Web3, kind: str) -> None:
        self.w3 = w3
        self.kind = kind
        self.chain_id = w3.eth.chain_id
        self._nonces: dict[str, int] = {}
        self._accounts: dict[str, LocalAccount] = {}

    # ---------------------------------------------------------------- accounts

    def account(self, name: str, eth: int = 1_000) -> LocalAccount:
        """A funded account whose key is derived from `name` (the same on every run)."""
        if name not in self._accounts:
            acct: LocalAccount = Account.from_key(keccak(text=f"daifa-test:{name}"))
            self._accounts[name] = acct
            funder = self.w3.eth.accounts[0]
            tx = self.w3.eth.send_transaction({"from": funder, "to": acct.address, "value": Web3.to_wei(eth, "ether")})
            self.w3.eth.wait_for_transaction_receipt(tx)
        return self._accounts[name]

    def sign_typed(self, signer: LocalAccount, typed_data: dict[str, Any]) -> bytes:
        return bytes(signer.sign_typed_data(full_message=typed_data).signature)

    # ---------------------------------------------------------------- contracts

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name)["abi"])

    def deploy(self, name: str, *args: Any, sender: LocalAccount) -> Contract:
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        receipt = self._send_tx(factory.constructor(*args).build_transaction(self._tx_base(sender)), sender)
        return self.contract(name, str(receipt["contractAddress"]))

    def send(self, call: ContractFunction, sender: LocalAccount, gas: int | None = None) -> TxReceipt:
        """Sends `call` from `sender`; raises `Reverted` with the decoded custom error if it would revert."""
        base = self._tx_base(sender)
        if gas is not None:
            base["gas"] = gas
        try:
            tx = call.build_transaction(cast(TxParams, base))
        except (ContractLogicError, TransactionFailed) as error:
            raise decode_revert(revert_data(error)) from None
        return self._send_tx(tx, sender)

    def call(self, call: ContractFunction, sender: LocalAccount | None = None) -> Any:
        try:
            return call.call({"from": sender.address} if sender else {})
        except (ContractLogicError, TransactionFailed) as error:
            raise decode_revert(revert_data(error)) from None

    def _tx_base(self, sender: LocalAccount) -> dict[str, Any]:
        nonce = self._nonces.get(sender.address)
        if nonce is None:
            nonce = self.w3.eth.get_transaction_count(sender.address)
        return {
            "from": sender.address,
            "nonce": nonce,
            "chainId": self.chain_id,
            "maxFeePerGas": 10**11,
            "maxPriorityFeePerGas": 10**9,
        }

    def _send_tx(self, tx: TxParams | dict[str, Any], sender: LocalAccount) -> TxReceipt:
        signed = sender.sign_transaction(cast(dict[str, Any], tx))
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self._nonces[sender.address] = tx["nonce"] + 1
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.01)
        if receipt["status"] != 1:
            raise AssertionError(f"transaction {tx_hash.hex()} failed after a successful gas estimate")
        return receipt

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        """A node method by name (anvil's evm_* and anvil_*): its result; an error answer fails the test."""
        answer = self.w3.provider.make_request(RPCEndpoint(method), params or [])
        assert "error" not in answer, f"{method}: {answer['error']}"
        return answer.get("result")

    # ---------------------------------------------------------------- snapshots

    def snapshot(self) -> Any:
        if self.kind == "anvil":
            return self.rpc("evm_snapshot", [])
        return self.w3.provider.ethereum_tester.take_snapshot()  # type: ignore[attr-defined]

    def revert(self, snapshot_id: Any) -> None:
        """Returns the chain to `snapshot_id` (consumed on anvil: take a new one after)."""
        if self.kind == "anvil":
            self.rpc("evm_revert", [snapshot_id])
        else:
            self.w3.provider.ethereum_tester.revert_to_snapshot(snapshot_id)  # type: ignore[attr-defined]
        self._nonces.clear()

    # ---------------------------------------------------------------- time

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def pin_clock(self, timestamp: int) -> None:
        """Moves the clock to `timestamp` and makes every later block one second after the one before,
        so that a run sends the same bytes and uses the same gas every time."""
        if self.kind == "anvil":
            self.rpc("evm_setNextBlockTimestamp", [timestamp])
            self.rpc("evm_mine", [])
            self.rpc("anvil_setBlockTimestampInterval", [1])
        else:
            # py-evm stamps each new block one second after the last once the clock is ahead of real time.
            self.w3.provider.ethereum_tester.time_travel(timestamp)  # type: ignore[attr-defined]

    def mine(self, blocks: int = 1) -> None:
        """Mines empty blocks."""
        for _ in range(blocks):
            if self.kind == "anvil":
                self.rpc("evm_mine", [])
            else:
                self.w3.provider.ethereum_tester.mine_blocks(1)  # type: ignore[attr-defined]

    def advance(self, seconds: int) -> int:
        """Moves the chain's clock forward and mines a block; returns the new time."""
        if self.kind == "anvil":
            self.rpc("evm_setNextBlockTimestamp", [self.now() + seconds])
            self.rpc("evm_mine", [])
        else:
            tester = self.w3.provider.ethereum_tester  # type: ignore[attr-defined]
            tester.time_travel(self.now() + seconds)
        return self.now()


# -------------------------------------------------------------------- chain factories


def in_process_chain() -> Chain:
    return Chain(embedded_web3(), "eth-tester")


@contextmanager
def anvil_chain(*extra_args: str, prune_history: bool = True) -> Iterator[Chain]:
    """Starts anvil (with --prune-history unless told otherwise: reorgs need the history) and its state
    in a temporary folder; stops and removes it after."""
    devnet = Devnet(state_dir=Path(tempfile.mkdtemp(prefix="daifa-anvil-")), port=free_port())
    try:
        devnet.up(prune_history=prune_history, extra_args=("--silent", *extra_args))
        yield Chain(devnet.web3(), "anvil")
    finally:
        devnet.down()
