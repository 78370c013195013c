"""The content-addressed document store, on real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from daifa.errors import InvalidInput, NotFound
from daifa.store.documents import DocumentCorrupted, DocumentStore

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def store(tmp_path: Path) -> DocumentStore:
    return DocumentStore(tmp_path / "documents", max_bytes=1024)


def test_put_returns_the_keccak_of_the_bytes_and_get_returns_them(store: DocumentStore) -> None:
    stored = store.put(PDF, "application/pdf")
    assert stored.hash == keccak(PDF)
    assert (stored.size, stored.content_type) == (len(PDF), "application/pdf")
    assert stored.hex == "0x" + keccak(PDF).hex()
    assert store.get(stored.hash) == PDF
    assert store.verify(stored.hash)


def test_put_of_the_same_bytes_stores_them_once(store: DocumentStore) -> None:
    first = store.put(PDF, "application/pdf")
    second = store.put(PDF, "application/pdf; charset=binary")
    assert first == second
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert files == [store.root / first.hash.hex()[:2] / first.hash.hex()[2:4] / first.hash.hex()]


def test_put_accepts_plain_text_and_images(store: DocumentStore) -> None:
    assert store.put("工资表 March\n".encode(), "text/plain").content_type == "text/plain"
    assert store.put(PNG, "image/png").content_type == "image/png"


def test_put_refuses_an_empty_file(store: DocumentStore) -> None:
    with pytest.raises(InvalidInput, match="file: is empty"):
        store.put(b"", "application/pdf")


def test_put_refuses_a_file_over_the_limit(store: DocumentStore) -> None:
    with pytest.raises(InvalidInput, match="is 1025 bytes; the most is 1024"):
        store.put(b"a" * 1025, "text/plain")


def test_put_refuses_an_unrecognised_type(store: DocumentStore) -> None:
    with pytest.raises(InvalidInput, match="is not one of"):
        store.put(b"MZ\x90\x00\x03\x00\xff\xfe", "application/pdf")


def test_put_refuses_bytes_that_are_not_the_declared_type(store: DocumentStore) -> None:
    with pytest.raises(InvalidInput, match="content_type: says image/png but the file is application/pdf"):
        store.put(PDF, "image/png")
    assert not any(p.is_file() for p in store.root.rglob("*"))


def test_get_of_an_unknown_hash_is_not_found(store: DocumentStore) -> None:
    with pytest.raises(NotFound, match="upload it first"):
        store.get(keccak(b"never stored"))
    assert not store.verify(keccak(b"never stored"))


def test_get_refuses_a_malformed_hash(store: DocumentStore) -> None:
    with pytest.raises(InvalidInput, match="32 bytes"):
        store.get(b"\x01" * 31)


def test_get_detects_a_file_damaged_on_disk(store: DocumentStore) -> None:
    stored = store.put(PDF, "application/pdf")
    path = next(p for p in store.root.rglob("*") if p.is_file())
    path.write_bytes(PDF.replace(b"Catalog", b"Katalog"))
    with pytest.raises(DocumentCorrupted, match="damaged on disk"):
        store.get(stored.hash)
    assert not store.verify(stored.hash)


def test_a_failed_write_leaves_no_partial_file(store: DocumentStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("daifa.store.documents.os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.put(PDF, "application/pdf")
    assert not any(p.is_file() for p in store.root.rglob("*"))
    assert not store.verify(keccak(PDF))
