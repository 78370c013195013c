"""The relayer: every transaction the platform sends goes through its durable outbox.

An entry moves pending -> signed -> sent -> mined (or failed), each step committed before the next (the
moves are daifa.domain.outbox's table):
1. A use case adds the entry in the same database transaction as the change that needs it, so the
   intent and the change are both kept or both lost.
2. `sign` estimates the gas (a call that would revert fails the entry with the decoded custom error and
   spends no nonce), takes the signer's next nonce with a row lock, signs, and stores the raw
   transaction and its hash before anything is broadcast.
3. `broadcast` sends the stored bytes. A crash before it leaves a signed entry, sent again on restart;
   a crash after it leaves the same bytes, which the node calls known or already mined.
4. `follow` looks for a receipt of every version of the entry; one that waits too long is replaced by
   the same call at the same nonce with higher fees, so at most one version can ever be mined.
Each step handles every entry waiting for it at once: JSON-RPC batches to the node (estimates, raw
transactions, receipts; the chain client bounds and splits them), then one database transaction, so a
thousand approvals cost a few round trips rather than thousands, and no database lock is held while the
node is asked. An entry the node answers with an error of its own (not a revert) is set aside with that
error and tried again later, with a growing pause; the others go on.

The relayer owns its signer's nonces and notices when it does not:
- before taking nonces it compares its next nonce with the node's pending count; a higher count means
  transactions it did not send used its key (a script, a second platform): it moves past them;
- `follow` reads the signer's mined nonce first, then the receipts: an entry whose nonce is mined while
  none of its versions is, and that the node does not know, lost its nonce to a foreign transaction. It
  is signed again at a fresh nonce, once (its old versions can never be mined now), and the operator is
  told through the events feed (`relayer.nonce_conflict`) and the log.
Fees have a ceiling (`max_fee_per_gas`): a transaction is never signed above it, and one waiting at it is
left as it is (`relayer.fee_ceiling_reached`), not bumped by 25% every `replace_after` for ever.
A reorg that drops the block an entry was mined in sends it back to `sent` (`reopen_dropped`, called by
the indexer's rebuild): `follow` sends its bytes again, as a node returns a dropped block's transactions
to its mempool, and its nonce is still its own, so nothing after it can be mined first.
Nothing here says whether the call did what it meant: the indexer reads that from the chain's events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from daifa.chain.client import MAX_FEE_PER_GAS, ChainClient, Receipt
from daifa.chain.reverts import decode_revert, revert_data
from daifa.domain.outbox import OUTBOX, OutboxEvent, OutboxStatus
from daifa.errors import DaifaError
from daifa.store.models import OutboxEntry, SignerNonce, utcnow

log = logging.getLogger(__name__)

GAS_HEADROOM = 1.25  # the estimate is taken at one state; the call may run in a slightly different one
FEE_BUMP = 1.25  # nodes accept a replacement only if it pays at least 10% more; 25% clears quickly
MIN_REPLACEMENT_BUMP = 1.1  # what nodes require of a replacement's fees
BATCH = 1_000  # entries a step handles at once
FIRST_RETRY = timedelta(seconds=5)  # an entry the node answered with an error waits this, doubled each time
LONGEST_RETRY = timedelta(minutes=5)

FaultHook = Callable[[str, OutboxEntry], None]
SettledListener = Callable[[Session, OutboxEntry], None]
AlertListener = Callable[[Session, str, dict[str, Any]], None]


class NoSigner(DaifaError):
    code = "no_signer"

    def __init__(self) -> None:
        super().__init__("this process holds no operator key: transactions are signed by `daifa worker`")


def enqueue(session: Session, kind: str, subject: str, to: str, data: bytes) -> OutboxEntry:
    """Adds a transaction to the outbox inside the caller's database transaction."""
    entry = OutboxEntry(kind=kind, subject=subject, to=to, data=data, status=OUTBOX.initial, tx_hashes=[])
    session.add(entry)
    session.flush()
    return entry


