"""The pieces of packaging/ that can be checked without freezing the app (make package-test does
that): the desktop entry and the sketch file type agree with the app, the runtime hook points
the two C libraries at the app's own copies, and the .deb's dependencies come from what the
binaries need and the bundle does not carry."""

import ctypes.util
import importlib.util
import shutil
import sys
import xml.etree.ElementTree as ET
from configparser import ConfigParser
from pathlib import Path

import pytest

from engine.music.sketch import Note, Sketch, Track
from engine.music.sketch_file import SUFFIX, save_sketch

ROOT = Path(__file__).resolve().parents[1]
LINUX = ROOT / "packaging" / "linux"
MIME = "{http://www.freedesktop.org/standards/shared-mime-info}"


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mime_type():
    return ET.parse(LINUX / "cantus-mime.xml").getroot().find(f"{MIME}mime-type")


def test_the_sketch_type_matches_what_cantus_saves(tmp_path):
    sketch = Sketch.new(qpm=100)
    sketch.tracks.append(Track("Tune", 0, False, [Note(60, 90, 0, 480)]))
    saved = save_sketch(sketch, tmp_path / f"tune{SUFFIX}")
    node = mime_type()
    assert node.find(f"{MIME}glob").get("pattern") == f"*{SUFFIX}"
    match = node.find(f"{MIME}magic/{MIME}match")
    first, last = (int(x) for x in match.get("offset").split(":"))
    head = saved.read_bytes()[:last + len(match.get("value"))]
    assert match.get("value").encode() in head[first:]


def test_the_desktop_entry_opens_sketches_and_midi_with_the_drawn_icon():
    from app.window_dialogs import APP_NAME

    entry = ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(LINUX / "cantus.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Exec"].split()[0] == "cantus" and "%f" in desktop["Exec"]
    assert (ROOT / "resources" / "icons" / f"{desktop['Icon']}.svg").is_file()
    types = desktop["MimeType"].rstrip(";").split(";")
    assert mime_type().get("type") in types and "audio/midi" in types
    assert desktop["StartupWMClass"] == APP_NAME  # Qt's WM_CLASS class is the application name
    if shutil.which("desktop-file-validate"):
        import subprocess

        out = subprocess.run(["desktop-file-validate", str(LINUX / "cantus.desktop")], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_the_runtime_hook_finds_the_apps_own_portaudio_and_fluidsynth(tmp_path, monkeypatch):
    (tmp_path / "libportaudio.so.2").write_bytes(b"")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", ctypes.util.find_library)  # restored after
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    load("rthook_cantus", ROOT / "packaging" / "rthook_cantus.py")
    assert ctypes.util.find_library("portaudio") == str(tmp_path / "libportaudio.so.2")
    # not carried here: the system's, as before
    assert ctypes.util.find_library("fluidsynth") in (None, "libfluidsynth.so.3")
    assert ctypes.util.find_library("m") == "libm.so.6"


@pytest.mark.skipif(not (shutil.which("objdump") and shutil.which("dpkg-query")), reason="needs binutils and dpkg")
def test_the_packages_dependencies_are_what_the_bundle_needs_and_does_not_carry(tmp_path):
    make_deb = load("make_deb", ROOT / "packaging" / "make_deb.py")
    portaudio = make_deb.linker_cache()["libportaudio.so.2"]  # needs ALSA's and JACK's libraries
    shutil.copy(portaudio, tmp_path / "libportaudio.so.2")
    depends, missing = make_deb.system_dependencies(tmp_path)
    assert depends[0].startswith("libc6 (>= 2.") and "libasound2" in depends and missing == []
    assert any(d.startswith("libjack") for d in depends) and "libportaudio2" not in depends

    shutil.copy(make_deb.linker_cache()["libasound.so.2"], tmp_path / "libasound.so.2")  # carried now
    depends, _ = make_deb.system_dependencies(tmp_path)
    assert "libasound2" not in depends
