"""The platform's connection to the chain: the escrow contract, the chain's clock, logs, raw transactions.

Everything the platform decides about time on chain uses `now()`, the latest block's timestamp, never
the server's clock: that is the clock the contracts check.

Two kinds of failure are kept apart, because the platform answers them differently:
- the node did not answer (refused, timed out, unreachable): `NodeUnavailable`. Nothing is concluded
  from it; the work waits and is tried again, and health says so.
- the node answered with an error: `RpcError` for that request. A JSON-RPC batch the node refuses as a
  whole is split in halves and sent again, down to single requests, so one bad request is set aside with
  its error and the rest go through.
Batches are bounded in requests and bytes (public nodes and providers refuse large ones; anvil takes
about 2 MB a request).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import requests
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_typing import ChecksumAddress
from eth_utils.abi import collapse_if_tuple, function_abi_to_4byte_selector
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import BlockNotFound, ContractLogicError
from web3.types import FilterParams, LogReceipt, RPCEndpoint, RPCResponse

from daifa.chain.artifacts import load_artifact
from daifa.chain.reverts import decode_revert, revert_data
from daifa.errors import Unavailable

TOKEN_ABI_SOURCE = "DaifaTestDollar"  # any ERC-20 with permit; the platform calls only standard functions
ERC1271_SELECTOR = bytes.fromhex("1626ba7e")  # isValidSignature(bytes32,bytes), also its magic answer
BATCH_ITEMS = 100  # JSON-RPC requests per HTTP round trip
BATCH_BYTES = 512 * 1024  # bytes of JSON per HTTP round trip
MAX_FEE_PER_GAS = 500 * 10**9  # the relayer's default ceiling on what a transaction pays per gas: 500 gwei
BLOCK_TIMES_KEPT = 10_000  # block timestamps kept by block_time


@dataclass(frozen=True)
class TokenFacts:
    """What the platform needs to know of a token: how people write it, and whether it takes EIP-2612
    permits (some stablecoins, USDT among them, do not)."""

    address: str
    name: str
    symbol: str
    decimals: int
    permit: bool


@dataclass(frozen=True)
class Receipt:
    block_number: int
    gas_used: int
    succeeded: bool


class RpcError(Exception):
    """The node answered a request (or a whole batch) with an error."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.data = data


class NodeUnavailable(Unavailable):
    """The chain's node did not answer: refused, timed out or unreachable."""

    code = "node_unavailable"

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(f"the chain's node did not answer ({detail}): try again shortly", retry_after)


def unreachable(error: BaseException) -> bool:
    """Whether `error` says the node did not answer (as opposed to answering with an error)."""
    return isinstance(
        error, NodeUnavailable | requests.ConnectionError | requests.Timeout | ConnectionError | TimeoutError
    )


