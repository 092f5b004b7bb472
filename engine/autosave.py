"""Autosave and crash recovery: the open sketch is copied to the user data folder while it has
unsaved changes, so that a crash or a killed process loses at most the last few seconds.

Each running session writes two files in ``<data dir>/autosave/``, each written atomically
(a temporary file renamed into place)::

    <session>.cantus   the sketch, as a normal Cantus sketch file
    <session>.json     {"format": "cantus-autosave", "version": 1, "original_path": str | null,
                        "saved_at": unix seconds, "pid": int, "pid_started": str | null,
                        "revision": int, "name": str}

The pair is deleted when the document is saved or closed cleanly. On start, a pair whose
process is no longer running was left by a crash and can be recovered. The data directory is
``platformdirs.user_data_dir("cantus")`` unless the environment variable CANTUS_DATA_DIR names
another (tests point it at a temporary folder). The timing policy (when to write) is
`AutosavePolicy`; the window drives it with a timer.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from engine.errors import CantusError
from engine.fileio import atomic_write_bytes
from engine.music.sketch import Sketch
from engine.music.sketch_file import dumps, load_sketch

DATA_ENV = "CANTUS_DATA_DIR"
FORMAT = "cantus-autosave"
VERSION = 1
SETTLE_S = 1.5  # write this long after the last change...
MAX_WAIT_S = 5.0  # ...but never let a change wait longer than this while edits keep coming


class AutosaveError(CantusError):
    """The autosave folder cannot be written (full disk, no permission)."""


def data_dir() -> Path:
    """Cantus's user data folder (CANTUS_DATA_DIR overrides the platform's choice)."""
    return Path(os.environ.get(DATA_ENV) or platformdirs.user_data_dir("cantus"))


def autosave_dir() -> Path:
    return data_dir() / "autosave"


# -- is a process alive? -----------------------------------------------------------------------

def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3 onwards of /proc/PID/stat (Linux), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces.
    return stat.rsplit(")", 1)[-1].split()


def _process_start(pid: int) -> str | None:
    """When ``pid`` started (Linux: clock ticks since boot): tells a reused pid from the first."""
    fields = _proc_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def pid_running(pid: int, started: str | None = None) -> bool:
    """Whether process ``pid`` runs (and, where ``started`` is known, is the same process)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    fields = _proc_stat(pid)
    if fields is not None:
        if fields[0] in ("Z", "X"):
            return False  # killed, not yet reaped by its parent
        if started is not None and len(fields) > 19 and fields[19] != started:
            return False  # the pid was reused by another process
    return True


# -- the files ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class AutosaveInfo:
    """One autosaved session found on disk."""

    sketch_path: Path  # the .cantus copy of the sketch
    meta_path: Path  # the .json beside it
    original_path: Path | None  # the file the sketch came from, None for an untitled one
    saved_at: float  # unix seconds of the last autosave
    pid: int  # the process that wrote it
    revision: int  # the document's revision it holds
    pid_started: str | None = None

    @property
    def name(self) -> str:
        return self.original_path.name if self.original_path else "Untitled"

    @property
    def session(self) -> str:
        return self.sketch_path.stem

    def running(self) -> bool:
        """Whether the session that wrote it is still alive (then it is not a crash)."""
        return pid_running(self.pid, self.pid_started)

    def load(self) -> Sketch:
        """The autosaved sketch; `SketchFileError` when the copy is damaged."""
        return load_sketch(self.sketch_path)

    def discard(self) -> None:
        """Delete the copy, with any temporary file a write cut short by the crash left behind."""
        leftovers = list(self.sketch_path.parent.glob(f".{self.session}.*.tmp"))
        for path in (self.meta_path, self.sketch_path, *leftovers):
            try:
                path.unlink()
            except FileNotFoundError:
                pass


