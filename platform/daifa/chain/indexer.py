"""The indexer: the only way the chain's state enters the database.

It reads the escrow's logs with eth_getLogs over ranges of blocks up to `confirmations` blocks behind
the head, stores them raw, and hands them to the projection, which folds them into the records, all in
one database transaction per range. It keeps the hash of each range's last block and of every block
with a log; when the node gives another hash for one of those, the chain reorganised: the logs after
the newest block that still matches are deleted and the projection is rebuilt from the logs that remain.

Only a different hash is a reorg. A node that does not answer (NodeUnavailable) or is behind the
indexer (its head below the blocks already read: restarted from an older snapshot, or a lagging node
behind a load balancer) rolls nothing back: the indexer waits, and says why in `waiting`. A range whose
logs the node refuses to return at once (too many results) is read in smaller ranges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker
from web3.types import LogReceipt

from daifa.chain.client import ChainClient, NodeUnavailable, RpcError
from daifa.store.models import ChainLog, IndexedBlock, IndexerCursor

log = logging.getLogger(__name__)

KEEP_BLOCK_HASHES = 1_024  # far deeper than any reorg a confirmation depth is chosen against


class Projection(Protocol):
    def apply(self, session: Session, logs: Sequence[ChainLog]) -> None: ...

    def rebuild(self, session: Session, after_block: int | None = None) -> None: ...


@dataclass
class Indexer:
    sessions: sessionmaker[Session]
    client: ChainClient
    projection: Projection
    confirmations: int = 0
    start_block: int = 0
    range_size: int = 2_000
    waiting: str | None = None  # why the indexer is not reading, when it is waiting on the node

    def run_once(self, progress: Callable[[int, int], None] | None = None, head: int | None = None) -> int:
        """Catches up to the confirmed head; returns the number of logs read. `progress(block, target)` is
        told after each range (the CLI draws a bar with it). `head` spares a read of the latest block."""
        head = self.client.head() if head is None else head
        newest = self._newest_indexed()
        if newest is not None and head < newest[0]:
            self.waiting = f"the node's head {head} is below block {newest[0]}, already indexed: waiting for it"
            log.warning("indexer: %s", self.waiting)
            return 0
        self.waiting = None
        self._check_reorg(newest)
        target = head - self.confirmations
        read = 0
        size = self.range_size
        while True:
            first = self._next_block()
            if first > target:
                return read
            last = min(first + size - 1, target)
            try:
                read += self._read_range(first, last)
            except RpcError as refused:
                if last == first:
                    raise
                size = max(1, (last - first + 1) // 2)  # too many logs at once for the node: smaller ranges
                log.info("indexer: blocks %s-%s refused (%s); reading %s at a time", first, last, refused, size)
                continue
            if progress is not None:
                progress(last, target)

    def lag(self) -> int:
        """Blocks between the chain's head and the last block read."""
        return max(0, self.client.head() - self._next_block() + 1)

    def _next_block(self) -> int:
        with self.sessions() as session:
            cursor = session.get(IndexerCursor, self.client.escrow_address)
            return self.start_block if cursor is None else cursor.next_block

    def _read_range(self, first: int, last: int) -> int:
        # The range's last block is read before and after the logs: if it changed in between, a reorg
        # happened mid-read and the logs may mix two chains; read again.
        for _attempt in range(5):
            before = self.client.block_hash(last)
            logs = self.client.escrow_logs(first, last)
            after = self.client.block_hash(last)
            if before is not None and before == after:
                break
        else:
            raise RuntimeError(f"blocks {first}-{last} keep changing while read; is the node syncing?")
        with self.sessions.begin() as session:
            cursor = session.get(IndexerCursor, self.client.escrow_address, with_for_update=True)
            if cursor is None:
                cursor = IndexerCursor(contract=self.client.escrow_address, next_block=self.start_block)
                session.add(cursor)
            if cursor.next_block != first:
                return 0  # another indexer got here first
            rows = [_row(entry) for entry in logs]
            # Folded before they are stored, so each row is inserted once, with the name the projection gives it,
            # in one multi-row INSERT rather than through the ORM's unit of work.
            self.projection.apply(session, rows)
            if rows:
                session.execute(insert(ChainLog), [_values(row) for row in rows])
            hashes = {int(entry["blockNumber"]): bytes(entry["blockHash"]) for entry in logs}
            hashes[last] = after
            session.execute(delete(IndexedBlock).where(IndexedBlock.number.in_(list(hashes))))
            session.add_all(IndexedBlock(number=number, hash=block_hash) for number, block_hash in hashes.items())
            session.execute(delete(IndexedBlock).where(IndexedBlock.number < last - KEEP_BLOCK_HASHES))
            cursor.next_block = last + 1
        return len(rows)

    def _newest_indexed(self) -> tuple[int, bytes] | None:
        with self.sessions() as session:
            row = session.execute(_NEWEST.limit(1)).first()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def _check_reorg(self, newest: tuple[int, bytes] | None) -> None:
        if newest is None or not self._replaced(*newest):
            return
        with self.sessions() as session:
            known = list(session.execute(_NEWEST))
        ancestor = self.start_block - 1
        for number, block_hash in known[1:]:
            if not self._replaced(number, block_hash):
                ancestor = number
                break
        self._roll_back(ancestor)

    def _replaced(self, number: int, kept: bytes) -> bool:
        """Whether the node now has another block at `number` than the one read. A node that has no
        block there at all, while its head is past it, contradicts itself: that is no evidence either."""
        current = self.client.block_hash(number)  # NodeUnavailable propagates: no answer is no reorg
        if current is None:
            raise NodeUnavailable(f"the node has no block {number} below its head")
        return current != kept

    def _roll_back(self, ancestor: int) -> None:
        with self.sessions.begin() as session:
            dropped = session.scalar(select(func.count()).select_from(ChainLog).where(ChainLog.block_number > ancestor))
            session.execute(delete(ChainLog).where(ChainLog.block_number > ancestor))
            session.execute(delete(IndexedBlock).where(IndexedBlock.number > ancestor))
            cursor = session.get(IndexerCursor, self.client.escrow_address, with_for_update=True)
            assert cursor is not None
            cursor.next_block = ancestor + 1
            session.flush()
            self.projection.rebuild(session, after_block=ancestor)
        log.warning("chain reorganised after block %s: %s logs rolled back, records rebuilt", ancestor, dropped)


_NEWEST = select(IndexedBlock.number, IndexedBlock.hash).order_by(IndexedBlock.number.desc())


def _row(entry: LogReceipt) -> ChainLog:
    return ChainLog(
        block_number=int(entry["blockNumber"]),
        block_hash=bytes(entry["blockHash"]),
        log_index=int(entry["logIndex"]),
        tx_hash=bytes(entry["transactionHash"]),
        address=str(entry["address"]),
        topics=["0x" + bytes(t).hex() for t in entry["topics"]],
        data=bytes(entry["data"]),
        name="",  # set by the projection, which knows the ABI
    )


def _values(row: ChainLog) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in ChainLog.__table__.columns if column.key != "id"}


def as_log_receipt(row: ChainLog) -> LogReceipt:
    """A stored log in the shape web3 decodes."""
    entry: dict[str, Any] = {
        "address": row.address,
        "blockHash": row.block_hash,
        "blockNumber": row.block_number,
        "data": row.data,
        "logIndex": row.log_index,
        "topics": [bytes.fromhex(t[2:]) for t in row.topics],
        "transactionHash": row.tx_hash,
        "transactionIndex": 0,
        "removed": False,
    }
    return cast(LogReceipt, entry)
