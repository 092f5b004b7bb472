"""Documents never get lost: the window autosaves a moment after changes settle (and every few
seconds during continuous editing), removes the copy on save and clean close, and a new window
recovers what a killed process was editing."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.commands import push
from engine import autosave
from engine.document import NoteEdit
from engine.music.sketch import Note, Sketch, Track
from engine.music.sketch_file import load_sketch, save_sketch

TARGET = Path(__file__).with_name("autosave_kill_target.py")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TARGET.parent))
from autosave_kill_target import note  # noqa: E402


@pytest.fixture
def window(window):
    window.ask_save_changes = lambda: "discard"
    window.recover_offers = []

    def ask_recover(info):
        window.recover_offers.append(info)
        return True

    window.ask_recover = ask_recover
    return window


def autosaves():
    return autosave.find_autosaves()


def draw(window, i):
    push(window.undo_stack, window.document, NoteEdit(0, (), (note(i),), "Draw Note"))


def fast(window, settle_s=0.05, max_wait_s=0.5):
    window.autosave_policy = autosave.AutosavePolicy(settle_s, max_wait_s)


def test_autosave_appears_after_the_edits_settle_and_goes_on_save(window, qtbot, tmp_path):
    assert autosaves() == []
    draw(window, 0)
    qtbot.wait(500)
    assert autosaves() == []  # still settling (1.5 s)
    qtbot.waitUntil(lambda: len(autosaves()) == 1, timeout=5000)
    [info] = autosaves()
    assert info.pid == os.getpid() and info.original_path is None
    assert info.load() == window.sketch and info.revision == window.document.revision
    assert info.running()  # this very process: not a crash
    assert window.offer_recovery() is False and window.recover_offers == []

    assert window.save_as(tmp_path / "kept.cantus")
    assert autosaves() == []
    draw(window, 1)
    window.autosave_now()
    [info] = autosaves()
    assert info.original_path == (tmp_path / "kept.cantus").resolve()
    window.undo_stack.undo()  # back to what the file holds: no copy needed
    assert autosaves() == []


def test_continuous_editing_is_saved_every_few_seconds(window, qtbot):
    fast(window, settle_s=0.3, max_wait_s=0.6)
    started = time.monotonic()
    i = 0
    while not autosaves():
        draw(window, i)  # never settles: an edit every 50 ms
        i += 1
        qtbot.wait(50)
        assert time.monotonic() - started < 5, "no autosave during continuous editing"
    assert time.monotonic() - started < 1.5
    assert autosaves()[0].revision <= window.document.revision


def test_close_without_saving_removes_the_copy(window, qtbot):
    fast(window)
    draw(window, 0)
    qtbot.waitUntil(lambda: len(autosaves()) == 1, timeout=5000)
    window.close()
    assert autosaves() == []


def test_new_document_removes_the_copy(window, qtbot):
    fast(window)
    draw(window, 0)
    qtbot.waitUntil(lambda: len(autosaves()) == 1, timeout=5000)
    window.new_document()
    assert autosaves() == []


def crashed_copy(data_dir, sketch, original=None):
    """An autosave as a crashed process leaves it: its pid no longer runs."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    saver = autosave.Autosaver()
    saver.write(sketch, original, 5)
    meta = json.loads(saver.meta_path.read_text())
    meta["pid"], meta["pid_started"] = int(dead.stdout), None
    saver.meta_path.write_text(json.dumps(meta))
    return autosave.find_recoverable()[0]


def test_recovery_opens_the_copy_as_modified_with_its_path(window, data_dir, tmp_path):
    sketch = Sketch.new(tracks=[Track("Lost", notes=[note(i) for i in range(5)])])
    original = tmp_path / "lost.cantus"
    crashed_copy(data_dir, sketch, original)
    assert window.offer_recovery()
    [offer] = window.recover_offers
    assert offer.name == "lost.cantus"
    assert window.sketch == sketch and window.path == original.resolve()
    assert window.isWindowModified() and window.windowTitle() == "lost.cantus[*] \u2014 Cantus"
    # The crashed session's copy is gone; this window keeps its own until the user saves.
    [mine] = autosaves()
    assert mine.pid == os.getpid() and mine.load() == sketch
    assert window.save()
    assert load_sketch(original) == sketch and autosaves() == []


