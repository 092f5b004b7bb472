"""Sound output devices through sounddevice (PortAudio): list them, find the one a name or number
means, and close a stream whose device died. Imported lazily: a machine without PortAudio can
still import Cantus, and playback then says what to install.
"""

from __future__ import annotations

import atexit
import importlib
import sys
import threading
from typing import NamedTuple

import numpy as np

from engine.errors import CantusError

__all__ = ["AudioDeviceError", "OutputDevice", "list_output_devices", "open_output_stream"]


# Streams whose device died and that would not close: PortAudio's JACK host API waits minutes
# for a server that is gone. They are kept referenced (their callback must stay alive) and never
# touched again; PortAudio is then not terminated at exit, which would wait on them too.
_abandoned_streams: list = []


class AudioDeviceError(CantusError):
    """The sound output could not be found, opened or kept running."""


class OutputDevice(NamedTuple):
    """One output device as PortAudio sees it."""

    index: int  # PortAudio device index
    name: str
    host_api: str  # "ALSA", "JACK Audio Connection Kit", "Core Audio", ...
    default_sample_rate: float  # Hz; the rate the player opens it at


def _load_sounddevice():
    # Kept apart so that tests can stand in for a machine without PortAudio.
    return importlib.import_module("sounddevice")


def _sounddevice():
    try:
        return _load_sounddevice()
    except OSError as exc:  # sounddevice raises OSError when libportaudio cannot be loaded
        raise AudioDeviceError(
            "Cantus cannot play sound because the PortAudio library is missing. Install it "
            "(on Debian or Ubuntu: sudo apt install libportaudio2) and restart Cantus."
        ) from exc
    except ImportError as exc:
        raise AudioDeviceError(
            "Cantus cannot play sound because the Python package sounddevice is not installed."
        ) from exc


def list_output_devices(rescan: bool = False) -> list[OutputDevice]:
    """Every device that can play sound.

    Parameters
    ----------
    rescan : bool
        Ask PortAudio to look for devices again (one plugged in, a JACK server started since).
        This re-initialises PortAudio, which stops every stream open in this process.

    Returns
    -------
    devices : list of OutputDevice
        ``(index, name, host_api, default_sample_rate)`` tuples, in PortAudio's order.

    Raises
    ------
    AudioDeviceError
        PortAudio is missing or cannot list its devices.
    """
    sd = _sounddevice()
    try:
        if rescan and not _abandoned_streams:  # terminating would wait on an abandoned stream
            sd._terminate()  # sounddevice's documented way to refresh the device list
            sd._initialize()
        apis = sd.query_hostapis()
        devices = sd.query_devices()
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"The sound system could not list its outputs ({exc}).") from exc
    return [
        OutputDevice(int(d["index"]), str(d["name"]), str(apis[d["hostapi"]]["name"]),
                     float(d["default_samplerate"]))
        for d in devices
        if d["max_output_channels"] > 0
    ]


def _describe(devices: list[OutputDevice]) -> str:
    return ", ".join(f'{d.index}: "{d.name}" ({d.host_api})' for d in devices)


def _find_output_device(sd, device: int | str | None) -> tuple[OutputDevice, int]:
    """The device that ``device`` names, with its number of output channels."""
    devices = list_output_devices()
    if not devices:
        raise AudioDeviceError(
            "No sound output was found. Connect headphones or speakers, or check that the "
            "sound system is running, then press Play again."
        )
    found = None
    if device is None:
        try:
            default = int(sd.query_devices(kind="output")["index"])
        except (sd.PortAudioError, ValueError, KeyError):
            default = -1
        found = next((d for d in devices if d.index == default), devices[0])
    elif isinstance(device, (int, np.integer)) and not isinstance(device, bool):
        found = next((d for d in devices if d.index == int(device)), None)
        if found is None:
            raise AudioDeviceError(
                f"There is no sound output number {int(device)}. "
                f"The outputs are: {_describe(devices)}."
            )
    elif isinstance(device, str):
        want = device.strip().lower()
        found = (
            next((d for d in devices if d.name.lower() == want), None)
            or next((d for d in devices if want and want in d.name.lower()), None)
            or next((d for d in devices if want and want in d.host_api.lower()), None)
        )
        if found is None:
            raise AudioDeviceError(
                f'No sound output called "{device}" was found. '
                f"The outputs are: {_describe(devices)}."
            )
    else:
        raise TypeError(f"device must be None, an index or a name, not {type(device).__name__}")
    try:
        channels = int(sd.query_devices(found.index)["max_output_channels"])
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f'The sound output "{found.name}" cannot be used ({exc}).') from exc
    return found, channels


def open_output_stream(device: int | str | None, latency_s: float, blocksize: int, callback,
                       finished_callback, prepare) -> tuple[object, OutputDevice, int]:
    """(a started float32 output stream, its device, its channels: 2, or 1 on a one-channel
    device) on the device that ``device`` names (see `engine.audio.player.Player`), at the
    device's own default rate. ``prepare(sample_rate, channels)`` is called before the stream
    starts; then ``callback(outdata, frames, time_info, status)`` for each block, and
    ``finished_callback()`` when it stops for good."""
    sd = _sounddevice()
    info, max_channels = _find_output_device(sd, device)
    channels = 2 if max_channels >= 2 else 1
    prepare(info.default_sample_rate, channels)
    stream = None
    try:
        stream = sd.OutputStream(
            device=info.index, samplerate=info.default_sample_rate, channels=channels,
            dtype="float32", blocksize=blocksize, latency=latency_s,
            callback=callback, finished_callback=finished_callback,
        )
        stream.start()
    except (sd.PortAudioError, ValueError) as exc:
        if stream is not None:
            stream.close(ignore_errors=True)
        raise AudioDeviceError(
            f'The sound output "{info.name}" ({info.host_api}) could not be opened ({exc}). '
            "Check that it is connected and not taken by another program, then press Play again."
        ) from exc
    return stream, info, channels


def _close_stream(stream, alive: bool) -> None:
    """Closes a stream; one whose device died is closed on a helper thread, or abandoned."""
    if alive:
        stream.abort(ignore_errors=True)
        stream.close(ignore_errors=True)
        return
    done = threading.Event()

    def close():
        try:
            stream.abort(ignore_errors=True)
            stream.close(ignore_errors=True)
        except Exception:  # a dead device may refuse even this; it is gone either way
            pass
        done.set()

    threading.Thread(target=close, name="cantus-close-dead-stream", daemon=True).start()
    if not done.wait(0.5):
        _abandoned_streams.append(stream)
        sd = sys.modules.get("sounddevice")
        if sd is not None and hasattr(sd, "_exit_handler"):
            atexit.unregister(sd._exit_handler)
