"""Real-time playback: one long-lived PortAudio output stream that plays a rendered song, with
short note previews mixed on top, under a transport (play, pause, stop, seek, loop, volume).

Threads. The audio callback (PortAudio's thread) hands each block to the `Mixer`
(`engine.audio.mixer`), which only copies samples that are already rendered and at the stream's
rate, ramps gains with preallocated arrays, and advances counters: it allocates no sample
buffers, takes no lock, logs nothing and never touches Qt. The player's API (any thread, under
its lock) talks to the mixer only by assigning attributes that hold immutable or freshly built
objects (a song buffer, a transport request, a loop tuple, a preview slot); the mixer picks them
up at the start of a block.

sounddevice (and through it PortAudio) is imported lazily, so ``import engine.audio`` works on a
machine without PortAudio; playback then raises :class:`AudioDeviceError`. Finding, listing,
opening and closing devices lives in `engine.audio.devices`.
"""

from __future__ import annotations

import threading
from time import monotonic, perf_counter, sleep

import numpy as np

from engine.audio.devices import (
    AudioDeviceError,
    OutputDevice,
    _close_stream,
    list_output_devices,
    open_output_stream,
)
from engine.audio.dsp import resample
from engine.audio.mixer import PREVIEW_EDGE_S, PREVIEW_SLOTS, Buffer, Mixer, TransportRequest

__all__ = ["AudioDeviceError", "OutputDevice", "Player", "list_output_devices"]

