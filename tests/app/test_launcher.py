"""The `cantus` command: headless subcommands without Qt, a window otherwise, screenshots for CI."""

import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from app import launcher

REPO = Path(__file__).resolve().parents[2]


def test_screenshot_of_a_real_song(pop909_song, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CANTUS_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "shot.png"
    assert launcher.main([str(pop909_song), "--screenshot", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    image = QImage(str(out))
    assert not image.isNull()
    assert (image.width(), image.height()) == launcher.WINDOW_SIZE
    assert out.stat().st_size > 10_000
    from PySide6.QtWidgets import QApplication

    icon = QApplication.windowIcon()  # the drawn one (resources/icons/cantus.svg), not Qt's
    assert not icon.isNull() and icon.pixmap(64, 64).toImage().pixelColor(32, 32).alpha() == 255
    assert QApplication.desktopFileName() == "cantus"


def test_window_offers_recovery_after_it_shows_then_runs_the_hook(tmp_path, monkeypatch,
                                                                  qtbot, pop909_song):
    import json

    from app.main_window import MainWindow
    from engine import autosave
    from engine.music.sketch import Note, Sketch, Track

    monkeypatch.setenv(autosave.DATA_ENV, str(tmp_path / "data"))
    lost = Sketch.new(tracks=[Track("Lost", notes=[Note(60, 90, 0, 480)])])
    saver = autosave.Autosaver()
    saver.write(lost, tmp_path / "lost.cantus", 3)
    meta = json.loads(saver.meta_path.read_text())
    meta["pid"], meta["pid_started"] = 2 ** 22 + 12345, None  # above Linux's pid_max: gone
    saver.meta_path.write_text(json.dumps(meta))

    seen = []
    monkeypatch.setattr(MainWindow, "ask_recover",
                        lambda self, info: seen.append(("asked", self.isVisible())) or True)
    monkeypatch.setattr(MainWindow, "ask_save_changes", lambda self: "discard")

    def started(window):
        seen.append(("started", window.sketch == lost, window.isWindowModified()))
        window.close()

    assert launcher.main([str(pop909_song)], on_started=started) == 0
    assert seen == [("asked", True), ("started", True, True)]
    assert autosave.find_autosaves() == []
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]


def test_version(capsys):
    import tomllib

    with pytest.raises(SystemExit) as exit_:
        launcher.main(["--version"])
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"cantus {version}"


def test_screenshot_of_a_bad_file_fails_with_a_message(tmp_path, capsys):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    out = tmp_path / "shot.png"
    assert launcher.main([str(bad), "--screenshot", str(out)]) == 2
    assert "bad.mid" in capsys.readouterr().err
    assert not out.exists()


def test_headless_commands_go_to_the_engine_cli(monkeypatch):
    calls = []
    fake = types.ModuleType("engine.cli")
    fake.COMMANDS = frozenset({"info", "render"})
    fake.main = lambda argv: calls.append(list(argv)) or 7
    monkeypatch.setitem(sys.modules, "engine.cli", fake)
    assert launcher.headless_commands() == {"info", "render"}
    assert launcher.main(["render", "a.mid", "--out", "a.wav"]) == 7
    assert calls == [["render", "a.mid", "--out", "a.wav"]]


def test_headless_commands_do_not_import_qt(tmp_path):
    script = textwrap.dedent("""
        import sys, types
        import engine
        fake = types.ModuleType("engine.cli")
        fake.COMMANDS = {"info"}
        fake.main = lambda argv: 3
        sys.modules["engine.cli"] = fake
        from app.launcher import main
        code = main(["info", "x.mid"])
        assert not any(m.startswith("PySide6") for m in sys.modules), "Qt was imported"
        sys.exit(code)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 3, result.stderr


@pytest.mark.parametrize("env, expected", [
    ({}, "offscreen"),
    ({"DISPLAY": ":0"}, None),
    ({"WAYLAND_DISPLAY": "wayland-0"}, None),
    ({"QT_QPA_PLATFORM": "xcb"}, "xcb"),
])
def test_offscreen_only_without_a_display(monkeypatch, env, expected):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "platform", "linux")
    launcher._choose_platform()
    assert os.environ.get("QT_QPA_PLATFORM") == expected
