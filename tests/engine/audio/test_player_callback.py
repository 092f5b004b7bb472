"""The player's audio callback, called directly with preallocated blocks and a fake clock:
fades, seeks, loops, volume, previews and song swaps, sample for sample, and no allocations."""

import tracemalloc

import numpy as np
import pytest

from engine.audio import mixer as player_mod
from engine.audio.devices import OutputDevice
from engine.audio.player import Player

RATE = 48000
FADE = round(player_mod.FADE_S * RATE)  # 480 frames
XF = round(player_mod.CROSSFADE_S * RATE)  # 480 frames


class FakeStream:
    """Stands in for sounddevice.OutputStream: alive, with a settable clock; the test calls its
    callback, block by block, as PortAudio would."""

    latency = 0.0

    def __init__(self, callback):
        self.active = True
        self.time = 0.0
        self.callback = callback

    def abort(self, ignore_errors=True):
        self.active = False

    def close(self, ignore_errors=True):
        self.active = False


class FakeTime:
    def __init__(self, now_s=0.0, latency_s=0.0):
        self.currentTime = now_s
        self.outputBufferDacTime = now_s + latency_s
        self.inputBufferAdcTime = 0.0


class FakeStatus:
    output_underflow = False


def fake_opener(rate=RATE, channels=2):
    """Opens a FakeStream on a pretend device, as engine.audio.devices.open_output_stream opens
    a real one."""

    def open_stream(device, latency_s, blocksize, callback, finished_callback, prepare):
        prepare(rate, channels)
        return FakeStream(callback), OutputDevice(0, "fake", "test", rate), channels

    return open_stream


def detached(rate=RATE, channels=2) -> Player:
    p = Player(opener=fake_opener(rate, channels))
    p.reopen()  # opens the fake stream
    return p


def block(p, frames=512, now_s=0.0, latency_s=0.0, status=FakeStatus()):
    out = np.full((frames, p.channels), 7.0, np.float32)  # garbage: the callback must overwrite all
    p.stream.callback(out, frames, FakeTime(now_s, latency_s), status)
    assert p.callback_error is None
    return out


def make_song(frames=RATE * 2):
    k = np.arange(frames)
    return np.stack([np.linspace(-0.9, 0.9, frames), 0.5 * np.sin(k * 0.01)], axis=1).astype(np.float32)


SONG = make_song()


def fade_in(n, gain0=0.0):
    return np.clip(gain0 + np.arange(1, n + 1) / FADE, 0, 1)[:, None]


def test_idle_fills_whole_block_with_zeros():
    p = detached()
    out = block(p)
    assert not out.any()
    assert p.callbacks == 1 and p.frames_out == 512


def test_play_fades_in_then_copies_samples():
    p = detached()
    p.set_song(SONG, RATE)
    p.play()
    assert p.is_playing
    out = block(p)
    np.testing.assert_allclose(out, SONG[:512] * fade_in(512), atol=1e-6)
    assert out[0, 0] != 0 and abs(out[0, 0]) < abs(SONG[0, 0]) / 100  # starts near silence
    out = block(p)
    np.testing.assert_array_equal(out, SONG[512:1024])
    assert p.position_s == pytest.approx(1024 / RATE)
    assert p.song_frames_played == 1024


def test_pause_fades_out_and_keeps_position():
    p = detached()
    p.set_song(SONG, RATE)
    p.play()
    block(p), block(p)
    p.pause()
    out = block(p)
    ramp = np.clip(1 - np.arange(1, FADE + 1) / FADE, 0, 1)[:, None]
    np.testing.assert_allclose(out[:FADE], SONG[1024:1024 + FADE] * ramp, atol=1e-6)
    assert not out[FADE:].any()
    assert not p.is_playing
    assert p.position_s == pytest.approx((1024 + FADE) / RATE)
    assert not block(p).any()
    assert p.position_s == pytest.approx((1024 + FADE) / RATE)
    p.play()  # resumes where the sound stopped, with a fade-in
    out = block(p)
    np.testing.assert_allclose(out, SONG[1024 + FADE:1024 + FADE + 512] * fade_in(512), atol=1e-6)


