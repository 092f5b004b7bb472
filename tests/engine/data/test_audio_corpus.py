"""The paired notes-and-audio corpus: a folder of the user's recordings, synth renders, POP909 clips,
splits by piece, the cache."""

import numpy as np
import pytest
import soundfile

from engine.audio.mel import MEL, log_mel
from engine.data import build_corpus, split_of
from engine.data.audio_corpus import (
    DEFAULT_PROGRAMS, PROGRAMS, build_audio_corpus, format_audio_counts, load_audio_corpus,
)
from engine.errors import DataError
from engine.music.midi_io import write_midi
from engine.music.sketch import Note, Sketch, Track


def tune(base=60, n=6):
    return Sketch.new(qpm=120, tracks=[Track("Tune", 73, False, [Note(base + 2 * i, 90, i * 480, (i + 1) * 480)
                                                                for i in range(n)])])


@pytest.fixture
def pairs(tmp_path):
    """A folder with one MIDI file and its recording (44.1 kHz stereo, as a user's would be) and
    one MIDI file alone."""
    root = tmp_path / "pairs"
    root.mkdir()
    write_midi(tune(), root / "take1.mid")
    t = np.arange(int(3.0 * 44100)) / 44100
    left = 0.3 * np.sin(2 * np.pi * 440 * t)
    soundfile.write(root / "take1.wav", np.stack([left, 0.5 * left], axis=1), 44100)
    write_midi(tune(67), root / "alone.mid")
    return root


def test_a_folder_of_pairs_builds_clips_of_the_users_audio_and_synth_renders(pairs):
    corpus = build_audio_corpus(pairs, progress=False)
    kinds = {c.kind: c for c in corpus.clips}
    assert set(kinds) == {"recording", "mix"}
    rec = kinds["recording"].load()
    # Resampled to the model rate and mixed to mono: 3 s at 22,050 Hz, the mean of 1.0 and 0.5.
    assert len(rec["audio"]) == pytest.approx(3 * MEL.sample_rate, abs=2)
    assert np.max(np.abs(rec["audio"])) == pytest.approx(0.3 * 0.75, rel=0.02)
    # The mel is the one mel of the stored audio; the notes are the MIDI's, in seconds.
    assert rec["mel"].shape == (MEL.n_mels, MEL.num_frames(len(rec["audio"])))
    np.testing.assert_allclose(rec["mel"], log_mel(rec["audio"]), atol=0.01)
    np.testing.assert_allclose(rec["notes"][:, 0], [60, 62, 64, 66, 68, 70])
    np.testing.assert_allclose(rec["notes"][:2, 2:4], [[0.0, 0.5], [0.5, 1.0]], atol=1e-4)
    assert rec["notes"][0, 4] == 73
    mix = kinds["mix"].load()
    assert mix["audio"].std() > 0.01 and mix["notes"][0, 0] == 67
    # Split by piece, with the symbolic corpus's rule and ids.
    for c in corpus.clips:
        assert c.split == split_of(f"folder:{c.piece_id.split(':', 1)[1]}")
        assert c.piece_id in ("folder:take1.mid", "folder:alone.mid")
    assert "recording" in format_audio_counts(corpus)


def test_a_rebuild_renders_nothing_and_renders_are_repeatable(pairs):
    first = build_audio_corpus(pairs, progress=False)
    again = build_audio_corpus(pairs, progress=False)
    assert again.counts["rendered"] == 0 and again.counts["from_cache"] == len(first.clips)
    assert [c.id for c in again.clips] == [c.id for c in first.clips]
    loaded = load_audio_corpus(pairs)
    assert [c.id for c in loaded.clips] == [c.id for c in first.clips]
    # The synth renders the same clip to the same samples: delete and render it again.
    mix = next(c for c in first.clips if c.kind == "mix")
    before = mix.load()["audio"]
    mix.path.unlink()
    build_audio_corpus(pairs, progress=False)
    np.testing.assert_array_equal(mix.load()["audio"], before)


def test_bad_sources_say_what_is_wrong(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        build_audio_corpus(tmp_path / "nowhere", progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no MIDI file"):
        build_audio_corpus(empty, progress=False)
    with pytest.raises(DataError, match="has not been built"):
        load_audio_corpus(empty)
    with pytest.raises(DataError, match="0 to 127"):
        build_audio_corpus(empty, programs=(200,), progress=False)


def test_a_damaged_recording_is_left_out(pairs):
    (pairs / "take1.wav").write_bytes(b"not audio at all")
    corpus = build_audio_corpus(pairs, progress=False)
    assert [c.kind for c in corpus.clips] == ["mix"]


def test_pop909_clips_keep_the_symbolic_split_and_are_melodies_and_mixes(pop909_dir):
    corpus = build_audio_corpus("pop909", limit=3, progress=False)
    symbolic = build_corpus("pop909", limit=3, progress=False)
    split_of_piece = {}
    for s in ("train", "validation", "test"):
        for i in symbolic.performance_pieces[s]:
            split_of_piece[symbolic.piece_ids[i]] = s
    assert len(corpus.clips) == 6
    for c in corpus.clips:
        assert c.split == split_of_piece[c.piece_id]
        d = c.load()
        assert 5.0 < c.duration_s < 30.0
        assert np.max(np.abs(d["audio"])) > 0.05
        if c.kind == "melody":
            assert c.program in DEFAULT_PROGRAMS
            # One note at a time: the MELODY track alone.
            starts, ends = d["notes"][:, 2], d["notes"][:, 3]
            assert np.all(starts[1:] >= ends[:-1] - 0.02)
        else:
            assert c.program == 0 and len(d["notes"]) > 50
    assert set(PROGRAMS) >= set(DEFAULT_PROGRAMS)


def test_music21_melodies_are_16_bar_windows_of_the_symbolic_corpus():
    from engine.data.audio_corpus import clip_sketch, music21_clips

    corpus = build_corpus("music21", files=["bach/bwv66.6.mxl", "essenFolksong/teste.abc"], workers=1,
                          progress=False)
    specs = list(music21_clips(DEFAULT_PROGRAMS, corpus=corpus))
    owners = {corpus.piece_ids[i] for s in ("train", "validation", "test")
              for i in corpus.window_pieces_16bar[s]}
    assert specs and {s.piece_id for s in specs} == owners  # one window per piece that has one
    for spec in specs:
        assert spec.kind == "melody" and spec.program in DEFAULT_PROGRAMS
        sketch = clip_sketch(spec)
        assert len(sketch.tracks) == 1 and sketch.tracks[0].is_monophonic()
        # 16 bars at 80 to 140 quarter notes a minute.
        assert 16 * 4 * 60 / 140 - 0.01 <= max(n[3] for n in spec.notes) <= 16 * 4 * 60 / 80 + 0.01
    again = list(music21_clips(DEFAULT_PROGRAMS, corpus=corpus))
    assert [s.id for s in again] == [s.id for s in specs]  # tempo and program seeded by the piece


def test_hours_stops_the_build(pop909_dir):
    corpus = build_audio_corpus("pop909", hours=0.001, progress=False)  # 3.6 s: the first clip
    assert len(corpus.clips) == 1 and corpus.counts["hours"] > 0.001
