"""Decoding what the contracts' events carry beyond plain ABI values."""

from __future__ import annotations

from daifa.domain.plans import Instalment, ReleaseRule

PACKED_INSTALMENT_SIZE = 59


def unpack_instalments(packed: bytes) -> list[Instalment]:
    """The instalments of a PlanRecorded or PlanAmended event (PlanHashing.packInstalments): 59 bytes
    each, depositBy (5), releaseAt (5), amount (16), rule (1), materialsHash (32), big-endian."""
    if len(packed) % PACKED_INSTALMENT_SIZE:
        raise ValueError(f"packed instalments must be a multiple of {PACKED_INSTALMENT_SIZE} bytes, got {len(packed)}")
    instalments = []
    for start in range(0, len(packed), PACKED_INSTALMENT_SIZE):
        chunk = packed[start : start + PACKED_INSTALMENT_SIZE]
        instalments.append(
            Instalment(
                deposit_by=int.from_bytes(chunk[0:5], "big"),
                release_at=int.from_bytes(chunk[5:10], "big"),
                amount=int.from_bytes(chunk[10:26], "big"),
                rule=ReleaseRule(chunk[26]),
                materials_hash=bytes(chunk[27:59]),
            )
        )
    return instalments