@pytest.mark.parametrize("loop", [None, (0.5, 1.0)])
def test_stop_fades_out_then_rewinds(loop):
    p = detached()
    p.set_song(SONG, RATE)
    if loop:
        p.set_loop(*loop)
    p.play(from_s=0.6)
    block(p), block(p)
    p.stop()
    out = block(p)
    assert out[:FADE].any() and not out[FADE:].any()
    assert np.abs(np.diff(out[:FADE + 1, 0])).max() < 0.01  # no step
    assert p.position_s == (loop[0] if loop else 0.0)
    assert not block(p).any()
    p.play()
    out = block(p)
    start = round((loop[0] if loop else 0.0) * RATE)
    np.testing.assert_allclose(out, SONG[start:start + 512] * fade_in(512), atol=1e-6)


def test_stop_then_play_before_the_callback_runs_starts_at_zero():
    p = detached()
    p.set_song(SONG, RATE)
    p.play(from_s=1.0)
    block(p)
    p.stop()
    p.play()
    block(p)
    assert p.position_s < 0.1


def test_seek_while_playing_crossfades():
    p = detached()
    p.set_song(SONG, RATE)
    p.play()
    block(p), block(p)
    p.seek(0.5)
    assert p.position_s == 0.5  # visible at once, before the callback ran
    out = block(p, 1024)
    up = (np.arange(1, XF + 1) / (XF + 1))[:, None]
    expected = SONG[24000:24000 + XF] * up + SONG[1024:1024 + XF] * (1 - up)
    np.testing.assert_allclose(out[:XF], expected, atol=1e-6)
    np.testing.assert_array_equal(out[XF:], SONG[24000 + XF:24000 + 1024])
    assert p.position_s == pytest.approx((24000 + 1024) / RATE)


def test_seek_while_paused_moves_silently():
    p = detached()
    p.set_song(SONG, RATE)
    p.seek(1.25)
    assert p.position_s == 1.25
    assert not block(p).any()
    assert p.position_s == 1.25 and not p.is_playing
    p.play()
    out = block(p)
    np.testing.assert_allclose(out, SONG[60000:60512] * fade_in(512), atol=1e-6)


def test_loop_wraps_with_crossfade_and_stays_inside():
    p = detached()
    p.set_song(SONG, RATE)
    p.set_loop(0.1, 0.2)  # frames 4800 .. 9600
    p.play(from_s=0.18)  # frame 8640
    block(p)  # fade-in; now at 9152
    out = block(p, 1024)  # 448 frames to the loop end, then the wrap
    np.testing.assert_array_equal(out[:448], SONG[9152:9600])
    up = (np.arange(1, XF + 1) / (XF + 1))[:, None]
    expected = SONG[4800:4800 + XF] * up + SONG[9600:9600 + XF] * (1 - up)
    np.testing.assert_allclose(out[448:448 + XF], expected, atol=1e-6)
    np.testing.assert_array_equal(out[448 + XF:], SONG[4800 + XF:4800 + 1024 - 448])
    for _ in range(40):  # several loop lengths
        block(p, 700)
        assert 0.1 <= p.position_s <= 0.2
    assert p.is_playing
    assert p.song_frames_played > 5 * 4800
    p.clear_loop()
    for _ in range(200):
        block(p, 1024)
    assert not p.is_playing and p.position_s == pytest.approx(2.0)  # ran on to the end


def test_loop_shorter_than_a_block():
    p = detached()
    p.set_song(SONG, RATE)
    p.set_loop(0.5, 0.56)  # 2880 frames
    p.play(from_s=0.5)
    for _ in range(5):
        block(p, 8000)  # wraps more than once per block
        assert 0.5 <= p.position_s <= 0.56
    assert p.callback_error is None


def test_volume_is_ramped_and_zero_is_silence():
    p = detached()
    const = np.full((RATE, 2), 0.5, np.float32)
    p.set_song(const, RATE)
    p.play()
    block(p)
    np.testing.assert_array_equal(block(p), const[:512])
    p.volume = 0.25
    gains = np.concatenate([block(p)[:, 0] for _ in range(4)]) / 0.5
    steps = np.abs(np.diff(np.concatenate([[1.0], gains])))
    assert steps.max() <= 1 / round(player_mod.VOLUME_SLEW_S * RATE) + 1e-6  # no zipper step
    assert gains[-1] == pytest.approx(0.25)
    p.volume = 0.0
    for _ in range(4):
        block(p)
    assert not block(p).any()
    assert p.volume == 0.0
    p.volume = 5  # clamped
    assert p.volume == 1.0


