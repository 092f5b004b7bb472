"""Autosave files: written atomically with what recovery needs, found again only after a crash."""

import json
import os
import subprocess
import sys

import pytest

from engine import autosave
from engine.autosave import AutosavePolicy, Autosaver, find_autosaves, find_recoverable
from engine.errors import CantusError
from engine.music.sketch import Note, Sketch, Track


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(autosave.DATA_ENV, str(tmp_path / "data"))
    return tmp_path / "data"


def sketch(*pitches):
    return Sketch.new(qpm=96, tracks=[Track("Lead", 5, notes=[
        Note(p, 90, i * 240, i * 240 + 240) for i, p in enumerate(pitches)])])


def test_data_dir_follows_the_environment(data_dir):
    assert autosave.data_dir() == data_dir
    assert autosave.autosave_dir() == data_dir / "autosave"


def test_write_holds_the_sketch_and_where_it_came_from(tmp_path, data_dir):
    saver = Autosaver()
    original = tmp_path / "song.cantus"
    path = saver.write(sketch(60, 62), original, revision=7)
    assert path.parent == data_dir / "autosave" and path.suffix == ".cantus"
    meta = json.loads(saver.meta_path.read_text())
    assert meta["format"] == "cantus-autosave" and meta["pid"] == os.getpid()
    assert meta["original_path"] == str(original.resolve()) and meta["revision"] == 7
    [info] = find_autosaves()
    assert info.load() == sketch(60, 62)
    assert info.original_path == original.resolve() and info.name == "song.cantus"
    assert info.running()  # this process wrote it
    assert find_recoverable() == []  # so it is no crash
    # No temporary files left beside them.
    assert sorted(p.suffix for p in path.parent.iterdir()) == [".cantus", ".json"]


def test_rewrite_replaces_and_discard_removes(data_dir):
    saver = Autosaver()
    saver.write(sketch(60), None, 1)
    saver.write(sketch(60, 64), None, 2)
    [info] = find_autosaves()
    assert info.load() == sketch(60, 64) and info.revision == 2 and info.original_path is None
    assert info.name == "Untitled"
    saver.discard()
    assert list((data_dir / "autosave").iterdir()) == [] and not saver.exists
    saver.discard()  # twice is harmless


def test_a_dead_process_is_a_crash_to_recover(data_dir):
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead_pid = int(child.stdout)
    saver = Autosaver()
    saver.write(sketch(67), None, 3)
    meta = json.loads(saver.meta_path.read_text())
    meta["pid"], meta["pid_started"] = dead_pid, None
    saver.meta_path.write_text(json.dumps(meta))
    [info] = find_recoverable()
    assert info.pid == dead_pid and info.load() == sketch(67)
    info.discard()
    assert find_autosaves() == []


def test_a_reused_pid_is_not_mistaken_for_the_writer(data_dir):
    saver = Autosaver()
    saver.write(sketch(67), None, 3)
    meta = json.loads(saver.meta_path.read_text())
    if meta["pid_started"] is None:
        pytest.skip("no /proc on this system")
    meta["pid_started"] = "1"  # our pid, but a process that started at another time
    saver.meta_path.write_text(json.dumps(meta))
    assert [i.pid for i in find_recoverable()] == [os.getpid()]


def test_damaged_or_foreign_files_are_ignored(data_dir):
    folder = data_dir / "autosave"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text("{not json")
    (folder / "b.json").write_text(json.dumps({"format": "something-else"}))
    (folder / "c.json").write_text(json.dumps(  # its sketch copy is missing
        {"format": "cantus-autosave", "version": 1, "saved_at": 1.0, "pid": 1}))
    assert find_autosaves() == [] and find_recoverable() == []


def test_unwritable_folder_is_a_sentence(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    saver = Autosaver(directory=blocker / "autosave")
    with pytest.raises(CantusError, match="safety copy"):
        saver.write(sketch(60), None, 1)


def test_policy_waits_for_the_edits_to_settle_but_not_forever():
    policy = AutosavePolicy(settle_s=1.5, max_wait_s=5.0)
    assert not policy.pending
    assert policy.changed(100.0) == 1.5
    assert policy.changed(101.0) == 1.5  # each change restarts the settle time...
    assert policy.changed(104.0) == pytest.approx(1.0)  # ...up to 5 s after the first one
    assert policy.changed(105.5) == 0.0  # overdue: write now
    policy.written()
    assert not policy.pending and policy.changed(106.0) == 1.5


def test_continuous_edits_are_written_every_few_seconds():
    # Simulate a timer: edits every 100 ms for 20 s; a write happens when a delay runs out.
    policy = AutosavePolicy()
    due, writes, t = None, [], 0.0
    while t < 20.0:
        if due is not None and t >= due:
            writes.append(t)
            policy.written()
            due = None
        due = t + policy.changed(t)
        t = round(t + 0.1, 6)
    gaps = [b - a for a, b in zip([0.0] + writes, writes)]
    assert writes and max(gaps) <= autosave.MAX_WAIT_S + 0.1
