"""Atomic file writes: a crash or a full disk never leaves half a file where a good one was."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object],
                 durable: bool = True) -> Path:
    """Call ``write(f)`` on a temporary file in the same folder as ``path``, then rename it.

    The rename is atomic on POSIX and Windows, so readers see either the old file or the new
    one, never a mix. The temporary file is removed if anything fails. ``durable`` also flushes
    the data to disk before the rename (the user's documents); caches can skip that cost.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes, durable: bool = True) -> Path:
    return atomic_write(path, lambda f: f.write(data), durable)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