class GuardedHTTPProvider(HTTPProvider):
    """web3's HTTP provider, made safe to use on a path people wait on:
    - a node that does not answer raises NodeUnavailable, after at most `timeout` seconds;
    - after that, for `cooldown` seconds, every request fails at once instead of waiting again (a breaker),
      so a dead node costs each caller nothing rather than `timeout` seconds each;
    - at most `concurrency` requests wait on the node at once (None: no bound); a request that cannot get
      a place within `timeout` fails as unavailable, so requests that need the node can never take every
      thread of the API's pool."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        cooldown: float = 2.0,
        concurrency: int | None = None,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(url, request_kwargs={"timeout": timeout}, session=session)
        self.timeout = timeout
        self.cooldown = cooldown
        self._places = threading.BoundedSemaphore(concurrency) if concurrency else None
        self._open_until = 0.0

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            return bool(super().is_connected(show_traceback))
        except NodeUnavailable:
            return False

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self._guard(str(method)):
            return super().make_request(method, params)

    def make_batch_request(self, requests_: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        with self._guard(f"a batch of {len(requests_)}"):
            return super().make_batch_request(requests_)

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        if time.monotonic() < self._open_until:
            raise NodeUnavailable("it failed moments ago", retry_after=max(1, round(self.cooldown)))
        if self._places is not None and not self._places.acquire(timeout=self.timeout):
            raise NodeUnavailable(f"{what} found every place taken by requests waiting on it")
        try:
            yield
        except (requests.ConnectionError, requests.Timeout) as error:
            self._open_until = time.monotonic() + self.cooldown
            raise NodeUnavailable(f"{what}: {type(error).__name__}") from error
        finally:
            if self._places is not None:
                self._places.release()


def http_web3(url: str, timeout: float = 30, *, cooldown: float = 0.0, concurrency: int | None = None) -> Web3:
    """A Web3 on a JSON-RPC node over HTTP. Its requests session ignores proxy variables and .netrc:
    `requests` would read them again for every call, a millisecond each."""
    session = requests.Session()
    session.trust_env = False
    provider = GuardedHTTPProvider(url, timeout=timeout, cooldown=cooldown, concurrency=concurrency, session=session)
    return Web3(provider)


class ChainClient:
    def __init__(
        self, w3: Web3, escrow_address: str, *, batch_items: int = BATCH_ITEMS, batch_bytes: int = BATCH_BYTES
    ) -> None:
        self.w3 = w3
        self.batch_items = batch_items
        self.batch_bytes = batch_bytes
        self._token_facts: dict[str, TokenFacts] = {}
        self._block_times: dict[int, int] = {}
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
        self._outputs = {
            item["name"]: [collapse_if_tuple(o) for o in item["outputs"]]
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

    def latest(self) -> tuple[int, int]:
        """(number, timestamp) of the latest block, in one request."""
        block = self._block("latest")
        return int(block["number"]), int(block["timestamp"])

    def block_time(self, number: int) -> int:
        """The timestamp of block `number` (statements date their lines with it). Kept for the last
        BLOCK_TIMES_KEPT blocks asked: a statement of a month asks for the same few hundred blocks again."""
        kept = self._block_times.get(number)
        if kept is None:
            kept = int(self._block(number)["timestamp"])
            if len(self._block_times) >= BLOCK_TIMES_KEPT:
                self._block_times.pop(next(iter(self._block_times)))
            self._block_times[number] = kept
        return kept

    def genesis_hash(self) -> bytes:
        """The hash of block 0: with the chain id, what tells this chain from another (a reset devnet)."""
        return bytes(self._block(0)["hash"])

    def block_hash(self, number: int) -> bytes | None:
        """The hash of block `number`; None only when the node says it has no such block (not yet, or no
        longer after a reorg). A node that does not answer raises NodeUnavailable: that is no reorg."""
        try:
            block = self._block(number)
        except LookupError:
            return None
        return bytes(block["hash"])

    def _block(self, number: int | str) -> dict[str, Any]:
        """A block's number, hash, timestamp and base fee (0 before London); LookupError when the node
        has no such block."""
        tag = number if isinstance(number, str) else hex(number)
        answers = self._batch([("eth_getBlockByNumber", [tag, False])])
        if answers is None:
            try:
                block = self.w3.eth.get_block(number)  # type: ignore[arg-type]
            except BlockNotFound as missing:
                raise LookupError(f"no block {number}") from missing
            return {
                "number": int(block["number"]),
                "hash": bytes(block["hash"]),
                "timestamp": int(block["timestamp"]),
                "base_fee": int(block.get("baseFeePerGas", 0)),
            }
        [answer] = answers
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            raise LookupError(f"no block {number}")
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

    def transaction_count(self, address: str, block: str = "pending") -> int:
        """The account's next nonce as the node sees it: counting its mempool ("pending") or only what
        is mined ("latest")."""
        return int(self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), block))  # type: ignore[arg-type]

    def transaction_counts(self, address: str) -> tuple[int, int]:
        """(mined, pending) next nonces of the account, in one round trip where the node batches."""
        checksummed = Web3.to_checksum_address(address)
        answers = self._batch([("eth_getTransactionCount", [checksummed, tag]) for tag in ("latest", "pending")])
        if answers is None:
            return self.transaction_count(address, "latest"), self.transaction_count(address, "pending")
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
        return int(answers[0], 16), int(answers[1], 16)

    def known_transactions(self, tx_hashes: Sequence[bytes]) -> list[bool]:
        """Whether the node knows each transaction (pending or mined)."""
        answers = self._batch([("eth_getTransactionByHash", ["0x" + h.hex()]) for h in tx_hashes])
        if answers is None:
            answers = [_attempt(lambda h=h: self.w3.eth.get_transaction(cast(Any, h))) for h in tx_hashes]
        return [answer is not None and not isinstance(answer, Exception) for answer in answers]

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
        """Each request's result (or its RpcError) from JSON-RPC batches bounded in requests and bytes;
        None when the provider cannot batch (the embedded chain), so the caller asks one by one. A node that
        does not answer raises NodeUnavailable; a batch it refuses whole is split until each request gets
        its own answer."""
        provider = self.w3.provider
        if not isinstance(provider, HTTPProvider):
            return None
        results: list[Any] = []
        for chunk in self._chunks(requests):
            results.extend(self._send_batch(provider, chunk))
        return results

    def _chunks(self, requests: list[tuple[str, list[Any]]]) -> Iterator[list[tuple[str, list[Any]]]]:
        chunk: list[tuple[str, list[Any]]] = []
        size = 0
        for request in requests:
            request_size = len(json.dumps(request[1], separators=(",", ":"))) + len(request[0]) + 48
            if chunk and (len(chunk) >= self.batch_items or size + request_size > self.batch_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append(request)
            size += request_size
        if chunk:
            yield chunk

    def _send_batch(self, provider: HTTPProvider, chunk: list[tuple[str, list[Any]]]) -> list[Any]:
        try:
            answers: Any = provider.make_batch_request([(RPCEndpoint(method), params) for method, params in chunk])
        except Exception as error:
            if unreachable(error):
                raise error if isinstance(error, NodeUnavailable) else NodeUnavailable(type(error).__name__) from error
            answers = {"error": {"message": f"{type(error).__name__}: {error}"}}  # answered, but not with JSON-RPC
        if isinstance(answers, list) and len(answers) == len(chunk):
            return [_result(answer) for answer in answers]
        refusal = _refusal(answers, len(chunk))
        if len(chunk) == 1:
            return [refusal]  # this request alone is refused: set aside with its error
        middle = len(chunk) // 2
        return self._send_batch(provider, chunk[:middle]) + self._send_batch(provider, chunk[middle:])

    # ------------------------------------------------------------------------------ reads

    def read_many(self, function: str, calls: Sequence[tuple[Any, ...]], block: int | str = "latest") -> list[Any]:
        """An escrow view function's result for each tuple of arguments, as of `block`, in JSON-RPC batches
        where the node batches (a reconciliation reads thousands). A single result comes as itself, several
        as a tuple; addresses come checksummed, as web3 gives them."""
        selector, types = self._functions[function]
        tag = hex(block) if isinstance(block, int) else block
        requests = [
            (
                "eth_call",
                [{"to": self.escrow.address, "data": "0x" + (selector + abi_encode(types, list(args))).hex()}, tag],
            )
            for args in calls
        ]
        answers = self._batch(requests)
        if answers is None:
            view = getattr(self.escrow.functions, function)
            return [view(*args).call(block_identifier=block) for args in calls]
        outputs = self._outputs[function]
        results = []
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
            values = tuple(_checksummed(v) for v in abi_decode(outputs, bytes.fromhex(answer[2:])))
            results.append(values[0] if len(values) == 1 else values)
        return results

    def token_facts(self, address: str) -> TokenFacts:
        """The token's name, symbol, decimals and whether it has permit(); asked once per process."""
        key = Web3.to_checksum_address(address)
        if key not in self._token_facts:
            token = self.token(key)

            def read(function: str, *args: Any) -> Any:
                try:
                    return getattr(token.functions, function)(*args).call()
                except Exception as error:  # absent (a revert), or an answer not shaped as the ABI says
                    if unreachable(error):
                        raise
                    return None

            permit = read("nonces", key) is not None and read("DOMAIN_SEPARATOR") is not None
            decimals = read("decimals")
            self._token_facts[key] = TokenFacts(
                key, str(read("name") or "?"), str(read("symbol") or "?"), int(decimals or 0), permit
            )
        return self._token_facts[key]

    def allowance(self, token: str, owner: str, spender: str) -> int:
        checksummed = (Web3.to_checksum_address(owner), Web3.to_checksum_address(spender))
        return int(self.token(token).functions.allowance(*checksummed).call())

    def refusal(self, sender: str, to: str, data: bytes) -> str | None:
        """None if `sender` calling `to` with `data` would succeed now, else the decoded reason it would not."""
        call = {"from": Web3.to_checksum_address(sender), "to": Web3.to_checksum_address(to), "data": data}
        try:
            self.w3.eth.call(call)  # type: ignore[arg-type]
        except Exception as refused:  # web3's ContractLogicError, or eth-tester's TransactionFailed
            if unreachable(refused):
                raise
            decoded = decode_revert(revert_data(refused))
            return f"{decoded.name}{decoded.args_}" if decoded.name != "EmptyRevert" else str(refused)
        return None

    def has_code(self, address: str) -> bool:
        """Whether `address` is a contract (a contract wallet, such as a multisig), not a key's account."""
        return len(self.w3.eth.get_code(Web3.to_checksum_address(address))) > 0

    def erc1271_refusal(self, wallet: str, digest: bytes, signature: bytes) -> str | None:
        """None if the contract at `wallet` says `signature` is its signature of `digest` (ERC-1271
        `isValidSignature` answers 0x1626ba7e, as the escrow asks it), else what it said instead."""
        call = ERC1271_SELECTOR + abi_encode(["bytes32", "bytes"], [digest, signature])
        try:
            answer = bytes(self.w3.eth.call({"to": Web3.to_checksum_address(wallet), "data": call}))
        except ContractLogicError as refused:
            data = refused.data if isinstance(refused.data, str) else ""
            if data.startswith("0x08c379a0"):  # Error(string)
                return str(abi_decode(["string"], bytes.fromhex(data[10:]))[0])
            return str(refused.message or refused)
        if len(answer) >= 32 and answer[:4] == ERC1271_SELECTOR:
            return None
        return f"it answered 0x{answer[:4].hex()}, not the ERC-1271 magic value"

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


def _checksummed(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_checksummed(v) for v in value)
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return Web3.to_checksum_address(value)
    return value


def _result(answer: Any) -> Any:
    if isinstance(answer, dict) and "error" in answer:
        error = dict(answer["error"] or {})
        return RpcError(str(error.get("message")), error.get("data"))
    return answer.get("result") if isinstance(answer, dict) else RpcError(f"not a JSON-RPC answer: {answer!r:.200}")


def _refusal(answers: Any, requested: int) -> RpcError:
    if isinstance(answers, dict) and answers.get("error"):
        error = dict(answers["error"])
        return RpcError(f"batch refused: {error.get('message', answers)}", error.get("data"))
    count = len(answers) if isinstance(answers, list) else "no"
    return RpcError(f"batch refused: {count} answers to {requested} requests")


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
