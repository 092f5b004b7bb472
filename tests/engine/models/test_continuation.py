"""Continuation under constraints: masks hold for any model, so an untrained one (which would
break every rule if it could) is the hardest test."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.generate.continuation import (
    ConstraintState, Constraints, Continuer, constraint_report, sample_events,
)
from engine.music.encodings import performance as perf
from engine.music.key import detect_key, parse_key
from engine.music.sketch import Note, Sketch, TimeSignature, Track
from engine.models.music_transformer import MusicTransformer, TransformerConfig


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MusicTransformer(TransformerConfig(d_model=32, n_layers=2, n_heads=4, d_ff=64, max_len=128,
                                              dropout=0.0)).eval()


def phrase() -> Sketch:
    sketch = Sketch.new(qpm=120)
    notes = [Note(p, 90, i * 240, (i + 1) * 240) for i, p in enumerate([57, 60, 64, 62, 60, 59, 57, 64])]
    sketch.tracks.append(Track("Melody", 0, False, notes))
    return sketch


def test_keys_parse_and_are_found():
    assert parse_key("A:min").name == "A:min" and parse_key("Eb").name == "Eb:maj"
    assert parse_key("f# minor").pitch_classes == frozenset({6, 8, 9, 11, 1, 2, 4, 5})
    with pytest.raises(Exception, match="is not a key"):
        parse_key("H dur")
    assert detect_key(phrase().tracks[0].notes).name == "A:min"


@pytest.mark.parametrize("seed", range(6))
def test_every_constraint_holds(model, seed):
    c = Constraints(key=parse_key("D:maj"), pitch_range=(55, 79), max_polyphony=2, max_shifts=300,
                    max_events=400)
    events = list(sample_events(model, [perf.NOTE_ON + 62], c, temperature=1.5, top_p=None, seed=seed))
    report = constraint_report(events, c, prime_sounding=[62])
    assert all(report.values()), report
    assert len(events) > 10


@pytest.mark.parametrize("seed", range(4))
def test_no_note_is_shorter_than_the_shortest_and_none_starts_too_late_to_last_it(model, seed):
    c = Constraints(max_polyphony=1, max_shifts=200, min_note_shifts=8)
    events = list(sample_events(model, [], c, temperature=1.5, top_p=None, seed=seed))
    report = constraint_report(events, c)
    assert report["min_note_length"] and report["length"] and report["max_polyphony"], report
    notes = perf.decode(events)
    assert notes and min(n.end_s - n.start_s for n in notes) >= 0.08 - 1e-9
    assert all(b.start_s >= a.end_s - 1e-9 for a, b in zip(notes, notes[1:]))  # one at a time


def test_the_shortest_note_rule():
    state = ConstraintState(Constraints(max_shifts=100, min_note_shifts=10))
    state.observe(perf.NOTE_ON + 50)  # a prime's note may end at once
    state.update(perf.NOTE_ON + 60)
    assert state.wait_before(perf.NOTE_OFF + 50) == []
    assert state.wait_before(perf.NOTE_OFF + 60) == [perf.TIME_SHIFT + 9]  # held 10 steps first
    state.update(perf.TIME_SHIFT + 3)
    assert state.wait_before(perf.NOTE_OFF + 60) == [perf.TIME_SHIFT + 5]
    state.update(perf.TIME_SHIFT + 5)  # 10 steps on: it may end at once
    assert state.wait_before(perf.NOTE_OFF + 60) == [] and state.allowed()[perf.NOTE_OFF + 60]
    state.update(perf.TIME_SHIFT + 80)  # 91 of 100 steps: too late for a new note to last
    allowed = state.allowed()
    assert not allowed[perf.NOTE_ON:perf.NOTE_OFF].any() and allowed[perf.TIME_SHIFT]


def test_a_continuation_plans_a_32nd_at_its_tempo_and_never_under_50_ms(model):
    continuer = Continuer(model)
    assert continuer.plan(phrase(), bars=1)[2].min_note_shifts == 6  # 62.5 ms at 120 qpm
    fast = phrase()
    fast.tempos = [type(fast.tempos[0])(0, 240.0)]
    assert continuer.plan(fast, bars=1)[2].min_note_shifts == 5  # 31 ms would be a click
    assert continuer.plan(phrase(), bars=1, min_note_shifts=0)[2].min_note_shifts == 0


def test_the_event_budget_also_closes_every_note(model):
    c = Constraints(max_events=40)
    events = list(sample_events(model, [], c, temperature=1.0, seed=3))
    assert constraint_report(events, c)["notes_closed"] and len(events) >= 40


def test_the_mask_at_the_boundary_allows_only_note_offs():
    state = ConstraintState(Constraints(max_shifts=5))
    for e in [perf.NOTE_ON + 60, perf.NOTE_ON + 64, perf.TIME_SHIFT + 4]:
        state.update(e)
    allowed = np.flatnonzero(state.allowed())
    assert sorted(allowed) == [perf.NOTE_OFF + 60, perf.NOTE_OFF + 64]
    state.update(perf.NOTE_OFF + 60)
    state.update(perf.NOTE_OFF + 64)
    assert state.done


def test_seeded_continuation_is_appended_in_bars(model):
    cont = Continuer(model)
    sketch = phrase()
    a = cont.continue_(sketch, bars=2, key="auto", seed=5, temperature=1.2)
    b = cont.continue_(sketch, bars=2, key="auto", seed=5, temperature=1.2)
    assert a.track.notes == b.track.notes and a.key.name == "A:min"
    assert a.start_tick == 1920  # the next bar line after the phrase
    new = a.sketch.tracks[-1]
    assert new.name == "Continuation" and len(a.sketch.tracks) == 2
    assert all(n.start_tick >= 1920 and n.end_tick <= 1920 + 2 * 1920 + 2 for n in new.notes)
    assert all(n.pitch % 12 in a.key.pitch_classes for n in new.notes)
    merged = cont.continue_(sketch, seconds=1.0, seed=5, into=0)
    assert len(merged.sketch.tracks) == 1 and merged.sketch.tracks[0].notes[:8] == sketch.tracks[0].notes


def test_streaming_shows_notes_as_they_come(model):
    sketch = phrase()
    sketch.time_signatures = [TimeSignature(0, 3, 4)]
    cont = Continuer(model)
    steps = list(cont.stream(sketch, bars=2, seed=2))
    streamed = sorted(note for _, notes in steps for note in notes)
    whole = cont.continue_(sketch, bars=2, seed=2)
    assert [e for e, _ in steps] == whole.events
    assert streamed and streamed == whole.track.notes  # the same notes, each once, as they end
    assert not steps[0][1] and any(notes for _, notes in steps[:-1])  # they arrive along the way


def test_cached_and_recomputed_sampling_agree(model):
    c = Constraints(max_events=60)
    fast = list(sample_events(model, [perf.NOTE_ON + 60], c, seed=9))
    slow = list(sample_events(model, [perf.NOTE_ON + 60], c, seed=9, use_cache=False))
    assert fast == slow


def test_choose_keeps_to_the_mask_and_the_nucleus():
    import numpy as np

    from engine.generate.continuation import choose

    logits = torch.tensor([3.0, 2.0, 1.0, 0.0, 5.0] + [-10.0] * 385)
    mask = np.ones(390, dtype=bool)
    mask[4] = False  # the likeliest event is not allowed
    assert choose(logits, mask, temperature=0) == 0
    rng = np.random.default_rng(0)
    picks = {choose(logits, mask, 1.0, top_p=0.5, rng=rng) for _ in range(200)}
    assert picks == {0}  # event 0 alone holds more than half of what is allowed
    picks = [choose(logits, mask, 1.0, top_k=2, rng=rng) for _ in range(400)]
    assert set(picks) == {0, 1} and picks.count(0) > picks.count(1)
    a = [choose(logits, mask, 1.5, rng=np.random.default_rng(3)) for _ in range(5)]
    assert a == [choose(logits, mask, 1.5, rng=np.random.default_rng(3)) for _ in range(5)]


def test_notes_held_over_from_the_prime_count_toward_the_polyphony_limit():
    c = Constraints(max_polyphony=2)
    held = [60, 64, 67]  # the prime leaves a triad sounding: more than the limit already
    on, off, shift = perf.NOTE_ON, perf.NOTE_OFF, perf.TIME_SHIFT
    too_soon = [on + 72, shift + 9, off + 72, off + 60, off + 64, off + 67]
    assert constraint_report(too_soon, c, prime_sounding=held)["max_polyphony"] is False
    after_release = [shift + 9, off + 60, off + 64, on + 72, shift + 9, off + 72, off + 67]
    assert constraint_report(after_release, c, prime_sounding=held)["max_polyphony"] is True
    state = ConstraintState(c)
    for p in held:
        state.observe(on + p)
    assert not state.allowed()[on:off].any()  # the sampler may not start one either


def test_auto_mode_hears_a_melody_legato_included_and_a_chord_as_piano():
    line = phrase()
    assert Continuer.mode_of(line, 1920) == "melody"
    legato = phrase()
    legato.tracks[0].notes = [Note(n.pitch, n.velocity, n.start_tick, n.end_tick + 40) for n in legato.tracks[0].notes]
    assert Continuer.mode_of(legato, 1920) == "melody"  # overlaps of a 32nd or less are legato
    sung = phrase()  # each eighth held a 16th into the next, as POP909's singers do in places
    sung.tracks[0].notes = [Note(n.pitch, n.velocity, n.start_tick, n.end_tick + 120) for n in sung.tracks[0].notes]
    assert Continuer.mode_of(sung, 1920) == "melody"
    smeared = phrase()  # held a dotted eighth more: each sounds under most of the next
    smeared.tracks[0].notes = [Note(n.pitch, n.velocity, n.start_tick, n.end_tick + 360) for n in smeared.tracks[0].notes]
    assert Continuer.mode_of(smeared, 1920) == "piano"
    for held in (Note(45, 80, 0, 960), Note(45, 80, 250, 400), Note(45, 80, 200, 1000), Note(45, 80, 10, 300)):
        voiced = phrase()  # a note under one, inside one, across several, struck with one
        voiced.tracks[0].notes.append(held)
        assert Continuer.mode_of(voiced, 1920) == "piano", held
    from engine.music.melody import is_line

    assert not is_line([Note(60, 80, 0, 150), Note(64, 80, 50, 1000)])  # a spread chord: 100 of the first's 150
    assert is_line([Note(60, 80, 0, 150), Note(64, 80, 80, 1000)])  # a handover: 70 of its 150
    long_line = phrase()  # twenty notes and one grace note caught under the one before: a melody still
    long_line.tracks[0].notes = [Note(57 + i % 5, 90, i * 240, (i + 1) * 240) for i in range(20)] + [Note(70, 90, 250, 300)]
    assert not is_line(long_line.tracks[0].notes) and Continuer.mode_of(long_line, 4800) == "melody"
    long_line.tracks[0].notes.append(Note(70, 90, 490, 540))  # two in twenty-one: not
    assert Continuer.mode_of(long_line, 4800) == "piano"
    chordal = phrase()
    chordal.tracks[0].notes.append(Note(45, 80, 0, 960))
    assert Continuer.mode_of(chordal, 1920) == "piano"
    assert Continuer.mode_of(chordal, 1920, "melody") == "melody"  # asked for: kept
    with pytest.raises(Exception, match="Unknown mode"):
        Continuer.mode_of(line, 1920, "choir")


def test_a_melody_is_continued_one_note_at_a_time_in_its_register_and_dynamics(model):
    continuer = Continuer(model)
    _, _, c = continuer.plan(phrase(), bars=2, mode="auto")
    assert c.max_polyphony == 1 and c.pitch_range == (55, 66) and c.velocity_range == (90, 90)
    _, _, open_ = continuer.plan(phrase(), bars=2, mode="piano")
    assert open_.max_polyphony is None and open_.pitch_range is None and open_.velocity_range is None
    _, _, asked = continuer.plan(phrase(), bars=2, mode="melody", pitch_range=(40, 90), max_polyphony=2)
    assert asked.pitch_range == (40, 90) and asked.max_polyphony == 2  # what the user set wins
    state = ConstraintState(c)
    bins = np.flatnonzero(state.allowed()[perf.VELOCITY:perf.NUM_EVENTS])
    assert list(bins) == [perf.velocity_to_bin(90)]
    struck = 0
    for seed in range(4):  # an untrained model strikes few notes: take several answers
        result = continuer.continue_(phrase(), bars=2, mode="melody", seed=seed, snap="1/16", temperature=1.5)
        notes = sorted(result.track.notes)
        struck += len(notes)
        assert all(55 <= n.pitch <= 66 for n in notes)
        assert all(n.start_tick % 120 == 0 and n.end_tick % 120 == 0 for n in notes)
        assert all(b.start_tick >= a.end_tick for a, b in zip(notes, notes[1:]))
    assert struck


def test_snapping_lands_on_the_grid_and_loses_no_note():
    from engine.music.quantize import snap_notes

    played = [Note(60, 90, 10, 40), Note(62, 90, 50, 250), Note(64, 90, 70, 300), Note(65, 90, 1000, 1010),
              Note(67, 90, 1200, 1700), Note(69, 90, 1440, 1500)]  # the last starts inside the one before
    free = snap_notes(played, "1/16")
    assert len(free) == 6 and all(n.start_tick % 120 == 0 and n.end_tick % 120 == 0 for n in free)
    assert free[0] == Note(60, 90, 0, 120)  # would have vanished: one step
    line = snap_notes(played, "1/16", one_at_a_time=True)
    assert len(line) == 6 and [n.start_tick for n in line] == [0, 120, 240, 960, 1200, 1440]
    assert line[4].end_tick == 1440  # cut where the next begins
    assert all(b.start_tick >= a.end_tick for a, b in zip(line, line[1:]))


@pytest.mark.parametrize("seed", range(6))
def test_a_melody_ends_on_the_tonic_triad_and_strikes_nothing_after_it(model, seed):
    continuer = Continuer(model)
    _, end, c = continuer.plan(phrase(), bars=2, mode="melody", key="A:min")
    assert c.cadence == frozenset({9, 0, 4}) and c.cadence_shifts == 100  # half a 4/4 bar at 120 qpm: 1 s
    events = list(sample_events(model, [], c, temperature=1.5, seed=seed))
    now, late = 0, []
    for e in events:
        if perf.TIME_SHIFT <= e < perf.VELOCITY:
            now += e - perf.TIME_SHIFT + 1
        elif perf.NOTE_ON <= e < perf.NOTE_OFF and now >= c.max_shifts - c.cadence_shifts:
            late.append(e - perf.NOTE_ON)
    assert len(late) <= 1 and all(p % 12 in c.cadence for p in late)
    _, _, piano = continuer.plan(phrase(), bars=2, mode="piano", key="A:min")
    assert piano.cadence is None  # a piano part is not shaped into one line's ending


def test_a_request_for_one_line_is_answered_by_the_melody_model(model):
    torch.manual_seed(1)
    melodic = MusicTransformer(model.cfg).eval()
    continuer = Continuer(model, melody_model=melodic, melody_name="tiny-melody")
    _, _, line = continuer.plan(phrase(), bars=2, mode="melody")
    _, _, chords = continuer.plan(phrase(), bars=2, mode="piano")
    assert continuer.model_for(line) is melodic and continuer.model_name_for(line) == "tiny-melody"
    assert continuer.model_for(chords) is model
    assert Continuer(model).model_for(line) is model  # no melody model: the piano model answers
    # The melody model reads the primer's top line only.
    two = phrase()
    two.tracks.append(Track("Pad", 0, False, [Note(45, 60, 0, 1920)]))
    top = perf.decode(continuer.prime(two, 1920, line=True))
    assert [n.pitch for n in top] == [57, 60, 64, 62, 60, 59, 57, 64]
    assert 45 in [n.pitch for n in perf.decode(continuer.prime(two, 1920))]


def test_no_note_is_held_longer_than_the_longest_allowed():
    from engine.generate.continuation import ConstraintState, Constraints

    state = ConstraintState(Constraints(max_polyphony=1, max_shifts=1000, max_note_shifts=50))
    state.update(perf.NOTE_ON + 60)
    state.update(perf.TIME_SHIFT + 29)  # 30 shifts held
    allowed = state.allowed()
    assert allowed[perf.TIME_SHIFT + 19] and not allowed[perf.TIME_SHIFT + 20]  # at most 20 more
    state.update(perf.TIME_SHIFT + 19)
    allowed = state.allowed()
    assert np.flatnonzero(allowed).tolist() == [perf.NOTE_OFF + 60]  # now it must end
    state.update(perf.NOTE_OFF + 60)
    assert state.allowed()[perf.TIME_SHIFT + 99]  # silence is not limited


def test_no_rest_runs_longer_than_the_longest_allowed_until_the_cadence():
    from engine.generate.continuation import ConstraintState, Constraints

    c = Constraints(max_polyphony=1, max_shifts=1000, max_rest_shifts=80, cadence=frozenset({0, 4, 7}),
                    cadence_shifts=100)
    state = ConstraintState(c)
    for e in (perf.NOTE_ON + 60, perf.TIME_SHIFT + 9, perf.NOTE_OFF + 60, perf.TIME_SHIFT + 49):
        state.observe(e)  # the prime has rested 50 shifts already: that counts
    allowed = state.allowed()
    assert allowed[perf.TIME_SHIFT + 29] and not allowed[perf.TIME_SHIFT + 30]  # at most 30 more
    state.update(perf.TIME_SHIFT + 29)
    allowed = state.allowed()
    assert not allowed[perf.TIME_SHIFT:perf.VELOCITY].any() and allowed[perf.NOTE_ON + 62]  # a note starts now
    state.update(perf.NOTE_ON + 62)
    assert state.allowed()[perf.TIME_SHIFT + 99]  # a held note is no rest
    state.update(perf.TIME_SHIFT + 99)
    state.update(perf.NOTE_OFF + 62)
    state.update(perf.TIME_SHIFT + 79)  # rested as long as may be again
    assert not state.allowed()[perf.TIME_SHIFT:perf.VELOCITY].any()
    state.update(perf.NOTE_ON + 64)
    for _ in range(7):
        state.update(perf.TIME_SHIFT + 99)  # held to 910 of 1000: in the cadence now
    state.update(perf.NOTE_OFF + 64)
    state.update(perf.NOTE_ON + 67)  # the cadence is struck: the melody may rest to the end
    state.update(perf.NOTE_OFF + 67)
    state.update(perf.TIME_SHIFT + 79)
    allowed = state.allowed()
    assert allowed[perf.TIME_SHIFT + 9] and not allowed[perf.NOTE_ON:perf.NOTE_OFF].any()


def test_a_melody_rests_no_longer_than_its_phrase_or_half_a_bar():
    continuer = Continuer.__new__(Continuer)
    _, _, c = continuer.plan(phrase(), bars=2, mode="melody")
    assert c.max_rest_shifts == 100  # a legato phrase: half a 4/4 bar at 120 qpm, 1 s
    gappy = phrase()
    notes = gappy.tracks[0].notes
    gappy.tracks[0] = gappy.tracks[0].copy(notes[:4] + [replace(n, start_tick=n.start_tick + 1920, end_tick=n.end_tick + 1920)
                                                         for n in notes[4:]])
    _, _, c = continuer.plan(gappy, bars=2, mode="melody")
    assert c.max_rest_shifts == 200  # a whole bar's rest inside the phrase: 2 s
    _, _, c = continuer.plan(phrase(), bars=2, mode="piano")
    assert c.max_rest_shifts is None