def test_previews_mix_on_top_of_the_song_and_when_paused():
    p = detached()
    note = np.full(2000, 0.25, np.float32)  # mono
    p.preview(note, RATE)
    out = block(p, 4096)
    edge = round(player_mod.PREVIEW_EDGE_S * RATE)
    assert out[edge:2000 - edge].min() == pytest.approx(0.25) and out[edge:2000 - edge].max() == pytest.approx(0.25)
    assert out[0, 0] < 0.25 / edge * 2 and out[1999, 1] < 0.25 / edge * 2  # faded edges
    assert not out[2000:].any()
    assert not p.is_playing
    p.set_song(SONG, RATE)
    p.play()
    block(p)
    p.preview(note, RATE)
    out = block(p, 1024)
    np.testing.assert_allclose(out[edge:1024], SONG[512 + edge:1536] + 0.25, atol=1e-6)


def test_preview_slots_replace_the_oldest():
    p = detached()
    notes = [np.full(100_000, 0.01 * (i + 1), np.float32) for i in range(player_mod.PREVIEW_SLOTS + 1)]
    for note in notes[:-1]:
        p.preview(note, RATE)
    out = block(p, 1024)
    total = sum(0.01 * (i + 1) for i in range(player_mod.PREVIEW_SLOTS))
    assert out[500, 0] == pytest.approx(total)
    p.preview(notes[-1], RATE)  # takes the first slot
    out = block(p, 1024)
    assert out[500, 0] == pytest.approx(total - 0.01 + 0.01 * (player_mod.PREVIEW_SLOTS + 1))


def test_count_in_sounds_first_then_the_song_starts_at_the_next_sample():
    p = detached()
    p.set_song(SONG, RATE)
    click = np.full(700, 0.3, np.float32)
    start = RATE // 2  # the song starts at 0.5 s
    p.play(0.5, count_in=click, count_in_rate=RATE)
    out = block(p, 512)
    assert np.allclose(out, 0.3)  # the count-in alone
    assert p.is_playing
    assert p.position_s == pytest.approx((start - (700 - 512)) / RATE)  # below the start: counting in
    out = block(p, 512)
    np.testing.assert_allclose(out[:188], 0.3)
    song = SONG[start:start + 512 - 188] * fade_in(512 - 188)
    np.testing.assert_allclose(out[188:], song, atol=1e-6)  # from the frame after it, faded in
    assert p.position_s == pytest.approx((start + 512 - 188) / RATE, abs=1e-6)
    out = block(p, 512)
    np.testing.assert_allclose(out, SONG[start + 324:start + 836] * fade_in(512, 324 / FADE), atol=1e-6)


def test_during_a_count_in_the_position_is_what_is_heard_below_the_start():
    p = detached()
    p.set_song(SONG, RATE)
    start = RATE // 2
    p.play(0.5, count_in=np.full(4800, 0.3, np.float32), count_in_rate=RATE)
    assert p.position_s == pytest.approx((start - 4800) / RATE)  # asked: the count-in's first frame
    block(p, 512, now_s=1.0, latency_s=0.02)  # heard from 1.02 s on
    p.stream.time = 1.02 + 0.005
    assert p.position_s == pytest.approx((start - 4800 + 240) / RATE, abs=1e-6)
    p.stream.time = 1.02 + 0.5  # the clock runs on, but no further than what was written
    assert p.position_s == pytest.approx((start - 4800 + 512) / RATE, abs=1e-6)


def test_a_pause_during_the_count_in_ends_it():
    p = detached()
    p.set_song(SONG, RATE)
    p.play(0.0, count_in=np.full(5000, 0.3, np.float32), count_in_rate=RATE)
    block(p, 512)
    p.pause()
    block(p, 512)
    p.play(0.0)
    out = block(p, 512)
    np.testing.assert_allclose(out, SONG[:512] * fade_in(512), atol=1e-6)  # no click left over


