"""Transport: hear the sketch. `Transport` renders it on the engine thread, plays it through one
lazily opened Player, loops, clicks a metronome and moves the editor's playhead. Its toolbar is
`app.transport_bar.TransportBar`; tempo and meter edits are in `app.timing`.

Rendering never happens on the GUI thread: Play submits a render (key "render", so the newest
request wins) and starts the song when the audio arrives. Edits made while playing are rendered
again once they settle (RERENDER_MS) and swapped in with `Player.set_song`, which keeps the
position, so what plays follows the editor by the next loop at the latest.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.engine_bridge import EngineBridge
from engine.audio.player import DEFAULT_LATENCY_S, MIN_LOOP_S, AudioDeviceError, Player
from engine.audio.render import Rendered
from engine.document import RESET, Document
from engine.errors import CantusError
from engine.generate.requests import Render
from engine.jobs import JobHandle, map_yields, run_to_end
from engine.music.meter import bar_beat, bar_end_at_or_after, metronome_track
from engine.music.sketch import Sketch, Track

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_RATE = 44100  # until the player's stream says its own rate
PLAYHEAD_MS = 25  # playhead refresh while playing (about 40 frames a second)
RERENDER_MS = 150  # an edit while playing is heard once the edits pause this long
PREVIEW_S = 0.35  # a note preview's held length
HELD_KEY_S = 4.0  # a key held on a MIDI keyboard sounds this long at most (it fades when let go)



# -- pure helpers (no Qt) ----------------------------------------------------------------------

def with_metronome(sketch: Sketch, end_tick: int | None = None) -> Sketch:
    """A copy of ``sketch`` with a metronome track added (the sketch itself is not changed).

    When some track is soloed the clicks are soloed too, so that they still sound.
    """
    end = sketch.end_tick if end_tick is None else end_tick
    click = metronome_track(sketch.time_signatures, end)
    click.solo = any(t.solo for t in sketch.tracks)
    return Sketch([t.copy() for t in sketch.tracks] + [click], list(sketch.tempos),
                  list(sketch.time_signatures))


# -- playback ---------------------------------------------------------------------------------

BUFFER_MARGIN_S = 0.1  # a partial song pauses this long before its rendered audio runs out
PLAYING = "Playing"  # the status message while the song plays (the sound is named beside it)


@dataclass
class _Song:
    """What was rendered, and for which document state."""

    revision: int
    metronome: bool
    sample_rate: int
    sketch: Sketch  # the copy that was rendered (its tempo map turns seconds into ticks)
    rendered: Rendered
    renderer: tuple = ("synth", None, None)  # (renderer, soundfont, temperature)
    min_end_tick: int = 0  # silence (or clicks) was added to reach this


class Transport(QObject):
    """Plays the document. Owns the Player (created on first use) and the playhead timer.

    Signals
    -------
    state_changed(str)   "stopped", "rendering" (play pressed, audio on its way) or "playing"
    position_changed(float, int)   playhead in seconds and ticks while playing
    loop_changed(bool)   the loop was turned on or off, or its region moved
    message(str)         something to say in the status bar (errors included)
    song_changed(object) new audio to play arrived (a `Rendered`)
    sound_changed(str)   what plays the song that just started (the renderer, for people)
    """

    state_changed = Signal(str)
    position_changed = Signal(float, int)
    loop_changed = Signal(bool)
    message = Signal(str)
    song_changed = Signal(object)
    sound_changed = Signal(str)  # what plays the song now started ("FluidSynth with TimGM6mb.sf2")
    output_fell_back = Signal()  # the chosen output vanished; the default plays now

    def __init__(self, document: Document, bridge: EngineBridge, view,
                 player_factory: Callable[[], Player] = Player,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.bridge = bridge
        self.view = view
        self.player_factory = player_factory  # tests stand in a player that fails
        self.player: Player | None = None
        self.state = "stopped"
        self.metronome = False
        self.loop_enabled = False
        self.loop_ticks: tuple[int, int] | None = None
        self.start_tick = 0  # where Play starts (a click on the ruler moves it), and Stop returns to
        self.resume_tick: int | None = None  # where a paused song goes on
        self.last_error: str | None = None
        self._song: _Song | None = None
        self._render_handle: JobHandle | None = None
        self._render_for: tuple | None = None
        self.renderer = "synth"  # engine.audio.render.RENDERERS; the render panel chooses
        self.soundfont: str | None = None  # None: the default General MIDI soundfont
        self.temperature: float | None = None  # a neural renderer's (None: its model's own)
        self.output_device: str | None = None  # PortAudio device name (None: the system's default)
        self.latency_s = DEFAULT_LATENCY_S
        self.min_end_tick = 0  # the song lasts at least this long (a take goes on past the sketch)
        self.stopped_at_tick: int | None = None  # where the sound was when it last stopped playing
        self.stopped_at: tuple[float, float] | None = None  # (song seconds, perf_counter()) then
        self._count_in: tuple[np.ndarray, int] | None = None  # sounds before the next Play
        self._audition: JobHandle | None = None
        self._preview_job: JobHandle | None = None  # the first note preview, while its synth loads

        self._playhead_timer = QTimer(self)
        self._playhead_timer.setInterval(PLAYHEAD_MS)
        self._playhead_timer.timeout.connect(self._tick)
        self._rerender_timer = QTimer(self)
        self._rerender_timer.setSingleShot(True)
        self._rerender_timer.setInterval(RERENDER_MS)
        self._rerender_timer.timeout.connect(self._rerender)

        document.subscribe(self._document_changed)
        self._closed = False

    # -- state ----------------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        """Play was pressed and not stopped (the audio may still be rendering)."""
        return self.state != "stopped"

    @property
    def rendered(self) -> Rendered | None:
        """The audio that plays (or played last), with the sketch copy it was made from; while
        the first windows of a render play, the rest still on its way, a partial `Rendered`."""
        return self._song.rendered if self._song is not None else None

    @property
    def song_sketch(self) -> Sketch | None:
        return self._song.sketch if self._song is not None else None

    @property
    def song_revision(self) -> int | None:
        """The document revision the playing audio was rendered from."""
        return self._song.revision if self._song is not None else None

    @property
    def timers_active(self) -> bool:
        return self._playhead_timer.isActive() or self._rerender_timer.isActive()

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def _report(self, text: str) -> None:
        self.last_error = text
        self.message.emit(text)

    def sample_rate(self) -> int:
        rate = self.player.sample_rate if self.player is not None else None
        return int(rate) if rate else DEFAULT_SAMPLE_RATE

    def ensure_player(self) -> Player:
        if self.player is None:
            self.player = self.player_factory()
            # the output chosen in Preferences, before the stream first opens (on first use);
            # without a choice the player keeps its own (a test's factory may name one)
            if self.output_device is not None:
                self.player.device = self.output_device
            self.player.latency_s = self.latency_s
        return self.player

    def set_output(self, device: str | None, latency_s: float | None = None) -> str | None:
        """Play through ``device`` (a PortAudio device name; None: the system's default) with this
        latency from now on; what plays goes on. A device that cannot be opened falls back to
        the default; the sentence saying so is returned (and reported)."""
        self.output_device = device
        if latency_s is not None:
            self.latency_s = float(latency_s)
        player = self.player
        if player is None:
            return None
        player.latency_s = self.latency_s
        was_playing, seconds = player.is_playing, player.position_s
        try:
            player.reopen(device)
            return None
        except AudioDeviceError as error:
            said = f"{error} Playing through the default output instead."
            self.output_device = None
            try:
                player.reopen(None)
                if was_playing:  # the failed device took the sound with it: go on from there
                    player.play(seconds)
            except AudioDeviceError as again:
                said = str(again)
            self._report(said)
            return said

    # -- play and stop --------------------------------------------------------------------------

    def toggle_play(self) -> None:
        """Space: play, or pause where the sound is (a render still on its way is let go)."""
        if self.state == "playing":
            self.pause()
        elif self.playing:
            self.stop()
        else:
            self.play()

    @property
    def paused(self) -> bool:
        """Stopped by `pause`: Play goes on from `resume_tick`."""
        return self.state == "stopped" and self.resume_tick is not None

    def pause(self) -> None:
        """Stop the sound where it is: Play goes on from there; Stop returns to the start point."""
        player, song = self.player, self._song
        if self.state != "playing" or player is None or song is None:
            self.stop()
            return
        tick = max(song.sketch.seconds_to_ticks(player.position_s), 0)  # a count-in is before 0
        self._halt()
        self.resume_tick = tick
        self._set_view_playhead(tick or None)
        self.position_changed.emit(self.document.sketch.ticks_to_seconds(tick), tick)
        self._set_state("stopped")
        self.message.emit(f"Paused at bar {bar_beat(self.document.sketch.time_signatures, tick)[0]}; "
                          "Space goes on, Enter returns to the start")

    def play(self, count_in: tuple[np.ndarray, int] | None = None) -> None:
        """Start from the loop start (or the beginning) once the audio is ready; ``count_in``
        (audio, sample rate) sounds first, the song starting the sample after it."""
        if self._closed or self.playing:
            return
        self._count_in = count_in
        self._set_state("rendering")
        if self._song_is_current():
            self._start_song()
        else:
            self._request_render()

    def stop(self) -> None:
        """Stop and return the playhead to the start point (where play started, or a click on
        the ruler put it); a render on its way is kept."""
        self._halt()
        self.resume_tick = None
        self._show_start()
        self._set_state("stopped")

    def _halt(self) -> None:
        player, song = self.player, self._song
        if self.state == "playing" and player is not None and song is not None:
            seconds = player.position_s  # where the sound stopped, and when
            self.stopped_at = (seconds, time.perf_counter())
            self.stopped_at_tick = song.sketch.seconds_to_ticks(seconds)
        self._playhead_timer.stop()
        self._rerender_timer.stop()
        if self.player is not None:
            try:
                self.player.stop()
            except Exception:  # stopping must never fail the window
                log.exception("player.stop failed")

    def seek(self, tick: int) -> None:
        """Move the playhead to ``tick``: a jump while playing, else where the next Play starts."""
        tick = max(int(tick), 0)
        if self.state == "playing" and self.player is not None and self._song is not None:
            self.player.seek(self._song.sketch.ticks_to_seconds(tick))
            return
        self.start_tick = tick
        self.resume_tick = None
        if not self.playing:
            self._show_start()

    def _show_start(self) -> None:
        tick = self.start_tick
        self._set_view_playhead(tick if tick > 0 else None)
        self.position_changed.emit(self.document.sketch.ticks_to_seconds(tick), tick)

    @property
    def play_from_tick(self) -> int:
        """Where Play goes on from: where it was paused, else the start point."""
        return self.start_tick if self.resume_tick is None else self.resume_tick

    def _start_seconds(self, sketch: Sketch) -> float:
        """Where Play starts: `play_from_tick`; the loop start when that lies outside the loop."""
        tick = self.play_from_tick
        if self.loop_enabled and self.loop_ticks:
            start, end = self.loop_ticks
            if not start <= tick < end:
                tick = start
        return sketch.ticks_to_seconds(tick)

    def _key(self) -> tuple:
        return (self.document.revision, self.metronome, self.sample_rate(),
                (self.renderer, self.soundfont, self.temperature), self.min_end_tick)

    def _song_is_current(self) -> bool:
        song = self._song
        return song is not None and (song.revision, song.metronome, song.sample_rate,
                                     song.renderer, song.min_end_tick) == self._key()

    def set_renderer(self, renderer: str, soundfont: str | None = None, temperature: float | None = None) -> None:
        """What plays the sketch from now on; a sketch that is playing is rendered again."""
        if (renderer, soundfont, temperature) == (self.renderer, self.soundfont, self.temperature):
            return
        self.renderer, self.soundfont, self.temperature = renderer, soundfont, temperature
        if self.playing:
            self._request_render()

    def render_now(self) -> JobHandle | None:
        """Render the sketch for playback without playing it (Play then starts at once)."""
        if not self._song_is_current():
            self._request_render()
        return self._render_handle

    def _request_render(self) -> None:
        key = self._key()
        if self._render_handle is not None and not self._render_handle.finished \
                and self._render_for == key:
            return  # that very render is on its way
        sketch = self.document.sketch.copy()
        revision, metronome, rate, (renderer, soundfont, temperature), min_end = key
        if self.metronome:
            end = self.loop_ticks[1] if self.loop_enabled and self.loop_ticks else None
            sketch = with_metronome(sketch, max(end or 0, sketch.end_tick, min_end))
        min_frames = round(sketch.ticks_to_seconds(min_end) * rate) if min_end else 0
        request = Render(sketch, renderer, rate, soundfont, temperature, min_frames)

        def song(rendered: Rendered) -> _Song:
            return _Song(revision, metronome, rate, sketch, rendered, (renderer, soundfont, temperature), min_end)

        def render(ctx):
            # A generator job: a neural render's first windows arrive as partial songs
            # (`_job_partial`), so playback starts before the whole is rendered.
            return song((yield from map_yields(request.run(ctx), song)))

        self._render_for = key
        self._render_handle = self.bridge.submit(render, key="render", name="Rendering for playback",
                                                 on_partial=self._job_partial, on_done=self._job_finished,
                                                 on_failed=self._job_failed, on_cancelled=self._job_cancelled)

    def _job_finished(self, handle: JobHandle) -> None:
        if handle is not self._render_handle or self._closed:
            return
        self._render_handle = None
        song: _Song = handle.result
        self._song = song
        self.song_changed.emit(song.rendered)
        if self.state == "rendering":
            self._start_song()
        elif self.state == "playing":
            self._swap_song()

    def _job_partial(self, handle: JobHandle, song: object) -> None:
        """The first windows of a render: play them while the rest renders (the whole replaces
        them in `_job_finished`, keeping the position). Kept only while Play is pressed."""
        if handle is not self._render_handle or self._closed or not isinstance(song, _Song):
            return
        if self.state == "rendering":  # Play is waiting (or the playhead caught up with the render)
            self._song = song
            self._start_song()
        elif self.state == "playing" and self._song is not None and not self._song.rendered.complete:
            self._song = song  # more of the same render: the position is kept
            self._swap_song()
        # A whole song of an earlier revision plays on until this render is whole (_job_finished):
        # its first seconds alone would silence the rest.

    def _forget_partial(self) -> None:
        """A render that will not finish leaves no partial song behind (its silent rest would play)."""
        if self._song is not None and not self._song.rendered.complete:
            self._song = None
            if self.playing:
                self.stop()

    def _job_failed(self, handle: JobHandle, message: str) -> None:
        if handle is not self._render_handle or self._closed:
            return
        self._render_handle = None
        self._forget_partial()
        if self.playing:
            self.stop()
        self._report(message)

    def _job_cancelled(self, handle: JobHandle) -> None:
        if handle is self._render_handle and not self._closed:  # cancelled from outside (Cancel in the status bar)
            self._render_handle = None
            self._forget_partial()
            if self.state == "rendering":
                self.stop()

    def _start_song(self) -> None:
        song = self._song
        try:
            player = self.ensure_player()
            try:
                player.set_song(song.rendered.audio, song.sample_rate)
            except AudioDeviceError as error:
                if self.output_device is None:
                    raise
                # the chosen output is not there (unplugged since): the default plays instead
                self.output_device = player.device = None
                self.message.emit(f"{error} Playing through the default output instead.")
                player.set_song(song.rendered.audio, song.sample_rate)
            self._apply_loop()
            count_in, self._count_in = self._count_in, None
            if count_in is not None:
                player.play(self._start_seconds(song.sketch), count_in=count_in[0],
                            count_in_rate=count_in[1])
            else:
                player.play(self._start_seconds(song.sketch))
            self.resume_tick = None
        except AudioDeviceError as error:  # the sentence says what to do; Play tries again
            self.stop()
            self._report(str(error))
            return
        except Exception as error:  # noqa: BLE001 - playback must never take the window down
            log.exception("playback failed")
            self.stop()
            self._report(f"Playback failed ({type(error).__name__}: {error}).")
            return
        self.last_error = None
        self._set_state("playing")
        self._playhead_timer.start()
        note = song.rendered.note
        if not song.rendered.complete:
            note = f"the first {song.rendered.ready_s:.0f} s while the rest renders"
        self.sound_changed.emit(song.rendered.renderer)
        self.message.emit(PLAYING + (f" ({note})" if note else ""))

    def _swap_song(self) -> None:
        song = self._song
        try:
            self.player.set_song(song.rendered.audio, song.sample_rate)  # keeps the position
            self._apply_loop()
        except AudioDeviceError as error:
            self.stop()
            self._report(str(error))

    # -- the playhead ---------------------------------------------------------------------------

    def _tick(self) -> None:
        player, song = self.player, self._song
        if player is None or song is None:
            self._playhead_timer.stop()
            return
        error = player.check()
        if error is not None and self.output_device is not None and self._fall_back(player, song):
            return  # the chosen output vanished: the default plays on
        if error is not None:  # the device died under us; the next Play opens it again
            self.stop()
            self._report(str(error))
            return
        if not player.is_playing:  # the song ran to its end
            self.stop()
            return
        seconds = player.position_s
        ready = song.rendered.ready_s
        if ready is not None and seconds >= ready - BUFFER_MARGIN_S and self._render_handle is not None:
            # The playhead caught up with a render slower than real time: wait for more of it.
            tick = song.sketch.seconds_to_ticks(seconds)
            self._halt()
            self.resume_tick = tick
            self._set_state("rendering")
            self.message.emit("Waiting for the render to catch up\u2026")
            return
        seconds = max(seconds, 0.0)  # a count-in before the start of the sketch shows the start
        tick = song.sketch.seconds_to_ticks(seconds)
        self._set_view_playhead(tick)
        self.position_changed.emit(seconds, tick)

    def _fall_back(self, player: Player, song) -> bool:
        """The chosen output stopped: go on through the default from where the sound was."""
        name = self.output_device
        seconds = player.position_s
        try:
            player.reopen(None)
            player.play(seconds)
        except AudioDeviceError:
            self.output_device = player.device  # what the player is left with
            return False
        self.output_device = None
        player.last_error = None
        self.message.emit(f'The sound output "{name}" is gone; playing through the default output.')
        self.output_fell_back.emit()
        return True

    def _set_view_playhead(self, tick: int | None) -> None:
        setter = getattr(self.view, "set_playhead_tick", None)
        if setter is not None:
            setter(tick)

    # -- loop -----------------------------------------------------------------------------------

    def set_loop(self, enabled: bool, region_ticks: tuple[int, int] | None = None) -> None:
        """Loop ``region_ticks`` (start, end) or the region already set, or the whole sketch."""
        if region_ticks is not None:
            start, end = int(region_ticks[0]), int(region_ticks[1])
            if end > start:
                self.loop_ticks = (start, end)
        if enabled and self.loop_ticks is None:
            self.loop_ticks = self._whole_sketch()
        self.loop_enabled = bool(enabled)
        setter = getattr(self.view, "set_loop_region", None)
        if setter is not None:
            if self.loop_enabled and self.loop_ticks:
                setter(*self.loop_ticks)
            else:
                setter(None)
        if self.metronome and self.playing:
            self._rerender_timer.start()  # clicks may have to reach further
        self._apply_loop()
        self.loop_changed.emit(self.loop_enabled)

    def _whole_sketch(self) -> tuple[int, int]:
        sketch = self.document.sketch
        return 0, bar_end_at_or_after(sketch.time_signatures, sketch.end_tick)

    def _loop_seconds(self) -> tuple[float, float] | None:
        if not (self.loop_enabled and self.loop_ticks):
            return None
        sketch = self._song.sketch if self._song is not None else self.document.sketch
        start, end = self.loop_ticks
        start_s, end_s = sketch.ticks_to_seconds(start), sketch.ticks_to_seconds(end)
        return (start_s, end_s) if end_s - start_s >= MIN_LOOP_S else None

    def _apply_loop(self) -> None:
        if self.player is None:
            return
        seconds = self._loop_seconds()
        if seconds is None:
            self.player.clear_loop()
        else:
            self.player.set_loop(*seconds)

    # -- metronome and edits --------------------------------------------------------------------

    def set_metronome(self, on: bool) -> None:
        self.metronome = bool(on)
        if self.playing:
            self._rerender_timer.start()

    def _document_changed(self, change: object) -> None:
        if change is RESET:
            self._song = None
            self.start_tick = 0
            self.resume_tick = None
            if self.playing:
                self.stop()
            if self.loop_enabled:
                self.set_loop(False)
            self.loop_ticks = None
            return
        if self.playing:
            self._rerender_timer.start()  # restarts: renders once the edits pause

    def _rerender(self) -> None:
        if self.playing and not self._song_is_current():
            self._request_render()

    # -- previews -------------------------------------------------------------------------------

    def preview(self, pitch: int, velocity: int = 100, program: int = 0,
                is_drum: bool = False) -> JobHandle | None:
        """Sound one note now, with the Render panel's synth and soundfont (a neural renderer's
        previews use the soundfont synth), on top of what plays: a few milliseconds of synthesis.
        The first note, while the soundfont loads, is made on the engine thread (its job is
        returned) and heard a moment later; the window never waits."""
        job = self._preview_job
        self._sound(pitch, velocity, program, is_drum, PREVIEW_S)
        return self._preview_job if self._preview_job is not job else None

    def key_down(self, pitch: int, velocity: int = 100, program: int = 0,
                 is_drum: bool = False) -> tuple | None:
        """A key pressed on a MIDI keyboard: its note sounds (the Render panel's synth) until
        `key_up` with the voice returned; None when the soundfont is still loading (the first
        key is then heard as a short preview a moment later)."""
        return self._sound(pitch, velocity, program, is_drum, HELD_KEY_S)

    def _sound(self, pitch: int, velocity: int, program: int, is_drum: bool, held_s: float) -> tuple | None:
        """One note of ``held_s`` on top of what plays: the player's voice, or None when the
        soundfont is still loading (a short preview is then made on the engine thread and heard a
        moment later, `_preview_job`) or playback failed (said in the status bar)."""
        if self._closed:
            return None
        from engine.audio.render import preview_synth, preview_synth_name, ready_synth

        kind, soundfont = preview_synth_name(self.renderer, self.soundfont)
        try:
            player = self.ensure_player()
            rate = self.sample_rate()
            synth = ready_synth(kind, soundfont, rate)
            if synth is None:
                note = (int(pitch), int(velocity), PREVIEW_S, int(program), bool(is_drum), rate)
                self._preview_job = self.bridge.submit(
                    lambda _ctx: preview_synth(kind, soundfont).render_note(*note), key="preview",
                    name="Loading the soundfont", on_done=self._play_audition)
                return None
            audio = synth.render_note(int(pitch), int(velocity), held_s, int(program), bool(is_drum), rate)
            return player.preview(audio, rate)
        except CantusError as error:
            self._report(str(error))
        except Exception as error:  # noqa: BLE001
            log.exception("preview failed")
            self._report(f"The note preview failed ({type(error).__name__}: {error}).")
        return None

    def key_up(self, voice: tuple | None) -> None:
        if voice is not None and self.player is not None:
            self.player.release_preview(voice)

    def audition(self, track: Track) -> JobHandle | None:
        """Hear a melody that is not in the document (a model's proposal) at the sketch's tempo,
        on top of whatever plays: rendered on the engine thread, then played as a preview."""
        if self._closed or not track.notes:
            return None
        sketch = Sketch([track], self.document.sketch.tempos, self.document.sketch.time_signatures)
        rate = self.sample_rate()

        # With the Render panel's sound, as the sketch plays.
        request = Render(sketch, self.renderer, rate, self.soundfont, self.temperature)

        def render(ctx):
            return run_to_end(request.run(ctx)).audio

        self._audition = self.bridge.submit(render, key="audition", name="Rendering the preview",
                                            on_done=self._play_audition)
        return self._audition

    def _play_audition(self, handle: JobHandle) -> None:
        if handle not in (self._audition, self._preview_job) or self._closed:
            return
        try:
            self.ensure_player().preview(handle.result, self.sample_rate())
        except CantusError as error:
            self._report(str(error))

    # -- the end --------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop timers and close the player's stream. Idempotent."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        self.document.unsubscribe(self._document_changed)
        if self.player is not None:
            try:
                self.player.close()
            except Exception:  # noqa: BLE001
                log.exception("closing the player failed")
        self._song = None


