"""MIDI files in and out.

Reading goes through pretty_midi (it pairs note-ons with note-offs and splits tracks by channel
and program), then back to exact ticks at 480 per quarter. Writing goes through mido, which
speaks ticks natively, as a type 1 file: a conductor track with the tempo and meter maps, then
one track per `Track`. Every failure becomes a `MidiFileError` with a sentence for musicians.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import mido

from engine import optional
from engine.errors import MidiFileError
from engine.fileio import atomic_write_bytes
from engine.music.sketch import TICKS_PER_QUARTER, Note, Sketch, TempoChange, TimeSignature, Track

optional.fluidsynth()  # before pretty_midi, which imports it and would print under CI
import pretty_midi  # noqa: E402

MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
MAX_DURATION_S = 24 * 3600.0  # a "song" longer than a day is a damaged file
MAX_FILE_BYTES = 64 * 1024 * 1024
DRUM_CHANNEL = 9


class MidiReadNote(UserWarning):
    """Something a musician should know about how a file was read (issued with `warnings`; the
    window shows it in the status bar, the command line on stderr)."""


def read_midi(path: str | os.PathLike) -> Sketch:
    """Read a type 0, 1 or 2 MIDI file into a `Sketch` (every track, tempo and meter change).
    A type 2 file's patterns are placed one after another (`MidiReadNote` says so).

    Raises `MidiFileError` for a missing, empty, truncated, damaged or note-less file.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise MidiFileError(f"The file '{path.name}' does not exist.") from None
    except OSError as e:
        raise MidiFileError(f"The file '{path.name}' cannot be opened: {e.strerror or e}.") from None
    if path.is_dir():
        raise MidiFileError(f"'{path.name}' is a folder, not a MIDI file.")
    if size > MAX_FILE_BYTES:
        raise MidiFileError(
            f"'{path.name}' is {size / 1e6:.0f} MB, far larger than any MIDI song; "
            "it is probably not a MIDI file.")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise MidiFileError(f"The file '{path.name}' cannot be read: {e.strerror or e}.") from None
    return read_midi_bytes(data, path.name)


def read_midi_bytes(data: bytes, name: str = "The MIDI data") -> Sketch:
    """Parse MIDI file contents; ``name`` is how messages refer to the file."""
    label = f"'{name}'"
    if not data:
        raise MidiFileError(f"{label} is empty (0 bytes): there is no music in it.")
    if not data.startswith(b"MThd"):
        raise MidiFileError(
            f"{label} is not a MIDI file: it does not begin with a MIDI header. "
            "It may be another kind of file (audio, a score, text) with a .mid name.")
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except EOFError:
        raise MidiFileError(
            f"{label} ends too early: the file is cut off (truncated), perhaps by an "
            "interrupted download or copy.") from None
    except Exception as e:  # mido raises OSError, ValueError, KeyError, IndexError... on garbage
        raise MidiFileError(f"{label} is damaged and cannot be read as MIDI ({_reason(e)}).") from None
    if not midi.ticks_per_beat or midi.ticks_per_beat < 0:
        raise MidiFileError(f"{label} uses SMPTE timecode instead of beats, which Cantus cannot import.")
    if midi.type == 2:
        patterns = len(midi.tracks)
        midi = patterns_in_sequence(midi)
        warnings.warn(MidiReadNote(
            f"{label} is a type 2 MIDI file ({patterns} independent pattern{'s' if patterns != 1 else ''}): "
            "Cantus placed them one after another, each as its own track."), stacklevel=2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # meta events on the wrong track: we still read them
            pm = pretty_midi.PrettyMIDI(mido_object=midi)
    except ValueError as e:
        if "largest tick" in str(e):
            raise MidiFileError(
                f"{label} has event times far beyond any song's length; the file is damaged.") from None
        raise MidiFileError(f"{label} is damaged and cannot be read as MIDI ({_reason(e)}).") from None
    except Exception as e:
        raise MidiFileError(f"{label} is damaged and cannot be read as MIDI ({_reason(e)}).") from None
    return _to_sketch(pm, label)


def patterns_in_sequence(midi: mido.MidiFile) -> mido.MidiFile:
    """A type 2 file (independent patterns, meant to play one after another) as a type 1 file:
    each pattern a track of its own starting where the one before ended, their tempo and meter
    changes gathered in a conductor track at the times they fall. Events keep their order."""
    out = mido.MidiFile(type=1, ticks_per_beat=midi.ticks_per_beat)
    conductor: list[tuple[int, mido.MetaMessage]] = []
    tracks: list[list[tuple[int, mido.Message]]] = []
    offset = 0
    for pattern in midi.tracks:
        now, events = offset, []
        # Each pattern is independent: one without a tempo of its own plays at MIDI's default
        # 120 qpm, not at the tempo the pattern before it ended with.
        if not any(m.is_meta and m.type == "set_tempo" for m in pattern):
            conductor.append((offset, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120))))
        for msg in pattern:
            now += msg.time
            if msg.is_meta and msg.type in ("set_tempo", "time_signature", "key_signature"):
                conductor.append((now, msg))
            elif not (msg.is_meta and msg.type == "end_of_track"):
                events.append((now, msg))
        tracks.append(events)
        offset = now
    for events in [sorted(conductor, key=lambda e: e[0]), *tracks]:
        track, last = mido.MidiTrack(), 0
        for at, msg in events:  # already in time order within a pattern (sorted is stable)
            track.append(msg.copy(time=at - last))
            last = at
        track.append(mido.MetaMessage("end_of_track", time=0))
        out.tracks.append(track)
    return out


