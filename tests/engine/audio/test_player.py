"""The player on a real PortAudio stream: the ALSA null device of tests/alsa-null.conf (it
consumes audio much faster than real time), and the errors a musician can meet."""

import subprocess
import sys
import time

import numpy as np
import pytest

from engine.audio import devices as devices_mod
from engine.audio import player as player_mod
from engine.audio.player import AudioDeviceError, Player, list_output_devices
from engine.errors import CantusError

NULL = "default"  # the ALSA default device, a null sink under tests/alsa-null.conf
SR = 44100


def sine(seconds, sample_rate=SR, hz=440.0, stereo=True):
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    x = (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.stack([x, x], axis=1) if stereo else x


def wait_for(predicate, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


class RecordingPlayer(Player):
    """Remembers the loudest sample it sent to the device."""

    peak = 0.0

    def _callback(self, outdata, frames, time_info, status):
        super()._callback(outdata, frames, time_info, status)
        self.peak = max(self.peak, float(np.abs(outdata).max()))


@pytest.fixture
def player():
    p = RecordingPlayer(NULL)
    yield p
    p.close()


def test_lists_the_null_device():
    devices = list_output_devices()
    null = [d for d in devices if d.name == NULL]
    assert null and null[0].host_api == "ALSA" and null[0].default_sample_rate > 0
    index, name, host_api, rate = null[0]
    assert isinstance(index, int)


def test_plays_and_the_position_advances_monotonically(player):
    player.set_song(sine(60, stereo=False), SR)
    null = next(d for d in list_output_devices() if d.name == NULL)
    assert player.sample_rate == null.default_sample_rate  # the device's own rate
    assert player.device_info.name == NULL
    player.play()
    positions = []
    deadline = time.monotonic() + 2.0
    while player.is_playing and time.monotonic() < deadline:
        positions.append(player.position_s)
    assert player.callbacks > 0 and player.frames_out > 0
    assert len(positions) >= 3
    assert all(b >= a for a, b in zip(positions, positions[1:]))
    assert positions[-1] > positions[0]
    assert player.peak > 0.2
    assert player.check() is None and player.last_error is None


def test_pause_keeps_position_and_seek_moves_it(player):
    player.set_song(sine(60, stereo=False), SR)
    player.play()
    assert wait_for(lambda: player.position_s > 1.0)
    player.pause()
    assert wait_for(lambda: player.mixer.gain == 0.0 and not player.is_playing)
    paused_at = player.position_s
    assert 1.0 < paused_at <= 60.0  # the null device is fast: the song may have ended already
    callbacks = player.callbacks
    assert wait_for(lambda: player.callbacks > callbacks + 10)  # the stream runs on, silent
    assert player.position_s == paused_at
    player.seek(3.0)
    assert player.position_s == 3.0
    assert wait_for(lambda: player.mixer.pending() is None)
    assert player.position_s == 3.0
    player.play()
    assert wait_for(lambda: player.position_s > 3.0)
    player.stop()
    assert wait_for(lambda: player.position_s == 0.0 and not player.is_playing)


def test_loop_keeps_the_playhead_inside(player):
    player.set_song(sine(60, stereo=False), SR)
    player.set_loop(1.0, 1.5)
    player.play(from_s=1.0)
    loops = 6 * 0.5 * player.sample_rate
    positions = []
    deadline = time.monotonic() + 5.0
    while player.song_frames_played < loops and time.monotonic() < deadline:
        positions.append(player.position_s)
    assert player.song_frames_played >= loops  # played several loop lengths
    assert player.is_playing
    assert positions and all(1.0 <= p <= 1.5 for p in positions)
    assert 1.0 <= player.position_s <= 1.5


def test_volume_zero_is_silence(player):
    player.volume = 0.0
    player.set_song(sine(30), SR)
    assert wait_for(lambda: player.mixer.vol == 0.0)
    player.peak = 0.0
    player.play()
    assert wait_for(lambda: player.song_frames_played > player.sample_rate)
    assert player.peak == 0.0
    player.volume = 1.0
    assert wait_for(lambda: player.peak > 0.2)


def test_preview_sounds_while_paused(player):
    player.set_song(sine(5), SR)
    assert wait_for(lambda: player.callbacks > 5)
    assert player.peak == 0.0
    player.preview(sine(0.2, hz=880, stereo=False), SR)
    assert wait_for(lambda: player.peak > 0.2)
    assert not player.is_playing and player.song_frames_played == 0


# ---------------------------------------------------------------------------- errors


def test_unknown_device_name_is_a_readable_error():
    p = Player("no-such-output-xyz")
    with pytest.raises(AudioDeviceError) as info:
        p.play()
    message = str(info.value)
    assert 'No sound output called "no-such-output-xyz"' in message and NULL in message
    assert isinstance(info.value, CantusError)
    assert p.last_error is info.value
    assert not p.is_playing
    with pytest.raises(AudioDeviceError, match="number 999"):
        Player(999).play()


def test_no_output_device_at_all_is_a_readable_error(monkeypatch):
    monkeypatch.setattr(devices_mod, "list_output_devices", lambda rescan=False: [])
    p = Player()
    with pytest.raises(AudioDeviceError, match="No sound output was found"):
        p.play()
    assert not p.is_playing and p.check() is p.last_error


def test_portaudio_missing_is_a_readable_error_and_a_later_play_works(monkeypatch):
    def no_portaudio():
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(devices_mod, "_load_sounddevice", no_portaudio)
    p = Player(NULL)
    with pytest.raises(AudioDeviceError, match="PortAudio library is missing"):
        p.set_song(sine(1), SR)
    with pytest.raises(AudioDeviceError, match="PortAudio"):
        list_output_devices()
    assert p.last_error is not None and p.check() is p.last_error
    monkeypatch.undo()
    try:
        p.play()  # the song set during the failure was kept
        assert p.is_playing and p.last_error is None
        assert wait_for(lambda: p.song_frames_played > 0)
    finally:
        p.close()


def test_engine_audio_imports_without_touching_portaudio():
    code = "import sys, engine.audio.player; assert 'sounddevice' not in sys.modules"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_device_that_fails_to_open_is_a_readable_error_and_a_later_play_works(monkeypatch):
    import sounddevice as sd

    def broken(*args, **kwargs):
        raise sd.PortAudioError("Error opening OutputStream: Device unavailable", -9985)

    monkeypatch.setattr(sd, "OutputStream", broken)
    p = Player(NULL)
    with pytest.raises(AudioDeviceError, match=f'"{NULL}" .*could not be opened .*Device unavailable'):
        p.preview(sine(0.1), SR)
    monkeypatch.undo()
    try:
        p.set_song(sine(1), SR)
        p.play()
        assert wait_for(lambda: p.song_frames_played > 0) and p.last_error is None
    finally:
        p.close()


def test_a_stream_that_dies_is_reported_and_play_reopens(player):
    player.set_song(sine(60), SR)
    player.play()
    assert wait_for(lambda: player.song_frames_played > 0)
    player.stream.abort()  # what an unplugged device looks like to PortAudio
    error = player.check()
    assert isinstance(error, AudioDeviceError) and "stopped working" in str(error)
    assert player.last_error is error and player.stream is None
    assert not player.is_playing
    position = player.position_s
    played = player.song_frames_played
    player.play()
    assert player.last_error is None
    assert wait_for(lambda: player.song_frames_played > played)
    assert player.position_s >= position
    assert player.check() is None


def test_a_stalled_callback_is_reported(monkeypatch):
    from test_player_callback import detached  # a player on a stream that never calls back

    monkeypatch.setattr(player_mod, "STALL_S", 0.01)
    p = detached()
    p._watch = (0, time.monotonic())
    time.sleep(0.03)
    assert "stopped working" in str(p.check())


def test_reopen_keeps_song_position_and_loop(player):
    player.set_song(sine(60, stereo=False), SR)
    player.set_loop(2.0, 3.0)
    player.seek(2.5)
    player.reopen(NULL)
    assert player.stream is not None and player.position_s == 2.5 and player.loop == (2.0, 3.0)
    player.play()
    assert wait_for(lambda: player.song_frames_played > 0)
    assert 2.0 <= player.position_s <= 3.0
    player.reopen()  # same device, still playing
    assert player.is_playing and 2.0 <= player.position_s <= 3.0
    with pytest.raises(AudioDeviceError, match="no-such-output-xyz"):
        player.reopen("no-such-output-xyz")
    assert player.stream is None and not player.is_playing
    assert isinstance(player.last_error, AudioDeviceError)
    player.reopen(NULL)  # and back, where it stopped
    assert player.last_error is None and player.loop == (2.0, 3.0)
    assert 2.0 <= player.position_s <= 3.0