def reopen_dropped(session: Session, after_block: int) -> list[OutboxEntry]:
    """The entries mined (or reverted) in blocks after `after_block`, which a reorg dropped, sent back to
    waiting for a receipt, inside the caller's database transaction."""
    dropped = list(
        session.scalars(select(OutboxEntry).where(OutboxEntry.mined_block > after_block).order_by(OutboxEntry.id))
    )
    for entry in dropped:
        entry.status = OUTBOX.next(OutboxStatus(entry.status), OutboxEvent.DROPPED_BY_REORG)
        entry.mined_tx_hash, entry.mined_block, entry.gas_used, entry.error = None, None, None, None
        entry.sent_at = utcnow()
        log.warning("relayer: %s (%s) was mined in a block a reorg dropped: sending it again", entry.id, entry.kind)
    return dropped


@dataclass
class Relayer:
    sessions: sessionmaker[Session]
    client: ChainClient
    address: str  # the operator's: whose nonces these are
    signer: LocalAccount | None = None  # None in processes that only read (the API's)
    replace_after: timedelta = timedelta(seconds=30)
    max_fee_per_gas: int = MAX_FEE_PER_GAS
    fault: FaultHook | None = None  # tests crash the relayer at named points with it
    listeners: list[SettledListener] = field(default_factory=list)
    alerts: list[AlertListener] = field(default_factory=list)  # what the operator must hear of

    nonces: dict[str, int] = field(default_factory=dict)  # the signer's, as last counted: mined, pending, next

    def run_once(self, sync: bool = True) -> int:
        """Checks the nonces (unless told not to), then signs, broadcasts and follows everything in the
        outbox once; returns how many entries moved."""
        if sync:
            self.sync_nonces()
        return self.sign() + self.broadcast() + self.follow()

    def sync_nonces(self) -> None:
        """Counts the signer's nonces on the node and moves the platform's next one past any used outside it."""
        mined, pending = self.client.transaction_counts(self.address)
        with self.sessions() as session:
            row = session.get(SignerNonce, self.address)
            following = None if row is None else row.next_nonce
        if following is not None and pending > following:
            with self.sessions.begin() as session:
                self._catch_up_nonce(session, pending)
                following = self._nonce_row(session).next_nonce
        self.nonces = {"mined": mined, "pending": pending, "next": pending if following is None else following}

    def _entries(self, status: OutboxStatus, ids: Sequence[int] | None) -> list[OutboxEntry]:
        """A detached snapshot of the entries in `status` that are due (oldest first, at most BATCH);
        each step locks them again before it changes one."""
        with self.sessions() as session:
            query = select(OutboxEntry).where(OutboxEntry.status == status).order_by(OutboxEntry.id).limit(BATCH)
            if status == OutboxStatus.PENDING:
                query = query.where(or_(OutboxEntry.retry_at.is_(None), OutboxEntry.retry_at <= utcnow()))
            if ids is not None:
                query = query.where(OutboxEntry.id.in_(ids))
            entries = list(session.scalars(query))
            session.expunge_all()
            return entries

    # ------------------------------------------------------------------------------------- steps
    # Each step asks the node about a whole batch of entries in one round trip, with no database
    # transaction open, then records what it learnt in one transaction.

    def sign(self, ids: Sequence[int] | None = None) -> int:
        snapshot = self._entries(OutboxStatus.PENDING, ids)
        if not snapshot:
            return 0
        if self.signer is None:
            raise NoSigner()
        estimates = dict(
            zip(
                [e.id for e in snapshot],
                self.client.estimate_many(self.address, [(e.to, e.data) for e in snapshot]),
                strict=True,
            )
        )
        max_fee, tip = self._fees()
        moved: list[OutboxEntry] = []
        with self.sessions.begin() as session:
            for entry in self._lock(session, list(estimates), OutboxStatus.PENDING):
                entry.attempts += 1
                gas = estimates[entry.id]
                if isinstance(gas, Exception):
                    data = revert_data(gas)
                    if not data and not _is_revert(gas):
                        self._set_aside(entry, f"gas estimate failed: {gas}")
                        continue
                    entry.status = OUTBOX.next(OutboxStatus(entry.status), OutboxEvent.WOULD_REVERT)
                    entry.error = f"would revert: {decode_revert(data)}" if data else f"would revert: {gas}"
                    self._settled(session, entry)
                else:
                    entry.sender = self.address
                    entry.nonce = self._take_nonce(session)
                    entry.gas_limit = int(gas * GAS_HEADROOM) + 10_000
                    entry.max_fee_per_gas, entry.max_priority_fee_per_gas = max_fee, tip
                    entry.error, entry.retry_at = None, None
                    self._sign_current(entry)
                    entry.status = OUTBOX.next(OutboxStatus(entry.status), OutboxEvent.SIGNED)
                moved.append(entry)
        for entry in moved:
            if entry.status == OutboxStatus.SIGNED:
                self._fault("signed", entry)
        return len(moved)

    def broadcast(self, ids: Sequence[int] | None = None) -> int:
        # Sent with no database transaction open: two workers may both send these bytes, which is harmless.
        snapshot = [e for e in self._entries(OutboxStatus.SIGNED, ids) if e.raw_transaction is not None]
        if not snapshot:
            return 0
        taken = self._send(snapshot)
        moved: list[OutboxEntry] = []
        with self.sessions.begin() as session:
            for entry in self._lock(session, taken, OutboxStatus.SIGNED):
                entry.status = OUTBOX.next(OutboxStatus(entry.status), OutboxEvent.BROADCAST)
                entry.sent_at = utcnow()
                moved.append(entry)
        for entry in moved:
            self._fault("sent", entry)
        return len(moved)

    def follow(self, ids: Sequence[int] | None = None) -> int:
        snapshot = self._entries(OutboxStatus.SENT, ids)
        if not snapshot:
            return 0
        # The mined nonce is read before the receipts: a nonce mined by then whose entry has no receipt
        # after it was not mined by any version of that entry.
        chain_mined, chain_pending = self.client.transaction_counts(self.address)
        hashes = [h for e in snapshot for h in e.tx_hashes]
        receipts = dict(zip(hashes, self.client.receipts([bytes.fromhex(h[2:]) for h in hashes]), strict=True))
        lost = self._lost_nonces(snapshot, receipts, chain_mined)
        overdue = any(e.sent_at is not None and utcnow() - e.sent_at >= self.replace_after for e in snapshot)
        fees = self._fees() if lost or overdue else None  # asked before the transaction opens
        moved, unmined = 0, []
        with self.sessions.begin() as session:
            for entry in self._lock(session, [e.id for e in snapshot], OutboxStatus.SENT):
                mined = next(((h, receipts[h]) for h in reversed(entry.tx_hashes) if receipts.get(h)), None)
                if mined is not None:
                    self._mined(session, entry, *mined)
                elif entry.id in lost:
                    assert fees is not None
                    self._sign_again(session, entry, max(chain_mined, chain_pending), fees)
                else:
                    unmined.append(entry)
                    continue
                moved += 1
            stale = [e for e in unmined if e.sent_at is not None and utcnow() - e.sent_at >= self.replace_after]
            replaced = self._replace(session, stale, fees) if stale and fees else []
        # Sent again: a node restarted without its mempool forgets them; one that has them says so.
        self._send(replaced + [e for e in unmined if e not in stale], quiet=True)
        return moved

    # ------------------------------------------------------------------------------------- helpers

    def _mined(self, session: Session, entry: OutboxEntry, tx_hash: str, receipt: Receipt) -> None:
        """Records the receipt of the entry's version that was mined, and tells the listeners."""
        entry.mined_tx_hash = tx_hash
        entry.mined_block = receipt.block_number
        entry.gas_used = receipt.gas_used
        if receipt.succeeded:
            entry.status = OUTBOX.next(OutboxStatus(entry.status), OutboxEvent.MINED)
        else:
            entry.status = OUTBOX.next(OutboxStatus(entry.status), OutboxEvent.REVERTED)
            entry.error = "reverted on chain"
        self._settled(session, entry)

    def _lock(self, session: Session, ids: Sequence[int], status: OutboxStatus) -> list[OutboxEntry]:
        """The entries among `ids` still in `status`, locked (another worker's locked ones are skipped)."""
        if not ids:
            return []
        query = (
            select(OutboxEntry)
            .where(OutboxEntry.id.in_(ids), OutboxEntry.status == status)
            .order_by(OutboxEntry.id)
            .with_for_update(skip_locked=True)
        )
        return list(session.scalars(query))

    def _nonce_row(self, session: Session) -> SignerNonce:
        address = self.address
        row = session.scalars(select(SignerNonce).where(SignerNonce.address == address).with_for_update()).first()
        if row is None:
            try:
                with session.begin_nested():
                    row = SignerNonce(address=address, next_nonce=self.client.transaction_count(address))
                    session.add(row)
            except IntegrityError:  # another worker created it first
                row = session.scalars(select(SignerNonce).where(SignerNonce.address == address).with_for_update()).one()
        return row

    def _take_nonce(self, session: Session) -> int:
        row = self._nonce_row(session)
        nonce = row.next_nonce
        row.next_nonce = nonce + 1
        return nonce

    def _catch_up_nonce(self, session: Session, chain_pending: int) -> None:
        """Moves the next nonce past transactions the platform did not send from its key."""
        row = self._nonce_row(session)
        if chain_pending > row.next_nonce:
            skipped = chain_pending - row.next_nonce
            log.warning(
                "relayer: nonces %s-%s of %s were used outside the platform; continuing at %s",
                row.next_nonce, chain_pending - 1, self.address, chain_pending,
            )  # fmt: skip
            self._alert(
                session,
                "relayer.nonce_conflict",
                {"address": self.address, "skipped_from": row.next_nonce, "skipped": skipped, "resigned": []},
            )
            row.next_nonce = chain_pending

    def _lost_nonces(self, snapshot: list[OutboxEntry], receipts: dict[str, Any], chain_mined: int) -> set[int]:
        """The entries whose nonce the chain has mined, with no version of theirs mined or known to the node."""
        suspects = [
            e for e in snapshot
            if e.nonce is not None and e.nonce < chain_mined and not any(receipts.get(h) for h in e.tx_hashes)
        ]  # fmt: skip
        if not suspects:
            return set()
        hashes = [h for e in suspects for h in e.tx_hashes]
        known = dict(zip(hashes, self.client.known_transactions([bytes.fromhex(h[2:]) for h in hashes]), strict=True))
        return {e.id for e in suspects if not any(known[h] for h in e.tx_hashes)}

    def _sign_again(self, session: Session, entry: OutboxEntry, chain_next: int, fees: tuple[int, int]) -> None:
        """Signs the entry's call again at a fresh nonce: its own nonce went to a foreign transaction, so
        none of its old versions can ever be mined."""
        lost = entry.nonce
        self._catch_up_nonce(session, chain_next)
        entry.nonce = self._take_nonce(session)
        entry.max_fee_per_gas, entry.max_priority_fee_per_gas = fees
        self._sign_current(entry)
        entry.status = OUTBOX.next(OutboxStatus(entry.status), OutboxEvent.NONCE_LOST)
        entry.sent_at = None
        entry.error = f"nonce {lost} was used by a transaction the platform did not send: signed again at {entry.nonce}"
        log.warning("outbox %s: %s", entry.id, entry.error)
        self._alert(
            session,
            "relayer.nonce_conflict",
            {"address": self.address, "lost_nonce": lost, "new_nonce": entry.nonce, "transaction": entry.id},
        )

    def _fees(self) -> tuple[int, int]:
        max_fee, tip = self.client.fees()
        max_fee = min(max_fee, self.max_fee_per_gas)
        return max_fee, min(tip, max_fee)

    def _set_aside(self, entry: OutboxEntry, error: str) -> None:
        """Leaves the entry pending with its error, to be tried again after a pause that grows each time."""
        wait = min(FIRST_RETRY * 2 ** min(entry.attempts - 1, 16), LONGEST_RETRY)
        entry.error = error[:2_000]
        entry.retry_at = utcnow() + wait
        log.warning("outbox %s: set aside for %s s: %s", entry.id, int(wait.total_seconds()), error)

    def _sign_current(self, entry: OutboxEntry) -> None:
        if self.signer is None:
            raise NoSigner()
        tx: dict[str, Any] = {
            "chainId": self.client.chain_id,
            "nonce": entry.nonce,
            "to": entry.to,
            "data": entry.data,
            "value": 0,
            "gas": entry.gas_limit,
            "maxFeePerGas": entry.max_fee_per_gas,
            "maxPriorityFeePerGas": entry.max_priority_fee_per_gas,
            "type": 2,
        }
        signed = self.signer.sign_transaction(cast(Any, tx))
        entry.raw_transaction = bytes(signed.raw_transaction)
        entry.tx_hashes = [*entry.tx_hashes, "0x" + bytes(signed.hash).hex()]

    def _replace(self, session: Session, entries: list[OutboxEntry], fees: tuple[int, int]) -> list[OutboxEntry]:
        """Re-signs each at its nonce with fees at least FEE_BUMP higher, up to the ceiling; returns those
        re-signed. One whose fees cannot rise by what nodes require is left waiting, and said so once."""
        max_fee, tip = fees
        replaced = []
        for entry in entries:
            assert entry.max_fee_per_gas is not None and entry.max_priority_fee_per_gas is not None
            new_fee = min(max(max_fee, int(entry.max_fee_per_gas * FEE_BUMP)), self.max_fee_per_gas)
            new_tip = min(max(tip, int(entry.max_priority_fee_per_gas * FEE_BUMP)), new_fee)
            if (
                new_fee < entry.max_fee_per_gas * MIN_REPLACEMENT_BUMP
                or new_tip < entry.max_priority_fee_per_gas * MIN_REPLACEMENT_BUMP
            ):
                self._at_ceiling(session, entry)
                continue
            age = int((utcnow() - entry.sent_at).total_seconds()) if entry.sent_at else 0
            entry.max_fee_per_gas, entry.max_priority_fee_per_gas = new_fee, new_tip
            self._sign_current(entry)
            entry.sent_at = utcnow()
            log.warning(
                "outbox %s: unmined after %s s; replaced at nonce %s with max fee %s wei/gas (version %s)",
                entry.id, age, entry.nonce, new_fee, len(entry.tx_hashes),
            )  # fmt: skip
            replaced.append(entry)
        return replaced

    def _at_ceiling(self, session: Session, entry: OutboxEntry) -> None:
        note = f"waiting at the fee ceiling ({self.max_fee_per_gas} wei/gas): raise it or wait for lower fees"
        if entry.error == note:
            return
        entry.error = note
        log.warning("outbox %s: nonce %s %s", entry.id, entry.nonce, note)
        data = {"transaction": entry.id, "nonce": entry.nonce, "max_fee_per_gas": entry.max_fee_per_gas}
        self._alert(session, "relayer.fee_ceiling_reached", data)

    def _send(self, entries: list[OutboxEntry], quiet: bool = False) -> list[int]:
        """Broadcasts the entries' current raw transactions; the ids of those the node has, or whose nonce
        it says is used (follow() then tells whether by them or by a foreign transaction)."""
        if not entries:
            return []
        try:
            errors = self.client.send_many([e.raw_transaction or b"" for e in entries])
        except Exception as error:
            log.warning("outbox: broadcast of %s failed, will retry: %s", len(entries), error)
            return []
        taken = []
        for entry, refusal in zip(entries, errors, strict=True):
            message = str(refusal).lower()
            if refusal is None or "known" in message or "nonce too low" in message or "already" in message:
                taken.append(entry.id)
            else:
                log.log(
                    logging.DEBUG if quiet else logging.WARNING, "outbox %s: broadcast refused: %s", entry.id, refusal
                )
        return taken

    def _alert(self, session: Session, kind: str, data: dict[str, Any]) -> None:
        for listener in self.alerts:
            listener(session, kind, data)

    def _settled(self, session: Session, entry: OutboxEntry) -> None:
        for listener in self.listeners:
            listener(session, entry)

    def _fault(self, point: str, entry: OutboxEntry) -> None:
        if self.fault is not None:
            self.fault(point, entry)


def _is_revert(error: Exception) -> bool:
    name = type(error).__name__
    return "Revert" in name or "ContractLogicError" in name or "TransactionFailed" in name
