"""Safe multisig wallets (Safe 1.3 and 1.4 with the CompatibilityFallbackHandler) as a party's wallet.

A Safe signs through ERC-1271: its owners each sign a `SafeMessage` wrapping the EIP-712 digest of what
the platform asks the party to sign, and the Safe's signature is their signatures concatenated in the
order of the owners' addresses. The escrow (and the platform before it) asks the Safe whether that is
valid (`isValidSignature`); it is when enough owners signed for its threshold. `message_payload` builds
what each owner signs (an eth_signTypedData_v4 payload a Safe owner's wallet shows), `combine` packs
what they signed.

A Safe sends transactions (the deposit of the wallet method) with `execTransaction`, signed by its
owners over a `SafeTx`: `transaction_payload` and `execute`. `deploy_factory` and `create` put Safes on a
devnet from the published artifacts in node_modules (npm @safe-global/safe-contracts 1.4.1).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from daifa.chain.typed_data import payload_digest
from daifa.devnet import PROJECT_ROOT
from daifa.errors import DaifaError

ARTIFACTS = PROJECT_ROOT / "node_modules" / "@safe-global" / "safe-contracts" / "build" / "artifacts" / "contracts"
DOMAIN_TYPE = [{"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}]
SAFE_TX_TYPE = [
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "data", "type": "bytes"},
    {"name": "operation", "type": "uint8"},
    {"name": "safeTxGas", "type": "uint256"},
    {"name": "baseGas", "type": "uint256"},
    {"name": "gasPrice", "type": "uint256"},
    {"name": "gasToken", "type": "address"},
    {"name": "refundReceiver", "type": "address"},
    {"name": "nonce", "type": "uint256"},
]
ZERO = "0x" + "00" * 20
# What a Safe's revert codes mean, for people (Safe 1.4.1 contracts/base/... and Safe.sol).
REASONS = {
    "GS020": "fewer owners signed than its threshold",
    "GS021": "a contract signature points inside the signatures' static part",
    "GS022": "a contract signature's length points past the signatures",
    "GS023": "a contract signature's data is cut short",
    "GS024": "an owner that is a contract rejected its signature",
    "GS025": "an approval the owner never gave on chain",
    "GS026": "a signature is by no owner, or the owners' signatures are not in the order of their addresses",
}


class SafeError(DaifaError):
    code = "safe_error"


def message_payload(safe: str, chain_id: int, typed: dict[str, Any]) -> dict[str, Any]:
    """What each owner of `safe` signs to have the Safe sign `typed` (the platform's request): a SafeMessage
    over the request's digest, in the Safe's own EIP-712 domain."""
    return {
        "types": {"EIP712Domain": DOMAIN_TYPE, "SafeMessage": [{"name": "message", "type": "bytes"}]},
        "primaryType": "SafeMessage",
        "domain": {"chainId": str(chain_id), "verifyingContract": to_checksum_address(safe)},
        "message": {"message": "0x" + abi_encode(["bytes32"], [payload_digest(typed)]).hex()},
    }


def combine(payload: dict[str, Any], signatures: Sequence[str | bytes]) -> str:
    """The Safe's signature from its owners' signatures over `payload` (each 65 bytes, any order): each
    owner is recovered, and the signatures are put in the order of the owners' addresses, as the Safe
    requires. Raises SafeError for a signature that does not recover."""
    by_owner: dict[int, bytes] = {}
    signable = encode_typed_data(full_message=payload)
    for given in signatures:
        raw = given if isinstance(given, bytes) else bytes.fromhex(given.removeprefix("0x"))
        if len(raw) != 65:
            raise SafeError(f"an owner's signature is 65 bytes, not {len(raw)}: sign the SafeMessage typed data")
        owner = Account.recover_message(signable, signature=raw)
        by_owner[int(owner, 16)] = raw
    return "0x" + b"".join(by_owner[owner] for owner in sorted(by_owner)).hex()


def sign_as(owners: Sequence[LocalAccount], safe: str, chain_id: int, typed: dict[str, Any]) -> str:
    """The Safe's signature of `typed` by `owners` (keys at hand: tests, a devnet, a CLI with keystores)."""
    payload = message_payload(safe, chain_id, typed)
    return combine(payload, [bytes(o.sign_typed_data(full_message=payload).signature) for o in owners])


def reason(revert: str) -> str:
    """A Safe's revert reason (GS020, ...) in words, with the code."""
    for code, words in REASONS.items():
        if code in revert:
            return f"{words} ({code})"
    return revert


# ------------------------------------------------------------------------------------------ on a devnet


@dataclass(frozen=True)
class Factory:
    singleton: str
    proxy_factory: str
    fallback_handler: str


def artifact(name: str) -> dict[str, Any]:
    paths = {
        "Safe": "Safe.sol/Safe.json",
        "SafeProxyFactory": "proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
        "CompatibilityFallbackHandler": "handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
    }
    path = ARTIFACTS / paths[name]
    if not path.is_file():
        raise SafeError(f"no Safe artifacts at {ARTIFACTS}: run `npm ci` in the project")
    return cast(dict[str, Any], json.loads(Path(path).read_text()))


def deploy_factory(w3: Web3, deployer: LocalAccount) -> Factory:
    """The Safe singleton, its proxy factory and the fallback handler, deployed from the published artifacts."""
    addresses = [
        _deploy(w3, deployer, artifact(name)) for name in ("Safe", "SafeProxyFactory", "CompatibilityFallbackHandler")
    ]
    return Factory(*addresses)


def create(w3: Web3, factory: Factory, owners: Sequence[str], threshold: int, deployer: LocalAccount) -> str:
    """A new Safe with these owners and threshold; its address."""
    safe = w3.eth.contract(address=to_checksum_address(factory.singleton), abi=artifact("Safe")["abi"])
    setup = safe.encode_abi(
        "setup",
        args=[[to_checksum_address(o) for o in owners], threshold, ZERO, b"", factory.fallback_handler, ZERO, 0, ZERO],
    )
    proxies = w3.eth.contract(
        address=to_checksum_address(factory.proxy_factory), abi=artifact("SafeProxyFactory")["abi"]
    )
    receipt = _send(
        w3,
        deployer,
        proxies.functions.createProxyWithNonce(factory.singleton, setup, len(owners) + threshold + w3.eth.block_number),
    )
    [created] = proxies.events.ProxyCreation().process_receipt(receipt, errors=DISCARD)
    return str(created["args"]["proxy"])


def contract(w3: Web3, safe: str) -> Contract:
    return w3.eth.contract(address=to_checksum_address(safe), abi=artifact("Safe")["abi"])


def transaction_payload(w3: Web3, safe: str, to: str, data: bytes, nonce: int | None = None) -> dict[str, Any]:
    """The SafeTx the owners sign to have `safe` call `to` with `data` (no value, no refund)."""
    nonce = int(contract(w3, safe).functions.nonce().call()) if nonce is None else nonce
    return {
        "types": {"EIP712Domain": DOMAIN_TYPE, "SafeTx": SAFE_TX_TYPE},
        "primaryType": "SafeTx",
        "domain": {"chainId": str(w3.eth.chain_id), "verifyingContract": to_checksum_address(safe)},
        "message": {
            "to": to_checksum_address(to), "value": "0", "data": "0x" + data.hex(), "operation": "0",
            "safeTxGas": "0", "baseGas": "0", "gasPrice": "0", "gasToken": ZERO, "refundReceiver": ZERO,
            "nonce": str(nonce),
        },
    }  # fmt: skip


def execute(w3: Web3, safe: str, to: str, data: bytes, owners: Sequence[LocalAccount], sender: LocalAccount) -> bytes:
    """Has `safe` call `to` with `data`, signed by `owners`, sent (and paid for) by `sender`; the hash."""
    payload = transaction_payload(w3, safe, to, data)
    signatures = combine(payload, [bytes(o.sign_typed_data(full_message=payload).signature) for o in owners])
    call = contract(w3, safe).functions.execTransaction(
        to_checksum_address(to), 0, data, 0, 0, 0, 0, ZERO, ZERO, bytes.fromhex(signatures[2:])
    )
    receipt = _send(w3, sender, call)
    if contract(w3, safe).events.ExecutionFailure().process_receipt(receipt, errors=DISCARD):
        raise SafeError(f"the Safe's call to {to} failed")
    return bytes(receipt["transactionHash"])


def _deploy(w3: Web3, deployer: LocalAccount, built: dict[str, Any]) -> str:
    factory = w3.eth.contract(abi=built["abi"], bytecode=built["bytecode"])
    receipt = _send(w3, deployer, factory.constructor())
    return str(receipt["contractAddress"])


def _send(w3: Web3, sender: LocalAccount, call: Any) -> Any:
    tx = call.build_transaction(
        {"from": sender.address, "nonce": w3.eth.get_transaction_count(sender.address, "pending")}
    )
    signed = sender.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    if receipt["status"] != 1:
        raise SafeError(f"transaction {receipt['transactionHash'].hex()} reverted")
    return receipt
