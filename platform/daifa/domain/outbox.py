"""A transaction in the relayer's outbox, and how its status moves (see daifa.chain.relayer)."""

from __future__ import annotations

from enum import StrEnum

from daifa.domain.workflow import Workflow


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting to be estimated and signed
    SIGNED = "signed"  # signed at a nonce; the raw transaction is kept before it is broadcast
    SENT = "sent"  # broadcast; waiting for a receipt of one of its versions
    MINED = "mined"  # a version of it succeeded on chain
    FAILED = "failed"  # it would revert (no nonce spent) or reverted on chain


class OutboxEvent(StrEnum):
    SIGNED = "signed"
    WOULD_REVERT = "would_revert"
    BROADCAST = "broadcast"
    MINED = "mined"
    REVERTED = "reverted"
    NONCE_LOST = "nonce_lost"  # a foreign transaction took its nonce: it is signed again at a fresh one
    DROPPED_BY_REORG = "dropped_by_reorg"  # the block it was mined in is no longer the chain's: sent again


S, E = OutboxStatus, OutboxEvent

OUTBOX: Workflow[OutboxStatus, OutboxEvent] = Workflow(
    name="outbox entry",
    initial=S.PENDING,
    moves={
        (S.PENDING, E.SIGNED): S.SIGNED,
        (S.PENDING, E.WOULD_REVERT): S.FAILED,
        (S.SIGNED, E.BROADCAST): S.SENT,
        (S.SENT, E.MINED): S.MINED,
        (S.SENT, E.REVERTED): S.FAILED,
        (S.SENT, E.NONCE_LOST): S.SIGNED,
        (S.MINED, E.DROPPED_BY_REORG): S.SENT,
        (S.FAILED, E.DROPPED_BY_REORG): S.SENT,
    },
)

WAITING = (S.PENDING, S.SIGNED, S.SENT)  # not settled yet
