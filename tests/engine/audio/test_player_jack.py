"""Real-time playback on a JACK server (`jackd -d dummy`, started by scripts/start-jack.sh, which
`make test` runs): no underflow while another thread runs torch work."""

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from engine.audio.player import Player

REPO = Path(__file__).resolve().parents[3]


def torch_load(stop: threading.Event, counter: list) -> None:
    """Stands in for the engine thread running a model."""
    import torch

    a, b = torch.randn(512, 512), torch.randn(512, 512) / 512**0.5
    while not stop.is_set():
        a = torch.tanh(a @ b)
        counter[0] += 1


def test_two_seconds_in_real_time_under_torch_load_without_underflow(jack_device):
    import torch

    sr = 44100  # the song's rate; JACK's dummy server runs at its own (48000 from start-jack.sh)
    t = np.arange(2 * sr) / sr
    song = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    song = np.stack([song, np.roll(song, 100)], axis=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    stop, counter = threading.Event(), [0]
    worker = threading.Thread(target=torch_load, args=(stop, counter), daemon=True)
    try:
        with Player(jack_device.index) as player:
            player.set_song(song, sr)  # opens the stream and resamples to the server's rate
            rate = player.sample_rate
            assert rate == jack_device.default_sample_rate
            assert abs(len(player.mixer.song_req.data) - 2 * rate) <= 1
            worker.start()
            time.sleep(0.3)  # the stream and the load settle
            underflows, frames_out = player.underflows, player.frames_out
            started = time.monotonic()
            player.play()
            positions = []
            while player.is_playing and time.monotonic() - started < 10:
                positions.append(player.position_s)
                time.sleep(0.02)
            elapsed = time.monotonic() - started
            assert not player.is_playing, "two seconds of audio did not finish within 10 s"
            assert player.underflows - underflows == 0
            assert player.song_frames_played == len(player.mixer.song_req.data)  # all of it
            assert player.frames_out - frames_out >= 2 * rate
            assert elapsed > 1.8  # JACK keeps real time: not consumed faster than it plays
            assert all(b >= a for a, b in zip(positions, positions[1:]))
            assert positions[-1] > 1.5
            assert player.first_callback_latency_s < 0.5
            assert player.check() is None
    finally:
        stop.set()
        if worker.is_alive():
            worker.join(5)
        torch.set_num_threads(threads)
    assert counter[0] > 10  # the load really ran


CHILD = r"""
import sys, time
import numpy as np
from engine.audio.player import AudioDeviceError, Player, list_output_devices

jack = [d for d in list_output_devices() if "jack" in d.host_api.lower()]
assert jack, list_output_devices()
player = Player(jack[0].index)
player.set_song(np.zeros((48000 * 30, 2), np.float32), 48000)
player.play()
deadline = time.monotonic() + 5
while player.song_frames_played == 0 and time.monotonic() < deadline:
    time.sleep(0.01)
print("playing", player.song_frames_played > 0, flush=True)
sys.stdin.readline()  # the parent stops the server now
started, error = time.monotonic(), None
while error is None and time.monotonic() - started < 5:
    error = player.check()
    time.sleep(0.02)
print("check", f"{time.monotonic() - started:.2f}", error, flush=True)
print("is_playing", player.is_playing, flush=True)
try:
    player.play()
    print("replay worked", flush=True)
except AudioDeviceError as exc:
    print("replay", type(exc).__name__, exc, flush=True)
player.close()
print("closed", flush=True)
"""


def test_a_jack_server_that_dies_is_reported_and_nothing_hangs(tmp_path, missing):
    """A private JACK server (its own name) is stopped under a playing player, in a child process."""
    jackd = shutil.which("jackd")
    if jackd is None:
        missing("jackd is not installed (apt package jackd2)")
    env = dict(os.environ, JACK_DEFAULT_SERVER=f"cantus-test-{os.getpid()}", JACK_NO_START_SERVER="1")
    log = open(tmp_path / "jackd.log", "w")
    server = subprocess.Popen([jackd, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "1024"],
                              env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    child = None
    try:
        jack_wait = shutil.which("jack_wait")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = subprocess.run([jack_wait, "--check"] if jack_wait else ["true"], env=env,
                                   capture_output=True, text=True, timeout=10)
            if probe.stdout.strip() == "running" or not jack_wait:
                break
            time.sleep(0.1)
        child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, cwd=REPO, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert child.stdout.readline().strip() == "playing True"
        server.terminate()
        server.wait(10)
        out, err = child.communicate("\n", timeout=60)  # also proves that closing does not hang
    finally:
        for proc in (child, server):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
        log.close()
    assert child.returncode == 0, err
    lines = dict(line.partition(" ")[::2] for line in out.splitlines())
    assert "stopped working" in lines["check"], out
    assert float(lines["check"].split()[0]) < 3.0
    assert lines["is_playing"] == "False"
    assert lines["replay"].startswith("AudioDeviceError"), out  # the server is gone: a sentence
    assert "closed" in lines, out
