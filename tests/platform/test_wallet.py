"""The party wallet: an encrypted eth-account keystore that signs EIP-712 typed data like a browser wallet."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from eth_account import Account

from daifa import Wallet, WalletError
from daifa.chain import typed_data as td
from daifa.wallet import verify

FAST_KDF = 2**4  # the keystores here are throwaway: a cheap scrypt keeps the tests quick
PAYLOAD = td.payload("PayerApproval", td.payer_approval_message(7, 2, 11, 2_000_000_000), 31337, "0x" + "ab" * 20)


def test_a_created_keystore_is_private_and_opens_with_its_password(tmp_path: Path) -> None:
    path = tmp_path / "payer.json"
    created = Wallet.create(path, "correct horse", iterations=FAST_KDF)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["crypto"]["kdf"] == "scrypt"
    assert Wallet.load(path, "correct horse").address == created.address
    assert Wallet.address_of(path).lower() == created.address.lower()


def test_a_keystore_refuses_the_wrong_password_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "payer.json"
    Wallet.create(path, "correct horse", iterations=FAST_KDF)
    with pytest.raises(WalletError, match="wrong password"):
        Wallet.load(path, "battery staple")
    with pytest.raises(WalletError, match="exists already"):
        Wallet.create(path, "other", iterations=FAST_KDF)
    with pytest.raises(WalletError, match="needs a password"):
        Wallet.create(tmp_path / "other.json", "", iterations=FAST_KDF)
    with pytest.raises(WalletError, match="no keystore"):
        Wallet.load(tmp_path / "missing.json", "x")


def test_an_imported_key_signs_exactly_as_eth_account_does(tmp_path: Path) -> None:
    key = "0x" + "42" * 32
    wallet = Wallet.import_key(tmp_path / "k.json", key, "pw", iterations=FAST_KDF)
    expected = Account.from_key(key).sign_typed_data(full_message=PAYLOAD).signature
    signature = wallet.sign_typed_data(PAYLOAD)
    assert signature == "0x" + bytes(expected).hex()
    assert verify(PAYLOAD, signature, wallet.address)
    assert not verify(PAYLOAD, signature, "0x" + "11" * 20)
    other_terms = td.payload(
        "PayerApproval", td.payer_approval_message(7, 3, 11, 2_000_000_000), 31337, "0x" + "ab" * 20
    )
    assert not verify(other_terms, signature, wallet.address)
    assert not verify(PAYLOAD, "0xnothex", wallet.address)
    with pytest.raises(WalletError, match="not a private key"):
        Wallet.import_key(tmp_path / "bad.json", "0x1234", "pw", iterations=FAST_KDF)
