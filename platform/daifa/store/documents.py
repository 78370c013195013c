"""Documents (qualification papers, business contracts, delivered materials, evidence) in a
content-addressed store on the filesystem.

A document's id is the keccak-256 of its bytes: the same hash the contracts record (a party's reviewed
documents, the agreements, delivered materials), so anyone holding a file can check it against the chain.
Files are written to a temporary name, flushed to disk and renamed into place, so a crash leaves either
the whole document or nothing; every read re-hashes the bytes, so a damaged file is never served as good.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from eth_utils.crypto import keccak

from daifa.content_types import ALLOWED_TYPES, sniff_content_type
from daifa.errors import DaifaError, InvalidInput, NotFound, Problem
from daifa.private_files import private_directory

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class StoredDocument:
    hash: bytes  # keccak-256 of the content: the document's id and what goes on chain
    size: int
    content_type: str

    @property
    def hex(self) -> str:
        return "0x" + self.hash.hex()


class DocumentStore:
    def __init__(self, root: Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        private_directory(root)  # parties' papers: only the platform's user reads them

    def put(self, data: bytes, declared_type: str) -> StoredDocument:
        """Stores `data` (idempotent: the same bytes are stored once). Refuses empty, oversized and
        unrecognised files, and files whose bytes are not the declared type."""
        sniffed = self.check(data, declared_type)
        digest = keccak(data)
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._write_atomically(path, data)  # mkstemp creates it 0600
        return StoredDocument(digest, len(data), sniffed)

    def get(self, digest: bytes) -> bytes:
        """The document's bytes; NotFound if absent; an error if the file no longer hashes to `digest`."""
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no document 0x{digest.hex()}: upload it first") from None
        if keccak(data) != digest:
            raise DocumentCorrupted(digest)
        return data

    def verify(self, digest: bytes) -> bool:
        """Whether the stored document is present and still hashes to `digest`."""
        try:
            self.get(digest)
        except (NotFound, DocumentCorrupted):
            return False
        return True

    def check(self, data: bytes, declared_type: str) -> str:
        """The file's sniffed type, or InvalidInput saying why it is refused; stores nothing."""
        problems: list[Problem] = []
        if not data:
            problems.append(Problem("file", "is empty"))
        if len(data) > self.max_bytes:
            problems.append(Problem("file", f"is {len(data)} bytes; the most is {self.max_bytes}"))
        declared = declared_type.split(";")[0].strip().lower()
        sniffed = sniff_content_type(data) if data else None
        if sniffed is None and data:
            problems.append(Problem("file", f"is not one of {', '.join(sorted(ALLOWED_TYPES))}"))
        elif sniffed is not None and declared != sniffed:
            problems.append(Problem("content_type", f"says {declared or 'nothing'} but the file is {sniffed}"))
        if problems:
            raise InvalidInput(problems)
        assert sniffed is not None
        return sniffed

    def _path(self, digest: bytes) -> Path:
        if len(digest) != 32:
            raise InvalidInput([Problem("hash", "a document hash is 32 bytes (0x and 64 hex digits)")])
        name = digest.hex()
        return self.root / name[:2] / name[2:4] / name

    @staticmethod
    def _write_atomically(path: Path, data: bytes) -> None:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class DocumentCorrupted(DaifaError):
    """A stored file no longer hashes to its id: restore it from a backup or the party's copy."""

    code = "document_corrupted"

    def __init__(self, digest: bytes) -> None:
        super().__init__(f"document 0x{digest.hex()} is damaged on disk: restore it from a backup or ask for it again")
        self.digest = digest
