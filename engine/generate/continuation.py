"""Carry a sketch on with the Music Transformer, under constraints that are logit masks.

Constraints never filter what was sampled: before each event, every event that would break one
gets probability zero. Key lock allows only note-ons in the key's scale; a pitch range and a
most-notes-at-once limit do the same; a length in seconds (or bars, at the sketch's tempo) caps
the time shifts, and once it is reached, or the event budget is spent, only note-offs of
sounding notes are allowed until none sound, so no note is left hanging. A melody ends on a
cadence: in its last half bar a note may start only on the tonic triad, and once one has, no
other starts (it is held, or the melody rests, to the end), so a phrase closes instead of
stopping wherever the length runs out. Nor does a melody hold a note longer than its phrase's
longest, or rest longer than its longest rest (half a bar at least) before that cadence.

Two models answer: the piano model (melody and accompaniment together) and, for a request of one
note at a time, the melody model (trained on melody lines alone), when it is installed.

    events = sample_events(model, prime, Constraints(key=parse_key("A:min"), max_shifts=800), seed=1)
    Continuer.load().continue_(sketch, bars=4, key="A:min", seed=1)  -> a new Sketch
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from engine.music.encodings import performance as perf
from engine.music.encodings.performance import (
    NOTE_OFF, NOTE_ON, NUM_EVENTS, NUM_TIME_SHIFTS, TIME_SHIFT, VELOCITY, VOCAB_SIZE, TimedNote,
)
from engine.music.key import Key, detect_key, parse_key
from engine.music.melody import phrase_mode, top_line
from engine.music.meter import bar_line_at_or_after
from engine.music.quantize import snap_notes
from engine.music.sketch import TICKS_PER_QUARTER, Note, Sketch, Track
from engine.models.music_transformer import MusicTransformer, TransformerConfig
from engine.generate.names import MELODY_MODEL_NAME, MODEL_NAME
from engine.registry import load_model

DEFAULT_VELOCITY = 80
RANGE_MARGIN = 2  # a melody's continuation may go this many semitones past the primer's range
MIN_NOTE_SHIFTS = 5  # 50 ms: no continuation note is shorter (a shorter one is a click, not a note)


def tonic_triad(key: Key) -> frozenset[int]:
    """The pitch classes of a key's tonic chord (a melody's resting places)."""
    return frozenset((key.tonic + s) % 12 for s in ((0, 3, 7) if key.minor else (0, 4, 7)))


def shifts_between(sketch: Sketch, a: int, b: int) -> int:
    """The 10 ms shifts from tick ``a`` to tick ``b`` at the sketch's tempo."""
    return round((sketch.ticks_to_seconds(b) - sketch.ticks_to_seconds(a)) * perf.SHIFTS_PER_SECOND)


def rests(notes: list[Note]) -> Iterator[tuple[int, int]]:
    """(start, end) ticks of each silence between the first of ``notes`` and the last one's end."""
    sounding_until = None
    for n in sorted(notes):
        if sounding_until is not None and n.start_tick > sounding_until:
            yield sounding_until, n.start_tick
        sounding_until = n.end_tick if sounding_until is None else max(sounding_until, n.end_tick)


@dataclass(frozen=True)
class Constraints:
    key: Key | None = None  # note-ons only in this key's scale
    pitch_range: tuple[int, int] | None = None  # lowest and highest MIDI pitch, inclusive
    max_polyphony: int | None = None  # most notes sounding at once
    max_shifts: int | None = None  # length in 10 ms shifts; at the boundary notes close and it stops
    max_events: int = 4096  # the event budget, for when no length is given
    min_note_shifts: int = 0  # no note the continuation starts ends sooner (none starts too late to last it)
    velocity_range: tuple[int, int] | None = None  # MIDI velocities the continuation may set, inclusive
    cadence: frozenset[int] | None = None  # pitch classes the last note may take (with max_shifts)
    cadence_shifts: int = 0  # how long before the end the cadence begins, in 10 ms shifts
    max_note_shifts: int | None = None  # no note the continuation starts sounds longer
    max_rest_shifts: int | None = None  # no silence runs longer (the prime's own counts), until the cadence


