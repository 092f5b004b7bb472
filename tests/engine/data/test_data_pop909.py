"""POP909: the 16th grid from beat_midi.txt, on songs written here and on a slice of the real set."""

import numpy as np
import pytest
from conftest import assert_valid_windows

from engine.data import build_corpus
from engine.data.sources import extract_pop909
from engine.music.midi_io import write_midi
from engine.music.sketch import Note, Sketch, TempoChange, Track

TICKS_PER_S = 480  # at 60 qpm


def write_song(folder, line_times, downbeats, melody_s, name):
    """A POP909-like song folder: NNN.mid (MELODY, PIANO at 60 qpm) and beat_midi.txt."""
    folder.mkdir(parents=True)
    rows = [f"{t:.6f} {1.0 if i % 2 == 0 else 0.0} {1.0 if i in downbeats else 0.0}"
            for i, t in enumerate(line_times)]
    (folder / "beat_midi.txt").write_text("\n".join(rows) + "\n")
    melody = [Note(p, 100, round(s * TICKS_PER_S), round(e * TICKS_PER_S)) for p, s, e in melody_s]
    piano = [Note(48, 60, round(t * TICKS_PER_S), round(t * TICKS_PER_S) + 200) for t in line_times[::4]]
    sketch = Sketch([Track("MELODY", 0, False, melody), Track("BRIDGE", 0, False, []),
                     Track("PIANO", 0, False, piano)], [TempoChange(0, 60.0)])
    sketch.tracks = [t for t in sketch.tracks if t.notes]
    write_midi(sketch, folder / f"{name}.mid")


