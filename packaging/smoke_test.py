#!/usr/bin/env python3
"""Smoke test of the frozen Cantus (packaging/cantus.spec), run as a user would run it.

    python3 packaging/smoke_test.py [APP]     APP: dist/cantus/cantus (default) or /usr/bin/cantus
    python3 packaging/smoke_test.py --deb dist/cantus_VERSION_ARCH.deb      (as root)

With --deb it installs the package (apt-get, which brings its Depends), checks the desktop
entry, icon and sketch file type are registered, smoke-tests /usr/bin/cantus, purges the
package and checks that none of its files, nor /opt/cantus, is left.

No virtual environment or source tree is on the path: PATH is /usr/bin:/bin, HOME is a fresh
folder, the working folder is a temporary one, and Qt draws offscreen. Each step runs the app and
fails on a non-zero exit (where success is expected), a traceback, or a library that did not load:

- sample two melodies with the bundled MusicVAE, and read them back with `info`;
- the window where there is no display: a sentence; a screenshot of it with that MIDI file open;
- render it with the soundfont synth (FluidSynth and the soundfont carried inside the app), and
  with MelFlow and the fast vocoder; both WAVs must sound;
- vocode the synth's WAV with the WaveNet, whose compiled step must leave numba's cache behind;
- continue it with the bundled Music Transformer;
- build a corpus from a folder with two worker processes (multiprocessing in a frozen app);
  music21's corpus, which the frozen app leaves out, is refused in a sentence;
- `play` it through PortAudio on ALSA's null output; with no sound card, `play` says so in a
  sentence, and the screenshot still works;
- a soundfont that is not there falls back to the built-in synth, and says so;
- a damaged model is refused in a sentence.

Only the standard library is used, so any Python 3.11+ runs it. Prints each step's time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import wave
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROKEN = ("Traceback (most recent call last)", "cannot open shared object file", "ModuleNotFoundError",
          "Could not load the Qt platform plugin", "Failed to execute script", "undefined symbol")
NO_CARD = "pcm.!default { type hw card 42 }\nctl.!default { type hw card 42 }\n"
NULL_CARD = "pcm.!default { type null }\nctl.!default { type hw card 42 }\n"  # plays, into nothing


class SmokeError(AssertionError):
    pass


class Smoke:
    def __init__(self, app: Path, work: Path):
        self.app, self.work = app, work
        (work / "home").mkdir()
        (work / "no-card.conf").write_text(NO_CARD)
        (work / "null-card.conf").write_text(NULL_CARD)
        self.env = {
            "PATH": "/usr/bin:/bin", "HOME": str(work / "home"), "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen", "CANTUS_CACHE_DIR": str(work / "cache"),
            "CANTUS_DATA_DIR": str(work / "data"),
            # The sound system of the machine, but never a JACK server of the test suite's.
            "JACK_NO_START_SERVER": "1", "JACK_DEFAULT_SERVER": "cantus-smoke-test",
        }
        self.times: list[tuple[str, float]] = []

    def run(self, name: str, *args: str, expect: int = 0, sound_card: str | None = None,
            display: bool = True) -> str:
        """Run the app; ``sound_card`` "no" or "null" replaces the machine's ALSA configuration
        with one that has no card, or one whose only output plays into nothing; without
        ``display`` there is no screen at all (not even Qt's offscreen one)."""
        env = dict(self.env)
        if not display:
            del env["QT_QPA_PLATFORM"]
        if sound_card:
            env["ALSA_CONFIG_PATH"] = str(self.work / f"{sound_card}-card.conf")
        started = time.perf_counter()
        out = subprocess.run([str(self.app), *args], cwd=self.work, env=env, capture_output=True,
                             text=True, timeout=600)
        took = time.perf_counter() - started
        self.times.append((name, took))
        said = out.stdout + out.stderr
        broken = [b for b in BROKEN if b in said]
        if out.returncode != expect or broken:
            raise SmokeError(f"{name}: cantus {' '.join(args)} exited {out.returncode} (expected {expect})"
                             + (f", and said {broken}" if broken else "") + f"\n{said}")
        print(f"ok  {took:6.2f} s  {name}", flush=True)
        return said


def check(condition: bool, what: str, said: str = "") -> None:
    if not condition:
        raise SmokeError(f"{what}\n{said}")


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    check(head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG")
    return struct.unpack(">II", head[16:24])


def wav_peak(path: Path) -> tuple[float, float]:
    """(seconds, peak in [0, 1]) of a 16-bit WAV."""
    with wave.open(str(path)) as w:
        check(w.getsampwidth() == 2, f"{path.name} is not 16-bit")
        frames = w.readframes(w.getnframes())
        seconds = w.getnframes() / w.getframerate()
    samples = array("h", frames)
    return seconds, max(map(abs, samples), default=0) / 32768


def smoke(app: Path, work: Path) -> list[tuple[str, float]]:
    s = Smoke(app, work)
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    said = s.run("version", "--version")
    check(said.strip() == f"cantus {version}", f"--version is not {version}", said)
    said = s.run("sample two melodies (MusicVAE)", "sample", "--n", "2", "--seed", "1", "-o", "sampled.mid")
    check("2 melodies" in said, "sample did not write two melodies", said)
    said = s.run("info", "info", "sampled.mid")
    check("notes" in said and "tempo" in said, "info said too little", said)
    said = s.run("the window with no display", "sampled.mid", expect=1, display=False)
    check("there is no display" in said, "no sentence about the missing display", said)
    said = s.run("screenshot of the window", "sampled.mid", "--screenshot", "shot.png")
    check(png_size(work / "shot.png") == (1280, 800), "the screenshot is not the window's size")
    check((work / "shot.png").stat().st_size > 10_000, "the screenshot is nearly empty")

    said = s.run("render with the soundfont synth", "render", "sampled.mid", "-o", "synth.wav")
    check("FluidSynth with TimGM6mb.sf2" in said, "the soundfont synth did not play it", said)
    seconds, peak = wav_peak(work / "synth.wav")
    check(seconds > 2 and peak > 0.05, f"synth.wav is silent or short ({seconds:.1f} s, peak {peak:.3f})")
    said = s.run("render with MelFlow and the fast vocoder", "render", "sampled.mid", "-o", "neural.wav",
                 "--renderer", "neural")
    check("MelFlow" in said, "the neural renderer did not run", said)
    seconds, peak = wav_peak(work / "neural.wav")
    check(seconds > 2 and peak > 0.05, f"neural.wav is silent or short ({seconds:.1f} s, peak {peak:.3f})")

    said = s.run("vocode with the WaveNet (its compiled step)", "vocode", "synth.wav", "-o", "wavenet.wav",
                 "--vocoder", "wavenet")
    check("wavenet" in said, "the WaveNet did not vocode it", said)
    seconds, peak = wav_peak(work / "wavenet.wav")
    check(seconds > 2 and peak > 0.05, f"wavenet.wav is silent or short ({seconds:.1f} s, peak {peak:.3f})")
    check(any((work / "home").rglob("wavenet_step.run_block*.nbi")),
          "the WaveNet's numba step left nothing in numba's cache: it did not run compiled")

    said = s.run("continue (Music Transformer)", "continue", "sampled.mid", "--bars", "2", "--seed", "1",
                 "-o", "continued.mid")
    check("new notes" in said, "continue wrote no notes", said)

    corpus = work / "midi"
    corpus.mkdir()
    shutil.copy(work / "sampled.mid", corpus / "a.mid")
    shutil.copy(work / "continued.mid", corpus / "b.mid")
    said = s.run("corpus build with 2 worker processes", "data", "build", "--source", str(corpus),
                 "--workers", "2", "--quiet")
    check("2 parsed, 0 from cache, 0 failed" in said, "the workers did not parse both files", said)

    said = s.run("music21's corpus, which the app does not carry", "data", "build", "--source", "music21",
                 "--quiet", expect=2)
    check("does not carry music21's corpus" in said, "no sentence about music21's corpus", said)

    said = s.run("play through PortAudio (ALSA's null output)", "play", "sampled.mid", "--start", "1",
                 sound_card="null")
    check("on default (ALSA)" in said and "played to" in said, "play did not play to the end", said)
    said = s.run("play with no sound card", "play", "sampled.mid", expect=2, sound_card="no")
    check("No sound output was found" in said, "no sentence about the missing sound card", said)
    s.run("screenshot with no sound card", "sampled.mid", "--screenshot", "shot2.png", sound_card="no")
    said = s.run("render with a soundfont that is not there", "render", "sampled.mid", "-o", "fallback.wav",
                 "--soundfont", str(work / "gone.sf2"))
    check("does not exist" in said and "built-in synth" in said, "no word about the missing soundfont", said)

    bundled = next(p for p in (app.resolve().parent / "_internal" / "resources" / "models").iterdir()
                   if p.name.startswith("musicvae"))
    damaged = work / "damaged" / bundled.name
    shutil.copytree(bundled, damaged)
    weights = damaged / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    said = s.run("a damaged model", "sample", "--model", str(damaged), "-o", "never.mid", expect=2)
    check("damaged" in said and not (work / "never.mid").exists(), "the damaged model was not refused", said)
    return s.times


def install_remove(deb: Path) -> None:
    """Install the .deb, smoke-test what it installed, remove it, and look for leftovers."""
    if os.geteuid() != 0:
        raise SmokeError("--deb installs a package: run it as root")
    if subprocess.run(["dpkg-query", "-W", "cantus"], capture_output=True).returncode == 0:
        raise SmokeError("a cantus package is installed already; remove it first (dpkg --purge cantus)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    started = time.perf_counter()
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", str(deb.resolve())]
    out = subprocess.run(install, capture_output=True, text=True, env=env)
    if out.returncode != 0:  # a dependency to download, and no package lists yet
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env)
        out = subprocess.run(install, capture_output=True, text=True, env=env)
    check(out.returncode == 0, "apt-get could not install the package", out.stdout + out.stderr)
    print(f"ok  {time.perf_counter() - started:6.2f} s  install {deb.name}")
    try:
        files = subprocess.run(["dpkg-query", "-L", "cantus"], capture_output=True, text=True,
                               check=True).stdout.split("\n")
        files = [f for f in files if f.strip()]
        for needed in ("/usr/bin/cantus", "/opt/cantus/cantus", "/usr/share/applications/cantus.desktop",
                       "/usr/share/mime/packages/cantus.xml", "/usr/share/icons/hicolor/48x48/apps/cantus.png",
                       "/usr/share/icons/hicolor/scalable/apps/cantus.svg"):
            check(needed in files and os.path.lexists(needed), f"the package did not install {needed}")
        globs = Path("/usr/share/mime/globs2")
        if globs.exists():  # shared-mime-info's trigger ran update-mime-database
            check("application/x-cantus:*.cantus" in globs.read_text(), "the .cantus type is not registered")
        work = Path(tempfile.mkdtemp(prefix="cantus-smoke-"))
        try:
            smoke(Path("/usr/bin/cantus"), work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        started = time.perf_counter()
        out = subprocess.run(["dpkg", "--purge", "cantus"], capture_output=True, text=True, env=env)
        check(out.returncode == 0, "dpkg could not remove the package", out.stdout + out.stderr)
        print(f"ok  {time.perf_counter() - started:6.2f} s  remove")
    left = [f for f in files if os.path.lexists(f) and not os.path.isdir(f)] + \
           [d for d in ("/opt/cantus",) if os.path.lexists(d)]
    check(not left, f"removing the package left {left[:10]}")
    if Path("/usr/share/mime/globs2").exists():
        check("x-cantus" not in Path("/usr/share/mime/globs2").read_text(), "the .cantus type is still registered")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("app", nargs="?", default=str(ROOT / "dist" / "cantus" / "cantus"),
                        help="the frozen program (default: dist/cantus/cantus)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder and say where")
    parser.add_argument("--deb", default=None, help="install this .deb, smoke-test it, and remove it (root)")
    args = parser.parse_args(argv)
    if args.deb:
        debs = sorted(Path().glob(args.deb)) if any(c in args.deb for c in "*?") else [Path(args.deb)]
        try:
            started = time.perf_counter()
            check(len(debs) == 1 and debs[0].is_file(), f"no single package at {args.deb}")
            install_remove(debs[0])
            print(f"package test passed in {time.perf_counter() - started:.1f} s ({debs[0]})")
            return 0
        except SmokeError as e:
            print(f"package test FAILED: {e}", file=sys.stderr)
            return 1
    app = Path(args.app).absolute()  # the app runs in a working folder of its own
    if not os.access(app, os.X_OK):
        print(f"smoke test: {app} is not there; build it first (make package)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="cantus-smoke-"))
    try:
        started = time.perf_counter()
        smoke(app, work)
        print(f"smoke test passed in {time.perf_counter() - started:.1f} s ({app})")
        return 0
    except SmokeError as e:
        print(f"smoke test FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"working folder: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
