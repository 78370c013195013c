"""The platform's connection to the chain: the escrow contract, the chain's clock, logs, raw transactions.

Everything the platform decides about time on chain uses `now()`, the latest block's timestamp, never
the server's clock: that is the clock the contracts check.
"""

from __future__ import annotations

from typing import Any, cast

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.types import FilterParams, LogReceipt, TxReceipt

from daifa.chain.artifacts import load_artifact

TOKEN_ABI_SOURCE = "DaifaTestDollar"  # any ERC-20 with permit; the platform calls only standard functions


class ChainClient:
    def __init__(self, w3: Web3, escrow_address: str) -> None:
        self.w3 = w3
        self.chain_id = int(w3.eth.chain_id)
        self.escrow: Contract = w3.eth.contract(
            address=Web3.to_checksum_address(escrow_address), abi=load_artifact("DaifaEscrow")["abi"]
        )

    @property
    def escrow_address(self) -> ChecksumAddress:
        return self.escrow.address

    # ------------------------------------------------------------------------------ blocks and time

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def head(self) -> int:
        return int(self.w3.eth.block_number)

    def block_hash(self, number: int) -> bytes | None:
        try:
            block = self.w3.eth.get_block(number)
        except Exception:  # the block does not exist (yet, or any more after a reorg)
            return None
        return bytes(block["hash"])

    def escrow_logs(self, from_block: int, to_block: int) -> list[LogReceipt]:
        params: FilterParams = {"address": self.escrow.address, "fromBlock": from_block, "toBlock": to_block}
        return list(self.w3.eth.get_logs(params))

    # ------------------------------------------------------------------------------ transactions

    def encode(self, function: str, *args: Any) -> bytes:
        """The calldata of an escrow function."""
        return bytes.fromhex(self.escrow.encode_abi(function, args=list(args))[2:])

    def transaction_count(self, address: str) -> int:
        return int(self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending"))

    def estimate_gas(self, sender: str, to: str, data: bytes) -> int:
        return int(
            self.w3.eth.estimate_gas(
                {"from": Web3.to_checksum_address(sender), "to": Web3.to_checksum_address(to), "data": data}
            )
        )

    def fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) for a transaction sent now: room for the base fee to
        double, and a tip of 1 gwei."""
        base_fee = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        tip = 10**9
        return 2 * base_fee + tip, tip

    def send_raw(self, raw: bytes) -> bytes:
        return bytes(self.w3.eth.send_raw_transaction(raw))

    def receipt(self, tx_hash: bytes) -> TxReceipt | None:
        try:
            return self.w3.eth.get_transaction_receipt(cast(Any, tx_hash))
        except Exception:  # web3 raises TransactionNotFound; eth-tester its own error
            return None

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
