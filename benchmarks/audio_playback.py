"""Playback benchmark: time from play() to the first callback that outputs song samples, and
underflows while a background thread runs torch work (a 2-layer LSTM, standing in for the engine
thread running a model). On the JACK device when there is one, else the default output.
Prints numbers only.

    .venv/bin/python benchmarks/audio_playback.py [--seconds 60] [--plays 20] [--device NAME]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from engine.audio.player import AudioDeviceError, Player, list_output_devices  # noqa: E402


class TimedPlayer(Player):
    """Records how long each callback's Python body takes (in a preallocated array)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.durations_s = np.zeros(2_000_000)
        self.timed = 0
        self.dac_ahead_s = 0.0  # how far ahead of the DAC a callback writes, in seconds

    def _callback(self, outdata, frames, time_info, status):
        start = time.perf_counter()
        super()._callback(outdata, frames, time_info, status)
        self.dac_ahead_s = time_info.outputBufferDacTime - time_info.currentTime
        i = self.timed
        if i < len(self.durations_s):
            self.durations_s[i] = time.perf_counter() - start
            self.timed = i + 1


def arpeggio(seconds: float = 10.0, sample_rate: int = 44100) -> np.ndarray:
    """A rendered stand-in song: eighth notes of a C major arpeggio, float32 [shape=(frames, 2)]."""
    note_s = 0.25
    t = np.arange(round(note_s * sample_rate)) / sample_rate
    envelope = np.minimum(1.0, t / 0.005) * np.exp(-4 * t)
    notes = [0.2 * envelope * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t)
             for p in (60, 64, 67, 72, 76, 72, 67, 64)]
    mono = np.tile(np.concatenate(notes), int(np.ceil(seconds / (note_s * len(notes)))))
    mono = mono[: round(seconds * sample_rate)].astype(np.float32)
    return np.stack([mono, 0.8 * mono], axis=1)


def lstm_load(stop: threading.Event, counter: list, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    model = torch.nn.LSTM(input_size=128, hidden_size=256, num_layers=2, batch_first=True).eval()
    x = torch.randn(8, 64, 128)
    with torch.no_grad():
        while not stop.is_set():
            model(x)
            counter[0] += 1


def wait_for(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.0005)
    return True


def pick_device(name: str | None):
    devices = list_output_devices()
    if name is not None:
        return name
    jack = [d for d in devices if "jack" in d.host_api.lower()]
    return jack[0].index if jack else None


def run(seconds: float = 60.0, plays: int = 20, device: str | None = None, torch_threads: int = 1) -> None:
    try:
        chosen = pick_device(device)
        player = TimedPlayer(chosen)
        player.set_song(arpeggio(), 44100)
    except AudioDeviceError as exc:
        print(f"Playback: not available ({exc})")
        return
    with player:
        info = player.device_info
        print(f"Playback on {info.name!r} ({info.host_api}) at {player.sample_rate:.0f} Hz, "
              f"PortAudio output latency {1000 * player.output_latency_s:.1f} ms")
        time.sleep(0.5)
        frames_per_callback = player.frames_out / max(1, player.callbacks)
        print(f"  frames per callback: {frames_per_callback:.0f} "
              f"({1000 * frames_per_callback / player.sample_rate:.1f} ms)")

        latencies = []
        rng = np.random.default_rng()
        for _ in range(plays):
            player.first_callback_latency_s = None
            time.sleep(float(rng.uniform(0.0, 0.05)))  # land anywhere within a period
            player.play(from_s=0.0)
            if wait_for(lambda: player.first_callback_latency_s is not None, 2.0):
                latencies.append(player.first_callback_latency_s)
            player.pause()
            wait_for(lambda: not player.is_playing and player._gain == 0.0, 2.0)
        if latencies:
            ms = sorted(1000 * v for v in latencies)
            print(f"  play() to first song samples in a callback, {len(ms)} plays: median {statistics.median(ms):.1f} ms, "
                  f"min {ms[0]:.1f}, max {ms[-1]:.1f}; heard {1000 * player.dac_ahead_s:.1f} ms after "
                  "its callback (outputBufferDacTime - currentTime)")
        else:
            print("  play() to first song samples: no callback output song samples within 2 s")

        stop, counter = threading.Event(), [0]
        worker = threading.Thread(target=lstm_load, args=(stop, counter, torch_threads), daemon=True)
        worker.start()
        time.sleep(1.0)  # torch warms up
        player.set_loop(0.0, player.duration_s)
        underflows, callbacks, timed0 = player.underflows, player.callbacks, player.timed
        forwards0, started = counter[0], time.monotonic()
        player.play(from_s=0.0)
        time.sleep(seconds)
        elapsed = time.monotonic() - started
        player.pause()
        stop.set()
        worker.join(10)
        durations = 1e6 * player.durations_s[timed0:player.timed]
        print(f"  {elapsed:.0f} s of playback while a 2-layer LSTM (8x64x128 -> 256) runs "
              f"{(counter[0] - forwards0) / elapsed:.0f} forwards/s on {torch_threads} torch thread(s):")
        print(f"    underflows: {player.underflows - underflows}  "
              f"(callbacks: {player.callbacks - callbacks}, song frames: {player.song_frames_played})")
        if len(durations):
            print(f"    callback body: mean {durations.mean():.0f} us, p99 {np.percentile(durations, 99):.0f} us, "
                  f"max {durations.max():.0f} us")
        error = player.check()
        if error is not None:
            print(f"    stream problem: {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="playback length under load (default 60)")
    parser.add_argument("--plays", type=int, default=20, help="plays for the latency median (default 20)")
    parser.add_argument("--device", help="output device name or part of it (default: JACK if present)")
    parser.add_argument("--torch-threads", type=int, default=1, help="threads of the LSTM load (default 1)")
    args = parser.parse_args()
    device = int(args.device) if args.device and args.device.isdigit() else args.device
    run(seconds=args.seconds, plays=args.plays, device=device, torch_threads=args.torch_threads)


if __name__ == "__main__":
    main()
