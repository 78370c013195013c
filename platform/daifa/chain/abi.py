"""Domain objects as the ABI tuples the contracts take, in the field order of DaifaTypes.sol."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from eth_utils.address import to_checksum_address as _to_checksum_address

from daifa.domain.plans import AgreementSetParams, Instalment, PlanParams

InstalmentTuple = tuple[int, int, int, int, bytes]


# The same few addresses (the parties, the tokens) are encoded and decoded call after call; the checksum
# is a keccak each time. Bounded: an address is 42 characters, so this holds a few megabytes at most.
to_checksum_address = lru_cache(maxsize=65_536)(_to_checksum_address)


def instalment(inst: Instalment) -> InstalmentTuple:
    return (inst.deposit_by, inst.release_at, inst.amount, int(inst.rule), inst.materials_hash)


def plan_params(p: PlanParams) -> tuple[object, ...]:
    return (
        p.agreement_set_id,
        to_checksum_address(p.payer),
        to_checksum_address(p.payee),
        to_checksum_address(p.token),
        to_checksum_address(p.arbiter),
        to_checksum_address(p.fee_recipient),
        p.fee_bps,
        p.fee_cap,
        p.review_window,
        p.expiry,
    )


def instalment_ref(index: int, inst: Instalment, proof: Sequence[bytes]) -> tuple[object, ...]:
    return (index, instalment(inst), list(proof))


def agreement_set(p: AgreementSetParams) -> tuple[object, ...]:
    return (
        to_checksum_address(p.payer),
        to_checksum_address(p.payee),
        p.payer_platform_agreement,
        p.payee_platform_agreement,
        p.payer_payee_agreement,
        [to_checksum_address(t) for t in p.tokens],
        p.limit,
        p.expiry,
    )


def joint_authorization(
    payer_nonce: int, payee_nonce: int, deadline: int, payer_signature: bytes, payee_signature: bytes
) -> tuple[object, ...]:
    """Empty bytes for a party's signature mean that party sends the transaction itself."""
    return (payer_nonce, payee_nonce, deadline, payer_signature, payee_signature)


def party_signature(nonce: int, deadline: int, signature: bytes) -> tuple[object, ...]:
    return (nonce, deadline, signature)


NO_SIGNATURE = party_signature(0, 2**256 - 1, b"")
"""For a party action the party sends itself."""
