"""Test-wide setup: Qt offscreen, an ALSA null audio device, data paths."""

import os
from pathlib import Path

import pytest

# Both must be set before Qt or sounddevice are first imported.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("ALSA_CONFIG_PATH", str(Path(__file__).with_name("alsa-null.conf")))

# Under pytest-xdist (`-n 2` on 2 cores) each worker gets one compute thread. Two workers with
# two spinning OpenMP threads each made a 3-second model fixture take ten minutes.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass

REPO = Path(__file__).resolve().parent.parent
POP909 = REPO.parent / "shared" / "data" / "pop909"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    # Tests never read or write the user's corpus cache.
    monkeypatch.setenv("CANTUS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def pop909_dir() -> Path:
    if not POP909.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"POP909 is not at {POP909}; CI must run with shared/ beside the repository")
        pytest.skip(f"POP909 is not at {POP909}")
    return POP909


@pytest.fixture(scope="session")
def pop909_files(pop909_dir) -> list[Path]:
    return sorted(pop909_dir.glob("*/*.mid"))


def skip_or_fail(reason: str):
    """Skip where a part of the machine is missing; under CI (which sets it all up) fail instead."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def missing():
    """`skip_or_fail`, for tests that find a part missing themselves."""
    return skip_or_fail


@pytest.fixture(scope="session")
def jack_device():
    """The output device of the JACK dummy server that keeps real time (scripts/start-jack.sh)."""
    from engine.audio.player import list_output_devices

    jack = [d for d in list_output_devices() if "jack" in d.host_api.lower()]
    if not jack:
        skip_or_fail("no JACK output device: no JACK server was running when PortAudio started "
                     "(scripts/start-jack.sh starts one; `make test` runs it)")
    return jack[0]


@pytest.fixture
def type2_midi():
    """Writes a type 2 MIDI file: two patterns of one bar each (480 ticks a quarter), C D at
    100 qpm, then E F at 140; returns its path."""
    import mido

    def write(path):
        midi = mido.MidiFile(type=2, ticks_per_beat=480)
        for qpm, pitches in ((100, (60, 62)), (140, (64, 65))):
            track = mido.MidiTrack()
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm), time=0))
            for p in pitches:
                track.append(mido.Message("note_on", note=p, velocity=90, time=0))
                track.append(mido.Message("note_off", note=p, velocity=0, time=960))
            track.append(mido.MetaMessage("end_of_track", time=0))
            midi.tracks.append(track)
        midi.save(str(path))
        return path

    return write