def test_a_released_preview_fades_out_from_where_it_is():
    p = detached()
    note = np.full(RATE, 0.25, np.float32)
    voice = p.preview(note, RATE)
    block(p, 1000)
    p.release_preview(voice)
    out = block(p, 4096)
    fade = round(player_mod.RELEASE_S * RATE)
    expected = 0.25 * np.clip((fade - np.arange(1, fade + 1)) / fade, 0, 1)
    np.testing.assert_allclose(out[:fade, 0], expected, atol=1e-6)
    assert not out[fade:].any()
    for _ in range(player_mod.PREVIEW_SLOTS - 1):  # every other voice held
        p.preview(np.full(RATE, 0.01, np.float32), RATE)
    other = p.preview(note, RATE)  # takes the released voice's slot, the one free
    assert other[0] == voice[0]
    p.release_preview(voice)  # the old voice is gone: the new one sounds on
    out = block(p, 4096)
    assert out[2000:, 0].min() == pytest.approx(0.25 + 0.01 * (player_mod.PREVIEW_SLOTS - 1))


def test_held_voices_are_not_taken_while_a_free_one_is_there():
    p = detached()
    long = np.full(RATE, 0.01, np.float32)
    held = p.preview(long, RATE)
    short = [p.preview(np.full(100, 0.01, np.float32), RATE) for _ in range(player_mod.PREVIEW_SLOTS - 1)]
    block(p, 512)  # the short ones end
    again = [p.preview(np.full(100, 0.02, np.float32), RATE) for _ in range(player_mod.PREVIEW_SLOTS - 1)]
    assert held[0] not in {v[0] for v in again}  # the held key keeps sounding
    assert {v[0] for v in again} == {v[0] for v in short}


def test_new_song_while_playing_keeps_position_with_crossfade():
    p = detached()
    p.set_song(SONG, RATE)
    p.play()
    block(p), block(p)
    other = -SONG
    p.set_song(other, RATE)
    out = block(p)
    up = (np.arange(1, XF + 1) / (XF + 1))[:, None]
    np.testing.assert_allclose(out[:XF], other[1024:1024 + XF] * up + SONG[1024:1024 + XF] * (1 - up), atol=1e-6)
    np.testing.assert_array_equal(out[XF:], other[1024 + XF:1536])
    assert p.position_s == pytest.approx(1536 / RATE) and p.is_playing


def test_song_end_stops_and_play_restarts_from_zero():
    p = detached()
    p.set_song(SONG[:1000], RATE)
    p.play()
    out = block(p, 1024)
    assert not out[1000:].any()
    assert not p.is_playing
    assert p.position_s == pytest.approx(1000 / RATE)
    assert not block(p).any()
    p.play()
    block(p)
    assert p.position_s == pytest.approx(512 / RATE)


def test_song_is_resampled_to_the_stream_rate_before_the_callback():
    p = detached()
    sr = 44100
    t = np.arange(sr) / sr
    p.set_song(np.sin(2 * np.pi * 440 * t).astype(np.float32), sr)  # 1 s, mono
    song = p.mixer.song_req.data
    assert song.dtype == np.float32 and song.shape[1] == 2 and abs(song.shape[0] - RATE) <= 1
    np.testing.assert_array_equal(song[:, 0], song[:, 1])
    assert p.duration_s == pytest.approx(1.0, abs=1e-4)
    # Still a 440 Hz sine at the new rate.
    spectrum = np.abs(np.fft.rfft(song[:, 0]))
    assert np.argmax(spectrum) * RATE / len(song) == pytest.approx(440, abs=2)
    assert not song.flags.writeable


def test_song_buffer_is_a_private_copy():
    p = detached()
    song = SONG.copy()
    p.set_song(song, RATE)
    song[:] = 0
    p.play()
    block(p)
    assert block(p).any()


def test_bad_audio_is_refused():
    p = detached()
    with pytest.raises(ValueError, match="shape"):
        p.set_song(np.zeros((2, 1000), np.float32), RATE)
    with pytest.raises(ValueError, match="float"):
        p.set_song(np.zeros(1000, np.int16), RATE)
    with pytest.raises(ValueError, match="loop"):
        p.set_loop(1.0, 1.01)


