"""MIDI input ports (a keyboard, a controller) through mido and python-rtmidi.

Ports are listed over every MIDI system the machine has: ALSA's sequencer and JACK on Linux,
CoreMIDI on macOS, Windows MultiMedia on Windows. A port is named "Keyboard name (ALSA)" so
that two systems offering one keyboard stay apart. Messages arrive on the backend's own thread;
whoever opens a port decides how they reach the GUI.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Callable

from engine.errors import CantusError

log = logging.getLogger(__name__)

# rtmidi's API names, in the order they are tried, and how people call them.
API_LABELS = {
    "LINUX_ALSA": "ALSA",
    "UNIX_JACK": "JACK",
    "MACOSX_CORE": "CoreMIDI",
    "WINDOWS_MM": "Windows",
}
OWN_CLIENT = "RtMidiIn Client"  # what rtmidi calls an input client: our own, never listed


class MidiInputError(CantusError):
    """A MIDI input could not be listed or opened."""


@dataclass(frozen=True)
class MidiPort:
    api: str  # rtmidi's API name ("LINUX_ALSA", "UNIX_JACK", ...)
    name: str  # the port's own name, as the API gives it

    @property
    def label(self) -> str:
        """How the port is shown and remembered: "Keystation 49 MIDI 1 (ALSA)"."""
        return f"{self.name} ({API_LABELS.get(self.api, self.api)})"


def _rtmidi():
    try:
        import rtmidi
    except ImportError:  # pragma: no cover - a dependency, but a broken install can lack it
        return None
    return rtmidi


def available_apis() -> list[str]:
    """The MIDI systems that can be asked for ports here now (an ALSA sequencer needs
    /dev/snd/seq; JACK needs a running server)."""
    rtmidi = _rtmidi()
    if rtmidi is None:
        return []
    names = {getattr(rtmidi, f"API_{name}", None): name for name in API_LABELS}
    apis = []
    for api in rtmidi.get_compiled_api():
        name = names.get(api)
        if name is None:
            continue
        if name == "LINUX_ALSA" and not os.path.exists("/dev/snd/seq"):
            continue  # no sequencer (a container, a server): asking would only print errors
        apis.append(name)
    return apis


def _backend(api: str):
    import mido

    return mido.Backend(f"mido.backends.rtmidi/{api}", load=True)


def input_ports() -> list[MidiPort]:
    """Every MIDI input the machine offers now, over every system that answers (inputs that
    rtmidi clients, Cantus among them, open are not offered)."""
    os.environ.setdefault("JACK_NO_START_SERVER", "1")  # never start a JACK server to look
    ports: list[MidiPort] = []
    for api in available_apis():
        try:
            names = _backend(api).get_input_names()
        except Exception as error:  # noqa: BLE001 - a system that is not running: no ports from it
            log.debug("no MIDI inputs from %s: %s", api, error)
            continue
        ports.extend(MidiPort(api, n) for n in names
                     if not n.startswith(OWN_CLIENT))
    return ports


def find_port(label: str, ports: list[MidiPort] | None = None) -> MidiPort | None:
    """The port of a label (as `MidiPort.label` gives it), else the first whose name contains
    ``label``: ports are renumbered when keyboards come and go."""
    ports = input_ports() if ports is None else ports
    for port in ports:
        if port.label == label:
            return port
    for port in ports:
        if label and (label in port.label or port.name.split(":")[0] in label):
            return port
    return None


class MidiInput:
    """One open input port. ``callback(message)`` runs on the backend's thread for every
    message; `close` (or the context manager) lets the port go."""

    def __init__(self, port: MidiPort | str, callback: Callable[[object], None]) -> None:
        if isinstance(port, str):
            found = find_port(port)
            if found is None:
                raise MidiInputError(
                    f'The MIDI input "{port}" is not connected. Plug the keyboard in, or choose '
                    "another input in Preferences.")
            port = found
        self.port = port
        self.callback = callback
        try:
            self._port = _backend(port.api).open_input(port.name, callback=self._receive)
        except Exception as error:  # noqa: BLE001 - rtmidi raises several kinds
            raise MidiInputError(
                f'The MIDI input "{port.label}" could not be opened ({error}). Is another program '
                "holding it?") from error

    def _receive(self, message) -> None:
        try:
            self.callback(message)
        except Exception:  # noqa: BLE001 - a bug here must not kill the backend's thread
            log.exception("the MIDI input callback failed")

    @property
    def label(self) -> str:
        return self.port.label

    def close(self) -> None:
        port, self._port = getattr(self, "_port", None), None
        if port is not None:
            try:
                port.close()
            except Exception:  # noqa: BLE001
                log.exception("closing the MIDI input failed")

    def __enter__(self) -> "MidiInput":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_virtual_output(name: str, api: str | None = None):
    """A virtual MIDI output (another program's keyboard, for tests and demos): its messages
    reach any input connected to it. ``api`` defaults to the first system that can make one."""
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    apis = [api] if api else [a for a in available_apis() if a in ("LINUX_ALSA", "UNIX_JACK",
                                                                     "MACOSX_CORE")]
    errors = []
    for name_api in apis:
        try:
            return _backend(name_api).open_output(name, virtual=True, client_name=name)
        except Exception as error:  # noqa: BLE001
            errors.append(f"{name_api}: {error}")
    where = "; ".join(errors) or f"no MIDI system here can make a virtual port ({sys.platform})"
    raise MidiInputError(f"A virtual MIDI port could not be made ({where}).")
