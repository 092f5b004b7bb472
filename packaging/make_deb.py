"""Wrap the frozen app (dist/cantus, from packaging/cantus.spec) in a Debian package.

    .venv/bin/python packaging/make_deb.py [--dist dist/cantus] [--out dist]

The package holds:
    /opt/cantus/                          the frozen app (cantus and its _internal/ folder)
    /usr/bin/cantus                       a link to /opt/cantus/cantus
    /usr/share/applications/cantus.desktop
    /usr/share/mime/packages/cantus.xml   the .cantus type (application/x-cantus)
    /usr/share/icons/hicolor/...          the icon, as SVG and PNGs (apps/cantus, and
                                          mimetypes/application-x-cantus for sketches)
    /usr/share/doc/cantus/copyright

Its Depends are worked out from the app itself: every shared library that a bundled binary needs
and the bundle does not carry is looked up in the dynamic linker's cache and then in dpkg's
database, so the package names exactly the system libraries it loads (libc6 with the newest
glibc symbol version used). Desktop, MIME and icon caches are refreshed by the triggers of
desktop-file-utils, shared-mime-info and hicolor-icon-theme, so the package needs no maintainer
scripts, and removing it leaves nothing behind.

Needs dpkg-deb and objdump (binutils), and PySide6 to draw the PNG icons from the SVG.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
# Loaded by hand (ctypes) by a library for hardware Cantus does not use, or optional: no dependency.
OPTIONAL = ("libamdhip64", "libhiprtc", "libtbb", "libcuda", "libnvrtc", "libOpenCL")
# Libraries that more than one package provides: any of them will do.
ALTERNATIVES = {"libjack-jackd2-0": "libjack-jackd2-0 | libjack0"}

DESCRIPTION = """\
a sketchbook for melodies, with generative models
 Cantus is a desktop application for sketching music: a piano roll to draw,
 edit, play and hear melodies; MusicVAE to interpolate, sample and vary them;
 a Music Transformer that carries a phrase on; and neural audio rendering
 (MelFlow and two vocoders) beside a soundfont synth. Export to MIDI and WAV.
 Every model was trained by Cantus's own code and ships inside the package;
 it runs on the CPU."""


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def elf_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p)]


def needed_and_glibc(binary: Path) -> tuple[list[str], tuple[int, ...]]:
    """(the sonames ``binary`` needs, the newest GLIBC_x.y symbol version it uses)."""
    out = subprocess.run(["objdump", "-p", "-T", str(binary)], capture_output=True, text=True).stdout
    needed = re.findall(r"^\s+NEEDED\s+(\S+)", out, re.M)
    versions = [tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out)]
    return needed, max(versions, default=(0,))


def linker_cache() -> dict[str, str]:
    """soname: path, for this machine's architecture, from ``ldconfig -p``."""
    arch = {"x86_64": "x86-64", "aarch64": "AArch64"}.get(os.uname().machine, "")
    found: dict[str, str] = {}
    for line in subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True, check=True).stdout.splitlines():
        name, sep, path = line.strip().partition(" => ")
        if sep and arch in name:
            found.setdefault(name.split(" ")[0], path)
    return found


def owning_package(path: str) -> str | None:
    """The Debian package that installed ``path`` (following /lib -> /usr/lib), or None."""
    for candidate in dict.fromkeys([path, os.path.realpath(path), path.replace("/usr/lib/", "/lib/", 1),
                                    os.path.realpath(path).replace("/usr/lib/", "/lib/", 1)]):
        out = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.split(":")[0].strip()
    return None


def system_dependencies(app: Path) -> tuple[list[str], list[str]]:
    """(Depends entries, sonames needed but found nowhere) for the frozen app in ``app``."""
    binaries = elf_files(app)
    carried = {p.name for p in app.rglob("*")}
    needed: set[str] = set()
    glibc: tuple[int, ...] = (0,)
    for binary in binaries:
        names, newest = needed_and_glibc(binary)
        needed.update(names)
        glibc = max(glibc, newest)
    from_system = sorted(n for n in needed if n not in carried)
    cache = linker_cache()
    packages: set[str] = set()
    missing = []
    for soname in from_system:
        path = cache.get(soname)
        package = owning_package(path) if path else None
        if package:
            packages.add(package)
        elif not soname.startswith(OPTIONAL) and not soname.startswith(("ld-linux", "linux-vdso")):
            missing.append(soname)
    depends = [ALTERNATIVES.get(p, p) for p in sorted(packages - {"libc6"})]
    libc = f"libc6 (>= {'.'.join(map(str, glibc))})" if glibc > (0,) else "libc6"
    return [libc, *depends], missing


