"""The audio callback's state machine: what one block of output holds, given the song, the
transport request, the loop, the volume and the note previews.

A `Mixer` has two sides. The API side (the `Player`, on any thread, under its lock) hands things
over only by assigning attributes that hold immutable or freshly built objects: ``song_req``,
``req``, ``loop_frames``, ``volume_target`` and the slots of ``preview_reqs`` and
``release_reqs``. The audio side, `render`, picks them up at the start of a block, copies samples
that are already rendered and at the stream's rate, ramps gains with preallocated arrays and
advances counters: it allocates no sample buffers, takes no lock, logs nothing and never touches
Qt. Everything else is written by `render` alone (by the API side only while no stream runs:
`prepare`, `settle`).

`render` is public so that the state machine can be driven block by block without a device.
"""

from __future__ import annotations

import math
from time import perf_counter
from typing import NamedTuple

import numpy as np

FADE_S = 0.010  # fade at play, pause and stop, so that starting and stopping never click
CROSSFADE_S = 0.010  # crossfade when the playhead jumps while sounding: seek, loop wrap, new song
VOLUME_SLEW_S = 0.020  # a volume change from 0 to 1 takes at least this long (no zipper noise)
PREVIEW_SLOTS = 8  # note previews that can sound at once (a chord played in); a new one replaces the oldest
PREVIEW_EDGE_S = 0.002  # fade at each end of a preview
RELEASE_S = 0.060  # a released preview (a key let go on a MIDI keyboard) fades out over this
MAX_CHUNK_FRAMES = 8192  # scratch size; a longer callback block is processed in chunks


class Buffer:
    """Samples ready for the callback: float32 [shape=(frames, channels)] at the stream's rate."""

    __slots__ = ("data", "frames")

    def __init__(self, data: np.ndarray):
        data.flags.writeable = False
        self.data = data
        self.frames = int(data.shape[0])


class TransportRequest(NamedTuple):
    """What the transport should do; built whole by the API and handed over by assignment."""

    playing: bool
    jump_s: float | None  # move the playhead here (crossfaded if sounding, else once silent)
    play_t: float  # perf_counter() when play() was asked, for first_callback_latency_s
    preroll: "Buffer | None" = None  # sounds first (a count-in), then the song starts at jump_s


class Clock(NamedTuple):
    """Where the last block's sound is, for the playhead between blocks."""

    dac_s: float  # stream time when its first song frame (after a count-in or jump) is heard
    seg_pos: int  # the song frame heard then
    seg_frames: int  # frames of the block from there on
    run: int  # which run of the playhead (it increases at every jump)
    run_pos0: int  # song frame where that run started
    playing: bool


