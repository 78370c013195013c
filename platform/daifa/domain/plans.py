"""Plans, instalments and agreement sets as the parties agree on them and the contracts record them.

Money is an ``int`` in the token's smallest unit and times are ``int`` unix seconds (UTC), exactly as
on chain, so nothing is lost to floats or time zones between the platform and the contracts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from eth_utils.crypto import keccak

MAX_INSTALMENTS = 252
MAX_FEE_BPS = 10_000
UINT32_MAX = 2**32 - 1
UINT40_MAX = 2**40 - 1
UINT128_MAX = 2**128 - 1


class ReleaseRule(IntEnum):
    """How an instalment becomes releasable."""

    TIME = 0
    """Anyone may release it once its release time has passed."""
    PAYER_APPROVAL = 1
    """The payer approves it (a transaction or an EIP-712 signature)."""
    MATERIALS = 2
    """The payee submits materials, the operator attests them, the review window passes undisputed."""


class PartyRole(IntFlag):
    PAYER = 1
    PAYEE = 2


class InstalmentStatus(IntFlag):
    """The contract's status bits. Bits are only ever set, so a status only moves forward."""

    UNFUNDED = 0
    FUNDED = 1
    CONDITION_MET = 2
    DISPUTED = 4
    CLOSED = 8


@dataclass(frozen=True)
class Instalment:
    deposit_by: int
    release_at: int
    amount: int
    rule: ReleaseRule
    materials_hash: bytes = b"\x00" * 32


@dataclass(frozen=True)
class PlanParams:
    """A plan's terms other than its instalments."""

    agreement_set_id: int
    payer: str
    payee: str
    token: str
    arbiter: str
    fee_recipient: str
    fee_bps: int
    fee_cap: int
    review_window: int
    expiry: int


@dataclass(frozen=True)
class AgreementSetParams:
    """A product opening: the parties, the hashes of the three agreements, the credit terms."""

    payer: str
    payee: str
    payer_platform_agreement: bytes
    payee_platform_agreement: bytes
    payer_payee_agreement: bytes
    tokens: tuple[str, ...]
    limit: int
    expiry: int


def is_releasable(
    rule: ReleaseRule, status: InstalmentStatus, release_at: int, review_ends_at: int | None, now: int
) -> bool:
    """Whether the escrow would release the instalment at chain time `now` (DaifaEscrow._releaseFailure)."""
    if status & (InstalmentStatus.CLOSED | InstalmentStatus.DISPUTED) or not status & InstalmentStatus.FUNDED:
        return False
    if rule == ReleaseRule.TIME:
        return now >= release_at
    if not status & InstalmentStatus.CONDITION_MET:
        return False
    return rule == ReleaseRule.PAYER_APPROVAL or (review_ends_at is not None and now >= review_ends_at)


def is_refundable_after_expiry(rule: ReleaseRule, status: InstalmentStatus) -> bool:
    """Whether refundExpired would refund the instalment once its plan has expired."""
    if status & (InstalmentStatus.CLOSED | InstalmentStatus.DISPUTED) or not status & InstalmentStatus.FUNDED:
        return False
    return rule != ReleaseRule.TIME and not status & InstalmentStatus.CONDITION_MET


def materials_hash(required: Sequence[str], verification: str) -> bytes:
    """What a plan commits to about an instalment's verification: the keccak of its canonical JSON."""
    if not required and not verification:
        return b"\x00" * 32
    spec = {"required_materials": list(required), "verification": verification}
    return keccak(json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