class ConstraintState:
    """Where a performance stands (time, sounding notes) and which events may come next."""

    def __init__(self, constraints: Constraints) -> None:
        self.c = constraints
        self.now = 0  # 10 ms shifts since the continuation began
        self.events = 0  # events generated
        self.sounding: set[int] = set()
        self.started: dict[int, int] = {}  # pitch -> the step a generated note began on
        self.cadence_struck = False  # the last note has been struck
        self.quiet = 0  # 10 ms shifts since the last note ended with nothing sounding (the prime's count)
        ok = np.ones(perf.NUM_PITCHES, dtype=bool)
        pitches = np.arange(perf.NUM_PITCHES)
        if constraints.key is not None:
            ok &= np.isin(pitches % 12, sorted(constraints.key.pitch_classes))
        if constraints.pitch_range is not None:
            lo, hi = constraints.pitch_range
            ok &= (pitches >= lo) & (pitches <= hi)
        self._note_on_ok = ok
        bins = np.ones(perf.NUM_VELOCITY_BINS, dtype=bool)
        if constraints.velocity_range is not None:
            lo, hi = (perf.velocity_to_bin(v) for v in constraints.velocity_range)
            bins[:] = False
            bins[lo:hi + 1] = True
        self._velocity_ok = bins
        self._cadence_ok = ok & np.isin(pitches % 12, sorted(constraints.cadence or ()))

    @property
    def in_cadence(self) -> bool:
        c = self.c
        return c.cadence is not None and c.max_shifts is not None and c.max_shifts - self.now <= c.cadence_shifts

    def observe(self, event: int) -> None:
        """Follow a prime event: notes it starts or ends count, and its silence; its time does not."""
        if NOTE_ON <= event < NOTE_OFF:
            self.sounding.add(event - NOTE_ON)
            self.quiet = 0
        elif NOTE_OFF <= event < TIME_SHIFT:
            self.sounding.discard(event - NOTE_OFF)
        elif TIME_SHIFT <= event < VELOCITY and not self.sounding:
            self.quiet += event - TIME_SHIFT + 1

    def update(self, event: int) -> None:
        """Follow a generated event."""
        self.observe(event)
        if NOTE_ON <= event < NOTE_OFF:
            self.started[event - NOTE_ON] = self.now
            self.cadence_struck |= self.in_cadence
        elif NOTE_OFF <= event < TIME_SHIFT:
            self.started.pop(event - NOTE_OFF, None)
        if TIME_SHIFT <= event < VELOCITY:
            self.now += event - TIME_SHIFT + 1
        self.events += 1

    def wait_before(self, event: int) -> list[int]:
        """The time-shift events that must come before ``event``: a note that ends before it has
        lasted ``min_note_shifts`` is held that long first (the model chose to end it; it ends
        at the shortest length instead of at once). Empty for every other event."""
        if not NOTE_OFF <= event < TIME_SHIFT or self.closing:
            return []
        begun = self.started.get(event - NOTE_OFF)
        wait = 0 if begun is None else self.c.min_note_shifts - (self.now - begun)
        shifts = []
        while wait > 0:
            step = min(wait, NUM_TIME_SHIFTS)
            shifts.append(TIME_SHIFT + step - 1)
            wait -= step
        return shifts

    @property
    def closing(self) -> bool:
        over_time = self.c.max_shifts is not None and self.now >= self.c.max_shifts
        return over_time or self.events >= self.c.max_events

    @property
    def done(self) -> bool:
        return self.closing and not self.sounding

    def allowed(self) -> np.ndarray:
        """A boolean mask over the vocabulary: True where the event may come next."""
        mask = np.zeros(VOCAB_SIZE, dtype=bool)
        sounding = np.fromiter(self.sounding, dtype=np.int64, count=len(self.sounding))
        if self.closing:
            mask[NOTE_OFF + sounding] = True
            return mask
        shortest = self.c.min_note_shifts
        # Any sounding note may end; one younger than the shortest length ends once it has lasted
        # it (`wait_before` gives the time to let pass first), and no note starts too late to.
        mask[NOTE_OFF + sounding] = True
        room = NUM_TIME_SHIFTS if self.c.max_shifts is None else min(NUM_TIME_SHIFTS, self.c.max_shifts - self.now)
        longest = self.c.max_note_shifts
        if longest is not None and self.started:
            left = longest - (self.now - min(self.started.values()))
            if left <= 0:  # a note has sounded as long as any may: it ends now
                mask[:] = False
                mask[NOTE_OFF + np.array([p for p, t in self.started.items() if self.now - t >= longest])] = True
                return mask
            room = min(room, left)  # and no shift runs past that
        late = self.c.max_shifts is not None and self.c.max_shifts - self.now < shortest
        room_for_one = self.c.max_polyphony is None or len(self.sounding) < self.c.max_polyphony
        if not late and room_for_one and not self.cadence_struck:
            mask[NOTE_ON:NOTE_OFF] = self._cadence_ok if self.in_cadence else self._note_on_ok
            mask[NOTE_ON + sounding] = False  # a sounding pitch is not struck again
        rest = self.c.max_rest_shifts
        if rest is not None and not self.sounding and mask[NOTE_ON:NOTE_OFF].any():
            room = min(room, rest - self.quiet)  # a rest as long as any may be: a note starts now
        if room > 0:
            mask[TIME_SHIFT:TIME_SHIFT + room] = True
        mask[VELOCITY:NUM_EVENTS] = self._velocity_ok
        return mask


