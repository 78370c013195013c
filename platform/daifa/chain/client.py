"""The platform's connection to the chain: the escrow contract, the chain's clock, logs, raw transactions.

Everything the platform decides about time on chain uses `now()`, the latest block's timestamp, never
the server's clock: that is the clock the contracts check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import requests
from eth_abi.abi import encode as abi_encode
from eth_typing import ChecksumAddress
from eth_utils.abi import collapse_if_tuple, function_abi_to_4byte_selector
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.types import FilterParams, LogReceipt, RPCEndpoint

from daifa.chain.artifacts import load_artifact

TOKEN_ABI_SOURCE = "DaifaTestDollar"  # any ERC-20 with permit; the platform calls only standard functions
BATCH_SIZE = 500  # JSON-RPC requests per HTTP round trip


@dataclass(frozen=True)
class Receipt:
    block_number: int
    gas_used: int
    succeeded: bool


class RpcError(Exception):
    """The node answered one request of a batch with an error."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.data = data


def http_web3(url: str, timeout: float = 30) -> Web3:
    """A Web3 on a JSON-RPC node over HTTP. Its requests session ignores proxy variables and .netrc:
    `requests` would read them again for every call, a millisecond each."""
    session = requests.Session()
    session.trust_env = False
    return Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}, session=session))


