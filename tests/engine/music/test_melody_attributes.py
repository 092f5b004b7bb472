import pytest

from engine.music.attributes import ATTRIBUTES, melody_attributes
from engine.music.melody import extract_melody, skyline, top_line
from engine.music.quantize import quantize_melody
from engine.music.sketch import Note, Sketch, Track

Q = 480  # a quarter note in ticks
S = 120  # a 16th


def test_a_track_named_melody_wins(pop909_dir):
    from engine.music.midi_io import read_midi

    sketch = read_midi(pop909_dir / "001" / "001.mid")
    m = extract_melody(sketch)
    assert m.track_index == 0 and m.source == "track 'MELODY'"
    assert m.track.is_monophonic() and len(m.track.notes) == len(sketch.tracks[0].notes)


def test_skyline_over_tracks_reports_what_it_drops():
    chords = Track("Piano", 0, False, [
        Note(60, 80, 0, Q), Note(64, 80, 0, Q), Note(67, 80, 0, Q),  # C major: G on top
        Note(62, 80, Q, 2 * Q), Note(65, 80, Q, 2 * Q)])  # then F on top
    bass = Track("Bass", 33, False, [Note(36, 80, 0, 2 * Q)])
    drums = Track("Drums", 0, True, [Note(100, 80, 0, Q)])  # never the melody, however high
    m = extract_melody(Sketch.new(tracks=[bass, chords, drums]))
    assert m.track_index is None and "skyline of 2 tracks" in m.source
    assert [(n.pitch, n.start_tick, n.end_tick) for n in m.track.notes] == [(67, 0, Q), (65, Q, 2 * Q)]
    assert m.dropped == 4 and m.truncated == 0
    assert "4 dropped" in m.describe()


def test_skyline_cuts_a_held_note_under_a_higher_one_and_drops_lower_ones():
    notes = [Note(60, 80, 0, 4 * Q), Note(72, 80, Q, 2 * Q), Note(55, 80, 2 * Q, 3 * Q)]
    kept, dropped, truncated = skyline(notes)
    assert kept == [Note(60, 80, 0, Q), Note(72, 80, Q, 2 * Q), Note(55, 80, 2 * Q, 3 * Q)]
    assert (dropped, truncated) == (0, 1)
    kept, dropped, truncated = skyline([Note(72, 80, 0, 4 * Q), Note(60, 80, Q, 2 * Q)])
    assert kept == [Note(72, 80, 0, 4 * Q)] and dropped == 1


def test_no_pitched_tracks():
    m = extract_melody(Sketch.new(tracks=[Track("Drums", 0, True, [Note(36, 80, 0, Q)])]))
    assert m.track.notes == [] and m.track_index is None


def test_quantize_melody_stays_monophonic_and_drops_grace_notes():
    track = Track("m", 0, False, [Note(60, 80, 0, 10), Note(62, 80, 10, 250), Note(64, 80, 250, 470)])
    q, dropped = quantize_melody(track)
    assert q.is_monophonic() and dropped == 1
    assert [(n.pitch, n.start_tick, n.end_tick) for n in q.notes] == [(62, 0, 240), (64, 240, 480)]


def test_attributes_by_hand():
    # Steps:      0    2    3 (held to 6)   6     9 (held to 10)
    notes = [Note(60, 80, 0, 2 * S), Note(62, 80, 2 * S, 3 * S), Note(66, 80, 3 * S, 6 * S),
             Note(64, 80, 6 * S, 9 * S), Note(61, 80, 9 * S, 10 * S)]
    a = melody_attributes(Track(notes=notes), num_steps=16)
    assert set(a) == set(ATTRIBUTES)
    assert a["c_diatonic"] == pytest.approx(3 / 5)  # C, D, E are in C major; F# and C# are not
    assert a["note_density"] == pytest.approx(5 / 16)
    assert a["mean_interval"] == pytest.approx((2 + 4 + 2 + 3) / 4)
    # 16th syncopation: onsets at odd steps (3, 9) held past the next 8th: only step 3 (to 6).
    assert a["syncopation_16th"] == pytest.approx(1 / 5)
    # 8th syncopation: onsets on off-beat 8ths (2, 6) held past the next beat: step 6 (to 9).
    assert a["syncopation_8th"] == pytest.approx(1 / 5)


def test_attributes_of_silence():
    assert melody_attributes(Track()) == dict.fromkeys(ATTRIBUTES, 0.0)


def test_top_line_joins_a_legato_overlap_where_the_skyline_drops_the_note():
    legato = [Note(64, 80, 0, Q + 30), Note(62, 80, Q, 2 * Q + 30), Note(60, 80, 2 * Q, 3 * Q)]
    assert len(skyline(legato)[0]) == 2  # the skyline loses the D under the held E
    assert top_line(legato) == [Note(64, 80, 0, Q), Note(62, 80, Q, 2 * Q), Note(60, 80, 2 * Q, 3 * Q)]
    chord_then_note = [Note(60, 80, 0, Q), Note(67, 80, 0, Q), Note(65, 80, Q, 2 * Q)]
    assert top_line(chord_then_note) == [Note(67, 80, 0, Q), Note(65, 80, Q, 2 * Q)]
