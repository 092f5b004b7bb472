"""A folder of MIDI files written here: windows, meters, damaged files, dedup, splits, cache."""

import os
import shutil

import numpy as np
import pytest
from conftest import assert_valid_windows

from engine.data import build_corpus, load_corpus, split_of
from engine.data.sources import extract_midi
from engine.errors import DataError
from engine.music.midi_io import write_midi
from engine.music.sketch import Note, Sketch, TempoChange, TimeSignature, Track

Q = 480  # a quarter
BAR = 4 * Q


def line(pitches, start_tick=0, step=Q):
    return [Note(p, 90, start_tick + i * step, start_tick + (i + 1) * step) for i, p in enumerate(pitches)]


def scale(bars, base=60, start_tick=0):
    return line([base + i for i in range(4 * bars)], start_tick)


def song(notes, meter=(4, 4), chords=True, signatures=None):
    tracks = [Track("Melody", 0, False, notes)]
    if chords:  # an accompaniment under the tune: the melody track must still be chosen
        tracks.append(Track("Piano", 0, False, [Note(48, 70, b * BAR, (b + 1) * BAR)
                                                 for b in range(len(notes) // 4 + 1)]))
    sigs = signatures or [TimeSignature(0, *meter)]
    return Sketch(tracks, [TempoChange(0, 100.0)], sigs)


@pytest.fixture
def midi_folder(tmp_path):
    root = tmp_path / "midi"
    (root / "sub").mkdir(parents=True)
    write_midi(song(scale(8)), root / "a.mid")
    shutil.copy(root / "a.mid", root / "copy.mid")  # same music: its windows are duplicates
    # A pickup: a 1/4 bar, then 4/4 from tick 480.
    write_midi(song([Note(55, 90, 0, Q)] + scale(4, 64, Q), chords=False,
                    signatures=[TimeSignature(0, 1, 4), TimeSignature(Q, 4, 4)]),
               root / "sub" / "pickup.midi")
    write_midi(song(line([60, 64, 67] * 8), meter=(3, 4)), root / "waltz.mid")
    # Bar 3 is silent: no window may hold it.
    write_midi(song(scale(2, 70) + scale(2, 73, 3 * BAR), chords=False), root / "gap.mid")
    write_midi(song(line([12, 14, 16, 17] * 4), chords=False), root / "low.mid")  # below A0
    (root / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\xff\xff")
    (root / "notes.txt").write_text("not music")
    return root


def test_folder_corpus_counts_windows_and_damaged_files(midi_folder):
    corpus = build_corpus(midi_folder, workers=1, progress=False)
    c = corpus.counts
    assert c["files"] == 7 and c["files_failed"] == 1 and c["files_parsed"] == 7
    assert "broken.mid" in c["failures"][0]
    assert c["pieces"] == 6
    assert c["meters"]["3/4"] == 1 and c["pieces_skipped_meter"] == 1
    assert c["pieces_mixed_meter"] == 0  # the pickup's 1/4 bar is no meter of its own
    assert c["notes_transposed"] == 16
    for split in ("train", "validation", "test"):
        assert_valid_windows(corpus.windows_2bar[split], 32)
        assert_valid_windows(corpus.windows_16bar[split], 256)
    all2 = np.concatenate(list(corpus.windows_2bar.values()))
    assert len(np.unique(all2, axis=0)) == len(all2)  # no duplicates anywhere
    w2 = c["windows_2bar"]
    assert w2["after_dedup"] == len(all2) < w2["before_dedup"]
    assert c["windows_16bar"]["after_dedup"] == 0  # no 16 bars of 4/4 in a row here
    # a.mid: 8 bars, 7 windows. copy.mid: all duplicates. gap.mid: 2 of its 4.
    owners = {corpus.piece_ids[i] for s in corpus.window_pieces_2bar.values() for i in s}
    assert "folder:copy.mid" not in owners and "folder:waltz.mid" not in owners
    per_piece = {pid: 0 for pid in corpus.piece_ids}
    for s in corpus.window_pieces_2bar.values():
        for i in s:
            per_piece[corpus.piece_ids[i]] += 1
    assert per_piece["folder:a.mid"] == 7 and per_piece["folder:gap.mid"] == 2
    # Every window and performance lies in its piece's split.
    for split in ("train", "validation", "test"):
        for i in corpus.window_pieces_2bar[split]:
            assert split_of(corpus.piece_ids[i]) == split
        for i in corpus.performance_pieces[split]:
            assert split_of(corpus.piece_ids[i]) == split
    perfs = [p for s in corpus.performances.values() for p in s]
    assert len(perfs) == 6 and all(p.dtype == np.int16 and len(p) for p in perfs)


def test_pickup_is_left_out_of_the_bar_grid(midi_folder):
    piece = extract_midi(midi_folder / "sub" / "pickup.midi", "sub/pickup.midi").pieces[0]
    assert piece.meter == "4/4"
    assert piece.melody[0] == 2 + 64 - 21  # the first full bar's downbeat, not the pickup's G3
    assert piece.window_bars.tolist() == [0, 16, 32, 48]


def test_second_build_parses_nothing_and_changed_files_are_parsed_again(midi_folder, cache_dir):
    first = build_corpus(midi_folder, workers=1, progress=False)
    again = build_corpus(midi_folder, workers=1, progress=False)
    assert again.counts["files_parsed"] == 0 and again.counts["reused_saved_corpus"]
    loaded = load_corpus(midi_folder)
    for corpus in (again, loaded):
        for split in ("train", "validation", "test"):
            assert np.array_equal(corpus.windows_2bar[split], first.windows_2bar[split])
            assert all(np.array_equal(a, b) for a, b in
                       zip(corpus.performances[split], first.performances[split]))
    # An interrupted build: the per-file cache is there, the saved corpus is not.
    for saved in cache_dir.glob("corpora/folder-*"):
        saved.unlink()
    resumed = build_corpus(midi_folder, workers=1, progress=False)
    assert resumed.counts["files_parsed"] == 0 and not resumed.counts["reused_saved_corpus"]
    assert resumed.counts["windows_2bar"] == first.counts["windows_2bar"]
    st = (midi_folder / "gap.mid").stat()
    os.utime(midi_folder / "gap.mid", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert build_corpus(midi_folder, workers=1, progress=False).counts["files_parsed"] == 1


def test_parallel_build_equals_serial_build(midi_folder, tmp_path, monkeypatch):
    serial = build_corpus(midi_folder, workers=1, progress=False)
    monkeypatch.setenv("CANTUS_CACHE_DIR", str(tmp_path / "other-cache"))
    parallel = build_corpus(midi_folder, workers=2, progress=False)
    assert parallel.counts["files_parsed"] == 7
    assert parallel.piece_ids == serial.piece_ids
    for split in ("train", "validation", "test"):
        assert np.array_equal(parallel.windows_2bar[split], serial.windows_2bar[split])
        assert np.array_equal(parallel.windows_16bar[split], serial.windows_16bar[split])


def test_limit_and_errors_a_musician_can_read(midi_folder, tmp_path):
    assert build_corpus(midi_folder, limit=2, workers=1, progress=False).counts["files"] == 2
    with pytest.raises(DataError, match="not a folder"):
        build_corpus(tmp_path / "nowhere", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no MIDI file"):
        build_corpus(tmp_path / "empty", progress=False)
    with pytest.raises(DataError, match="has not been built"):
        load_corpus(midi_folder, limit=3)


def test_a_file_with_no_meter_of_its_own_is_read_in_bars_found_from_its_notes(tmp_path):
    """POP909's MIDI files say 1/4 (a bar of one beat), start every note some ticks after their
    grid, and begin anywhere in the bar: the beat and the downbeat are found from the notes (the
    chords change on the downbeat), and the windows come back on the music's own bars."""
    from engine.data.corpus import format_counts
    from engine.data.pieces import BARS_FROM_NOTES
    from engine.data.sources import beat_phase, downbeat_phase, grid_offset

    root = tmp_path / "pop"
    root.mkdir()
    lead = 80  # more than half a 16th: rounded to the grid, every note would be a 16th late
    first_bar = lead + Q  # a one-beat pickup, then eight bars
    melody = [Note(67, 90, lead, lead + Q - 20)]
    chords = []
    for b in range(8):
        at = first_bar + b * BAR
        melody += [Note(60 + b, 90, at, at + 2 * Q - 20), Note(64 + b, 90, at + 2 * Q, at + 3 * Q - 20),
                   Note(62 + b, 90, at + 3 * Q, at + 4 * Q - 20)]
        chords += [Note(p + 5 * (b % 2), 70, at, at + BAR) for p in (48, 52, 55)]
    sketch = Sketch([Track("Melody", 0, False, melody), Track("Piano", 0, False, chords)],
                    [TempoChange(0, 100.0)], [TimeSignature(0, 1, 4)])
    assert grid_offset(sketch) == lead and beat_phase(sketch) == lead
    assert downbeat_phase(sketch, lead) == 1  # the bar begins on the second beat of the file
    write_midi(sketch, root / "001.mid")
    piece = extract_midi(root / "001.mid", "001.mid").pieces[0]
    assert piece.meter == BARS_FROM_NOTES and piece.meter_ok
    onsets = np.flatnonzero(piece.melody >= 2).tolist()
    assert onsets == [12] + [16 * (b + 1) + k for b in range(8) for k in (0, 8, 12)]
    corpus = build_corpus(root, workers=1, progress=False)
    assert sum(len(corpus.windows(2, s)) for s in ("train", "validation", "test")) == 8
    assert "no meter of their own" in format_counts(corpus)

    # Notes played freely (no common lead-in) are left where they are.
    rng = np.random.default_rng(0)
    loose = [Note(60, 90, int(t), int(t) + 100) for t in np.cumsum(rng.integers(150, 330, 40))]
    assert grid_offset(song(loose, chords=False)) == 0
