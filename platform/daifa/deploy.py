"""Deploying the contracts and recording where they are: deployments/<chain id>.json, which the platform
reads (`daifa deploy` writes it; `daifa serve` reads it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from daifa.chain.artifacts import load_artifact
from daifa.errors import DaifaError

DEPLOYMENTS_DIR = Path(__file__).resolve().parents[2] / "deployments"


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    escrow: str
    token: str | None  # the devnet test dollar, when one was deployed
    operator: str
    start_block: int  # the indexer starts here
    deployed_at: str
    gas: dict[str, int]

    def save(self, directory: Path = DEPLOYMENTS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.chain_id}.json"
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, chain_id: int, directory: Path = DEPLOYMENTS_DIR) -> Deployment:
        path = directory / f"{chain_id}.json"
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise DaifaError(f"no deployment for chain {chain_id} in {directory}: run `daifa deploy` first") from None


def deploy(
    w3: Web3,
    deployer: LocalAccount,
    operator: str | None = None,
    *,
    test_token: bool = True,
    progress: Callable[[str, int], None] | None = None,
) -> Deployment:
    """Deploys DaifaEscrow (operated by `operator`, the deployer by default) and, for devnets, the test
    dollar; returns where they are. `progress(name, gas)` is told of each contract deployed."""
    start_block = int(w3.eth.block_number)
    gas: dict[str, int] = {}
    escrow = _deploy(w3, deployer, "DaifaEscrow", [operator or deployer.address], gas)
    if progress:
        progress("DaifaEscrow", gas["DaifaEscrow"])
    token = None
    if test_token:
        token = _deploy(w3, deployer, "DaifaTestDollar", [], gas)
        if progress:
            progress("DaifaTestDollar", gas["DaifaTestDollar"])
    return Deployment(
        chain_id=int(w3.eth.chain_id),
        escrow=escrow,
        token=token,
        operator=operator or deployer.address,
        start_block=start_block,
        deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        gas=gas,
    )


def _deploy(w3: Web3, deployer: LocalAccount, name: str, args: list[Any], gas: dict[str, int]) -> str:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0))
    tx = factory.constructor(*args).build_transaction(
        {
            "from": deployer.address,
            "nonce": w3.eth.get_transaction_count(deployer.address, "pending"),
            "chainId": int(w3.eth.chain_id),
            "maxFeePerGas": 2 * base_fee + 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
    )
    signed = deployer.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    if receipt["status"] != 1 or receipt["contractAddress"] is None:
        raise DaifaError(f"deploying {name} failed in transaction {receipt['transactionHash'].hex()}")
    gas[name] = int(receipt["gasUsed"])
    return str(receipt["contractAddress"])