MIN_LOOP_S = 0.05  # shortest loop region
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
    opener : callable
        Opens and starts the stream (`engine.audio.devices.open_output_stream`, PortAudio); a
        test can hand in its own, to drive the callback block by block without a device.

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
                 latency_s: float = DEFAULT_LATENCY_S, blocksize: int = 0, opener=open_output_stream):
        self.device = device
        self.latency_s = float(latency_s)
        self.blocksize = int(blocksize)
        self.opener = opener  # opens and starts a stream: see engine.audio.devices.open_output_stream
        self.last_error: AudioDeviceError | None = None
        self.device_info: OutputDevice | None = None
        self.mixer = Mixer()  # the callback's state (see engine.audio.mixer)
        self.stream = None  # the running output stream, once opened
        self._stream_finished = False
        self._lock = threading.RLock()  # serialises API callers; the callback never takes it
        self._song_source = None  # (audio, sample_rate) as given, to resample again on reopen
        self._loop_s: tuple[float, float] | None = None
        self._preview_next = 0
        self._watch = (0, 0.0)  # (callbacks, monotonic time) when the callback last ran
        self.callback_error: BaseException | None = None  # a bug the callback caught
        self.callbacks = 0  # callbacks run since the player was made
        self.underflows = 0  # callbacks that PortAudio flagged with an output underflow
        self.frames_out = 0  # frames written to the device, silence included

    @property
    def sample_rate(self) -> float | None:
        """Hz, the stream's rate, once opened."""
        return self.mixer.sample_rate

    @property
    def channels(self) -> int:
        return self.mixer.channels

    @property
    def song_frames_played(self) -> int:
        """Song frames written while playing (loops counted again)."""
        return self.mixer.song_frames_played

    @property
    def first_callback_latency_s(self) -> float | None:
        """From play() to the first song sample in a callback."""
        return self.mixer.first_callback_latency_s

    # ------------------------------------------------------------------ stream

    def _prepare(self, sample_rate: float, channels: int) -> None:
        """Sizes the mixer for a stream and hands it the song at the stream's rate; only while no
        stream runs."""
        mixer = self.mixer
        rate_changed = mixer.sample_rate is not None and mixer.sample_rate != float(sample_rate)
        mixer.prepare(sample_rate, channels)
        if self._song_source is not None and (rate_changed or mixer.song_req is None):
            mixer.song_req = Buffer(self._to_stream(*self._song_source))
        mixer.song = mixer.song_req  # no crossfade from a song that no longer sounds
        mixer.loop_frames = self._loop_to_frames()

    def _open_stream(self) -> None:
        self._stream_finished = False
        stream, info, _ = self.opener(self.device, self.latency_s, self.blocksize, self._callback,
                                      self._on_finished, self._prepare)
        self.stream, self.device_info = stream, info
        self._watch = (self.callbacks, monotonic())

    def _on_finished(self) -> None:
        # PortAudio calls this when the stream stops for good: closed by us, or the device died.
        self._stream_finished = True

    def _stream_alive(self) -> bool:
        stream = self.stream
        if stream is None or self._stream_finished:
            return False
        try:
            return bool(stream.active)
        except Exception:  # a stream whose device vanished may fail to answer at all
            return False

    def _ensure_stream(self) -> None:
        if self._stream_alive():
            return
        if self.stream is not None:
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
        stream, self.stream = self.stream, None
        if stream is not None:
            _close_stream(stream, alive)
        self.mixer.settle()  # no callback runs now: the transport stops where it was

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
            stream = self.stream
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
            elif self.callback_error is not None:
                self.last_error = AudioDeviceError(
                    f"Playback hit an internal error ({self.callback_error!r}); it plays silence."
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
            if self.stream is not None:
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
            if self.stream is not None:
                self._fade_out_and_wait()
                self._discard_stream()

    def _fade_out_and_wait(self) -> None:
        if self.is_playing:
            self.pause()
        deadline = monotonic() + 0.2
        while (self.mixer.pending() is not None or self.mixer.gain > 0.0) and self._stream_alive() \
                and monotonic() < deadline:
            sleep(0.005)

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def output_latency_s(self) -> float | None:
        """The stream's output latency as PortAudio reports it, in seconds."""
        stream = self.stream
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
                self.mixer.song_req = None  # no callback runs; a fresh stream builds it in _prepare
            self._ensure_stream()
            if alive:
                self.mixer.song_req = Buffer(self._to_stream(audio, sample_rate))

    @property
    def duration_s(self) -> float:
        """Length of the song in seconds (0 without one)."""
        song = self.mixer.song_req
        if song is not None and self.sample_rate:
            return song.frames / self.sample_rate
        if self._song_source is not None:
            audio, rate = self._song_source
            return len(audio) / rate
        return 0.0

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
            song = self.mixer.song_req
            if song is None:
                return
            pending = self.mixer.pending()
            jump = from_s
            if jump is None and pending is not None:
                jump = pending.jump_s
            if jump is None and not self.is_playing and self.mixer.pos >= song.frames:
                jump = self._loop_s[0] if self._loop_s else 0.0
            preroll = None
            if count_in is not None and len(count_in):
                _check_audio(count_in, count_in_rate)
                preroll = Buffer(self._to_stream(count_in, count_in_rate))
                if jump is None:
                    jump = self.mixer.pos / self.sample_rate
            self.mixer.req = TransportRequest(True, None if jump is None else self._clamp_s(jump), perf_counter(),
                                 preroll)

    def pause(self) -> None:
        """Fades out (~10 ms) and stops; the playhead stays where the sound stopped."""
        with self._lock:
            pending = self.mixer.pending()
            self.mixer.req = TransportRequest(False, pending.jump_s if pending else None, 0.0)

    def stop(self) -> None:
        """Fades out (~10 ms), then returns the playhead to the loop start, or to 0."""
        with self._lock:
            self.mixer.req = TransportRequest(False, self._loop_s[0] if self._loop_s else 0.0, 0.0)

    def seek(self, seconds: float) -> None:
        """Moves the playhead to ``seconds``; while playing, with a short crossfade."""
        with self._lock:
            pending = self.mixer.pending()
            playing = pending.playing if pending is not None else self.mixer.playing
            play_t = pending.play_t if pending is not None else perf_counter()
            self.mixer.req = TransportRequest(playing, self._clamp_s(seconds), play_t)

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
            self.mixer.loop_frames = self._loop_to_frames()

    def clear_loop(self) -> None:
        """Plays on to the end of the song again."""
        with self._lock:
            self._loop_s = None
            self.mixer.loop_frames = None

    @property
    def loop(self) -> tuple[float, float] | None:
        """(start_s, end_s) of the loop, or None."""
        return self._loop_s

    @property
    def volume(self) -> float:
        """Output volume, 0..1 (linear gain); changes are ramped, never stepped."""
        return self.mixer.volume_target

    @volume.setter
    def volume(self, value: float) -> None:
        self.mixer.volume_target = min(1.0, max(0.0, float(value)))

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
            slot = self.mixer.free_voice(self._preview_next)
            buffer = Buffer(x)
            self.mixer.preview_reqs[slot] = buffer
            self._preview_next = (slot + 1) % PREVIEW_SLOTS
            return slot, buffer

    def release_preview(self, voice: tuple[int, object] | None) -> None:
        """Fades the preview ``voice`` (as `preview` returned it) out over `RELEASE_S` from where
        it is now; nothing if another preview has taken its place since."""
        if voice is None:
            return
        slot, buffer = voice
        with self._lock:
            if 0 <= slot < PREVIEW_SLOTS and self.mixer.preview_reqs[slot] is buffer:
                self.mixer.release_reqs[slot] = buffer

    @property
    def is_playing(self) -> bool:
        """Whether the song is playing (or has been asked to); False once it reached its end."""
        return self.mixer.is_playing

    @property
    def position_s(self) -> float:
        """The playhead in seconds, readable from any thread at any time.

        While playing, it is the frame being heard now: the frame counter of the last callback,
        moved on by the stream clock since that block's DAC time, clamped to what was written
        and so that it never runs backwards (except at a seek or loop wrap).
        """
        stream = self.stream
        now_s = None
        if stream is not None:
            try:
                now_s = float(stream.time)
            except Exception:
                now_s = 0.0
        return self.mixer.position_s(now_s)

    # ------------------------------------------------------------------ audio thread

    def _callback(self, outdata, frames, time_info, status) -> None:
        """PortAudio's callback: fills all of ``outdata`` [shape=(frames, channels)], float32."""
        try:
            if status.output_underflow:
                self.underflows += 1
            self.callbacks += 1
            self.mixer.render(outdata, frames, time_info.outputBufferDacTime or time_info.currentTime)
            self.frames_out += frames
        except Exception as exc:  # a bug must not kill the stream; check() reports it
            outdata.fill(0.0)
            self.callback_error = exc
