"""MIDI in and out: real files round-trip exactly, bad files give a clear error and write nothing."""

import io
import os

import mido
import numpy as np
import pytest

from engine.cli import main as cli_main
from engine.errors import MidiFileError
from engine.music import midi_io
from engine.music.encodings import performance
from engine.music.encodings.melody_onehot import MelodyOneHot
from engine.music.melody import extract_melody
from engine.music.midi_io import midi_bytes, read_midi, read_midi_bytes, write_midi
from engine.music.quantize import quantize_melody
from engine.music.sketch import Note, Sketch, TempoChange, TimeSignature, Track
from engine.music.sketch_file import dumps, sketch_from_dict
import json

CHUNKS = 8


def _raw_onsets(path):
    """(tick, channel-free pitch) of every note-on straight from mido, for an independent check."""
    onsets = set()
    mid = mido.MidiFile(path)
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                onsets.add((round(tick * 480 / mid.ticks_per_beat), msg.note))
    return onsets


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_every_pop909_song_round_trips(pop909_files, chunk):
    assert len(pop909_files) > 800
    codec = MelodyOneHot()
    for path in pop909_files[chunk::CHUNKS]:
        sketch = read_midi(path)
        assert [t.name for t in sketch.tracks] == ["MELODY", "BRIDGE", "PIANO"], path
        # Every note-on of the file is a note of the sketch, at its tick rescaled to 480 per quarter.
        assert {(n.start_tick, n.pitch) for t in sketch.tracks for n in t.notes} == _raw_onsets(path)

        # MIDI -> MIDI and MIDI -> .cantus -> MIDI keep everything.
        again = read_midi_bytes(midi_bytes(sketch), path.name)
        assert again == sketch, path
        via_json = sketch_from_dict(json.loads(dumps(sketch)))
        assert via_json == sketch
        assert read_midi_bytes(midi_bytes(via_json)) == sketch

        # The quantized melody round-trips through the one-hot encoding.
        melody, _ = quantize_melody(extract_melody(sketch).track)
        events = codec.encode(melody)
        decoded = codec.decode(events)
        assert [(n.pitch, n.start_tick, n.end_tick) for n in decoded] == \
               [(n.pitch, n.start_tick, n.end_tick) for n in melody.sorted_notes()], path

        # Performance events round-trip to 10 ms and the velocity bin.
        notes = performance.sketch_notes(sketch)
        assert performance.decode(performance.encode(notes)) == performance.quantize_performance(notes)


def test_export_keeps_every_note_velocity_program_tempo_and_meter(tmp_path):
    sketch = Sketch(
        [Track("Lead", 73, False, [Note(60, 1, 0, 240), Note(67, 127, 240, 1921)]),
         Track("Bass", 33, False, [Note(36, 90, 0, 1920), Note(43, 64, 1920, 3840)]),
         Track("Kit", 0, True, [Note(36, 100, 0, 120), Note(42, 70, 120, 240)])],
        [TempoChange(0, 96.0), TempoChange(1920, 140.0)],
        [TimeSignature(0, 4, 4), TimeSignature(1920, 7, 8)],
    )
    path = write_midi(sketch, tmp_path / "song.mid")
    back = read_midi(path)
    assert back == sketch
    assert back.tracks[2].is_drum and back.tracks[0].program == 73
    assert mido.MidiFile(path).type == 1
    # The last note is there to its end.
    assert back.end_tick == 3840


def test_type0_file_imports_every_channel_as_a_track(tmp_path):
    mid = mido.MidiFile(type=0, ticks_per_beat=96)
    t = mido.MidiTrack()
    t.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100)))
    t.append(mido.MetaMessage("time_signature", numerator=3, denominator=4))
    t.append(mido.Message("program_change", channel=0, program=40))
    t.append(mido.Message("program_change", channel=1, program=0, time=0))
    t.append(mido.Message("note_on", channel=0, note=72, velocity=90))
    t.append(mido.Message("note_on", channel=1, note=48, velocity=60))
    t.append(mido.Message("note_off", channel=0, note=72, time=96))
    t.append(mido.Message("note_off", channel=1, note=48, time=96))
    t.append(mido.Message("note_on", channel=9, note=38, velocity=100))
    t.append(mido.Message("note_off", channel=9, note=38, time=24))
    mid.tracks.append(t)
    path = tmp_path / "type0.mid"
    mid.save(path)
    s = read_midi(path)
    assert len(s.tracks) == 3
    by_program = {(tr.program, tr.is_drum): tr.notes for tr in s.tracks}
    # 96 ticks per quarter become 480: times are rescaled exactly.
    assert by_program[(40, False)] == [Note(72, 90, 0, 480)]
    assert by_program[(0, False)] == [Note(48, 60, 0, 960)]
    assert by_program[(0, True)] == [Note(38, 100, 960, 1080)]
    assert s.qpm == pytest.approx(100.0)
    assert (s.time_signature.numerator, s.time_signature.denominator) == (3, 4)