class Mixer:
    """The callback's state for one stream (see the module's docstring for who writes what)."""

    def __init__(self) -> None:
        self.sample_rate: float | None = None
        self.channels = 2

        # Written by the API side, read by render.
        self.song_req: Buffer | None = None
        self.req: TransportRequest | None = None
        self.loop_frames: tuple[int, int] | None = None
        self.volume_target = 1.0
        self.preview_reqs: list[Buffer | None] = [None] * PREVIEW_SLOTS
        self.release_reqs: list[Buffer | None] = [None] * PREVIEW_SLOTS  # voices to fade out

        # Written by render (by the API side only while no stream runs).
        self.song: Buffer | None = None
        self.handled: TransportRequest | None = None
        self.playing = False
        self.pos = 0  # song frame of the next frame to write
        self.gain = 0.0  # transport gain, 0..1
        self.vol = 1.0  # volume applied at the end of the last block
        self.jump_after_fade: int | None = None
        self._tail = None  # outgoing voice of a crossfade: float32 [shape=(frames, channels)]
        self._tail_pos = 0
        self._xfade_left = 0
        self.preview_voices: list[Buffer | None] = [None] * PREVIEW_SLOTS
        self.preview_pos = [0] * PREVIEW_SLOTS
        self._release_left = [-1] * PREVIEW_SLOTS  # frames of a release fade still to go; -1: none
        self._release_frames = 1
        self._pre: Buffer | None = None  # a count-in still sounding before the song
        self._pre_pos = 0
        self._run = 0  # increases at every jump of the playhead
        self._run_pos0 = 0  # song frame where the current run started
        self._seg_offset = 0  # frame in this block where the last run started (or 0)
        self._seg_pos = 0  # song frame at _seg_offset
        self.clock: Clock | None = None
        self._seen = (-1, 0.0)  # (run, frame) last returned by position_s: never run backwards
        self._awaiting_first = False
        self._play_t = 0.0
        self.song_frames_played = 0  # song frames written while playing (loops counted again)
        self.first_callback_latency_s: float | None = None  # from play() to the first song sample

    # ------------------------------------------------------------------ API side

    def prepare(self, sample_rate: float, channels: int) -> None:
        """Sizes the scratch for a stream and forgets what only a running stream holds (voices,
        crossfades, the clock); keeps the song position, rescaled to a new rate. Only while no
        stream runs."""
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
        if old_rate is not None and old_rate != rate:
            self.pos = round(self.pos * rate / old_rate)
            if self.jump_after_fade is not None:
                self.jump_after_fade = round(self.jump_after_fade * rate / old_rate)
        self.gain = 0.0
        self._tail, self._xfade_left = None, 0
        self.clock = None
        self.preview_reqs = [None] * PREVIEW_SLOTS
        self.release_reqs = [None] * PREVIEW_SLOTS
        self.preview_voices = [None] * PREVIEW_SLOTS
        self.preview_pos = [0] * PREVIEW_SLOTS
        self._release_left = [-1] * PREVIEW_SLOTS
        self._release_frames = max(1, round(RELEASE_S * rate))
        self.song = self.song_req  # no crossfade from a song that no longer sounds

    def settle(self) -> None:
        """No callback runs any more: carries out the pending request here, stopped where it was."""
        req = self.req
        if req is not self.handled:
            self.handled = req
            if req.jump_s is not None and self.sample_rate:
                self.pos = round(req.jump_s * self.sample_rate)
        if self.jump_after_fade is not None:
            self.pos, self.jump_after_fade = self.jump_after_fade, None
        self.playing, self.gain = False, 0.0
        self._tail, self._xfade_left = None, 0
        self.clock = None

    def pending(self) -> TransportRequest | None:
        """The request render has not picked up yet, if any."""
        req = self.req
        return req if req is not self.handled else None

    @property
    def is_playing(self) -> bool:
        pending = self.pending()
        return pending.playing if pending is not None else self.playing

    def free_voice(self, after: int) -> int:
        """A preview slot that is silent or fading out, looking from slot ``after`` on; else that
        one (the oldest). Reads what render wrote, which is only a hint: a voice can but end sooner."""
        for k in range(PREVIEW_SLOTS):
            slot = (after + k) % PREVIEW_SLOTS
            voice = self.preview_reqs[slot]
            if voice is None or self.release_reqs[slot] is voice:
                return slot
            if self.preview_voices[slot] is voice and self.preview_pos[slot] >= voice.frames:
                return slot
        return after

    def position_s(self, now_s: float | None) -> float:
        """The playhead in seconds: while playing, the frame heard at stream time ``now_s`` (0:
        unknown; None: no stream runs), from the last block's clock, clamped to what was written and so that it
        never runs backwards (except at a seek or loop wrap)."""
        pending = self.pending()
        rate = self.sample_rate
        if pending is not None and pending.jump_s is not None:
            if pending.preroll is not None and rate:  # a count-in about to begin
                return pending.jump_s - pending.preroll.frames / rate
            return pending.jump_s
        if not rate:
            return 0.0
        jump = self.jump_after_fade
        if jump is not None:
            return jump / rate
        clock = self.clock
        if clock is None or now_s is None or not clock.playing or not self.playing:
            return self.pos / rate
        frame = float(clock.seg_pos + clock.seg_frames)
        if clock.dac_s > 0.0 and now_s > 0.0:
            frame = min(max(clock.seg_pos + (now_s - clock.dac_s) * rate, float(clock.run_pos0)), frame)
        last_run, last_frame = self._seen
        if clock.run == last_run and frame < last_frame:
            frame = last_frame
        self._seen = (clock.run, frame)
        return frame / rate

    # ------------------------------------------------------------------ audio side

    def render(self, out: np.ndarray, frames: int, dac_s: float) -> None:
        """Fills all of ``out`` [shape=(frames, channels)], float32, with the next block; ``dac_s``
        is the stream time at which its first frame will be heard (0 if unknown)."""
        song = self.song_req
        if song is not self.song:
            self._switch_song(song)
        req = self.req
        if req is not self.handled:
            self.handled = req
            self._take(req)
        pre = self._pre  # during a count-in the clock counts up to the start from below
        self._seg_offset = 0
        self._seg_pos = self.pos if pre is None else self.pos - (pre.frames - self._pre_pos)
        if frames <= MAX_CHUNK_FRAMES:
            self._render(out, frames, 0)
        else:
            done = 0
            while done < frames:
                n = min(frames - done, MAX_CHUNK_FRAMES)
                self._render(out[done:done + n], n, done)
                done += n
        if dac_s:
            dac_s += self._seg_offset / self.sample_rate
        self.clock = Clock(dac_s, self._seg_pos, frames - self._seg_offset, self._run, self._run_pos0,
                           self.playing)

    def _new_run(self, offset: int) -> None:
        self._run += 1
        self._run_pos0 = self.pos
        self._seg_offset, self._seg_pos = offset, self.pos

    def _start_crossfade(self, data) -> None:
        self._tail, self._tail_pos, self._xfade_left = data, self.pos, self._xf_frames

    def _switch_song(self, song) -> None:
        old = self.song
        if old is not None and song is not None and self.playing and self.gain > 0.0:
            self._start_crossfade(old.data)  # same position, new samples: no click
        self.song = song
        if song is None:
            self.playing, self.gain = False, 0.0

    def _take(self, req: TransportRequest) -> None:
        was_playing = self.playing
        playing = req.playing and self.song is not None
        jump = None if req.jump_s is None else round(req.jump_s * self.sample_rate)
        if playing:
            if jump is None and self.jump_after_fade is not None:
                jump = self.jump_after_fade  # a stop still fading out: start where it rewinds to
            self.jump_after_fade = None
            if not was_playing:
                self._awaiting_first, self._play_t = True, req.play_t
            if jump is not None:
                if self.gain > 0.0:
                    self._start_crossfade(self.song.data)
                self.pos = jump
                self._new_run(0)
            elif not was_playing:
                self._new_run(0)
            self._pre, self._pre_pos = req.preroll, 0  # any other request ends a count-in
            if req.preroll is not None:
                self._run += 1  # a run that starts a count-in's length before the song
                self._run_pos0 = self.pos - req.preroll.frames
        elif jump is not None:
            if self.gain > 0.0:
                self.jump_after_fade = jump  # fade out where we are, then move
            else:
                self.pos, self.jump_after_fade = jump, None
        self.playing = playing
        if not playing:
            self._pre = None

    def _render(self, out, n: int, offset: int) -> None:
        out.fill(0.0)
        start = 0
        pre = self._pre
        if pre is not None and self.playing:
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
        song = self.song
        gain = self.gain
        playing = self.playing
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
                self.playing, playing, gain = False, False, 0.0
                self._tail, self._xfade_left = None, 0
            if not playing and gain <= 0.0:
                gain = 0.0
                jump = self.jump_after_fade
                if jump is not None:
                    self.pos, self.jump_after_fade = jump, None
            self.gain = gain

    def _render_previews(self, out, n: int) -> None:
        reqs, voices, positions = self.preview_reqs, self.preview_voices, self.preview_pos
        releases, left = self.release_reqs, self._release_left
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
        target, vol = self.volume_target, self.vol
        if target != vol:
            limit = n * self._vol_step
            new = target if abs(target - vol) <= limit else (vol + limit if target > vol else vol - limit)
            v = self._volume_ramp[:n]
            np.multiply(self._idx[:n], (new - vol) / n, out=v)
            v += vol
            out *= v
            self.vol = new
        elif vol != 1.0:
            out *= vol

    def _write_song(self, out, m: int, offset: int, song: Buffer) -> int:
        """Copies up to ``m`` song frames into ``out``, wrapping at the loop; returns how many."""
        data, total = song.data, song.frames
        loop = self.loop_frames
        pos, i = self.pos, 0
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
                self.pos = pos
                self._start_crossfade(data)  # fade out what follows the loop end
                self.pos = start
                self._new_run(offset + i)
                pos = start
        self.pos = pos
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
