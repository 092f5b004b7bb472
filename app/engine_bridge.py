"""The engine thread seen from Qt: submits requests from the GUI thread and re-emits what the
engine reports (start, progress, partial results, results, errors, cancellations) as signals
delivered on the GUI thread."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from engine.jobs import Engine, JobHandle, Progress


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
        for signal in (self.finished, self.cancelled):
            signal.connect(self._one_less)
        self.failed.connect(lambda h, _: self._one_less(h))

    def submit(self, fn: Callable[..., Any], *, key: str | None = None, name: str = "") -> JobHandle:
        """Queue ``fn(ctx)`` on the engine thread; never blocks the GUI."""
        handle = self._engine.submit(fn, key=key, name=name)
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        return handle

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


__all__ = ["EngineBridge", "Progress"]
