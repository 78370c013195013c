"""The Python twins of the contracts' encodings, on bad input: clear errors, nothing guessed."""

from __future__ import annotations

import pytest

from daifa.chain import typed_data as td
from daifa.chain.events import PACKED_INSTALMENT_SIZE, unpack_instalments
from daifa.domain.plans import Instalment, ReleaseRule

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