def choose(logits: torch.Tensor, mask: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None, rng: np.random.Generator | None = None) -> int:
    """One event from logits (vocab,) restricted to ``mask``: argmax at temperature 0.

    In numpy, on 390 numbers: a handful of torch calls on so small a vector cost more than
    the arithmetic (this runs once per sampled event).
    """
    x = np.where(mask, logits.detach().float().cpu().numpy().astype(np.float64), -np.inf)
    if temperature <= 0:
        return int(np.argmax(x))
    x /= temperature
    if top_k:
        k = min(int(top_k), int(mask.sum()))
        x[x < np.partition(x, -k)[-k]] = -np.inf
    p = np.exp(x - x.max())
    p /= p.sum()
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        ranked = p[order]
        p[order[np.cumsum(ranked) - ranked > top_p]] = 0.0  # keep the smallest set reaching top_p
        p /= p.sum()
    rng = rng if rng is not None else np.random.default_rng()
    return int(min(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right"), len(p) - 1))


@torch.no_grad()
def sample_events(model: MusicTransformer, prime: Iterable[int], constraints: Constraints,
                  temperature: float = 1.0, top_k: int | None = None, top_p: float | None = 0.95,
                  seed: int | None = None, use_cache: bool = True) -> Iterator[int]:
    """Events after ``prime``, one at a time, until the constraints end the performance.

    ``use_cache=False`` recomputes the whole context for every event (for comparison only).
    """
    model.eval()
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    state = ConstraintState(constraints)
    prime = [int(e) for e in prime]
    for e in prime:
        state.observe(e)
    context = prime or [VELOCITY + perf.velocity_to_bin(DEFAULT_VELOCITY)]
    max_len = model.cfg.max_len
    context = context[-(max_len if model.cfg.relative else max_len // 2):]
    cache = model.new_cache() if use_cache else None
    logits = model(torch.tensor([context], device=device), cache)[0, -1]
    while not state.done:
        event = choose(logits, state.allowed(), temperature, top_k, top_p, rng)
        for e in (*state.wait_before(event), event):  # a note ended too soon is held first
            state.update(e)
            yield e
            if state.done:
                return
            context.append(e)
            if use_cache and model.cfg.relative:
                logits = model.step(e, cache)
            elif len(context) > max_len:  # the absolute model cannot look further: start a new window
                context = context[-(max_len // 2):]
                cache = model.new_cache() if use_cache else None
                logits = model(torch.tensor([context], device=device), cache)[0, -1]
            elif use_cache:
                logits = model.step(e, cache)
            else:
                logits = model(torch.tensor([context], device=device))[0, -1]


def constraint_report(events: list[int], constraints: Constraints, prime_sounding: Iterable[int] = ()) -> dict:
    """Which constraints a generated event list keeps, checked by replaying it (not by trusting
    the sampler's bookkeeping): {name: True/False} for each constraint that was set."""
    sounding = set(prime_sounding)
    # Notes the prime leaves sounding count toward the limit, but only a note the continuation
    # starts can break it (it may not start one while the prime alone is at or over the limit).
    now, peak, in_key, in_range, length_ok = 0, 0, True, True, True
    started: dict[int, int] = {}
    shortest = None  # the shortest note the continuation started, in steps
    for e in events:
        if NOTE_ON <= e < NOTE_OFF:
            p = e - NOTE_ON
            sounding.add(p)
            started[p] = now
            peak = max(peak, len(sounding))
            if constraints.key is not None and p % 12 not in constraints.key.pitch_classes:
                in_key = False
            if constraints.pitch_range is not None and not constraints.pitch_range[0] <= p <= constraints.pitch_range[1]:
                in_range = False
        elif NOTE_OFF <= e < TIME_SHIFT:
            sounding.discard(e - NOTE_OFF)
            if e - NOTE_OFF in started:
                length = now - started.pop(e - NOTE_OFF)
                shortest = length if shortest is None else min(shortest, length)
        elif TIME_SHIFT <= e < VELOCITY:
            now += e - TIME_SHIFT + 1
    report = {"notes_closed": not sounding}
    if constraints.min_note_shifts:
        report["min_note_length"] = shortest is None or shortest >= constraints.min_note_shifts
    if constraints.key is not None:
        report["key"] = in_key
    if constraints.pitch_range is not None:
        report["pitch_range"] = in_range
    if constraints.max_polyphony is not None:
        report["max_polyphony"] = peak <= constraints.max_polyphony
    if constraints.max_shifts is not None:
        length_ok = now <= constraints.max_shifts
        report["length"] = length_ok
    return report


@dataclass
class Continuation:
    """What `Continuer.continue_` made: the new sketch, the new notes, and the choices used."""

    sketch: Sketch
    track: Track  # the new notes alone, on the sketch's tick grid
    key: Key | None
    start_tick: int
    end_tick: int
    events: list[int] = field(default_factory=list)
    model: str = ""  # the name of the model that answered


class Continuer:
    """A trained Music Transformer, speaking in sketches."""

    def __init__(self, model: MusicTransformer, name: str = MODEL_NAME,
                 melody_model: MusicTransformer | None = None, melody_name: str | None = None) -> None:
        self.model = model.eval()
        self.name = name
        self.melody_model = melody_model.eval() if melody_model is not None else None
        self.melody_name = melody_name if melody_model is not None else None

    @classmethod
    def load(cls, name_or_dir: str | Path = MODEL_NAME, device: str | None = None,
             melody: str | Path | None = MELODY_MODEL_NAME) -> "Continuer":
        """The piano model ``name_or_dir`` and the melody model ``melody`` (None: none; the
        bundled one is skipped when it is not installed, and the piano model answers melodies)."""
        model, folder = cls._load_one(name_or_dir, device)
        melody_model = melody_folder = None
        if melody is not None:
            from engine.registry import ModelLoadError, model_dir

            try:
                melody_model, melody_folder = cls._load_one(melody, device)
            except ModelLoadError:
                if str(melody) != MELODY_MODEL_NAME or model_dir(MELODY_MODEL_NAME).is_dir():
                    raise  # asked for by name, or bundled but damaged: say so
        return cls(model, folder.name, melody_model, melody_folder.name if melody_folder else None)

    @staticmethod
    def _load_one(name_or_dir: str | Path, device: str | None) -> tuple[MusicTransformer, Path]:
        model, _, folder = load_model(name_or_dir, "music_transformer",
                                      lambda c: MusicTransformer(TransformerConfig(**c)), "Music Transformer", device)
        with torch.no_grad():  # compile (or load) the CPU step now, not at the first note
            model.step(0, model.new_cache())
        return model, folder

    def model_for(self, constraints: Constraints) -> MusicTransformer:
        """The melody model for a request of one note at a time (when there is one), else the
        piano model."""
        if constraints.max_polyphony == 1 and self.melody_model is not None:
            return self.melody_model
        return self.model

    def model_name_for(self, constraints: Constraints) -> str:
        return self.melody_name if self.model_for(constraints) is self.melody_model else self.name

    @staticmethod
    def start_of(sketch: Sketch, end: int | None = None) -> int:
        """Where a continuation begins by default: the bar line at or after ``end`` (the last
        note's end when not given)."""
        return bar_line_at_or_after(sketch.time_signatures, sketch.end_tick if end is None else int(end))

    def prime(self, sketch: Sketch, start_tick: int, line: bool = False) -> list[int]:
        """Performance events of every (non-drum) note before ``start_tick``, clipped there, and the
        time up to it; ``line``: only its top line, one note at a time (what the melody model reads)."""
        start_s = sketch.ticks_to_seconds(start_tick)
        notes = [n for t in sketch.tracks if not t.is_drum for n in t.notes if n.start_tick < start_tick]
        if line:
            notes = top_line(notes)
        notes = [TimedNote(n.pitch, n.velocity, sketch.ticks_to_seconds(n.start_tick),
                           min(sketch.ticks_to_seconds(n.end_tick), start_s)) for n in notes]
        events = [int(e) for e in perf.encode(notes)]
        end = max((round(n.end_s * perf.SHIFTS_PER_SECOND) for n in notes), default=0)
        gap = round(start_s * perf.SHIFTS_PER_SECOND) - end
        while gap > 0:
            shift = min(gap, NUM_TIME_SHIFTS)
            events.append(TIME_SHIFT + shift - 1)
            gap -= shift
        return events

    def plan(self, sketch: Sketch, bars: float | None = None, seconds: float | None = None,
             key: str | Key | None = "auto", pitch_range: tuple[int, int] | None = None,
             max_polyphony: int | None = None, start_tick: int | None = None,
             max_events: int = 4096, min_note_shifts: int | None = None,
             mode: str = "piano") -> tuple[int, int, Constraints]:
        """(start tick, end tick, constraints) for a request; key "auto" detects it from the sketch.
        ``mode`` "melody" (or "auto" with a monophonic primer, see `mode_of`) answers one note at a
        time, in the primer's register widened by `RANGE_MARGIN` and its range of velocities,
        unless ``max_polyphony`` or ``pitch_range`` say otherwise; "piano" leaves them open.
        ``min_note_shifts`` (10 ms shifts): the shortest note; by default a 32nd at the tempo where
        the continuation starts, and never under 50 ms."""
        start = self.start_of(sketch) if start_tick is None else int(start_tick)
        if min_note_shifts is None:
            min_note_shifts = max(shifts_between(sketch, start, start + 60), MIN_NOTE_SHIFTS)
        if bars is not None:
            end = start + round(bars * sketch.time_signature_at(start).bar_ticks)
        elif seconds is not None:
            end = sketch.seconds_to_ticks(sketch.ticks_to_seconds(start) + seconds)
        else:
            end = None
        max_shifts = None if end is None else shifts_between(sketch, start, end)
        primer = [n for t in sketch.tracks if not t.is_drum for n in t.notes if n.start_tick < start]
        velocity_range = cadence = max_note_shifts = max_rest_shifts = None
        cadence_shifts = 0
        melody = self.mode_of(sketch, start, mode) == "melody" and primer
        if melody:
            if max_polyphony is None:
                max_polyphony = 1
            if pitch_range is None:
                pitch_range = (min(n.pitch for n in primer) - RANGE_MARGIN, max(n.pitch for n in primer) + RANGE_MARGIN)
            velocity_range = (min(n.velocity for n in primer), max(n.velocity for n in primer))
            # No note held longer than the phrase's longest (a beat at least): a melody's notes
            # keep the phrase's lengths rather than hanging on for bars.
            longest_note = max(shifts_between(sketch, n.start_tick, n.end_tick) for n in primer)
            max_note_shifts = max(longest_note, shifts_between(sketch, start, start + TICKS_PER_QUARTER), min_note_shifts)
            # Nor a rest longer than the phrase's longest (half a bar at least): a melody goes on
            # rather than falling silent for bars, as a model that learnt songs' gaps may.
            half_bar = start + sketch.time_signature_at(start).bar_ticks // 2
            longest_rest = max((shifts_between(sketch, a, b) for a, b in rests(primer)), default=0)
            max_rest_shifts = max(longest_rest, shifts_between(sketch, start, half_bar))
        if key == "auto":
            key = detect_key(primer)
        elif isinstance(key, str):
            key = parse_key(key)
        home = key if key is not None else detect_key(primer)
        if melody and end is not None and home is not None:
            cadence = tonic_triad(home)
            last = max(start, end - sketch.time_signature_at(max(end - 1, start)).bar_ticks // 2)
            cadence_shifts = shifts_between(sketch, last, end)
        return start, end if end is not None else start, Constraints(key, pitch_range, max_polyphony,
                                                                     max_shifts, max_events, min_note_shifts,
                                                                     velocity_range, cadence, cadence_shifts,
                                                                     max_note_shifts, max_rest_shifts)

    mode_of = staticmethod(phrase_mode)  # "melody" or "piano" for a request's mode

    def stream(self, sketch: Sketch, temperature: float = 1.0, top_p: float | None = 0.95,
               top_k: int | None = None, seed: int | None = None, planned: tuple | None = None,
               **request) -> Iterator[tuple[int, list[Note]]]:
        """(event, the notes it completes) after every event, on the sketch's tick grid: the GUI
        draws notes as they come and can stop between any two events; together the notes are
        those `continue_` returns. ``request``: the arguments of `plan`, or ``planned``: what
        `plan` already returned for them."""
        start, _, constraints = planned if planned is not None else self.plan(sketch, **request)
        start_s = sketch.ticks_to_seconds(start)
        decoder = perf.Decoder()
        for event in sample_events(*self._model_and_prime(sketch, start, constraints), constraints,
                                   temperature, top_k, top_p, seed):
            done = decoder.feed(event)
            yield event, self._track(done, sketch, start_s).notes if done else []

    def continue_(self, sketch: Sketch, bars: float | None = None, seconds: float | None = None,
                  temperature: float = 1.0, top_p: float | None = 0.95, key: str | Key | None = "auto",
                  seed: int | None = None, into: str | int = "new", top_k: int | None = None,
                  snap: str | None = None, **request) -> Continuation:
        """The sketch with its continuation added: ``into`` "new" (a track named Continuation)
        or the index of a track to append to; ``snap`` a grid ("1/16") its notes land on."""
        start, end, constraints = self.plan(sketch, bars=bars, seconds=seconds, key=key, **request)
        events = list(sample_events(*self._model_and_prime(sketch, start, constraints), constraints,
                                    temperature, top_k, top_p, seed))
        track = self._track(perf.decode(events), sketch, sketch.ticks_to_seconds(start))
        if snap:
            track = track.copy(snap_notes(track.notes, snap, constraints.max_polyphony == 1))
        out = sketch.copy()
        if into == "new":
            out.tracks.append(track)
        else:
            target = out.tracks[int(into)]
            out.tracks[int(into)] = target.copy(sorted(target.notes + track.notes))
        return Continuation(out, track, constraints.key, start, max(end, track.end_tick), events,
                            self.model_name_for(constraints))

    def _model_and_prime(self, sketch: Sketch, start: int, constraints: Constraints) -> tuple[MusicTransformer, list[int]]:
        model = self.model_for(constraints)
        return model, self.prime(sketch, start, line=model is self.melody_model)

    @staticmethod
    def _track(notes: list[TimedNote], sketch: Sketch, start_s: float) -> Track:
        """Notes timed from the continuation's start, placed on the sketch's grid."""
        moved = [TimedNote(n.pitch, n.velocity, n.start_s + start_s, n.end_s + start_s) for n in notes]
        return perf.notes_to_track(moved, sketch, name="Continuation")
