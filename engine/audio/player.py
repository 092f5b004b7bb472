"""Real-time playback: one long-lived PortAudio output stream that plays a rendered song, with
short note previews mixed on top, under a transport (play, pause, stop, seek, loop, volume).

Threads. The audio callback (PortAudio's thread) only copies samples that are already rendered
and at the stream's rate into ``outdata``, ramps gains with preallocated arrays, and advances
counters: it allocates no sample buffers, takes no lock, logs nothing and never touches Qt.
The other threads talk to it only by assigning attributes (atomic under the GIL) that hold
immutable or freshly built objects (a song buffer, a transport request, a loop tuple, a preview
slot); the callback picks them up at the start of a block. Attributes the callback writes are
never written by another thread while the stream runs.

sounddevice (and through it PortAudio) is imported lazily, so ``import engine.audio`` works on a
machine without PortAudio; playback then raises :class:`AudioDeviceError`. Finding, listing and
closing devices lives in `engine.audio.devices`.
"""

from __future__ import annotations

import math
import threading
from time import monotonic, perf_counter, sleep
from typing import NamedTuple

import numpy as np

from engine.audio.devices import (
    AudioDeviceError,
    OutputDevice,
    _close_stream,
    _find_output_device,
    _sounddevice,
    list_output_devices,
)
from engine.audio.dsp import resample

__all__ = ["AudioDeviceError", "OutputDevice", "Player", "list_output_devices"]

FADE_S = 0.010  # fade at play, pause and stop, so that starting and stopping never click
CROSSFADE_S = 0.010  # crossfade when the playhead jumps while sounding: seek, loop wrap, new song
VOLUME_SLEW_S = 0.020  # a volume change from 0 to 1 takes at least this long (no zipper noise)
PREVIEW_SLOTS = 8  # note previews that can sound at once (a chord played in); a new one replaces the oldest
PREVIEW_EDGE_S = 0.002  # fade at each end of a preview
RELEASE_S = 0.060  # a released preview (a key let go on a MIDI keyboard) fades out over this
MIN_LOOP_S = 0.05  # shortest loop region
MAX_CHUNK_FRAMES = 8192  # scratch size; a longer callback block is processed in chunks
DEFAULT_LATENCY_S = 0.04  # suggested output latency; see Player
STALL_S = 2.0  # a running stream whose callback has not run for this long is dead