def draw_icons(svg: Path, root: Path) -> None:
    """The SVG and PNGs of it in every size, as the app icon and as the sketch file type's."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_deb: {svg} is not a valid SVG")
    hicolor = root / "usr/share/icons/hicolor"
    for context, name in (("apps", "cantus"), ("mimetypes", "application-x-cantus")):
        scalable = hicolor / "scalable" / context
        scalable.mkdir(parents=True, exist_ok=True)
        shutil.copy(svg, scalable / f"{name}.svg")
        for size in ICON_SIZES:
            image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(0)
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            renderer.render(painter)
            painter.end()
            folder = hicolor / f"{size}x{size}" / context
            folder.mkdir(parents=True, exist_ok=True)
            if not image.save(str(folder / f"{name}.png")):
                raise SystemExit(f"make_deb: could not write the {size} px icon")


COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Cantus

Files: *
Copyright: the Cantus developers
License: MIT
 Cantus's own code, icon and bundled models (resources/models/*/CARD.md in the source say what
 each model was trained on; some training data, such as the Essen folk songs in the music21
 corpus, is for non-commercial use).

Files: opt/cantus/_internal/*
License: various
 The frozen app carries Python (PSF), Qt 6 through PySide6 (LGPL-3), PyTorch (BSD-3-Clause),
 NumPy and SciPy (BSD-3-Clause), numba and llvmlite (BSD-2-Clause, LLVM: Apache-2.0 with LLVM
 exception), librosa (ISC), FluidSynth (LGPL-2.1+), PortAudio (MIT), libsndfile (LGPL-2.1+),
 and the TimGM6mb soundfont (GPL-2, by Tim Brechbill, through pretty_midi). Each package's
 licence text is in its folder under /opt/cantus/_internal where the package ships one.
"""


def build(dist: Path, out: Path) -> Path:
    if not (dist / "cantus").is_file():
        raise SystemExit(f"make_deb: {dist}/cantus is not there; build the frozen app first (make package)")
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    name = f"cantus_{version()}_{arch}"
    stage = ROOT / "build" / "deb" / name
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(dist, stage / "opt" / "cantus", symlinks=True)
    (stage / "usr/bin").mkdir(parents=True)
    (stage / "usr/bin/cantus").symlink_to("/opt/cantus/cantus")
    for source, target in ((ROOT / "packaging/linux/cantus.desktop", "usr/share/applications/cantus.desktop"),
                           (ROOT / "packaging/linux/cantus-mime.xml", "usr/share/mime/packages/cantus.xml")):
        (stage / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, stage / target)
    draw_icons(ROOT / "resources/icons/cantus.svg", stage)
    doc = stage / "usr/share/doc/cantus"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT)

    depends, missing = system_dependencies(stage / "opt" / "cantus")
    if missing:
        print(f"make_deb: no installed package provides {', '.join(missing)} (left out of Depends)", file=sys.stderr)
    size_kb = sum(p.lstat().st_size for p in stage.rglob("*")) // 1024
    (stage / "DEBIAN").mkdir()
    (stage / "DEBIAN/control").write_text(
        f"Package: cantus\nVersion: {version()}\nArchitecture: {arch}\n"
        "Maintainer: The Cantus developers <cantus@users.noreply.github.com>\n"
        f"Installed-Size: {size_kb}\nDepends: {', '.join(depends)}\n"
        "Recommends: shared-mime-info, desktop-file-utils, hicolor-icon-theme\n"
        "Section: sound\nPriority: optional\n"
        f"Description: {DESCRIPTION}\n")
    for path in stage.rglob("*"):  # dpkg wants sane permissions whatever the umask was
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("cantus_*.deb"):  # one package in dist/, the one just built
        old.unlink()
    deb = out / f"{name}.deb"
    started = time.perf_counter()
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "-z6", "--build", str(stage), str(deb)],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"wrote {deb.relative_to(ROOT) if deb.is_relative_to(ROOT) else deb}: {deb.stat().st_size / 2**20:.0f} MB "
          f"({size_kb / 1024:.0f} MB installed; dpkg-deb took {time.perf_counter() - started:.0f} s)\n"
          f"Depends: {', '.join(depends)}")
    shutil.rmtree(stage)  # a second copy of the app (1 GB)
    return deb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", default=str(ROOT / "dist" / "cantus"), help="the frozen app's folder")
    parser.add_argument("--out", default=str(ROOT / "dist"), help="where the .deb goes")
    args = parser.parse_args(argv)
    build(Path(args.dist), Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
