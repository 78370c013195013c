"""A signature request: typed data the platform prepared for one party's wallet to sign."""

from __future__ import annotations

from enum import StrEnum

from daifa.domain.workflow import Workflow


class SignatureStatus(StrEnum):
    PENDING = "pending"  # the party has not signed yet
    SIGNED = "signed"  # signed, and the signature checked against the party's address
    VOID = "void"  # no longer needed: the record it was for was rejected, withdrawn or expired


class SignatureEvent(StrEnum):
    SIGN = "sign"
    VOID = "void"


SIGNATURE_REQUEST: Workflow[SignatureStatus, SignatureEvent] = Workflow(
    name="signature request",
    initial=SignatureStatus.PENDING,
    moves={
        (SignatureStatus.PENDING, SignatureEvent.SIGN): SignatureStatus.SIGNED,
        (SignatureStatus.PENDING, SignatureEvent.VOID): SignatureStatus.VOID,
    },
)