def _check_audio(audio, sample_rate) -> np.ndarray:
    x = np.asarray(audio)
    if x.ndim not in (1, 2) or (x.ndim == 2 and x.shape[1] not in (1, 2)):
        raise ValueError(f"audio must have shape (frames,) or (frames, 1 or 2), not {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"audio must hold float samples in [-1, 1], not {x.dtype}")
    if not sample_rate or sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, not {sample_rate}")
    return x


class _Buffer:
    """Samples ready for the callback: float32 [shape=(frames, channels)] at the stream's rate."""

    __slots__ = ("data", "frames")

    def __init__(self, data: np.ndarray):
        data.flags.writeable = False
        self.data = data
        self.frames = int(data.shape[0])


class _Request(NamedTuple):
    """What the transport should do; built whole by the API and handed over by assignment."""

    playing: bool
    jump_s: float | None  # move the playhead here (crossfaded if sounding, else once silent)
    play_t: float  # perf_counter() when play() was asked, for first_callback_latency_s
    preroll: "_Buffer | None" = None  # sounds first (a count-in), then the song starts at jump_s


class Player:
    """Plays one song (and note previews) through one long-lived output stream.

    The stream opens on first use (``set_song``, ``play``, ``preview``) at the device's own
    default sample rate, float32, stereo (mono on a one-channel device), and stays open,
    playing silence when idle, until :meth:`close`.

    Parameters
    ----------
    device : None, int or str
        None for the system's default output, a PortAudio device index, or a name: an exact
        device name, else a part of a device name, else a part of a host API name (``"jack"``).
    latency_s : float
        Suggested output latency in seconds. 40 ms leaves room for the callback to wait for the
        GIL while the engine thread runs a model, and still feels immediate for note previews.
        JACK ignores it (its period decides).
    blocksize : int
        Frames per callback; 0 (the default) lets the host pick (JACK: one callback per period).

    Notes
    -----
    Errors a musician can meet raise :class:`AudioDeviceError`, which is also kept in
    ``last_error``; the player stays usable, and the next ``play()`` tries to open a stream again.
    Call :meth:`check` from a GUI timer to notice a device that dies while idle.

    Call :meth:`close` (or use the player as a context manager) before dropping it: a running
    stream must not be garbage-collected while PortAudio still calls it.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(44100) / 44100
    >>> with Player() as player:  # doctest: +SKIP
    ...     player.set_song(0.2 * np.sin(2 * np.pi * 440 * t).astype(np.float32), 44100)
    ...     player.play()
    """

    def __init__(self, device: int | str | None = None, *,
                 latency_s: float = DEFAULT_LATENCY_S, blocksize: int = 0):
        self.device = device
        self.latency_s = float(latency_s)
        self.blocksize = int(blocksize)
        self.last_error: AudioDeviceError | None = None
        self.device_info: OutputDevice | None = None
        self.sample_rate: float | None = None  # Hz, the stream's rate, once opened
        self.channels = 2
        self._stream = None
        self._stream_finished = False
        self._lock = threading.RLock()  # serialises API callers; the callback never takes it
        self._song_source = None  # (audio, sample_rate) as given, to resample again on reopen
        self._loop_s: tuple[float, float] | None = None
        self._preview_next = 0
        self._seen = (-1, 0.0)  # (run, frame) last returned by position_s: never run backwards
        self._watch = (0, 0.0)  # (callbacks, monotonic time) when the callback last ran

        # Written by the API threads, read by the callback.
        self._song_req: _Buffer | None = None
        self._req: _Request | None = None
        self._loop_frames: tuple[int, int] | None = None
        self._volume_target = 1.0
        self._preview_reqs: list[_Buffer | None] = [None] * PREVIEW_SLOTS
        self._release_reqs: list[_Buffer | None] = [None] * PREVIEW_SLOTS  # voices to fade out

        # Written by the callback (by the API only while no stream runs).
        self._song: _Buffer | None = None
        self._handled: _Request | None = None
        self._playing = False
        self._pos = 0  # song frame of the next frame to write
        self._gain = 0.0  # transport gain, 0..1
        self._vol = 1.0  # volume applied at the end of the last block
        self._jump_after_fade: int | None = None
        self._tail = None  # outgoing voice of a crossfade: float32 [shape=(frames, channels)]
        self._tail_pos = 0
        self._xfade_left = 0
        self._preview_voices: list[_Buffer | None] = [None] * PREVIEW_SLOTS
        self._preview_pos = [0] * PREVIEW_SLOTS
        self._release_left = [-1] * PREVIEW_SLOTS  # frames of a release fade still to go; -1: none
        self._release_frames = 1
        self._pre: _Buffer | None = None  # a count-in still sounding before the song
        self._pre_pos = 0
        self._run = 0  # increases at every jump of the playhead
        self._run_pos0 = 0  # song frame where the current run started
        self._seg_offset = 0  # frame in this block where the last run started (or 0)
        self._seg_pos = 0  # song frame at _seg_offset
        self._clock = None  # (dac_time_s, seg_pos, seg_frames, run, run_pos0, playing)
        self._awaiting_first = False
        self._play_t = 0.0
        self._callback_error: BaseException | None = None
        self.callbacks = 0  # callbacks run since the player was made
        self.underflows = 0  # callbacks that PortAudio flagged with an output underflow
        self.frames_out = 0  # frames written to the device, silence included
        self.song_frames_played = 0  # song frames written while playing (loops counted again)
        self.first_callback_latency_s: float | None = None  # from play() to the first song sample

    # ------------------------------------------------------------------ stream

    def _prepare(self, sample_rate: float, channels: int) -> None:
        """Sizes the callback's scratch for a stream; only while no stream runs."""
        old_rate = self.sample_rate
        rate = float(sample_rate)
        self.sample_rate, self.channels = rate, int(channels)
        n, ch = MAX_CHUNK_FRAMES, self.channels
        self._ramp_step = 1.0 / max(1, round(FADE_S * rate))
        self._vol_step = 1.0 / max(1, round(VOLUME_SLEW_S * rate))
        # Ramps have the block's full shape: an in-place ufunc that broadcasts a (frames, 1)
        # operand allocates a 32 KiB iterator buffer on every call.
        self._idx = np.repeat(np.arange(1, n + 1, dtype=np.float32)[:, None], ch, axis=1)
        self._gain_ramp = np.zeros((n, ch), np.float32)
        self._volume_ramp = np.zeros((n, ch), np.float32)
        self._tmp = np.zeros((n, ch), np.float32)
        xf = max(1, round(CROSSFADE_S * rate))
        self._xf_frames = xf
        self._xf_up = np.ascontiguousarray(self._idx[:xf] / np.float32(xf + 1))
        self._xf_down = 1.0 - self._xf_up
        rate_changed = old_rate is not None and old_rate != rate
        if rate_changed:
            self._pos = round(self._pos * rate / old_rate)
            if self._jump_after_fade is not None:
                self._jump_after_fade = round(self._jump_after_fade * rate / old_rate)
        self._gain = 0.0
        self._tail, self._xfade_left = None, 0
        self._clock = None
        self._preview_reqs = [None] * PREVIEW_SLOTS
        self._release_reqs = [None] * PREVIEW_SLOTS
        self._preview_voices = [None] * PREVIEW_SLOTS
        self._preview_pos = [0] * PREVIEW_SLOTS
        self._release_left = [-1] * PREVIEW_SLOTS
        self._release_frames = max(1, round(RELEASE_S * rate))
        if self._song_source is not None and (rate_changed or self._song_req is None):
            self._song_req = _Buffer(self._to_stream(*self._song_source))
        self._song = self._song_req  # no crossfade from a song that no longer sounds
        self._loop_frames = self._loop_to_frames()

    def _open_stream(self) -> None:
        sd = _sounddevice()
        info, max_channels = _find_output_device(sd, self.device)
        self._prepare(info.default_sample_rate, 2 if max_channels >= 2 else 1)
        self._stream_finished = False
        stream = None
        try:
            stream = sd.OutputStream(
                device=info.index, samplerate=info.default_sample_rate, channels=self.channels,
                dtype="float32", blocksize=self.blocksize, latency=self.latency_s,
                callback=self._callback, finished_callback=self._on_finished,
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            if stream is not None:
                stream.close(ignore_errors=True)
            raise AudioDeviceError(
                f'The sound output "{info.name}" ({info.host_api}) could not be opened ({exc}). '
                "Check that it is connected and not taken by another program, then press Play again."
            ) from exc
        self._stream, self.device_info = stream, info
        self._watch = (self.callbacks, monotonic())

    def _on_finished(self) -> None:
        # PortAudio calls this when the stream stops for good: closed by us, or the device died.
        self._stream_finished = True

    def _stream_alive(self) -> bool:
        stream = self._stream
        if stream is None or self._stream_finished:
            return False
        try:
            return bool(stream.active)
        except Exception:  # a stream whose device vanished may fail to answer at all
            return False

    def _ensure_stream(self) -> None:
        if self._stream_alive():
            return
        if self._stream is not None:
            self._discard_stream()
        try:
            self._open_stream()
        except AudioDeviceError as exc:
            self.last_error = exc
            raise
        self.last_error = None

    def _discard_stream(self, alive: bool | None = None) -> None:
        if alive is None:
            alive = self._stream_alive()
        stream, self._stream = self._stream, None
        if stream is not None:
            _close_stream(stream, alive)
        # No callback runs now: settle the transport here, stopped where it was.
        req = self._req
        if req is not self._handled:
            self._handled = req
            if req.jump_s is not None and self.sample_rate:
                self._pos = round(req.jump_s * self.sample_rate)
        if self._jump_after_fade is not None:
            self._pos, self._jump_after_fade = self._jump_after_fade, None
        self._playing, self._gain = False, 0.0
        self._tail, self._xfade_left = None, 0
        self._clock = None

    def check(self) -> AudioDeviceError | None:
        """Looks at the stream's health; call it from a GUI timer.

        Returns
        -------
        error : AudioDeviceError or None
            The problem, if the stream died (device unplugged, sound server gone, callback
            stalled for ``STALL_S`` seconds) or could not be opened; also kept in ``last_error``.
            The next ``play()`` tries to open a stream again.
        """
        with self._lock:
            stream = self._stream
            if stream is None:
                return self.last_error
            dead = not self._stream_alive()
            callbacks, since = self._watch
            now = monotonic()
            if self.callbacks != callbacks:
                self._watch = (self.callbacks, now)
            elif now - since > STALL_S:
                dead = True
            if dead:
                name = self.device_info.name if self.device_info else "the sound output"
                self._discard_stream(alive=False)
                self.last_error = AudioDeviceError(
                    f'The sound output "{name}" stopped working (unplugged, or taken by another '
                    "program?). Press Play to try again."
                )
            elif self._callback_error is not None:
                self.last_error = AudioDeviceError(
                    f"Playback hit an internal error ({self._callback_error!r}); it plays silence."
                )
            return self.last_error

    def reopen(self, device: int | str | None = ..., rescan: bool = False) -> None:
        """Closes the stream and opens a new one, keeping the song, position and loop.

        Parameters
        ----------
        device : None, int or str
            A different device (see :class:`Player`); left out, the same one.
        rescan : bool
            Let PortAudio look for devices again first (stops other streams of this process).

        Raises
        ------
        AudioDeviceError
            The device cannot be found or opened (kept in ``last_error``).
        """
        with self._lock:
            if device is not ...:
                self.device = device
            was_playing = self.is_playing
            if self._stream is not None:
                self._fade_out_and_wait()
                self._discard_stream()
            if rescan:
                try:
                    list_output_devices(rescan=True)
                except AudioDeviceError as exc:
                    self.last_error = exc
                    raise
            self._ensure_stream()
            if was_playing:
                self.play()

    def close(self) -> None:
        """Fades out and closes the stream. A later ``play()`` opens a new one."""
        with self._lock:
            if self._stream is not None:
                self._fade_out_and_wait()
                self._discard_stream()

    def _fade_out_and_wait(self) -> None:
        if self.is_playing:
            self.pause()
        deadline = monotonic() + 0.2
        while (self._pending() is not None or self._gain > 0.0) and self._stream_alive() \
                and monotonic() < deadline:
            sleep(0.005)

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def output_latency_s(self) -> float | None:
        """The stream's output latency as PortAudio reports it, in seconds."""
        stream = self._stream
        return None if stream is None else float(stream.latency)

    # ------------------------------------------------------------------ buffers

    def _to_stream(self, audio, sample_rate: float) -> np.ndarray:
        """A private float32 copy of ``audio`` at the stream's rate and channel count."""
        x = _check_audio(audio, sample_rate)
        if x.ndim == 1:
            x = x[:, None]
        x = x.astype(np.float32, copy=False)
        owned = False
        if abs(float(sample_rate) - self.sample_rate) > 1e-6:
            x = resample(x, sample_rate, self.sample_rate)
            x = x.reshape(len(x), -1)
            owned = True
        if x.shape[1] != self.channels:
            x = np.repeat(x, 2, axis=1) if self.channels == 2 else x.mean(axis=1, keepdims=True)
            owned = True
        x = np.array(x, dtype=np.float32, order="C", copy=not owned)
        np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        return x

    def _loop_to_frames(self) -> tuple[int, int] | None:
        if self._loop_s is None or not self.sample_rate:
            return None
        start_s, end_s = self._loop_s
        return round(start_s * self.sample_rate), round(end_s * self.sample_rate)

    # ------------------------------------------------------------------ API

    def set_song(self, audio: np.ndarray, sample_rate: float) -> None:
        """Sets the song to play, resampled here (not in the callback) to the stream's rate.

        Replacing the song while it plays keeps the position (with a short crossfade).

        Parameters
        ----------
        audio : np.ndarray [shape=(frames,) or (frames, 2)], float
            Samples in [-1, 1]; mono plays on both channels. Not modified; a copy is played.
        sample_rate : float
            Hz.

        Raises
        ------
        AudioDeviceError
            The stream cannot be opened. The song is kept; the next ``play()`` tries again.
        """
        _check_audio(audio, sample_rate)
        with self._lock:
            self._song_source = (audio, float(sample_rate))
            alive = self._stream_alive()
            if not alive:
                self._song_req = None  # no callback runs; a fresh stream builds it in _prepare
            self._ensure_stream()
            if alive:
                self._song_req = _Buffer(self._to_stream(audio, sample_rate))

    @property
    def duration_s(self) -> float:
        """Length of the song in seconds (0 without one)."""
        song = self._song_req
        if song is not None and self.sample_rate:
            return song.frames / self.sample_rate
        if self._song_source is not None:
            audio, rate = self._song_source
            return len(audio) / rate
        return 0.0

    def _pending(self) -> _Request | None:
        req = self._req
        return req if req is not self._handled else None

    def play(self, from_s: float | None = None, count_in: np.ndarray | None = None,
             count_in_rate: float | None = None) -> None:
        """Starts (or resumes) playing, with a short fade-in.

        Parameters
        ----------
        from_s : float or None
            Where to start, in seconds; None resumes where the playhead is (from the start, or
            the loop start, when it stands at the end of the song).
        count_in : np.ndarray [shape=(frames,) or (frames, 2)] or None
            Sounds first (a bar of clicks before a recording); the song starts the frame after
            its end, to the sample. Meanwhile `position_s` counts up to ``from_s`` from below
            (negative before the start of the song). ``count_in_rate`` is its rate in Hz.

        Raises
        ------
        AudioDeviceError
            No stream could be opened (kept in ``last_error``); nothing plays.
        """
        with self._lock:
            self._ensure_stream()
            song = self._song_req
            if song is None:
                return
            pending = self._pending()
            jump = from_s
            if jump is None and pending is not None:
                jump = pending.jump_s
            if jump is None and not self.is_playing and self._pos >= song.frames:
                jump = self._loop_s[0] if self._loop_s else 0.0
            preroll = None
            if count_in is not None and len(count_in):
                _check_audio(count_in, count_in_rate)
                preroll = _Buffer(self._to_stream(count_in, count_in_rate))
                if jump is None:
                    jump = self._pos / self.sample_rate
            self._req = _Request(True, None if jump is None else self._clamp_s(jump), perf_counter(),
                                 preroll)

    def pause(self) -> None:
        """Fades out (~10 ms) and stops; the playhead stays where the sound stopped."""
        with self._lock:
            pending = self._pending()
            self._req = _Request(False, pending.jump_s if pending else None, 0.0)

    def stop(self) -> None:
        """Fades out (~10 ms), then returns the playhead to the loop start, or to 0."""
        with self._lock:
            self._req = _Request(False, self._loop_s[0] if self._loop_s else 0.0, 0.0)

    def seek(self, seconds: float) -> None:
        """Moves the playhead to ``seconds``; while playing, with a short crossfade."""
        with self._lock:
            pending = self._pending()
            playing = pending.playing if pending is not None else self._playing
            play_t = pending.play_t if pending is not None else perf_counter()
            self._req = _Request(playing, self._clamp_s(seconds), play_t)

    def _clamp_s(self, seconds: float) -> float:
        duration_s = self.duration_s
        seconds = max(0.0, float(seconds))
        return min(seconds, duration_s) if duration_s > 0 else seconds

    def set_loop(self, start_s: float, end_s: float) -> None:
        """Loops between ``start_s`` and ``end_s`` (seconds) once the playhead is before ``end_s``.

        The wrap is a short crossfade from the audio after ``end_s`` into ``start_s``.
        """
        start_s, end_s = max(0.0, float(start_s)), float(end_s)
        if end_s - start_s < MIN_LOOP_S:
            raise ValueError(f"a loop must be at least {MIN_LOOP_S} s long, not {end_s - start_s:.3f} s")
        with self._lock:
            self._loop_s = (start_s, end_s)
            self._loop_frames = self._loop_to_frames()

    def clear_loop(self) -> None:
        """Plays on to the end of the song again."""
        with self._lock:
            self._loop_s = None
            self._loop_frames = None

    @property
    def loop(self) -> tuple[float, float] | None:
        """(start_s, end_s) of the loop, or None."""
        return self._loop_s

    @property
    def volume(self) -> float:
        """Output volume, 0..1 (linear gain); changes are ramped, never stepped."""
        return self._volume_target

    @volume.setter
    def volume(self, value: float) -> None:
        self._volume_target = min(1.0, max(0.0, float(value)))

    def preview(self, audio: np.ndarray, sample_rate: float) -> tuple[int, object]:
        """Plays a short sound (a note being drawn) on top of whatever plays, even when paused;
        returns its voice, for `release_preview` (a key held on a MIDI keyboard, then let go).
        A free voice is taken first (one that has ended or was let go), else the oldest.

        Parameters
        ----------
        audio : np.ndarray [shape=(frames,) or (frames, 2)], float
            A short rendered note, samples in [-1, 1].
        sample_rate : float
            Hz.

        Raises
        ------
        AudioDeviceError
            No stream could be opened (kept in ``last_error``).
        """
        _check_audio(audio, sample_rate)
        with self._lock:
            self._ensure_stream()
            x = self._to_stream(audio, sample_rate)
            edge = min(len(x) // 2, max(1, round(PREVIEW_EDGE_S * self.sample_rate)))
            if edge > 0:
                ramp = (np.arange(1, edge + 1, dtype=np.float32) / (edge + 1))[:, None]
                x[:edge] *= ramp
                x[len(x) - edge:] *= ramp[::-1]
            slot = self._free_voice()
            buffer = _Buffer(x)
            self._preview_reqs[slot] = buffer
            self._preview_next = (slot + 1) % PREVIEW_SLOTS
            return slot, buffer

    def _free_voice(self) -> int:
        """A preview slot that is silent or fading out, looking from the oldest on; else the
        oldest. Reads what the callback wrote, which is only a hint: a voice can but end sooner."""
        for k in range(PREVIEW_SLOTS):
            slot = (self._preview_next + k) % PREVIEW_SLOTS
            voice = self._preview_reqs[slot]
            if voice is None or self._release_reqs[slot] is voice:
                return slot
            if self._preview_voices[slot] is voice and self._preview_pos[slot] >= voice.frames:
                return slot
        return self._preview_next

    def release_preview(self, voice: tuple[int, object] | None) -> None:
        """Fades the preview ``voice`` (as `preview` returned it) out over `RELEASE_S` from where
        it is now; nothing if another preview has taken its place since."""
        if voice is None:
            return
        slot, buffer = voice
        with self._lock:
            if 0 <= slot < PREVIEW_SLOTS and self._preview_reqs[slot] is buffer:
                self._release_reqs[slot] = buffer

    @property
    def is_playing(self) -> bool:
        """Whether the song is playing (or has been asked to); False once it reached its end."""
        pending = self._pending()
        return pending.playing if pending is not None else self._playing

    @property
    def position_s(self) -> float:
        """The playhead in seconds, readable from any thread at any time.

        While playing, it is the frame being heard now: the frame counter of the last callback,
        moved on by the stream clock since that block's DAC time, clamped to what was written
        and so that it never runs backwards (except at a seek or loop wrap).
        """
        pending = self._pending()
        rate = self.sample_rate
        if pending is not None and pending.jump_s is not None:
            if pending.preroll is not None and rate:  # a count-in about to begin
                return pending.jump_s - pending.preroll.frames / rate
            return pending.jump_s
        if not rate:
            return 0.0
        jump = self._jump_after_fade
        if jump is not None:
            return jump / rate
        clock, stream = self._clock, self._stream
        if clock is None or stream is None or not clock[5] or not self._playing:
            return self._pos / rate
        dac_s, seg_pos, seg_frames, run, run_pos0, _ = clock
        frame = float(seg_pos + seg_frames)
        if dac_s > 0.0:
            try:
                now_s = float(stream.time)
            except Exception:
                now_s = 0.0
            if now_s > 0.0:
                frame = min(max(seg_pos + (now_s - dac_s) * rate, float(run_pos0)), frame)
        last_run, last_frame = self._seen
        if run == last_run and frame < last_frame:
            frame = last_frame
        self._seen = (run, frame)
        return frame / rate

    # ------------------------------------------------------------------ audio thread

    def _callback(self, outdata, frames, time_info, status) -> None:
        """PortAudio's callback: fills all of ``outdata`` [shape=(frames, channels)], float32."""
        try:
            if status.output_underflow:
                self.underflows += 1
            self.callbacks += 1
            song = self._song_req
            if song is not self._song:
                self._switch_song(song)
            req = self._req
            if req is not self._handled:
                self._handled = req
                self._take(req)
            pre = self._pre  # during a count-in the clock counts up to the start from below
            self._seg_offset = 0
            self._seg_pos = self._pos if pre is None else self._pos - (pre.frames - self._pre_pos)
            if frames <= MAX_CHUNK_FRAMES:
                self._render(outdata, frames, 0)
            else:
                done = 0
                while done < frames:
                    n = min(frames - done, MAX_CHUNK_FRAMES)
                    self._render(outdata[done:done + n], n, done)
                    done += n
            self.frames_out += frames
            dac_s = time_info.outputBufferDacTime or time_info.currentTime
            if dac_s:
                dac_s += self._seg_offset / self.sample_rate
            self._clock = (dac_s, self._seg_pos, frames - self._seg_offset, self._run,
                           self._run_pos0, self._playing)
        except Exception as exc:  # a bug must not kill the stream; check() reports it
            outdata.fill(0.0)
            self._callback_error = exc

    def _new_run(self, offset: int) -> None:
        self._run += 1
        self._run_pos0 = self._pos
        self._seg_offset, self._seg_pos = offset, self._pos

    def _start_crossfade(self, data) -> None:
        self._tail, self._tail_pos, self._xfade_left = data, self._pos, self._xf_frames

    def _switch_song(self, song) -> None:
        old = self._song
        if old is not None and song is not None and self._playing and self._gain > 0.0:
            self._start_crossfade(old.data)  # same position, new samples: no click
        self._song = song
        if song is None:
            self._playing, self._gain = False, 0.0

    def _take(self, req: _Request) -> None:
        was_playing = self._playing
        playing = req.playing and self._song is not None
        jump = None if req.jump_s is None else round(req.jump_s * self.sample_rate)
        if playing:
            if jump is None and self._jump_after_fade is not None:
                jump = self._jump_after_fade  # a stop still fading out: start where it rewinds to
            self._jump_after_fade = None
            if not was_playing:
                self._awaiting_first, self._play_t = True, req.play_t
            if jump is not None:
                if self._gain > 0.0:
                    self._start_crossfade(self._song.data)
                self._pos = jump
                self._new_run(0)
            elif not was_playing:
                self._new_run(0)
            self._pre, self._pre_pos = req.preroll, 0  # any other request ends a count-in
            if req.preroll is not None:
                self._run += 1  # a run that starts a count-in's length before the song
                self._run_pos0 = self._pos - req.preroll.frames
        elif jump is not None:
            if self._gain > 0.0:
                self._jump_after_fade = jump  # fade out where we are, then move
            else:
                self._pos, self._jump_after_fade = jump, None
        self._playing = playing
        if not playing:
            self._pre = None

    def _render(self, out, n: int, offset: int) -> None:
        out.fill(0.0)
        start = 0
        pre = self._pre
        if pre is not None and self._playing:
            p = self._pre_pos
            start = min(n, pre.frames - p)
            np.copyto(out[:start], pre.data[p:p + start])
            self._pre_pos = p + start
            if self._pre_pos >= pre.frames:
                self._pre = None
                self._new_run(offset + start)  # the song starts here, within this block
        if start < n:
            self._render_song(out[start:], n - start, offset + start)
        self._render_previews(out, n)

    def _render_song(self, out, n: int, offset: int) -> None:
        song = self._song
        gain = self._gain
        playing = self._playing
        if song is not None and (playing or gain > 0.0):
            step = self._ramp_step
            if playing:
                m = n
            else:  # fading out: only the frames the fade still needs
                m = min(n, math.ceil(gain / step - 1e-9))
            written = self._write_song(out, m, offset, song)
            if written and (gain < 1.0 or not playing):
                g = self._gain_ramp[:written]
                np.multiply(self._idx[:written], step if playing else -step, out=g)
                g += gain
                np.clip(g, 0.0, 1.0, out=g)
                out[:written] *= g
                gain = float(g[written - 1, 0])
                if gain < 1e-6 or (not playing and written == m):
                    gain = 0.0
                elif gain > 1.0 - 1e-6:
                    gain = 1.0
            if written:
                self.song_frames_played += written
                if playing and self._awaiting_first:
                    self._awaiting_first = False
                    self.first_callback_latency_s = perf_counter() - self._play_t
            if playing and written < m:  # the song ended
                self._playing, playing, gain = False, False, 0.0
                self._tail, self._xfade_left = None, 0
            if not playing and gain <= 0.0:
                gain = 0.0
                jump = self._jump_after_fade
                if jump is not None:
                    self._pos, self._jump_after_fade = jump, None
            self._gain = gain

    def _render_previews(self, out, n: int) -> None:
        reqs, voices, positions = self._preview_reqs, self._preview_voices, self._preview_pos
        releases, left = self._release_reqs, self._release_left
        for slot in range(PREVIEW_SLOTS):
            voice = reqs[slot]
            if voice is not voices[slot]:
                voices[slot], positions[slot], left[slot] = voice, 0, -1
            if voice is None:
                continue
            if left[slot] < 0 and releases[slot] is voice:
                left[slot] = self._release_frames  # the key was let go: fade out from here
            p = positions[slot]
            k = voice.frames - p
            fading = left[slot] >= 0
            if fading and k > left[slot]:
                k = left[slot]
            if k <= 0:
                continue
            if k > n:
                k = n
            if fading:
                g = self._gain_ramp[:k]
                np.multiply(self._idx[:k], -1.0 / self._release_frames, out=g)
                g += left[slot] / self._release_frames
                np.clip(g, 0.0, 1.0, out=g)
                np.multiply(voice.data[p:p + k], g, out=g)
                out[:k] += g
                left[slot] -= k
            else:
                out[:k] += voice.data[p:p + k]
            positions[slot] = p + k
        target, vol = self._volume_target, self._vol
        if target != vol:
            limit = n * self._vol_step
            new = target if abs(target - vol) <= limit else (vol + limit if target > vol else vol - limit)
            v = self._volume_ramp[:n]
            np.multiply(self._idx[:n], (new - vol) / n, out=v)
            v += vol
            out *= v
            self._vol = new
        elif vol != 1.0:
            out *= vol

    def _write_song(self, out, m: int, offset: int, song: _Buffer) -> int:
        """Copies up to ``m`` song frames into ``out``, wrapping at the loop; returns how many."""
        data, total = song.data, song.frames
        loop = self._loop_frames
        pos, i = self._pos, 0
        while i < m:
            looping = False
            end = total
            if loop is not None:
                start, stop = loop
                if stop > total:
                    stop = total
                if start < stop and pos < stop:
                    looping, end = True, stop
            k = end - pos
            if k > m - i:
                k = m - i
            if k > 0:
                np.copyto(out[i:i + k], data[pos:pos + k])
                if self._xfade_left:
                    self._mix_crossfade(out, i, k)
                pos += k
                i += k
            if pos >= end:
                if not looping:
                    break
                self._pos = pos
                self._start_crossfade(data)  # fade out what follows the loop end
                self._pos = start
                self._new_run(offset + i)
                pos = start
        self._pos = pos
        return i

    def _mix_crossfade(self, out, i: int, k: int) -> None:
        left = self._xfade_left
        if k > left:
            k = left
        r = self._xf_frames - left
        seg = out[i:i + k]
        seg *= self._xf_up[r:r + k]
        tail, tp = self._tail, self._tail_pos
        kt = tail.shape[0] - tp
        if kt > k:
            kt = k
        if kt > 0:
            t = self._tmp[:kt]
            np.multiply(tail[tp:tp + kt], self._xf_down[r:r + kt], out=t)
            seg[:kt] += t
        self._tail_pos = tp + k
        self._xfade_left = left - k
        if not self._xfade_left:
            self._tail = None
