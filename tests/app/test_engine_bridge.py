"""The bridge delivers engine results on the GUI thread, and the GUI never waits on the engine."""

import threading
import time

from PySide6.QtCore import QElapsedTimer, QThread, QTimer

from app.engine_bridge import EngineBridge
from engine.jobs import Progress


def test_results_arrive_on_the_gui_thread(qtbot):
    bridge = EngineBridge()
    seen = []
    bridge.finished.connect(lambda h: seen.append((h.result, QThread.currentThread())))
    with qtbot.waitSignal(bridge.finished, timeout=5000):
        bridge.submit(lambda ctx: 42, name="answer")
    assert seen == [(42, QThread.currentThread())]
    bridge.shutdown()


def test_errors_and_progress_are_signals(qtbot):
    bridge = EngineBridge()
    progress = []
    bridge.progress.connect(lambda h, p: progress.append(p.fraction))

    def steps(ctx):
        for i in range(3):
            yield Progress(i / 3)
        raise ValueError("boom")

    with qtbot.waitSignal(bridge.failed, timeout=5000) as blocker:
        bridge.submit(steps, name="steps")
    assert "steps failed unexpectedly (ValueError: boom)" in blocker.args[1]
    qtbot.waitUntil(lambda: len(progress) == 3, timeout=2000)
    assert not bridge.busy
    bridge.shutdown()


def test_event_loop_keeps_turning_while_a_model_runs(qtbot):
    """A slow job (torch work on the engine thread) must not delay the GUI's timer ticks."""
    import torch

    bridge = EngineBridge()
    started = threading.Event()

    def model(ctx):
        started.set()
        x = torch.randn(256, 256)
        t = time.monotonic()
        while time.monotonic() - t < 1.0:
            ctx.check()
            x = torch.tanh(x @ x.T / 256)
        return float(x.sum())

    ticks = []
    clock = QElapsedTimer()
    clock.start()
    timer = QTimer()
    timer.setInterval(16)
    timer.timeout.connect(lambda: ticks.append(clock.elapsed()))
    timer.start()
    with qtbot.waitSignal(bridge.finished, timeout=10000):
        bridge.submit(model, name="model")
        assert bridge.busy
    timer.stop()
    assert started.is_set()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    # About 60 ticks in a second of model work; none of them held up for long.
    assert len(ticks) >= 30
    assert max(gaps) < 250, gaps
    bridge.shutdown()


def test_each_job_hears_only_its_own_callbacks(qtbot):
    bridge = EngineBridge()
    heard = []
    gate = threading.Event()

    def slow(ctx):
        gate.wait(5)
        yield "half"
        return "slow done"

    first = bridge.submit(slow, name="first", on_partial=lambda h, v: heard.append(("first partial", v)),
                          on_done=lambda h: heard.append(("first done", h.result)))
    queued = bridge.submit(lambda ctx: 1, key="k", name="queued", on_done=lambda h: heard.append(("queued", 1)),
                           on_cancelled=lambda h: heard.append(("queued cancelled", h is not None)))
    newest = bridge.submit(lambda ctx: 2, key="k", name="newest", on_done=lambda h: heard.append(("newest", h.result)))
    failing = bridge.submit(lambda ctx: 1 / 0, name="failing",
                            on_failed=lambda h, message: heard.append(("failed", "ZeroDivisionError" in message)))
    gate.set()
    qtbot.waitUntil(lambda: all(h.finished for h in (first, queued, newest, failing)), timeout=5000)
    qtbot.waitUntil(lambda: len(heard) == 5, timeout=5000)
    # Each job's own reports, once each (the order across jobs is the engine's business).
    assert sorted(heard) == sorted([("first partial", "half"), ("first done", "slow done"),
                                    ("queued cancelled", True), ("newest", 2), ("failed", True)])
    assert heard.index(("first partial", "half")) < heard.index(("first done", "slow done"))
    assert not bridge._callbacks  # nothing kept once each job has ended
    bridge.shutdown()