def read_info(meta_path: Path) -> AutosaveInfo | None:
    """The autosave described by ``meta_path``, or None when it is not a readable one."""
    try:
        data = json.loads(meta_path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or int(data.get("version", 0)) > VERSION:
            return None
        original = data.get("original_path")
        return AutosaveInfo(
            sketch_path=meta_path.with_suffix(".cantus"),
            meta_path=meta_path,
            original_path=Path(original) if original else None,
            saved_at=float(data["saved_at"]),
            pid=int(data["pid"]),
            revision=int(data.get("revision", 0)),
            pid_started=data.get("pid_started"),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def find_autosaves(directory: Path | None = None) -> list[AutosaveInfo]:
    """Every autosave in the folder, newest first (running sessions included)."""
    directory = autosave_dir() if directory is None else Path(directory)
    if not directory.is_dir():
        return []
    found = [read_info(p) for p in directory.glob("*.json")]
    infos = [i for i in found if i is not None and i.sketch_path.is_file()]
    return sorted(infos, key=lambda i: i.saved_at, reverse=True)


def find_recoverable(directory: Path | None = None) -> list[AutosaveInfo]:
    """Autosaves left by sessions that are no longer running (crashed or killed), newest first."""
    return [i for i in find_autosaves(directory) if not i.running()]


class Autosaver:
    """Writes one session's autosave and removes it again.

    Parameters
    ----------
    directory : Path or None
        Where to write; None for ``autosave_dir()`` (read when the first write happens, so a
        test can set CANTUS_DATA_DIR after creating a window).
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = Path(directory) if directory is not None else None
        self.pid = os.getpid()
        self.session = f"{self.pid}-{uuid.uuid4().hex[:8]}"
        self.written_revision: int | None = None  # what the files on disk hold
        self.last_written_at: float | None = None  # unix seconds
        self._written_dir: Path | None = None

    @property
    def directory(self) -> Path:
        return self._directory if self._directory is not None else autosave_dir()

    @property
    def sketch_path(self) -> Path:
        return (self._written_dir or self.directory) / f"{self.session}.cantus"

    @property
    def meta_path(self) -> Path:
        return self.sketch_path.with_suffix(".json")

    @property
    def exists(self) -> bool:
        return self.written_revision is not None

    def write(self, sketch: Sketch, original_path: str | os.PathLike | None, revision: int) -> Path:
        """Write the sketch and its description atomically; returns the sketch copy's path.

        The sketch goes first: the description never points at an older sketch than it names.
        Raises `AutosaveError` with a sentence when the folder cannot be written.
        """
        directory = self.directory
        if self._written_dir is not None and self._written_dir != directory:
            self.discard()  # the data folder moved (a test changed CANTUS_DATA_DIR): start anew
        now = time.time()
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "original_path": str(Path(original_path).resolve()) if original_path else None,
            "saved_at": now,
            "pid": self.pid,
            "pid_started": _process_start(self.pid),
            "revision": int(revision),
            "name": Path(original_path).name if original_path else "Untitled",
        }
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._written_dir = directory
            atomic_write_bytes(self.sketch_path, dumps(sketch).encode("utf-8"))
            atomic_write_bytes(self.meta_path, json.dumps(meta).encode("utf-8"))
        except OSError as e:
            raise AutosaveError(
                f"Cantus cannot keep a safety copy of the sketch in '{directory}': "
                f"{e.strerror or e}. Save your work to a file.") from None
        self.written_revision = int(revision)
        self.last_written_at = now
        return self.sketch_path

    def discard(self) -> None:
        """Remove this session's autosave (after a save, or a close without saving)."""
        if self._written_dir is None:
            return
        for path in (self.meta_path, self.sketch_path):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass  # a stale copy is harmless: the next start sees our pid is gone and offers it
        self.written_revision = None
        self.last_written_at = None
        self._written_dir = None


class AutosavePolicy:
    """When to write: ``settle_s`` after the last change, and at most ``max_wait_s`` after the
    first unsaved one, so continuous editing is still saved every few seconds.

    Pure timing arithmetic, driven by whoever owns a timer: call `changed(now_s)` on each change
    and start (or restart) a one-shot timer with the delay it returns; call `written()` after
    a write. Times are monotonic seconds.
    """

    def __init__(self, settle_s: float = SETTLE_S, max_wait_s: float = MAX_WAIT_S) -> None:
        self.settle_s = float(settle_s)
        self.max_wait_s = float(max_wait_s)
        self.pending_since: float | None = None  # first change not yet written

    def changed(self, now_s: float) -> float:
        """A change happened at ``now_s``; seconds from now until the write is due."""
        if self.pending_since is None:
            self.pending_since = now_s
        deadline = self.pending_since + self.max_wait_s
        return max(0.0, min(self.settle_s, deadline - now_s))

    @property
    def pending(self) -> bool:
        return self.pending_since is not None

    def written(self) -> None:
        self.pending_since = None