def _valid_midi_bytes():
    return midi_bytes(Sketch.new(tracks=[Track("a", 0, False, [Note(60, 80, 0, 480), Note(62, 80, 480, 960)])]))


def _absurd_ticks():
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    t = mido.MidiTrack()
    t.append(mido.Message("note_on", note=60, velocity=80))
    t.append(mido.Message("note_off", note=60, time=200_000_000))
    mid.tracks.append(t)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def _no_notes():
    mid = mido.MidiFile(type=1)
    t = mido.MidiTrack()
    t.append(mido.MetaMessage("set_tempo", tempo=500000))
    t.append(mido.MetaMessage("track_name", name="empty"))
    mid.tracks.append(t)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


BAD_FILES = {
    "empty": (b"", "empty"),
    "random": (bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)), "not a MIDI file"),
    "random_with_header": (b"MThd" + bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8)), ""),
    "truncated": (_valid_midi_bytes()[:-9], "cut off"),
    "header_only": (_valid_midi_bytes()[:14], ""),
    "no_notes": (_no_notes(), "no notes"),
    "absurd_ticks": (_absurd_ticks(), "damaged"),
    "wav_named_mid": (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40), "not a MIDI file"),
    "text_named_mid": (b"X:1\nT:Tune\nK:G\nGABc|\n", "not a MIDI file"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_midi_raises_a_clear_error_and_writes_nothing(tmp_path, case, capsys):
    data, phrase = BAD_FILES[case]
    src = tmp_path / "in" / "song.mid"
    src.parent.mkdir()
    src.write_bytes(data)
    with pytest.raises(MidiFileError) as err:
        read_midi(src)
    message = str(err.value)
    assert "song.mid" in message and phrase in message
    assert "Traceback" not in message and len(message) < 300

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code = cli_main(["convert", str(src), "-o", str(out_dir / "song.cantus")])
    assert code == 2
    assert "song.mid" in capsys.readouterr().err
    assert os.listdir(out_dir) == []  # nothing written, not even a temporary file


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(MidiFileError, match="does not exist"):
        read_midi(tmp_path / "nope.mid")
    with pytest.raises(MidiFileError, match="folder"):
        read_midi(tmp_path)


def test_a_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "song.mid"
    path.write_bytes(_valid_midi_bytes())
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    sketch = Sketch.new(tracks=[Track("x", 0, False, [Note(70, 80, 0, 480)])])
    with pytest.raises(MidiFileError, match="No space left"):
        write_midi(sketch, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["song.mid"]


def test_nothing_to_export(tmp_path):
    with pytest.raises(MidiFileError, match="no notes"):
        write_midi(Sketch.new(), tmp_path / "x.mid")
    assert not (tmp_path / "x.mid").exists()


def test_non_latin_track_names_do_not_break_export():
    s = Sketch.new(tracks=[Track("旋律", 0, False, [Note(60, 80, 0, 480)])])
    assert read_midi_bytes(midi_bytes(s)).tracks[0].notes == s.tracks[0].notes


def test_overlapping_same_pitch_notes_are_cut_on_purpose():
    s = Sketch.new(tracks=[Track("x", 0, False, [Note(60, 80, 0, 960), Note(60, 80, 480, 1440)])])
    back = read_midi_bytes(midi_bytes(s))
    assert back.tracks[0].notes == [Note(60, 80, 0, 480), Note(60, 80, 480, 1440)]


def test_module_names_what_it_reads():
    assert ".mid" in midi_io.MIDI_SUFFIXES


def test_a_type_2_file_plays_its_patterns_one_after_another(tmp_path, type2_midi):
    import warnings

    from engine.music.midi_io import MidiReadNote, read_midi

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        sketch = read_midi(type2_midi(tmp_path / "patterns.mid"))
    notes = sorted((n.pitch, n.start_tick, n.end_tick) for t in sketch.tracks for n in t.notes)
    assert notes == [(60, 0, 960), (62, 960, 1920), (64, 1920, 2880), (65, 2880, 3840)]
    assert len(sketch.tracks) == 2  # each pattern its own track
    assert [(t.tick, t.qpm) for t in sketch.tempos] == [(0, 100.0), (1920, 140.0)]  # its tempo where it begins
    assert any(issubclass(w.category, MidiReadNote) and "type 2" in str(w.message)
               and "one after another" in str(w.message) for w in said)


def test_a_type_2_pattern_without_a_tempo_plays_at_120(tmp_path):
    import warnings

    import mido

    from engine.music.midi_io import read_midi

    midi = mido.MidiFile(type=2, ticks_per_beat=480)
    for qpm in (100, None):
        track = mido.MidiTrack()
        if qpm:
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm), time=0))
        track.append(mido.Message("note_on", note=60, velocity=90, time=0))
        track.append(mido.Message("note_off", note=60, velocity=0, time=1920))
        midi.tracks.append(track)
    midi.save(str(tmp_path / "two.mid"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sketch = read_midi(tmp_path / "two.mid")
    assert [(t.tick, t.qpm) for t in sketch.tempos] == [(0, 100.0), (1920, 120.0)]
