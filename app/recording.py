"""Recording from a MIDI keyboard: choose an input, record a take into the active track after a
bar of count-in (one undo step per take), or write notes one step at a time (step input).

`MidiRecorder.receive(message)` is the one door for notes: the open input port calls it on the
MIDI system's thread, a test calls it from anywhere. It stamps the message with the time it came
and hands it to the GUI thread, where the song position of that moment is worked out (the
position now, less the time since) and the take, the step input and the monitor sound are kept;
the MIDI thread touches nothing of the player.
"""

from __future__ import annotations

import logging
from collections import deque
from time import perf_counter

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QUndoStack

from app import commands
from engine.audio.midi_input import MidiInput, MidiPort, input_ports
from engine.document import RESET, Document, NoteEdit
from engine.errors import CantusError
from engine.jobs import JobHandle
from engine.music.meter import metronome_track
from engine.music.recording import StepInput, TakeRecorder, note_event, take_notes
from engine.music.sketch import Sketch, TempoChange, TimeSignature

log = logging.getLogger(__name__)

MAX_TAKE_BARS = 64  # a take goes on this far past the end of the sketch (then playback ends)


class MidiRecorder(QObject):
    """Takes and step input over one document, through the window's transport and roll.

    Signals
    -------
    state_changed(str)   "off", "counting in" or "recording"
    message(str)         a sentence for the status bar
    """

    state_changed = Signal(str)
    message = Signal(str)
    _arrived = Signal()  # messages are waiting in the inbox (sent from the MIDI thread)

    def __init__(self, document: Document, undo_stack: QUndoStack, transport, view,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.undo_stack = undo_stack
        self.transport = transport
        self.view = view
        self.input: MidiInput | None = None
        self.state = "off"
        self.count_in = True  # a bar of clicks before the take
        self.quantize = False  # takes snap to the roll's grid
        self.step_input = False
        self.last_take: list = []  # the notes the last take added
        self._take: TakeRecorder | None = None
        self._take_sketch: Sketch | None = None  # the sketch the take belongs to (Open replaces it)
        self._start_tick = 0
        self._last_tick = 0  # where the playhead was last seen during the take
        self._count_in_job: JobHandle | None = None
        self._steps: StepInput | None = None
        self._voices: dict[int, tuple | None] = {}  # pitch -> the monitor's preview voice
        self._take_track_ref = None  # the Track the take goes into (found again at its end)
        self._loop_was_on = False  # a take turns the loop off (each pass would overlap the last)
        self._pedal = False
        self._sustained: set[int] = set()
        self._inbox: deque = deque()  # (mido message, perf_counter() when it came); thread-safe
        self._arrived.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        transport.state_changed.connect(self._transport_state)
        transport.position_changed.connect(self._position)
        transport.bridge.finished.connect(self._job_finished)
        transport.bridge.failed.connect(self._job_failed)
        transport.bridge.cancelled.connect(self._job_cancelled)
        document.subscribe(self._document_changed)

    # -- the input port -----------------------------------------------------------------------

    @staticmethod
    def ports() -> list[MidiPort]:
        return input_ports()

    def open_input(self, port: MidiPort | str | None) -> str | None:
        """Listen to ``port`` (a label, as `MidiPort.label` gives it; None closes the input).
        Returns the sentence saying why it could not be opened, if it could not."""
        self.close_input()
        if port is None or port == "":
            return None
        try:
            self.input = MidiInput(port, self.receive)
        except CantusError as error:
            return str(error)
        return None

    def close_input(self) -> None:
        held, self.input = self.input, None
        if held is not None:
            held.close()
        self._release_all()

    # -- notes in (any thread) ----------------------------------------------------------------

    def receive(self, message) -> None:
        """A message from the keyboard, on whatever thread it came."""
        self._inbox.append((message, perf_counter()))
        self._arrived.emit()

    def _drain(self) -> None:
        """Take every message waiting, in the order they came (also before a take ends, so that
        nothing played just before Stop is lost)."""
        while self._inbox:
            message, stamp = self._inbox.popleft()
            self._receive(message, self._song_seconds(stamp))

    def _song_seconds(self, stamp: float) -> float | None:
        """Where the song was heard at ``perf_counter()`` time ``stamp``, during a take (also
        for messages still waiting when it stopped)."""
        player, transport = self.transport.player, self.transport
        if self.state != "recording" or player is None:
            return None
        if transport.state == "playing":
            return player.position_s - (perf_counter() - stamp)
        if transport.stopped_at is not None:  # the take is ending: messages from before Stop
            seconds, when = transport.stopped_at
            return seconds - (when - stamp) if stamp <= when else None
        return None

    def _receive(self, message, seconds) -> None:
        event = note_event(message)
        if event is None:
            return
        self._monitor(event)
        if self._take is not None and seconds is not None:
            tick = self.transport.song_sketch.seconds_to_ticks(seconds) \
                if self.transport.song_sketch is not None else self._start_tick
            if self._take.feed(message, tick) is not None:
                self._show_take()
        elif self.step_input and self._take is None and not self.transport.playing:
            self._step(message)

    def _monitor(self, event: tuple[str, int, int]) -> None:
        """Let the keys be heard (a controller keyboard makes no sound of its own)."""
        kind, pitch, value = event
        track = self.view.current_track()
        program, is_drum = (track.program, track.is_drum) if track is not None else (0, False)
        if kind == "on":
            self.transport.key_up(self._voices.pop(pitch, None))
            self._sustained.discard(pitch)
            self._voices[pitch] = self.transport.key_down(pitch, value, program, is_drum)
        elif kind == "off":
            if self._pedal:
                self._sustained.add(pitch)
            else:
                self.transport.key_up(self._voices.pop(pitch, None))
        elif kind == "pedal":
            self._pedal = value >= 64
            if not self._pedal:
                for held in self._sustained:
                    self.transport.key_up(self._voices.pop(held, None))
                self._sustained.clear()

    def _release_all(self) -> None:
        for voice in self._voices.values():
            self.transport.key_up(voice)
        self._voices.clear()
        self._sustained.clear()
        self._pedal = False

    # -- takes --------------------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    @property
    def recording(self) -> bool:
        return self.state != "off"

    def toggle_record(self) -> None:
        if not self.recording:
            self.record()
        elif self.transport.playing:
            self.transport.stop()  # the take is kept when the transport stops
        else:  # the count-in is still being made
            self._count_in_job = None
            self.drop_take("Recording cancelled.")

    def record(self) -> bool:
        """Start a take into the active track at the start point: a bar of count-in first when
        `count_in` is on; Stop (or Space, or Record again) ends it as one undo step."""
        if self.recording:
            return False
        track = self.view.current_track()
        if track is None:
            self.message.emit("Add a track to record into (Track \u25b8 Add Track).")
            return False
        if self.transport.playing:
            self.transport.stop()
        sketch = self.document.sketch
        start = self.transport.play_from_tick
        bar = sketch.time_signature_at(start).bar_ticks
        self._take_track_ref, self._start_tick, self._last_tick = track, start, start
        self._take_sketch = sketch
        self.transport.stopped_at_tick = self.transport.stopped_at = None
        self._loop_was_on = self.transport.loop_enabled
        if self._loop_was_on:
            self.transport.set_loop(False)
        self._take = TakeRecorder(first_tick=0)
        self.transport.min_end_tick = max(sketch.end_tick, start) + MAX_TAKE_BARS * bar
        if self.count_in:
            self._set_state("counting in")
            self._request_count_in(sketch, start)
        else:
            self._set_state("recording")
            self.transport.play()
        name = track.name
        self.message.emit(f"Recording into {name}\u2026 Stop (Enter or Space) ends the take.")
        return True

    def _request_count_in(self, sketch: Sketch, start_tick: int) -> None:
        """Render one bar of clicks in the meter and tempo at ``start_tick``, on the engine thread."""
        meter = sketch.time_signature_at(start_tick)
        bar = meter.bar_ticks
        bar_s = sketch.ticks_to_seconds(start_tick) - sketch.ticks_to_seconds(start_tick - bar)
        qpm = 60.0 * (bar / 480) / bar_s
        clicks = Sketch([], [TempoChange(0, qpm)], [TimeSignature(0, meter.numerator, meter.denominator)])
        clicks.tracks = [metronome_track(clicks.time_signatures, bar)]
        rate = self.transport.sample_rate()
        soundfont = self.transport.soundfont

        def render(_ctx):
            from engine.audio.render import render_sketch

            audio = render_sketch(clicks, "synth", rate, soundfont).audio
            frames = round(bar_s * rate)  # exactly one bar: the song starts on the next sample
            out = np.zeros((frames, audio.shape[1]), np.float32)
            out[:min(frames, len(audio))] = audio[:frames]
            return out, rate

        self._count_in_job = self.transport.bridge.submit(render, key="count-in", name="Count-in")

    def _job_finished(self, handle: JobHandle) -> None:
        if handle is not self._count_in_job:
            return
        self._count_in_job = None
        if self.state == "counting in":
            self.transport.play(count_in=handle.result)

    def _job_failed(self, handle: JobHandle, message: str) -> None:
        if handle is self._count_in_job:
            self._count_in_job = None
            self.drop_take(message)

    def _job_cancelled(self, handle: JobHandle) -> None:
        if handle is self._count_in_job:
            self._count_in_job = None
            self.drop_take("Recording cancelled.")

    @property
    def counting_in(self) -> bool:
        """Record was pressed and the count-in is still being made (nothing sounds yet)."""
        return self.state == "counting in" and self._count_in_job is not None

    def _position(self, _seconds: float, tick: int) -> None:
        if self.state == "recording" and self.transport.state == "playing":
            self._last_tick = max(self._last_tick, tick)  # Stop shows the start point: not the end

    def _transport_state(self, state: str) -> None:
        if state == "playing" and self.state == "counting in":
            # The count-in sounds now; the take is already listening (a pickup is kept).
            self._set_state("recording")
        elif state == "stopped" and self.recording and self._count_in_job is None:
            self._finish_take()

    def drop_take(self, why: str) -> None:
        """End the take without keeping it (the sketch it was for is going), saying ``why``."""
        self._count_in_job = None
        self._take = None
        self._end_take()
        self.message.emit(why)

    def _end_take(self) -> None:
        self.transport.min_end_tick = 0
        self.view.set_proposal((), owner=self)
        self._release_all()
        if self._loop_was_on:
            self._loop_was_on = False
            self.transport.set_loop(True)
        self._set_state("off")

    def _finish_take(self) -> None:
        self._drain()
        take, self._take = self._take, None
        self._end_take()
        if take is None:
            return
        if self.document.sketch is not self._take_sketch:
            self.message.emit("The take was dropped: another sketch was opened while recording.")
            return
        end = self.transport.stopped_at_tick
        if end is None:
            end = self._last_tick
        grid = self.view.grid if self.quantize and self.view.grid != "off" else None
        notes = take_notes(take.finish(max(int(end), self._start_tick)), grid)
        self.last_take = notes
        tracks = self.document.sketch.tracks
        index = next((i for i, t in enumerate(tracks) if t is self._take_track_ref), None)
        if not notes:
            if self.transport.last_error is None:  # else playback failed, and said why
                self.message.emit("Nothing was played: the take is empty.")
            return
        if index is None:
            self.message.emit("The take was dropped: its track was removed while recording.")
            return
        commands.push(self.undo_stack, self.document,
                      NoteEdit(index, (), tuple(notes), "Record"),
                      f"Record {len(notes)} Note{'s' if len(notes) != 1 else ''}")
        said = " (quantized to " + grid + ")" if grid else ""
        self.message.emit(f"Recorded {len(notes)} note{'s' if len(notes) != 1 else ''} into "
                          f"{tracks[index].name}{said}.")

    def _show_take(self) -> None:
        if self._take is not None:
            self.view.set_proposal(self._take.notes, owner=self)

    # -- step input ---------------------------------------------------------------------------

    def set_step_input(self, on: bool) -> None:
        self.step_input = bool(on)
        self._steps = None
        if on:
            self.message.emit("Step input: each key writes a note one grid step long at the start "
                              "point; Shift+Right rests, Shift+Left steps back.")

    def _step_cursor(self) -> StepInput:
        step = self.view.note_length_ticks()
        start = self.transport.start_tick
        if self._steps is None or self._steps.cursor_tick != start:
            self._steps = StepInput(cursor_tick=start, step_ticks=step)  # the marker was moved
        self._steps.step_ticks = step
        return self._steps

    def _step(self, message) -> None:
        steps = self._step_cursor()
        note = steps.feed(message)
        if note is not None and self.view.current_track() is not None:
            commands.push(self.undo_stack, self.document,
                          NoteEdit(self.view.active_track, (), (note,), "Step Input"))
        if steps.cursor_tick != self.transport.start_tick:
            self.transport.seek(steps.cursor_tick)

    def step_rest(self) -> None:
        if self.step_input and not self.transport.playing:
            steps = self._step_cursor()
            steps.rest()
            self.transport.seek(steps.cursor_tick)

    def step_back(self) -> None:
        if self.step_input and not self.transport.playing:
            steps = self._step_cursor()
            steps.back()
            self.transport.seek(steps.cursor_tick)

    # -- the end ------------------------------------------------------------------------------

    def _document_changed(self, change: object) -> None:
        if change is RESET and self.recording:
            self.drop_take("The take was dropped: another sketch was opened while recording.")

    def close(self) -> None:
        self.close_input()
        self.document.unsubscribe(self._document_changed)