def _reason(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    return text[:160]


def _to_sketch(pm: pretty_midi.PrettyMIDI, label: str) -> Sketch:
    resolution = pm.resolution

    def tick(seconds: float) -> int:
        # pretty_midi's own tick at its resolution, rescaled exactly when it is 480.
        t = int(pm.time_to_tick(seconds))
        return t if resolution == TICKS_PER_QUARTER else int(round(t * TICKS_PER_QUARTER / resolution))

    tracks: list[Track] = []
    for inst in pm.instruments:
        notes = []
        for n in inst.notes:
            start, end = tick(n.start), tick(n.end)
            if end <= start:  # rescaling from a coarser or finer resolution can close the gap
                end = start + 1
            notes.append(Note(int(n.pitch), max(1, min(127, int(n.velocity))), start, end))
        if notes:
            track = Track(inst.name.strip(), int(inst.program), bool(inst.is_drum), notes)
            tracks.append(track.without_overlaps())
    if not tracks:
        raise MidiFileError(f"{label} contains no notes.")

    times, qpms = pm.get_tempo_changes()
    tempos: dict[int, float] = {}
    for t, q in zip(times, qpms):
        if not 1.0 <= q <= 2000.0:
            raise MidiFileError(f"{label} sets a tempo of {q:.3g} beats per minute; the file is damaged.")
        tempos[tick(t)] = _readable_qpm(float(q))
    signatures: dict[int, TimeSignature] = {}
    for ts in pm.time_signature_changes:
        if ts.numerator < 1 or ts.denominator < 1:
            continue
        at = tick(ts.time)
        signatures[at] = TimeSignature(at, int(ts.numerator), int(ts.denominator))
    sketch = Sketch(
        tracks,
        [TempoChange(t, q) for t, q in sorted(tempos.items())] or [TempoChange(0, 120.0)],
        sorted(signatures.values()) or [TimeSignature(0, 4, 4)],
    )
    if sketch.duration_s > MAX_DURATION_S:
        raise MidiFileError(
            f"{label} would last {sketch.duration_s / 3600:.0f} hours; its event times are damaged.")
    return sketch


def _readable_qpm(qpm: float) -> float:
    # MIDI keeps whole microseconds per quarter, so 140 qpm reads back as 140.00014; give back
    # the round figure whenever it names the very same microseconds.
    uspq = mido.bpm2tempo(qpm)
    for digits in (0, 1, 2, 3):
        nice = round(qpm, digits)
        if mido.bpm2tempo(nice) == uspq:
            return float(nice)
    return qpm


def sketch_to_midi(sketch: Sketch) -> mido.MidiFile:
    """A type 1 MIDI file at 480 ticks per quarter holding every note, tempo and meter change."""
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER)
    conductor = []
    for t in sketch.tempos:
        conductor.append((t.tick, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(t.qpm))))
    for ts in sketch.time_signatures:
        conductor.append((ts.tick, mido.MetaMessage(
            "time_signature", numerator=ts.numerator, denominator=ts.denominator)))
    midi.tracks.append(_track_from_events(conductor))

    channels = _assign_channels(sketch.tracks)
    for track, channel in zip(sketch.tracks, channels):
        events: list[tuple[int, mido.Message | mido.MetaMessage]] = []
        if track.name:
            # MIDI names are Latin-1 bytes; other characters become "?" rather than failing the export.
            name = track.name.encode("latin-1", "replace").decode("latin-1")
            events.append((0, mido.MetaMessage("track_name", name=name)))
        events.append((0, mido.Message("program_change", channel=channel, program=track.program)))
        for n in track.without_overlaps().notes:
            events.append((n.start_tick, mido.Message(
                "note_on", channel=channel, note=n.pitch, velocity=n.velocity)))
            events.append((n.end_tick, mido.Message(
                "note_off", channel=channel, note=n.pitch, velocity=0)))
        midi.tracks.append(_track_from_events(events))
    return midi


def _assign_channels(tracks: list[Track]) -> list[int]:
    # Drums go to channel 10 (index 9); melodic tracks take the other 15 in turn.
    melodic = [c for c in range(16) if c != DRUM_CHANNEL]
    out, k = [], 0
    for t in tracks:
        if t.is_drum:
            out.append(DRUM_CHANNEL)
        else:
            out.append(melodic[k % len(melodic)])
            k += 1
    return out


def _track_from_events(events: list[tuple[int, mido.Message | mido.MetaMessage]]) -> mido.MidiTrack:
    # Stable order at one tick: meta and program changes first, then note-offs, then note-ons,
    # so that a note ending where the next begins is closed before it restarts.
    def rank(msg) -> int:
        if msg.is_meta or msg.type == "program_change":
            return 0
        return 1 if msg.type == "note_off" else 2

    track = mido.MidiTrack()
    now = 0
    for at, msg in sorted(events, key=lambda e: (e[0], rank(e[1]))):
        track.append(msg.copy(time=at - now))
        now = at
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def midi_bytes(sketch: Sketch) -> bytes:
    buf = io.BytesIO()
    sketch_to_midi(sketch).save(file=buf)
    return buf.getvalue()


def write_midi(sketch: Sketch, path: str | os.PathLike) -> Path:
    """Write a type 1 MIDI file atomically (a temporary file renamed into place)."""
    path = Path(path)
    if not sketch.note_count:
        raise MidiFileError("There are no notes to export.")
    try:
        data = midi_bytes(sketch)
    except (ValueError, TypeError) as e:
        raise MidiFileError(f"The sketch cannot be written as MIDI: {_reason(e)}.") from None
    try:
        return atomic_write_bytes(path, data)
    except OSError as e:
        raise MidiFileError(f"Cannot write '{path}': {e.strerror or e}.") from None
