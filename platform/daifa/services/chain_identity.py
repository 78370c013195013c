"""Which chain the database describes. The first platform to open a database records the node's chain
id and genesis block for its escrow; every later start, and every worker while it runs, compares. A
devnet reset under a kept database (a new chain at the same id, the escrow at the same address) would
otherwise look to the indexer like a reorganisation of the whole history, and to the relayer like
nonces gone back: it is refused instead, with what to do."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from daifa.chain.client import ChainClient
from daifa.errors import DaifaError
from daifa.store.models import ChainIdentity


class ChainMismatch(DaifaError):
    code = "chain_mismatch"


def check(sessions: sessionmaker[Session], chain: ChainClient, genesis: bytes | None = None) -> bytes:
    """Records the chain on first use; raises ChainMismatch if the node is on another. Returns the
    genesis hash the records belong to."""
    genesis = chain.genesis_hash() if genesis is None else genesis
    with sessions.begin() as session:
        known = session.get(ChainIdentity, chain.escrow_address)
        if known is None:
            session.add(ChainIdentity(escrow=chain.escrow_address, chain_id=chain.chain_id, genesis_hash=genesis))
            return genesis
        if known.chain_id != chain.chain_id or known.genesis_hash != genesis:
            raise ChainMismatch(
                f"this database describes chain {known.chain_id} (genesis 0x{known.genesis_hash.hex()[:16]}..., "
                f"escrow {known.escrow}); the node is on chain {chain.chain_id} (genesis 0x{genesis.hex()[:16]}...): "
                "the devnet was reset or this is another network. Point --rpc-url at the node the database was "
                "built on, or start with a new database (and `daifa deploy` on the new chain)"
            )
        return bytes(known.genesis_hash)
