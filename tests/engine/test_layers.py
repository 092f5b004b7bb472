"""engine/ is importable with no Qt: importing every engine module pulls in no Qt and no app."""

import pkgutil
import subprocess
import sys

import engine

CHECK = """
import importlib, pkgutil, sys
import engine
names = [m.name for m in pkgutil.walk_packages(engine.__path__, "engine.") if m.name != "engine.__main__"]
for name in names:
    importlib.import_module(name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6", "app"))
print(len(names), bad)
assert not bad, bad
"""


def test_engine_imports_no_qt():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr + out.stdout
    count = int(out.stdout.strip().splitlines()[-1].split()[0])
    assert count >= 10  # the walk really found the engine's modules


def test_no_engine_source_mentions_qt():
    # A second guard that also catches imports inside functions never run by the first test.
    for mod in pkgutil.walk_packages(engine.__path__, "engine."):
        spec = mod.module_finder.find_spec(mod.name.rsplit(".", 1)[-1])
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        text = open(spec.origin, encoding="utf-8").read()
        for banned in ("import PySide6", "from PySide6", "import pyqtgraph", "from pyqtgraph",
                       "from app", "import app"):
            assert banned not in text, f"{spec.origin} contains {banned!r}"
