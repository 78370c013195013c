"""Files and folders only their owner can read: the database, documents, the first operator key."""

from __future__ import annotations

import os
from pathlib import Path


def private_directory(path: Path) -> Path:
    """Creates `path` (and its parents) if missing; the folder itself is made 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Creates `path` empty if missing; the file is made 0600 either way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    return path


def write_private(path: Path, text: str) -> None:
    """Writes `text` to `path`, created 0600 (a file that exists is made 0600 before it is written)."""
    private_file(path)
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)