class ChainClient:
    def __init__(self, w3: Web3, escrow_address: str) -> None:
        self.w3 = w3
        self.chain_id = int(w3.eth.chain_id)
        self.escrow: Contract = w3.eth.contract(
            address=Web3.to_checksum_address(escrow_address), abi=load_artifact("DaifaEscrow")["abi"]
        )
        # (selector, argument types) of each escrow function: calldata is encoded with eth_abi directly,
        # since web3's encode_abi normalises every value through its formatters first (~10x slower).
        self._functions = {
            item["name"]: (function_abi_to_4byte_selector(item), [collapse_if_tuple(i) for i in item["inputs"]])
            for item in self.escrow.abi
            if item["type"] == "function"
        }

    @property
    def escrow_address(self) -> ChecksumAddress:
        return self.escrow.address

    # ------------------------------------------------------------------------------ blocks and time

    def now(self) -> int:
        return int(self._block("latest")["timestamp"])

    def head(self) -> int:
        return int(self._block("latest")["number"])

    def block_hash(self, number: int) -> bytes | None:
        try:
            block = self._block(number)
        except Exception:  # the block does not exist (yet, or any more after a reorg)
            return None
        return bytes(block["hash"])

    def _block(self, number: int | str) -> dict[str, Any]:
        """A block's number, hash, timestamp and base fee (0 before London); raises when there is no such
        block."""
        tag = number if isinstance(number, str) else hex(number)
        answers = self._batch([("eth_getBlockByNumber", [tag, False])])
        if answers is None:
            block = self.w3.eth.get_block(number)  # type: ignore[arg-type]
            return {
                "number": int(block["number"]),
                "hash": bytes(block["hash"]),
                "timestamp": int(block["timestamp"]),
                "base_fee": int(block.get("baseFeePerGas", 0)),
            }
        [answer] = answers
        if answer is None or isinstance(answer, Exception):
            raise LookupError(f"no block {number}: {answer}")
        return {
            "number": int(answer["number"], 16),
            "hash": bytes.fromhex(answer["hash"][2:]),
            "timestamp": int(answer["timestamp"], 16),
            "base_fee": int(answer.get("baseFeePerGas", "0x0"), 16),
        }

    def escrow_logs(self, from_block: int, to_block: int) -> list[LogReceipt]:
        """The escrow's logs in the blocks, as web3 shapes them (ints, bytes), read raw where the node
        speaks HTTP: web3's result formatters cost more than the request."""
        params: FilterParams = {"address": self.escrow.address, "fromBlock": from_block, "toBlock": to_block}
        answers = self._batch([("eth_getLogs", [{**params, "fromBlock": hex(from_block), "toBlock": hex(to_block)}])])
        if answers is None:
            return list(self.w3.eth.get_logs(params))
        [logs] = answers
        if isinstance(logs, Exception):
            raise logs
        return [self._log(entry) for entry in logs]

    def _log(self, raw: dict[str, Any]) -> LogReceipt:
        address = raw["address"]
        entry = {
            "address": self.escrow.address if address.lower() == self.escrow.address.lower() else address,
            "blockHash": bytes.fromhex(raw["blockHash"][2:]),
            "blockNumber": int(raw["blockNumber"], 16),
            "data": bytes.fromhex(raw["data"][2:]),
            "logIndex": int(raw["logIndex"], 16),
            "topics": [bytes.fromhex(t[2:]) for t in raw["topics"]],
            "transactionHash": bytes.fromhex(raw["transactionHash"][2:]),
            "transactionIndex": int(raw["transactionIndex"], 16),
            "removed": bool(raw.get("removed", False)),
        }
        return cast(LogReceipt, entry)

    # ------------------------------------------------------------------------------ transactions

    def encode(self, function: str, *args: Any) -> bytes:
        """The calldata of an escrow function (tuples for structs, as daifa.chain.abi builds them)."""
        selector, types = self._functions[function]
        return selector + abi_encode(types, list(args))

    def transaction_count(self, address: str) -> int:
        return int(self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending"))

    def estimate_gas(self, sender: str, to: str, data: bytes) -> int:
        return int(
            self.w3.eth.estimate_gas(
                {"from": Web3.to_checksum_address(sender), "to": Web3.to_checksum_address(to), "data": data}
            )
        )

    def estimate_many(self, sender: str, calls: Sequence[tuple[str, bytes]]) -> list[int | Exception]:
        """The gas of each (to, data) call from `sender`, against the same state; a call that would revert
        gets its error (a ContractLogicError carrying the revert data), as `estimate_gas` would raise it."""
        requests = [
            ("eth_estimateGas", [{"from": Web3.to_checksum_address(sender), "to": to, "data": "0x" + data.hex()}])
            for to, data in calls
        ]
        answers = self._batch(requests)
        if answers is None:
            return [_attempt(lambda to=to, data=data: self.estimate_gas(sender, to, data)) for to, data in calls]
        results: list[int | Exception] = []
        for answer in answers:
            if isinstance(answer, RpcError):
                revert = answer.data is not None or "revert" in str(answer).lower()
                results.append(ContractLogicError(str(answer), data=answer.data) if revert else answer)
            else:
                results.append(int(answer, 16))
        return results

    def fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) for a transaction sent now: room for the base fee to
        double, and a tip of 1 gwei."""
        base_fee = int(self._block("latest")["base_fee"])
        tip = 10**9
        return 2 * base_fee + tip, tip

    def send_raw(self, raw: bytes) -> bytes:
        return bytes(self.w3.eth.send_raw_transaction(raw))

    def send_many(self, raws: Sequence[bytes]) -> list[Exception | None]:
        """Broadcasts signed transactions in one round trip; None for each the node took, else its error."""
        answers = self._batch([("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in raws])
        if answers is None:
            sent = [_attempt(lambda raw=raw: self.send_raw(raw)) for raw in raws]
            return [answer if isinstance(answer, Exception) else None for answer in sent]
        return [answer if isinstance(answer, RpcError) else None for answer in answers]

    def receipts(self, tx_hashes: Sequence[bytes]) -> list[Receipt | None]:
        """The receipt of each transaction, None where none is mined (yet)."""
        answers = self._batch([("eth_getTransactionReceipt", ["0x" + h.hex()]) for h in tx_hashes])
        if answers is None:
            answers = [_attempt(lambda h=h: self.w3.eth.get_transaction_receipt(cast(Any, h))) for h in tx_hashes]
        return [_receipt(answer) for answer in answers]

    def _batch(self, requests: list[tuple[str, list[Any]]]) -> list[Any] | None:
        """Each request's result (or its RpcError) from JSON-RPC batches; None when the provider cannot
        batch (the embedded chain), so the caller asks one by one. A failed round trip raises."""
        provider = self.w3.provider
        if not isinstance(provider, HTTPProvider):
            return None
        results: list[Any] = []
        for start in range(0, len(requests), BATCH_SIZE):
            chunk = [(RPCEndpoint(method), params) for method, params in requests[start : start + BATCH_SIZE]]
            answers = provider.make_batch_request(chunk)
            if not isinstance(answers, list):  # the whole batch refused
                error = dict(answers.get("error") or {})
                raise RpcError(str(error.get("message", answers)), error.get("data"))
            for answer in answers:
                if "error" in answer:
                    error = dict(answer["error"])
                    results.append(RpcError(str(error.get("message")), error.get("data")))
                else:
                    results.append(answer.get("result"))
        return results

    # ------------------------------------------------------------------------------ reads

    def token(self, address: str) -> Contract:
        return self.w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=load_artifact(TOKEN_ABI_SOURCE)["abi"]
        )

    def token_balance(self, token: str, account: str) -> int:
        return int(self.token(token).functions.balanceOf(Web3.to_checksum_address(account)).call())

    def plan_commitment(self, plan_id: int) -> bytes:
        return bytes(self.escrow.functions.planCommitment(plan_id).call())

    def instalment_status(self, plan_id: int, index: int) -> int:
        return int(self.escrow.functions.instalmentStatus(plan_id, index).call())

    def party(self, account: str) -> tuple[int, bool, bytes]:
        roles, suspended, documents_hash = self.escrow.functions.party(Web3.to_checksum_address(account)).call()
        return int(roles), bool(suspended), bytes(documents_hash)

    def credit(self, token: str, account: str) -> int:
        return int(
            self.escrow.functions.credit(Web3.to_checksum_address(token), Web3.to_checksum_address(account)).call()
        )

    def materials(self, plan_id: int, index: int) -> tuple[bytes, int]:
        delivered, attested_at = self.escrow.functions.materials(plan_id, index).call()
        return bytes(delivered), int(attested_at)

    def operator(self) -> str:
        return str(self.escrow.functions.operator().call())


def _attempt(call: Any) -> Any:
    try:
        return call()
    except Exception as error:  # web3 raises TransactionNotFound for an unmined receipt; eth-tester its own
        return error


def _receipt(answer: Any) -> Receipt | None:
    """A receipt from a raw JSON-RPC answer (hex strings) or from web3's formatted one (ints)."""
    if answer is None or isinstance(answer, Exception):
        return None

    def number(value: Any) -> int:
        return int(value, 16) if isinstance(value, str) else int(value)

    return Receipt(number(answer["blockNumber"]), number(answer["gasUsed"]), number(answer["status"]) == 1)
