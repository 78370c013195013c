"""The Python twins of the contracts' encodings, on bad input: clear errors, nothing guessed."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from daifa.chain import typed_data as td
from daifa.chain.events import PACKED_INSTALMENT_SIZE, unpack_instalments
from daifa.domain.plans import Instalment, ReleaseRule
from daifa.safe import message_payload

INSTALMENTS = [Instalment(10, 20, 5, ReleaseRule.TIME), Instalment(30, 40, 7, ReleaseRule.MATERIALS, b"\x01" * 32)]


def test_unpack_instalments_refuses_a_truncated_payload() -> None:
    with pytest.raises(ValueError, match="multiple of 59 bytes"):
        unpack_instalments(b"\x00" * (PACKED_INSTALMENT_SIZE + 1))


def test_unpack_instalments_refuses_an_unknown_rule() -> None:
    packed = bytearray(PACKED_INSTALMENT_SIZE)
    packed[26] = 9
    with pytest.raises(ValueError, match="9 is not a valid ReleaseRule"):
        unpack_instalments(bytes(packed))


def test_instalments_root_refuses_an_empty_plan() -> None:
    with pytest.raises(ValueError, match="at least one instalment"):
        td.instalments_root([])


def test_instalment_proof_refuses_an_index_outside_the_plan() -> None:
    with pytest.raises(IndexError, match="instalment 2 is not in a plan of 2"):
        td.instalment_proof(INSTALMENTS, 2)


def test_single_instalment_plan_has_its_leaf_as_root_and_an_empty_proof() -> None:
    assert td.instalments_root(INSTALMENTS[:1]) == td.leaf(0, INSTALMENTS[0])
    assert td.instalment_proof(INSTALMENTS[:1], 0) == []


def test_payload_carries_only_the_types_the_message_uses() -> None:
    payload = td.payload("PayerApproval", td.payer_approval_message(1, 0, 2, 3), 1, "0x" + "11" * 20)
    assert set(payload["types"]) == {"EIP712Domain", "PayerApproval"}
    plan = td.payload("Plan", {}, 1, "0x" + "11" * 20)
    assert set(plan["types"]) == {"EIP712Domain", "Plan", "Instalment"}


def _value(draw: st.DrawFn, types: dict[str, list[td.Field]], type_name: str) -> Any:
    """A random value of `type_name`, as the platform's messages hold it."""
    if type_name.endswith("[]"):
        return [_value(draw, types, type_name[:-2]) for _ in range(draw(st.integers(0, 3)))]
    if type_name in types:
        return {f["name"]: _value(draw, types, f["type"]) for f in types[type_name]}
    if type_name == "address":
        return to_checksum_address(draw(st.binary(min_size=20, max_size=20)))
    if type_name == "bytes32":
        return draw(st.binary(min_size=32, max_size=32))
    if type_name == "bytes":
        return draw(st.binary(max_size=70))
    if type_name == "string":
        return draw(st.text(max_size=20))
    bits = int(type_name.removeprefix("uint"))
    return draw(st.integers(0, 2**bits - 1))


@st.composite
def _payloads(draw: st.DrawFn) -> dict[str, Any]:
    primary = draw(st.sampled_from(sorted(td.TYPES)))
    message = _value(draw, td.TYPES, primary)
    address = to_checksum_address(draw(st.binary(min_size=20, max_size=20)))
    return td.payload(primary, message, draw(st.integers(1, 2**64)), address)


@given(_payloads())
@settings(max_examples=300, deadline=None)
def test_the_platforms_digest_of_every_message_kind_is_eth_accounts(payload: dict[str, Any]) -> None:
    """What every wallet signs: the platform's own encoder, on Python values and on the JSON a wallet is
    sent (integers as decimal strings, bytes as hex), against eth_account's."""
    signable = encode_typed_data(full_message=td.as_json(payload))
    expected = keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert td.payload_digest(payload) == expected
    assert td.payload_digest(td.as_json(payload)) == expected


def test_the_digest_of_a_permit_and_of_a_safe_message_is_eth_accounts() -> None:
    owner, spender = "0x" + "11" * 20, "0x" + "22" * 20
    permit = td.permit_payload("Daifa Test Dollar", "0x" + "33" * 20, 31337, owner, spender, 5 * 10**6, 3, 2**40)
    safe_message = message_payload("0x" + "44" * 20, 31337, permit)  # a domain of chainId and the Safe alone
    for payload in (permit, safe_message):
        signable = encode_typed_data(full_message=payload)
        assert td.payload_digest(payload) == keccak(b"\x19" + signable.version + signable.header + signable.body)
    wallet = Account.from_key(b"\x01" * 32)
    signature = wallet.sign_typed_data(full_message=permit).signature
    assert td.recover_signer(permit, bytes(signature)) == wallet.address
