"""`cantus eval continuation`: the measures, and a run of the bundled model on a folder of melodies."""

import json

import mido
import numpy as np
import pytest

from engine.eval.continuation import ends_on_tonic, features, max_polyphony, overlapped_area, split_at_bars
from engine.music.key import parse_key
from engine.music.sketch import Note, Sketch, Track


def test_overlapped_area_is_one_for_the_same_and_near_zero_for_apart():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 500)
    assert overlapped_area(a, a) == pytest.approx(1.0, abs=1e-3)
    assert overlapped_area(a, rng.normal(0, 1, 500)) > 0.85
    assert overlapped_area(a, rng.normal(20, 1, 500)) < 0.01


def test_features_and_polyphony_of_a_line_and_a_chord():
    sketch = Sketch.new(qpm=120)  # a quarter is 0.5 s
    line = [Note(60, 90, 0, 480), Note(64, 90, 480, 720), Note(62, 90, 960, 1440)]
    f = features(line, sketch)
    assert f["note_length"] == pytest.approx([0.5, 0.25, 0.5])
    assert f["ioi"] == pytest.approx([0.5, 0.5])
    assert list(f["pitch_interval"]) == [4, -2]
    assert f["pitch_class"][0] == 1 and f["pitch_class"][4] == 1 and f["pitch_class"].sum() == 3
    chord = line + [Note(67, 90, 0, 480)]
    assert max_polyphony(line) == 1 and max_polyphony(chord) == 2
    assert list(features(chord, sketch)["pitch_interval"]) == [-3, -2]  # the top of the chord leads


def test_ends_on_tonic_reads_the_last_note_to_start():
    c_major, a_minor = parse_key("C:maj"), parse_key("A:min")
    phrase = [Note(62, 90, 0, 480), Note(67, 90, 480, 960)]  # ... D G: G is in C's tonic triad
    assert ends_on_tonic(phrase, c_major) and not ends_on_tonic(phrase, a_minor)
    held = phrase + [Note(60, 90, 0, 1200)]  # a long C struck first does not count as the end
    assert ends_on_tonic(held, c_major) and not ends_on_tonic(held + [Note(65, 90, 960, 1200)], c_major)


def test_split_at_bars_counts_from_the_first_notes_bar():
    notes = [Note(60 + i % 5, 90, 1920 + i * 480, 1920 + i * 480 + 600) for i in range(16)]  # bars 2-5
    split = split_at_bars(Sketch([Track("Melody", notes=notes)]), 2, 1)
    primer, real, start = split
    assert start == 1920 + 2 * 1920
    assert max(n.end_tick for n in primer.tracks[0].notes) == start  # the note over the line is cut
    assert [n.start_tick for n in real] == [start + i * 480 for i in range(4)]
    assert split_at_bars(Sketch([Track("Melody", notes=notes)]), 4, 2) is None  # too short


def write_melody(path, pitches, qpm=100):
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm), time=0))
    track.append(mido.MetaMessage("track_name", name="MELODY", time=0))
    for p in pitches:
        track.append(mido.Message("note_on", note=p, velocity=90, time=0))
        track.append(mido.Message("note_off", note=p, velocity=0, time=480))
    midi.tracks.append(track)
    midi.save(str(path))


def test_the_cli_measures_the_bundled_model_on_a_folder(tmp_path, capsys):
    from engine.cli import main

    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    write_melody(tmp_path / "a.mid", scale * 2)
    write_melody(tmp_path / "b.mid", list(reversed(scale)) * 2)
    assert main(["eval", "continuation", "--midi-dir", str(tmp_path), "--prime-bars", "2", "--bars", "2",
                 "--max-notes", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_songs"] == 2 and result["prime_bars"] == 2
    assert 0.0 <= result["monophonic_rate"] <= 1.0 and result["max_polyphony"] >= 1
    assert result["n_answers"] == 2 and result["short_notes"] >= 0
    assert result["primer_as_answer"]["monophonic_rate"] == 1.0
    assert result["primer_as_answer"]["overlap"]["pitch_class"] > 0.9  # a scale answers a scale
    assert set(result["overlap"]) == {"note_length", "ioi", "pitch_interval", "pitch_class"}
    assert 0.0 <= result["ends_on_tonic_rate"] <= 1.0
    assert result["real_ends_on_tonic_rate"] == 1.0  # both scales end on C
    piano = result["nll"]["piano_model"]
    assert piano["name"] == "music-transformer" and 0 < piano["nll"] < 10 and piano["events"] > 30
    melody = result["nll"]["melody_model"]  # the bundled melody model answered, and read the same events
    assert result["models"]["melody"] == melody["name"] == "music-transformer-melody"
    assert melody["events"] == piano["events"] and melody["nll"] != piano["nll"]
    assert main(["eval", "continuation", "--midi-dir", str(tmp_path), "--prime-bars", "2", "--bars", "2",
                 "--melody-model", "", "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["models"] == {"melody": "music-transformer"} and set(alone["nll"]) == {"piano_model"}
    assert alone["nll"]["piano_model"]["nll"] == pytest.approx(piano["nll"], rel=1e-4)


def test_cantus_continue_answers_a_melody_with_a_melody_on_the_grid(tmp_path, capsys):
    from engine.cli import main
    from engine.music.files import open_sketch
    from engine.music.melody import is_line

    write_melody(tmp_path / "in.mid", [69, 72, 76, 74, 72, 71, 69, 64])
    out = tmp_path / "out.mid"
    assert main(["continue", str(tmp_path / "in.mid"), "--bars", "4", "--seed", "2", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "as a melody" in said and "1/16 grid" in said
    new = open_sketch(out).tracks[-1].notes
    assert new and is_line(new) and all(62 <= n.pitch <= 78 for n in new)
    assert all(n.start_tick % 120 == 0 and n.end_tick % 120 == 0 for n in new)
    assert main(["continue", str(tmp_path / "in.mid"), "--bars", "4", "--seed", "2", "--mode", "piano",
                 "--snap", "off", "-o", str(out)]) == 0
    assert "as piano" in capsys.readouterr().out


def test_pop909s_beat_annotations_give_the_bars_its_files_do_not(tmp_path):
    from engine.eval.continuation import pop909_meter
    from engine.music.sketch import TimeSignature

    sketch = Sketch.new(qpm=120)  # a beat is 0.5 s and 480 ticks
    beats = [(0.5 * i, 1.0, 1.0 if i >= 2 and (i - 2) % 4 == 0 else 0.0) for i in range(40)]
    (tmp_path / "beat_midi.txt").write_text("\n".join(f"{t} {b} {d}" for t, b, d in beats))
    assert pop909_meter(sketch, tmp_path) == [TimeSignature(0, 8, 16), TimeSignature(960, 4, 4)]
    later = [(t, b, 1.0 if i >= 6 and (i - 6) % 4 == 0 else 0.0) for i, (t, b, _) in enumerate(beats)]
    (tmp_path / "beat_midi.txt").write_text("\n".join(f"{t} {b} {d}" for t, b, d in later))
    # The first downbeat after a bar and a half: the pickup is the half bar, not all that comes first.
    assert pop909_meter(sketch, tmp_path) == [TimeSignature(0, 8, 16), TimeSignature(960, 4, 4)]
    wobbly = [(0.7 * i, 1.0, 1.0 if i % 4 == 0 else 0.0) for i in range(40)]  # beats off the quarters
    (tmp_path / "beat_midi.txt").write_text("\n".join(f"{t} {b} {d}" for t, b, d in wobbly))
    assert pop909_meter(sketch, tmp_path) is None
