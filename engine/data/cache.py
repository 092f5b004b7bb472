"""Where corpus data is cached, and the per-file cache of extraction results.

Each source file's `FileResult` is pickled under a key made of its path, size, modification
time and the extractor version, so an interrupted build resumes where it stopped and a rebuild
parses nothing that has not changed. The directory is ``platformdirs.user_cache_dir("cantus")``
unless the environment variable CANTUS_CACHE_DIR names another.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import platformdirs

from engine.data.pieces import EXTRACTOR_REVISIONS, EXTRACTOR_VERSION, FileResult
from engine.fileio import atomic_write_bytes

CACHE_ENV = "CANTUS_CACHE_DIR"


def cache_dir() -> Path:
    """The corpus cache folder (created when missing)."""
    root = os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("cantus")
    path = Path(root) / "corpora"
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_key(kind: str, paths: list[Path]) -> str:
    """Cache key of one unit of work: kind, extractor version, and path, size, mtime of its files."""
    revision = EXTRACTOR_REVISIONS.get(kind)
    h = hashlib.sha1((f"{kind}|v{EXTRACTOR_VERSION}" + (f".{revision}" if revision else "")).encode())
    for p in paths:
        st = p.stat()
        h.update(f"|{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()


def _entry(kind: str, key: str) -> Path:
    return cache_dir() / "files" / kind / key[:2] / f"{key}.pkl"


def load_file_result(kind: str, key: str) -> FileResult | None:
    """The cached result for a key, or None (missing, unreadable or from another version)."""
    path = _entry(kind, key)
    try:
        with open(path, "rb") as f:
            result = pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception:  # a torn or stale file is a cache miss, never an error
        return None
    if not isinstance(result, FileResult) or result.version != EXTRACTOR_VERSION:
        return None
    return result


def save_file_result(kind: str, key: str, result: FileResult) -> None:
    """Store a result; a temporary file renamed into place, so readers never see half of one."""
    path = _entry(kind, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    # No fsync: losing a cache file in a power cut costs one re-parse; thousands of fsyncs cost more.
    atomic_write_bytes(path, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL), durable=False)
