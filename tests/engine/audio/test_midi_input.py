"""MIDI inputs through a real MIDI system: a virtual keyboard port (JACK's, or ALSA's
sequencer where the machine has one) sends, Cantus's input receives."""

import threading

import mido
import pytest

from engine.audio import midi_input
from engine.audio.midi_input import MidiInput, MidiInputError, find_port, input_ports


@pytest.fixture
def keyboard():
    try:
        port = midi_input.open_virtual_output("Cantus Test Keys")
    except MidiInputError as error:
        pytest.skip(str(error))  # no MIDI system here; the JACK server of `make test` gives one
    yield port
    port.close()


def test_a_virtual_keyboard_is_listed_and_its_notes_arrive(keyboard):
    labels = [p.label for p in input_ports()]
    port = find_port("Cantus Test Keys")
    assert port is not None and port.label in labels
    got, arrived = [], threading.Event()

    def receive(message):
        got.append(message)
        if len(got) == 2:
            arrived.set()

    with MidiInput(port, receive) as listening:
        assert listening.label == port.label
        for _ in range(5):  # JACK routes a new connection from its next cycle on: a first try may miss
            got.clear()
            keyboard.send(mido.Message("note_on", note=64, velocity=77))
            keyboard.send(mido.Message("note_off", note=64))
            if arrived.wait(1.0):
                break
        assert arrived.is_set(), "the notes never arrived"
    assert [(m.type, m.note) for m in got] == [("note_on", 64), ("note_off", 64)]
    assert got[0].velocity == 77


def test_a_keyboard_that_is_not_there_gets_a_sentence():
    with pytest.raises(MidiInputError, match="is not connected"):
        MidiInput("No Such Keyboard 9 (ALSA)", lambda m: None)
