"""The built wheel holds everything: installed into a fresh virtual environment (its dependencies
borrowed from the test's own environment, none of the source tree), `cantus sample` and `cantus
continue` run with the bundled models, found through the installed package."""

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from engine.music.midi_io import read_midi, write_midi
from engine.music.sketch import Note, Sketch, Track

ROOT = Path(__file__).resolve().parents[1]
MODELS = sorted(p.name for p in (ROOT / "resources" / "models").iterdir() if (p / "weights.safetensors").is_file())


def run(args, cwd, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, env={**clean, **env})
    assert out.returncode == 0, f"{args}\n{out.stdout}\n{out.stderr}"
    return out.stdout


def test_the_wheel_installs_and_runs_its_bundled_models(tmp_path):
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        cwd=tmp_path)
    for built in [ROOT / "build" / "lib", *(ROOT / "build").glob("bdist.*")]:  # setuptools builds in the
        shutil.rmtree(built, ignore_errors=True)  # tree (build/pyinstaller is make package's)
    wheel = next(wheels.glob("cantus-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for model in MODELS:
        for part in ("config.json", "weights.safetensors", "CARD.md"):
            assert f"cantus_resources/models/{model}/{part}" in names
    assert {"cantus_resources/README.md", "cantus_resources/icons/cantus.svg",
            "cantus_resources/docs/screenshot-editor.png"} <= names

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       cwd=tmp_path).strip())
    # The dependencies (torch, Qt, ...) come from this environment's site-packages; a directory
    # named in a .pth is not scanned for .pth files, so an editable install there is not seen.
    deps = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    (purelib / "cantus-deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-compile", "-q", str(wheel)],
        cwd=tmp_path)

    where = run([str(python), "-c", "import engine, engine.registry as r; print(engine.__file__); print(r.MODELS_DIR); "
                 "print(r.readme()); print(r.resource('icons', 'cantus.svg'))"], cwd=tmp_path).split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # not the source tree's
    assert "## The window" in Path(where[2]).read_text() and Path(where[3]).is_file()  # the Help menu's guide
    cantus = str(venv / "bin" / "cantus")
    said = run([cantus, "sample", "--n", "2", "--seed", "1", "-o", str(tmp_path / "sampled.mid")], cwd=tmp_path)
    assert "2 melodies" in said and read_midi(tmp_path / "sampled.mid").tracks[0].notes

    sketch = Sketch.new(qpm=120)
    sketch.tracks.append(Track("Melody", 0, False, [Note(p, 90, i * 240, (i + 1) * 240)
                                                   for i, p in enumerate([57, 60, 64, 62, 60, 59, 57, 64])]))
    write_midi(sketch, tmp_path / "phrase.mid")
    run([cantus, "continue", str(tmp_path / "phrase.mid"), "--bars", "2", "--seed", "1", "-o", str(tmp_path / "on.mid")],
        cwd=tmp_path, CANTUS_COMPILED_STEP="0")
    continued = read_midi(tmp_path / "on.mid")
    assert len(continued.tracks) == 2 and continued.tracks[1].notes