def test_declined_recovery_discards_the_copy(window, data_dir):
    crashed_copy(data_dir, Sketch.new(tracks=[Track("x", notes=[note(0)])]))
    window.ask_recover = lambda info: False
    assert not window.offer_recovery()
    assert autosaves() == [] and window.sketch.note_count == 0


# -- a real crash -------------------------------------------------------------------------------

def start_target(tmp_path, data_dir, *args):
    base = Sketch.new(96, (4, 4), [Track("Lead", 0, False, [Note(72, 80, 0, 960)])])
    path = tmp_path / "song.cantus"
    save_sketch(base, path)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **{autosave.DATA_ENV: str(data_dir)})
    log = open(tmp_path / "target.log", "w")
    proc = subprocess.Popen([sys.executable, str(TARGET), str(path), *map(str, args)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    proc.log = log
    return proc, base, path, log


def wait_for(predicate, proc, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            stderr = Path(proc.log.name).read_text()
            raise AssertionError(f"the app exited ({proc.returncode}) before {what}:\n{stderr}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def edited(base, edits):
    expected = base.copy()
    expected.tracks[0].notes = sorted(expected.tracks[0].notes + [note(i) for i in range(edits)])
    return expected


def kill(proc, log):
    try:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        return proc.stdout.read()
    finally:
        proc.stdout.close()
        log.close()


def test_killed_after_editing_recovers_exactly_the_edited_sketch(window, tmp_path, data_dir):
    proc, base, path, log = start_target(tmp_path, data_dir, 12, 40)  # the app's own timing
    try:
        # 12 edits 40 ms apart, then nothing: the copy is written about 1.5 s later.
        info = wait_for(lambda: next((i for i in autosaves() if i.load().note_count == 13), None),
                        proc, 60, "the autosave of all 12 edits")
        assert info.pid == proc.pid
    finally:
        out = kill(proc, log)
    assert proc.returncode == -signal.SIGKILL
    lines = out.split()
    assert "SETTLED" in lines

    assert window.offer_recovery()
    [offer] = window.recover_offers
    assert offer.pid == proc.pid and offer.original_path == path.resolve()
    assert window.sketch == edited(base, 12)
    assert window.path == path.resolve() and window.isWindowModified()
    assert load_sketch(path) == base  # the file itself was never touched


def test_killed_while_editing_loses_at_most_the_last_moments(window, tmp_path, data_dir):
    interval_s, max_wait_s = 0.05, 1.0
    proc, base, path, log = start_target(tmp_path, data_dir, 0, int(interval_s * 1000), 1.5,
                                         max_wait_s)
    try:
        first = wait_for(lambda: next(iter(autosaves()), None), proc, 60, "a first autosave")
        # The edits never pause for 1.5 s, yet the copy keeps being rewritten.
        wait_for(lambda: any(i.revision > first.revision for i in autosaves()), proc, 10,
                 "a second autosave while editing")
    finally:
        out = kill(proc, log)
    edits = [line.split() for line in out.splitlines() if line.startswith("EDIT ")]
    assert edits and "SETTLED" not in out
    base_revision = int(edits[0][2]) - 1  # the revision after opening the file
    made = int(edits[-1][1])

    assert window.offer_recovery()
    [offer] = window.recover_offers
    saved = offer.revision - base_revision
    assert window.sketch == edited(base, saved)  # exactly the state after `saved` edits
    lost_s = (made - saved) * interval_s
    assert 0 <= lost_s <= max_wait_s + 1.0, f"lost {made - saved} edits"
