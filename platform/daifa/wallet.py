"""A party's wallet: an encrypted keystore (the eth-account JSON keystore, the format geth and MetaMask
export) that signs EIP-712 typed data locally, or a signer behind a JSON-RPC endpoint (`Wallet.remote`: a
wallet daemon, a remote signer, a devnet's unlocked accounts) so that no key sits in a file the platform's
tools read. Either way the platform only ever sees signatures, which it checks against the party's
address, as the contracts do.

    wallet = Wallet.create(Path("payer.json"), password)    # or Wallet.remote("http://127.0.0.1:8550", "0x...")
    request = client.get_signature_request("sig_12")
    print(describe(request.typed_data))          # what is about to be signed, in words
    client.sign(request.id, wallet.sign_typed_data(request.typed_data))
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import Web3

from daifa.chain.typed_data import recover_signer
from daifa.errors import DaifaError

PASSWORD_ENV = "DAIFA_WALLET_PASSWORD"
STRONG_KDF_ITERATIONS = 2**18  # eth-account's scrypt default: about a second to unlock, on purpose


class WalletError(DaifaError):
    """A keystore that cannot be read, created or unlocked, or a signer that refuses or does not answer."""

    code = "wallet_error"
    http_status = 400


class Wallet:
    """A key that signs the platform's requests. Make one with `create`, `import_key`, `load` or (a key
    held elsewhere) `remote`; every method that fails raises `WalletError` saying what to do."""

    def __init__(self, account: LocalAccount, path: Path | None = None) -> None:
        self._account = account
        self.path = path

    @property
    def address(self) -> str:
        return str(self._account.address)

    @property
    def account(self) -> LocalAccount:
        """The unlocked key, for tools that sign other things than the platform's requests (a Safe's owners)."""
        return self._account

    # ------------------------------------------------------------------------------ keystores

    @classmethod
    def create(cls, path: Path, password: str, iterations: int = STRONG_KDF_ITERATIONS) -> Wallet:
        """A new random key, saved encrypted at `path` (which must not exist yet), mode 0600.

        Args:
            path: the keystore file to write.
            password: what unlocks it (scrypt, `iterations` rounds).
            iterations: the KDF's cost; lower it only in tests.
        """
        return cls.import_key(path, "0x" + os.urandom(32).hex(), password, iterations)

    @classmethod
    def import_key(cls, path: Path, private_key: str, password: str, iterations: int = STRONG_KDF_ITERATIONS) -> Wallet:
        """An existing key (64 hex digits) saved encrypted at `path`, as `create` saves a new one."""
        if path.exists():
            raise WalletError(f"{path} exists already: choose another file, or remove it first")
        if not password:
            raise WalletError(f"a keystore needs a password: type one, or set {PASSWORD_ENV}")
        try:
            account: LocalAccount = Account.from_key(private_key)
        except (ValueError, TypeError):
            raise WalletError("that is not a private key: 32 bytes as 64 hex digits, with or without 0x") from None
        keystore = Account.encrypt(account.key, password, kdf="scrypt", iterations=iterations)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(keystore, file)
        return cls(account, path)

    @classmethod
    def load(cls, path: Path, password: str) -> Wallet:
        """The keystore at `path`, unlocked with `password` (any eth-account/geth JSON keystore)."""
        try:
            keystore = json.loads(path.read_text())
        except FileNotFoundError:
            raise WalletError(f"no keystore at {path}: create one with `daifa wallet create`") from None
        except ValueError:
            raise WalletError(f"{path} is not a JSON keystore") from None
        try:
            key = Account.decrypt(keystore, password)
        except ValueError:
            raise WalletError(f"wrong password for {path}") from None
        return cls(Account.from_key(key), path)

    @staticmethod
    def remote(url: str, address: str, timeout: float = 120.0) -> RemoteWallet:
        """A wallet whose key stays behind `url`, a JSON-RPC endpoint that answers eth_signTypedData_v4 for
        `address` (the signer may ask its owner before it answers: hence the long timeout)."""
        return RemoteWallet(url, address, timeout)

    @staticmethod
    def address_of(path: Path) -> str:
        """The keystore's address, read without the password (keystores store it in the clear)."""
        try:
            return "0x" + str(json.loads(path.read_text())["address"]).removeprefix("0x")
        except (FileNotFoundError, KeyError, ValueError):
            raise WalletError(f"no readable keystore at {path}") from None

    # ------------------------------------------------------------------------------ signing

    def sign_typed_data(self, typed_data: dict[str, Any]) -> str:
        """The 0x-hex signature of an eth_signTypedData_v4 payload, exactly as a browser wallet makes it."""
        signed = self._account.sign_typed_data(full_message=typed_data)
        return "0x" + bytes(signed.signature).hex()

    def sign_transaction(self, transaction: dict[str, Any]) -> bytes:
        """A raw signed transaction, for the deposits a payer sends from its own wallet."""
        return bytes(self._account.sign_transaction(transaction).raw_transaction)

    def send(self, w3: Web3, to: str, data: str, timeout: float = 120.0) -> str:
        """Sends a call from this wallet through the node (the node's gas estimate and fees, the next nonce
        counting its mempool) and waits for it to be mined; its 0x hash. Raises WalletError if it reverted."""
        transaction: dict[str, Any] = {
            "from": self.address,
            "to": to_checksum_address(to),
            "data": data,
            "nonce": w3.eth.get_transaction_count(self.address, "pending"),  # type: ignore[arg-type]
            "chainId": w3.eth.chain_id,
            "maxPriorityFeePerGas": w3.eth.max_priority_fee,
        }
        transaction["maxFeePerGas"] = 2 * int(w3.eth.get_block("latest").get("baseFeePerGas", 0)) + int(
            transaction["maxPriorityFeePerGas"]
        )
        transaction["gas"] = w3.eth.estimate_gas(transaction)  # type: ignore[arg-type]
        tx_hash = w3.eth.send_raw_transaction(self.sign_transaction(transaction))
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
        if receipt["status"] != 1:
            raise WalletError(f"transaction 0x{bytes(tx_hash).hex()} reverted")
        return "0x" + bytes(tx_hash).hex()


class RemoteWallet:
    """Signs through a JSON-RPC signer's eth_signTypedData_v4 (see `Wallet.remote`)."""

    def __init__(self, url: str, address: str, timeout: float = 120.0) -> None:
        self.url = url
        self.address = to_checksum_address(address)
        self.timeout = timeout

    def sign_typed_data(self, typed_data: dict[str, Any]) -> str:
        answer = self._call("eth_signTypedData_v4", [self.address, json.dumps(typed_data)])
        if not isinstance(answer, str) or not answer.startswith("0x"):
            raise WalletError(f"the signer at {self.url} answered {answer!r:.80}, not a signature")
        return answer

    def _call(self, method: str, params: list[Any]) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        try:
            response = httpx.post(self.url, json=body, timeout=self.timeout)
            answer = response.json()
        except (httpx.HTTPError, ValueError) as failure:
            raise WalletError(
                f"the signer at {self.url} did not answer ({type(failure).__name__}): is it running?"
            ) from None
        if not isinstance(answer, dict) or answer.get("error"):
            refusal = answer.get("error") if isinstance(answer, dict) else answer
            raise WalletError(f"the signer at {self.url} refused to sign for {self.address}: {refusal}")
        return answer.get("result")


def verify(typed_data: dict[str, Any], signature: str, address: str) -> bool:
    """Whether `signature` over the typed data was made by `address`."""
    try:
        return recover_signer(typed_data, bytes.fromhex(signature.removeprefix("0x"))).lower() == address.lower()
    except (ValueError, TypeError):
        return False
