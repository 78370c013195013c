"""approveParty, suspendParty, reinstateParty and the operator's ownership."""

from __future__ import annotations

from eth_utils.crypto import keccak

from tests.chain_harness import expect_revert
from tests.world import World

ZERO = "0x" + "00" * 20


def test_approve_party_reverts_when_sender_is_not_operator(world: World) -> None:
    with expect_revert("OwnableUnauthorizedAccount", world.outsider.address):
        world.send(world.escrow.functions.approveParty(world.outsider.address, 1, b"\x00" * 32), world.outsider)


def test_approve_party_reverts_when_account_is_zero(world: World) -> None:
    with expect_revert("Registry_ZeroAccount"):
        world.send(world.escrow.functions.approveParty(ZERO, 1, b"\x00" * 32), world.operator)


def test_approve_party_reverts_when_roles_are_zero(world: World) -> None:
    with expect_revert("Registry_InvalidRoles", 0):
        world.send(world.escrow.functions.approveParty(world.outsider.address, 0, b"\x00" * 32), world.operator)


def test_approve_party_reverts_when_roles_are_unknown(world: World) -> None:
    with expect_revert("Registry_InvalidRoles", 4):
        world.send(world.escrow.functions.approveParty(world.outsider.address, 4, b"\x00" * 32), world.operator)


def test_approve_party_records_roles_and_documents(world: World) -> None:
    docs = keccak(text="business licence")
    receipt = world.send(world.escrow.functions.approveParty(world.outsider.address, 3, docs), world.operator)
    assert world.events(receipt, "PartyApproved") == [
        {"account": world.outsider.address, "roles": 3, "documentsHash": docs}
    ]
    assert world.escrow.functions.party(world.outsider.address).call() == [3, False, docs]


def test_suspend_party_reverts_when_sender_is_not_operator(world: World) -> None:
    with expect_revert("OwnableUnauthorizedAccount", world.payee.address):
        world.send(world.escrow.functions.suspendParty(world.payer.address), world.payee)


def test_suspend_party_reverts_when_party_is_not_approved(world: World) -> None:
    with expect_revert("Registry_PartyNotApproved", world.outsider.address, 0):
        world.send(world.escrow.functions.suspendParty(world.outsider.address), world.operator)


def test_suspend_party_marks_party_suspended(world: World) -> None:
    receipt = world.send(world.escrow.functions.suspendParty(world.payee.address), world.operator)
    assert world.events(receipt, "PartySuspended") == [{"account": world.payee.address}]
    assert world.escrow.functions.party(world.payee.address).call()[1] is True


def test_reinstate_party_reverts_when_sender_is_not_operator(world: World) -> None:
    with expect_revert("OwnableUnauthorizedAccount", world.payer.address):
        world.send(world.escrow.functions.reinstateParty(world.payer.address), world.payer)


def test_reinstate_party_reverts_when_party_is_not_approved(world: World) -> None:
    with expect_revert("Registry_PartyNotApproved", world.outsider.address, 0):
        world.send(world.escrow.functions.reinstateParty(world.outsider.address), world.operator)


def test_reinstate_party_lifts_suspension(world: World) -> None:
    world.send(world.escrow.functions.suspendParty(world.payee.address), world.operator)
    receipt = world.send(world.escrow.functions.reinstateParty(world.payee.address), world.operator)
    assert world.events(receipt, "PartyReinstated") == [{"account": world.payee.address}]
    assert world.escrow.functions.party(world.payee.address).call()[1] is False


def test_renounce_ownership_reverts_always(world: World) -> None:
    with expect_revert("Registry_RenounceDisabled"):
        world.send(world.escrow.functions.renounceOwnership(), world.operator)


def test_transfer_ownership_takes_effect_when_new_operator_accepts(world: World) -> None:
    new_operator = world.chain.account("new-operator")
    world.send(world.escrow.functions.transferOwnership(new_operator.address), world.operator)
    assert world.escrow.functions.operator().call() == world.operator.address
    world.send(world.escrow.functions.acceptOwnership(), new_operator)
    assert world.escrow.functions.operator().call() == new_operator.address