def test_mono_device_gets_a_downmix():
    p = detached(channels=1)
    p.set_song(SONG, RATE)
    p.play()
    block(p)
    out = block(p)
    assert out.shape == (512, 1)
    np.testing.assert_allclose(out[:, 0], SONG[512:1024].mean(axis=1), atol=1e-6)


def test_blocks_longer_than_the_scratch_are_chunked():
    p = detached()
    p.set_song(SONG, RATE)
    p.play()
    block(p)
    n = player_mod.MAX_CHUNK_FRAMES * 2 + 100
    np.testing.assert_array_equal(block(p, n), SONG[512:512 + n])


def test_underflows_and_first_sound_latency_are_counted():
    p = detached()
    p.set_song(SONG, RATE)
    flagged = FakeStatus()
    flagged.output_underflow = True
    block(p, status=flagged)
    assert p.underflows == 1
    assert p.first_callback_latency_s is None
    p.play()
    block(p)
    assert 0 <= p.first_callback_latency_s < 1.0


def test_position_follows_the_stream_clock_and_never_runs_backwards():
    p = detached()
    p.set_song(SONG, RATE)
    p.play()
    block(p, 1024, now_s=10.0, latency_s=0.02)  # frames 0..1024 reach the DAC at 10.02 s
    p.stream.time = 10.0
    assert p.position_s == 0.0  # nothing heard yet
    p.stream.time = 10.02 + 480 / RATE
    assert p.position_s == pytest.approx(480 / RATE)
    p.stream.time = 10.02 + 5000 / RATE
    assert p.position_s == pytest.approx(1024 / RATE)  # never ahead of what was written
    block(p, 1024, now_s=10.02, latency_s=0.02)  # frames 1024..2048 at 10.04 s
    p.stream.time = 10.025  # this block is not heard yet; still never backwards
    assert p.position_s == pytest.approx(1024 / RATE)
    p.stream.time = 10.04 + 100 / RATE
    assert p.position_s == pytest.approx(1124 / RATE)
    p.stream.time = 10.03  # a clock glitch backwards
    assert p.position_s == pytest.approx(1124 / RATE)


def _peak_bytes(fn) -> int:
    """Peak memory traced (Python objects and numpy data) while fn runs, above the start."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_callback_allocates_no_sample_buffers():
    frames = 4096
    one_buffer = frames * 2 * 4  # a temporary stereo block would cost this (32 KiB)
    out = np.zeros((frames, 2), np.float32)
    t, status = FakeTime(1.0, 0.02), FakeStatus()
    # The measurement sees numpy temporaries: the naive way allocates a whole block.
    assert _peak_bytes(lambda: np.multiply(out, 0.5)) >= one_buffer

    def scenarios():
        p = detached()
        p.set_song(make_song(RATE * 4), RATE)
        yield "idle", p
        p.play()
        yield "fade-in", p
        yield "steady", p
        p.volume = 0.3
        yield "volume ramp", p
        p.preview(np.full(RATE, 0.1, np.float32), RATE)
        yield "preview", p
        voice = p.preview(np.full(RATE, 0.1, np.float32), RATE)
        p.release_preview(voice)
        yield "preview release", p
        p.seek(1.0)
        yield "seek crossfade", p
        p.set_loop(1.0, 1.1)
        p.seek(1.05)
        yield "loop wraps", p
        p.pause()
        yield "fade-out", p
        yield "paused", p
        p.clear_loop()
        p.play(0.5, count_in=np.full(3000, 0.2, np.float32), count_in_rate=RATE)
        yield "count-in", p
        yield "count-in ends", p

    # Warm up once (first calls may fill numpy's caches), then measure each state.
    for _, p in scenarios():
        p.stream.callback(out, frames, t, status)
    for name, p in scenarios():
        peak = _peak_bytes(lambda: p.stream.callback(out, frames, t, status))
        assert p.callback_error is None
        assert peak < one_buffer // 8, f"{name}: the callback allocated {peak} bytes"
