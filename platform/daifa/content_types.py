"""What kinds of document the platform takes, told by a file's first bytes, never by its name: the server
checks uploads with it, the SDK labels what it sends."""

from __future__ import annotations

# What people upload for these flows: contracts, qualification documents, timesheets, receipts.
_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
]
ALLOWED_TYPES = frozenset(kind for _, kind in _SIGNATURES) | {"text/plain"}


def sniff_content_type(data: bytes) -> str | None:
    """The type the bytes are, for the allowed types; None for anything else."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = text.translate(_LINE_BREAKS_AND_TABS).isprintable()  # str methods: C speed for long texts
    return "text/plain" if printable else None


_LINE_BREAKS_AND_TABS = str.maketrans("", "", "\n\r\t")
