"""The engine thread seen from Qt: submits requests from the GUI thread and re-emits what the
engine reports (start, progress, partial results, results, errors, cancellations) as signals
delivered on the GUI thread, and to the callbacks given with each job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from engine.jobs import Engine, JobHandle, Progress


@dataclass(frozen=True)
class JobCallbacks:
    """What one job's submitter hears, on the GUI thread (any may be None)."""

    on_partial: Callable[[JobHandle, Any], None] | None = None
    on_done: Callable[[JobHandle], None] | None = None
    on_failed: Callable[[JobHandle, str], None] | None = None
    on_cancelled: Callable[[JobHandle], None] | None = None


class EngineBridge(QObject):
    """One per window. Signals carry the `JobHandle`, so a receiver can tell its own requests."""

    started = Signal(object)  # JobHandle
    progress = Signal(object, object)  # JobHandle, Progress
    partial = Signal(object, object)  # JobHandle, a value a generator job yielded
    finished = Signal(object)  # JobHandle with .result
    failed = Signal(object, str)  # JobHandle, a sentence for the user
    cancelled = Signal(object)  # JobHandle
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Signals emitted on the engine thread reach GUI-thread slots through queued connections.
        self._engine = Engine(
            on_started=self.started.emit,
            on_progress=lambda h, p: self.progress.emit(h, p),
            on_partial=lambda h, v: self.partial.emit(h, v),
            on_done=self.finished.emit,
            on_error=lambda h: self.failed.emit(h, h.error or "The request failed."),
            on_cancelled=self.cancelled.emit,
        )
        self._pending = 0
        self._callbacks: dict[JobHandle, JobCallbacks] = {}
        self.partial.connect(lambda h, v: self._call(h, "on_partial", v, last=False))
        self.finished.connect(lambda h: self._call(h, "on_done"))
        self.failed.connect(lambda h, message: self._call(h, "on_failed", message))
        self.cancelled.connect(lambda h: self._call(h, "on_cancelled"))
        for signal in (self.finished, self.cancelled):
            signal.connect(self._one_less)
        self.failed.connect(lambda h, _: self._one_less(h))

    def submit(self, fn: Callable[..., Any], *, key: str | None = None, name: str = "",
               on_partial=None, on_done=None, on_failed=None, on_cancelled=None) -> JobHandle:
        """Queue ``fn(ctx)`` on the engine thread; never blocks the GUI. The callbacks hear this
        job alone: ``on_partial(handle, value)`` for what it yields, then one of
        ``on_done(handle)`` (the result in ``handle.result``), ``on_failed(handle, sentence)``
        or ``on_cancelled(handle)`` (also when a newer job with the same key replaced it)."""
        handle = self._engine.submit(fn, key=key, name=name)
        callbacks = JobCallbacks(on_partial, on_done, on_failed, on_cancelled)
        if callbacks != JobCallbacks():
            # Safe after submit: the engine's reports reach this thread only once it runs its loop.
            self._callbacks[handle] = callbacks
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        return handle

    def _call(self, handle: JobHandle, which: str, *args, last: bool = True) -> None:
        callbacks = self._callbacks.pop(handle, None) if last else self._callbacks.get(handle)
        fn = getattr(callbacks, which, None) if callbacks is not None else None
        if fn is not None:
            fn(handle, *args)

    def _one_less(self, _handle: JobHandle) -> None:
        self._pending = max(self._pending - 1, 0)
        if self._pending == 0:
            self.busy_changed.emit(False)

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def cancel_all(self) -> None:
        self._engine.cancel_all()

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        """For tests: wait for the engine; signals still need the event loop to arrive."""
        return self._engine.wait_until_idle(timeout)

    def shutdown(self) -> None:
        self._engine.shutdown()


__all__ = ["EngineBridge", "JobCallbacks", "Progress"]
