"""The engine thread: one worker that runs model requests in order, newest first where a key says so.

Every model call in Cantus goes through here, so the window never waits on a model. A request
with a key replaces a waiting one with the same key and asks a running one to stop (newest
wins, as a slider drag wants). Cancellation is cooperative: a job checks `ctx.cancelled` or
calls `ctx.check()` between steps, or is a generator whose every `yield` is a step. Errors
come back as sentences, never as crashes. Plain threading; no Qt (app/engine_bridge.py turns
the callbacks into Qt signals).
"""

from __future__ import annotations

import enum
import inspect
import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.errors import CantusError

log = logging.getLogger(__name__)


def run_to_end(gen) -> Any:
    """Run a generator to its end and give back its return value (what it yields is dropped):
    a streaming function (``render_sketch_stream``) called for its whole result."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def map_yields(gen, fn: Callable[[Any], Any]):
    """Yield ``fn(value)`` for every value ``gen`` yields, and return what ``gen`` returns;
    ``result = yield from map_yields(gen, fn)`` passes a stream on, reshaped."""
    while True:
        try:
            value = next(gen)
        except StopIteration as stop:
            return stop.value
        yield fn(value)


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Cancelled(Exception):
    """Raised inside a job by `JobContext.check()` once the job has been cancelled."""


@dataclass(frozen=True)
class Progress:
    fraction: float | None  # 0..1, or None when unknown
    message: str = ""


class JobContext:
    """What a running job sees: its cancellation flag and a way to report progress."""

    def __init__(self, handle: "JobHandle", report: Callable[["JobHandle", Progress], None]) -> None:
        self._handle = handle
        self._report = report

    @property
    def cancelled(self) -> bool:
        return self._handle._cancel.is_set()

    def check(self) -> None:
        """Raise `Cancelled` if the job was cancelled; call it between steps."""
        if self.cancelled:
            raise Cancelled()

    def progress(self, fraction: float | None, message: str = "") -> None:
        self._report(self._handle, Progress(fraction, message))


@dataclass(eq=False)
class JobHandle:
    """A submitted request. Read `state`, `result` and `error`; `cancel()` it; `wait()` for it."""

    fn: Callable[..., Any]
    key: str | None
    name: str
    id: int
    state: JobState = JobState.QUEUED
    result: Any = None
    error: str | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)

    def cancel(self) -> None:
        """Ask the job to stop; a queued job never starts, a running one stops at its next step."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (done, failed or cancelled). For tests and scripts, never the GUI."""
        return self._finished.wait(timeout)

    @property
    def finished(self) -> bool:
        return self._finished.is_set()


Callback = Callable[..., None]


class Engine:
    """One worker thread running jobs in submission order.

    Callbacks run on the worker thread: ``on_started(handle)``, ``on_progress(handle,
    Progress)``, ``on_partial(handle, value)`` (a value a generator job yields that is not
    progress), ``on_done(handle)`` (its ``result`` is set), ``on_error(handle)`` (its ``error``
    is a sentence), ``on_cancelled(handle)``. They must be quick and must not raise.
    """

    def __init__(self, on_started: Callback | None = None, on_progress: Callback | None = None,
                 on_partial: Callback | None = None, on_done: Callback | None = None,
                 on_error: Callback | None = None, on_cancelled: Callback | None = None,
                 name: str = "cantus-engine") -> None:
        self.on_started = on_started
        self.on_progress = on_progress
        self.on_partial = on_partial
        self.on_done = on_done
        self.on_error = on_error
        self.on_cancelled = on_cancelled
        self._queue: deque[JobHandle] = deque()
        self._cond = threading.Condition()
        self._running: JobHandle | None = None
        self._ids = itertools.count(1)
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # -- the GUI side ---------------------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], *, key: str | None = None, name: str = "") -> JobHandle:
        """Queue ``fn(ctx)`` (a function or a generator function taking a `JobContext`).

        With a key, a queued job with the same key is dropped and a running one is cancelled.
        Never blocks.
        """
        handle = JobHandle(fn, key, name or getattr(fn, "__name__", "job"), next(self._ids))
        dropped = []
        with self._cond:
            if self._closing:
                raise RuntimeError("the engine is shut down")
            if key is not None:
                for queued in [j for j in self._queue if j.key == key]:
                    self._queue.remove(queued)
                    queued.cancel()
                    dropped.append(queued)
                if self._running is not None and self._running.key == key:
                    self._running.cancel()
            self._queue.append(handle)
            self._cond.notify_all()
        for queued in dropped:
            self._finish(queued, JobState.CANCELLED)
        return handle

    def cancel_all(self) -> None:
        """Cancel every queued job and the running one."""
        with self._cond:
            dropped = list(self._queue)
            self._queue.clear()
            if self._running is not None:
                self._running.cancel()
        for handle in dropped:
            handle.cancel()
            self._finish(handle, JobState.CANCELLED)

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._running is not None or bool(self._queue)

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running (tests and scripts only). True if idle."""
        with self._cond:
            return self._cond.wait_for(lambda: self._running is None and not self._queue, timeout)

    def shutdown(self, wait: bool = True, timeout: float | None = 10.0) -> None:
        """Cancel everything and stop the thread."""
        self.cancel_all()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if wait:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the worker side ------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closing)
                if not self._queue:
                    return  # closing and nothing left
                handle = self._queue.popleft()
                self._running = handle
            try:
                self._run(handle)
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()

    def _run(self, handle: JobHandle) -> None:
        if handle.cancelled:
            self._finish(handle, JobState.CANCELLED)
            return
        handle.state = JobState.RUNNING
        self._call(self.on_started, handle)
        ctx = JobContext(handle, self._progress)
        try:
            out = handle.fn(ctx)
            if inspect.isgenerator(out):
                out = self._drive(handle, ctx, out)
            if handle.cancelled:
                raise Cancelled()
            handle.result = out
            self._finish(handle, JobState.DONE)
        except Cancelled:
            self._finish(handle, JobState.CANCELLED)
        except CantusError as e:
            handle.error = str(e)
            self._finish(handle, JobState.FAILED)
        except Exception as e:  # a bug must not kill the engine thread
            log.exception("job %s failed", handle.name)
            handle.error = f"{handle.name} failed unexpectedly ({type(e).__name__}: {e})."
            self._finish(handle, JobState.FAILED)

    def _drive(self, handle: JobHandle, ctx: JobContext, gen) -> Any:
        # A generator job: each yield is a step where it may be stopped. A yielded Progress is
        # progress; anything else is a partial result (a note, a chunk of audio). Its return
        # value is the result.
        try:
            while True:
                ctx.check()
                value = next(gen)
                if isinstance(value, Progress):
                    self._progress(handle, value)
                else:
                    self._call(self.on_partial, handle, value)
        except StopIteration as stop:
            return stop.value
        finally:
            gen.close()

    def _progress(self, handle: JobHandle, progress: Progress) -> None:
        self._call(self.on_progress, handle, progress)

    def _finish(self, handle: JobHandle, state: JobState) -> None:
        handle.state = state
        callback = {JobState.DONE: self.on_done, JobState.FAILED: self.on_error,
                    JobState.CANCELLED: self.on_cancelled}[state]
        self._call(callback, handle)
        handle._finished.set()

    @staticmethod
    def _call(callback: Callback | None, *args) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            log.exception("engine callback failed")