@pytest.fixture
def fake_pop909(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    root = tmp_path / "pop909"
    # Song 001: one pickup line, 8 bars of 4 lines, a 2-line bar, 9 bars of 4 lines; the beat
    # drifts (0.55 to 0.65 s a line), as performed timing does.
    bars = [4] * 8 + [2] + [4] * 9
    downbeats, i = [], 1
    for n in bars:
        downbeats.append(i)
        i += n
    times = np.cumsum(np.r_[0.3, rng.uniform(0.55, 0.65, i - 1)])  # i lines
    notes = []
    for k in range(i - 1):  # a note on each line, a little early or late, and a 16th after line 20
        notes.append((60 + k % 17, times[k] + rng.uniform(-0.03, 0.03), times[k + 1] - 0.02))
    q = (times[21] - times[20]) / 4
    notes[20] = (notes[20][0], times[20], times[20] + q * 1.1)
    notes.insert(21, (90, times[20] + q * 0.9, times[21] - 0.05))
    write_song(root / "001", times, set(downbeats), notes, "001")
    # Song 002: bars of 6 lines.
    times2 = 0.5 + 0.5 * np.arange(6 * 6)
    write_song(root / "002", times2, set(range(0, 36, 6)),
               [(62 + k % 5, t, t + 0.4) for k, t in enumerate(times2)], "002")
    # Song 003: a damaged MIDI file.
    (root / "003").mkdir()
    (root / "003" / "003.mid").write_bytes(b"MThd garbage")
    (root / "003" / "beat_midi.txt").write_text("0.5 1.0 1.0\n1.0 0.0 0.0\n")
    monkeypatch.setenv("CANTUS_POP909_DIR", str(root))
    return root, times, downbeats


def test_melody_notes_land_on_the_nearest_step_of_the_beat_grid(fake_pop909):
    root, times, downbeats = fake_pop909
    piece = extract_pop909(root / "001", "001").pieces[0]
    assert piece.id == "pop909:001" and piece.meter == "4/4"
    origin = 4 * downbeats[0]  # the first downbeat (line 1) is step 0; line 0's note is a pickup
    onsets = np.flatnonzero(piece.melody >= 2)
    expected = [4 * k - origin for k in range(1, len(times) - 1)] + [4 * 20 + 1 - origin]
    assert sorted(onsets.tolist()) == sorted(expected)
    assert piece.melody[4 * 20 + 1 - origin] == 2 + 90 - 21
    assert piece.melody[4 * 21 - origin] == 2 + 60 + 21 % 17 - 21
    # The 2-line bar and its neighbours: window bars stop before it and start again after it.
    bars = piece.window_bars.tolist()
    assert bars[:8] == [16 * b for b in range(8)]
    assert bars[8] == 16 * 8 + 8 and len(bars) == 17


def test_the_melody_performance_is_the_melody_as_played_one_note_at_a_time(fake_pop909):
    from engine.music.encodings import performance as perf

    root, times, _ = fake_pop909
    piece = extract_pop909(root / "001", "001").pieces[0]
    played = perf.decode(piece.melody_performance)
    assert len(played) == len(times) - 1 + 1  # a note on every line (the pickup too) and the 16th
    assert all(a.end_s <= b.start_s + 1e-9 for a, b in zip(played, played[1:]))  # one at a time
    assert 90 in [n.pitch for n in played] and 48 not in [n.pitch for n in played]  # no piano
    # Unquantized: each note starts where it was played (to the 10 ms step), off the beat grid.
    starts = np.array([n.start_s for n in played if n.pitch != 90])
    written = np.array([round(s * TICKS_PER_S) / TICKS_PER_S for s in times[:-1]])
    assert np.abs(starts - written).max() > 0.005  # the written notes are early or late
    whole = perf.decode(piece.performance)
    assert len(whole) > len(played)


def test_pop909_corpus_skips_6_line_songs_and_counts_damaged_ones(fake_pop909):
    corpus = build_corpus("pop909", workers=1, progress=False)
    c = corpus.counts
    assert c["files"] == 3 and c["files_failed"] == 1 and "003" in c["failures"][0]
    assert c["pieces"] == 2 and c["pieces_skipped_meter"] == 1
    assert c["meters"] == {"4/4": 1, "6 beats": 1}
    assert c["windows_2bar"]["cut"] == 7 + 8 and c["windows_16bar"]["cut"] == 0
    for split in corpus.windows_2bar:
        assert_valid_windows(corpus.windows_2bar[split], 32)
    assert sum(len(p) for p in corpus.performances.values()) == 2
    assert sum(len(p) for p in corpus.melody_performances.values()) == 2
    assert c["splits"]["train"]["melody_events"] + c["splits"]["validation"]["melody_events"] + \
        c["splits"]["test"]["melody_events"] == sum(len(p) for s in corpus.melody_performances.values() for p in s)
    assert build_corpus("pop909", workers=1, progress=False).counts["files_parsed"] == 0


def test_a_slice_of_the_real_pop909(pop909_dir, monkeypatch):
    monkeypatch.setenv("CANTUS_POP909_DIR", str(pop909_dir))
    corpus = build_corpus("pop909", limit=2, workers=1, progress=False)
    c = corpus.counts
    assert c["files"] == 2 and c["files_failed"] == 0 and c["pieces"] == 2
    assert corpus.piece_ids == ["pop909:001", "pop909:002"]
    assert c["windows_16bar"]["after_dedup"] >= 5  # pop songs rest between sections
    for split in corpus.windows_2bar:
        assert_valid_windows(corpus.windows_2bar[split], 32)
        assert_valid_windows(corpus.windows_16bar[split], 256)
    perf = [p for s in corpus.performances.values() for p in s]
    assert len(perf) == 2 and all(len(p) > 1000 and p.dtype == np.int16 for p in perf)


def test_a_folder_in_pop909s_layout_is_read_on_its_beats(pop909_dir, tmp_path):
    """`--midi-dir` of songs laid out as POP909 (NNN/NNN.mid with beat_midi.txt): POP909's own
    extractor, so a song whose MIDI file says 2/4 keeps its 4/4 windows (song 001 declares 2/4)."""
    import shutil

    for song in ("001", "002"):
        shutil.copytree(pop909_dir / song, tmp_path / "mine" / song)
    mine = build_corpus(tmp_path / "mine", workers=1, progress=False)
    same = build_corpus("pop909", files=["001", "002"], workers=1, progress=False)
    assert mine.counts["pieces"] == 2 and sorted(mine.piece_ids) == sorted(same.piece_ids)
    for bars in (2, 16):
        ours = np.concatenate([mine.windows(bars, s) for s in ("train", "validation", "test")])
        theirs = np.concatenate([same.windows(bars, s) for s in ("train", "validation", "test")])
        assert len(ours) == len(theirs) > 0 and (ours == theirs).all()
