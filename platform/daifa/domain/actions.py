"""What a party or the operator does on a recorded plan (an action), and how its status moves.

An action waits for the signatures it needs (or, for a deposit the payer sends from its own wallet, for
the payer), then goes to the relayer; its status follows its transaction. What the transaction changed
on chain reaches the instalments through the indexer, never through the action's status.
"""

from __future__ import annotations

from enum import StrEnum

from daifa.domain.workflow import Workflow


class ActionKind(StrEnum):
    DEPOSIT = "deposit"  # the payer funds instalments
    PAYER_APPROVAL = "payer_approval"  # the payer approves a payer-approval instalment's release
    MATERIALS = "materials"  # the payee delivers a materials instalment's materials
    ATTESTATION = "attestation"  # the operator attests delivered materials
    DISPUTE = "dispute"  # the payer or the payee freezes an instalment
    RESOLUTION = "resolution"  # the arbiter splits a disputed instalment
    CANCELLATION = "cancellation"  # both parties cancel instalments; funded ones refund to the payer
    AMENDMENT = "amendment"  # both parties sign new instalments; touched ones stay as they are


class ActionStatus(StrEnum):
    AWAITING_SIGNATURES = "awaiting_signatures"  # the parties' wallets sign what the platform prepared
    AWAITING_WALLET = "awaiting_wallet"  # the payer sends the returned transactions from its wallet
    QUEUED = "queued"  # in the relayer's outbox
    MINED = "mined"  # its transaction succeeded on chain
    FAILED = "failed"  # its transaction failed (the error says why)


class ActionEvent(StrEnum):
    LEFT_TO_WALLET = "left_to_wallet"
    QUEUED = "queued"
    TRANSACTION_MINED = "transaction_mined"
    TRANSACTION_FAILED = "transaction_failed"
    TRANSACTION_DROPPED = "transaction_dropped"  # a reorg dropped the block it was mined in: it is sent again


S, E = ActionStatus, ActionEvent

ACTION_LIFECYCLE: Workflow[ActionStatus, ActionEvent] = Workflow(
    name="action",
    initial=S.AWAITING_SIGNATURES,
    moves={
        (S.AWAITING_SIGNATURES, E.LEFT_TO_WALLET): S.AWAITING_WALLET,
        (S.AWAITING_SIGNATURES, E.QUEUED): S.QUEUED,
        (S.QUEUED, E.TRANSACTION_MINED): S.MINED,
        (S.QUEUED, E.TRANSACTION_FAILED): S.FAILED,
        (S.MINED, E.TRANSACTION_DROPPED): S.QUEUED,
        (S.FAILED, E.TRANSACTION_DROPPED): S.QUEUED,
    },
)
