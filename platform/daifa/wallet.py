"""A party's wallet: an encrypted keystore (the eth-account JSON keystore, the format geth and MetaMask
export) that signs EIP-712 typed data locally. The key never leaves it; the platform only ever sees
signatures, which it checks against the party's address, as the contracts do.

    wallet = Wallet.create(Path("payer.json"), password)
    request = client.get_signature_request("sig_12")
    print(describe(request.typed_data))          # what is about to be signed, in words
    client.sign(request.id, wallet.sign_typed_data(request.typed_data))
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from daifa.chain.typed_data import recover_signer
from daifa.errors import DaifaError

PASSWORD_ENV = "DAIFA_WALLET_PASSWORD"
STRONG_KDF_ITERATIONS = 2**18  # eth-account's scrypt default: about a second to unlock, on purpose


class WalletError(DaifaError):
    code = "wallet_error"
    http_status = 400


class Wallet:
    def __init__(self, account: LocalAccount, path: Path | None = None) -> None:
        self._account = account
        self.path = path

    @property
    def address(self) -> str:
        return str(self._account.address)

    # ------------------------------------------------------------------------------ keystores

    @classmethod
    def create(cls, path: Path, password: str, iterations: int = STRONG_KDF_ITERATIONS) -> Wallet:
        """A new random key, saved encrypted at `path` (which must not exist yet)."""
        return cls.import_key(path, "0x" + os.urandom(32).hex(), password, iterations)

    @classmethod
    def import_key(cls, path: Path, private_key: str, password: str, iterations: int = STRONG_KDF_ITERATIONS) -> Wallet:
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


def verify(typed_data: dict[str, Any], signature: str, address: str) -> bool:
    """Whether `signature` over the typed data was made by `address`."""
    try:
        return recover_signer(typed_data, bytes.fromhex(signature.removeprefix("0x"))).lower() == address.lower()
    except (ValueError, TypeError):
        return False


def describe(typed_data: dict[str, Any]) -> list[tuple[str, str]]:
    """What a payload says, field by field, for a person to read before signing."""
    domain = typed_data.get("domain", {})
    rows = [
        ("what", str(typed_data.get("primaryType"))),
        ("for", f"{domain.get('name')} v{domain.get('version')} on chain {domain.get('chainId')}"),
        ("contract", str(domain.get("verifyingContract"))),
    ]
    for key, value in typed_data.get("message", {}).items():
        if key == "instalments" and isinstance(value, list):
            for i, item in enumerate(value):
                rows.append((f"instalment {i}", ", ".join(f"{k}={v}" for k, v in item.items() if k != "materialsHash")))
        else:
            rows.append((key, str(value)))
    return rows
