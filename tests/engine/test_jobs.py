"""The engine thread: order, newest-wins keys, cancellation, progress, errors as sentences."""

import threading
import time

import pytest

from engine.errors import CantusError
from engine.jobs import Engine, JobState, Progress


@pytest.fixture
def engine():
    events = []
    lock = threading.Lock()

    def record(kind):
        def cb(handle, *rest):
            with lock:
                events.append((kind, handle.name, *rest))
        return cb

    e = Engine(on_started=record("started"), on_progress=record("progress"),
               on_partial=record("partial"), on_done=record("done"), on_error=record("error"),
               on_cancelled=record("cancelled"))
    e.events = events
    yield e
    e.shutdown()
    assert not e.alive  # no thread left behind


def _gate():
    """A job that waits until the test opens the gate, so the queue can be arranged."""
    gate = threading.Event()

    def blocker(ctx):
        while not gate.wait(0.005):
            ctx.check()
        return "blocker done"

    return gate, blocker


def test_jobs_run_in_order_with_results(engine):
    order = []
    handles = [engine.submit(lambda ctx, i=i: order.append(i) or i * i, name=f"j{i}") for i in range(5)]
    assert engine.wait_until_idle(5)
    assert order == [0, 1, 2, 3, 4]
    assert [h.result for h in handles] == [0, 1, 4, 9, 16]
    assert all(h.state is JobState.DONE for h in handles)


def test_newest_request_with_a_key_wins(engine):
    gate, blocker = _gate()
    engine.submit(blocker, name="blocker")
    previews = [engine.submit(lambda ctx, i=i: i, key="preview", name=f"p{i}") for i in range(10)]
    other = engine.submit(lambda ctx: "other", key="other", name="other")
    gate.set()
    assert engine.wait_until_idle(5)
    assert [p.state for p in previews[:-1]] == [JobState.CANCELLED] * 9
    assert previews[-1].state is JobState.DONE and previews[-1].result == 9
    assert other.result == "other"
    ran = [e[1] for e in engine.events if e[0] == "started"]
    assert ran == ["blocker", "p9", "other"]


def test_a_new_request_stops_the_running_one_with_the_same_key(engine):
    started = threading.Event()

    def slow(ctx):
        started.set()
        for _ in range(1000):
            ctx.check()
            time.sleep(0.005)
        return "finished"

    first = engine.submit(slow, key="k", name="first")
    assert started.wait(5)
    second = engine.submit(lambda ctx: "second", key="k", name="second")
    assert second.wait(5) and first.wait(5)
    assert first.state is JobState.CANCELLED and second.result == "second"


def test_generator_jobs_report_progress_partials_and_can_be_cancelled(engine):
    def steps(ctx):
        for i in range(4):
            yield Progress(i / 4, f"step {i}")
            yield f"note {i}"
        return "all"

    h = engine.submit(steps, name="gen")
    assert h.wait(5) and h.result == "all"
    assert [e[2] for e in engine.events if e[0] == "partial"] == ["note 0", "note 1", "note 2", "note 3"]
    assert [e[2].fraction for e in engine.events if e[0] == "progress"] == [0, 0.25, 0.5, 0.75]

    gate = threading.Event()
    produced = []

    def endless(ctx):
        i = 0
        while True:
            produced.append(i)
            if i == 3:
                gate.set()
            yield i
            i += 1
            time.sleep(0.001)

    h = engine.submit(endless, name="endless")
    assert gate.wait(5)
    h.cancel()
    assert h.wait(5) and h.state is JobState.CANCELLED
    n = len(produced)
    time.sleep(0.05)
    assert len(produced) == n  # it really stopped


def test_errors_come_back_as_sentences_and_the_engine_goes_on(engine):
    def musician_error(ctx):
        raise CantusError("The model file is damaged; retrain or reinstall it.")

    def bug(ctx):
        return 1 / 0

    a = engine.submit(musician_error, name="load")
    b = engine.submit(bug, name="decode")
    c = engine.submit(lambda ctx: "still alive", name="after")
    assert engine.wait_until_idle(5)
    assert a.state is JobState.FAILED and a.error == "The model file is damaged; retrain or reinstall it."
    assert b.state is JobState.FAILED and "decode failed unexpectedly (ZeroDivisionError" in b.error
    assert c.result == "still alive"


def test_cancel_all_and_shutdown(engine):
    gate, blocker = _gate()
    running = engine.submit(blocker, name="blocker")
    queued = [engine.submit(lambda ctx: 1, name=f"q{i}") for i in range(3)]
    engine.cancel_all()
    assert running.wait(5)
    assert running.state is JobState.CANCELLED
    assert all(q.state is JobState.CANCELLED for q in queued)
    engine.shutdown()
    with pytest.raises(RuntimeError):
        engine.submit(lambda ctx: 1)
