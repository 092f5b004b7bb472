"""Drive the window through the model panels and screenshot each (for the README's user guide).

    Xvfb :99 -screen 0 1400x900x24 &
    DISPLAY=:99 .venv/bin/python scripts/panel_screenshots.py docs/

Each shot is taken of the whole X screen with ImageMagick's `import -window root`, as a person
would see it. Uses the bundled models and a POP909 song (../shared/data/pop909).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def settle(app: QApplication, seconds: float = 0.5) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def wait_for(app: QApplication, condition, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def shot(app: QApplication, path: Path) -> None:
    settle(app, 0.8)
    subprocess.run(["import", "-window", "root", str(path)], check=True)
    print("wrote", path)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication([])
    from app.main_window import MainWindow
    from engine.music.midi_io import read_midi
    from engine.music.sketch import Sketch, Track

    song = read_midi(ROOT.parent / "shared" / "data" / "pop909" / "001" / "001.mid")
    melody = next(t for t in song.tracks if t.name.upper().startswith("MELODY"))
    start, bar = 8 * 1920, 1920
    phrase = [n for n in melody.notes if start <= n.start_tick < start + 4 * bar]
    other = [n for n in melody.notes if start + 8 * bar <= n.start_tick < start + 10 * bar]
    sketch = Sketch(tracks=[Track("Melody", 0, False, [n.shifted(ticks=-start) for n in phrase])],
                    tempos=song.tempos[:1], time_signatures=song.time_signatures[:1])

    win = MainWindow()
    win.resize(1400, 900)
    win.move(0, 0)
    win.show()

    # The editor: the whole song open, the melody's bars 9 to 12 selected and looped.
    win.open_file(ROOT.parent / "shared" / "data" / "pop909" / "001" / "001.mid")
    settle(app, 1.0)
    index = next(i for i, t in enumerate(win.document.sketch.tracks) if t.name.upper().startswith("MELODY"))
    win.track_list.select(index)
    win.view.set_selection([n for n in win.document.sketch.tracks[index].notes
                            if start <= n.start_tick < start + 4 * bar])
    win.loop_selection()
    view = win.view
    view.fit_to_content()
    area = view.note_area()  # then zoom in on the bars around the loop, as a person would
    left = next(x for x in range(int(area.left()), int(area.right())) if view.tick_at(x) >= start - 4 * bar)
    view.zoom_horizontal(win.document.sketch.end_tick / (9 * bar), left)
    shot(app, out / "screenshot-editor.png")

    win.set_document(sketch)
    settle(app, 1.0)

    # Latent: A = the first two bars, B = two bars from later in the song; interpolate in 7 steps.
    panel = win.latent_panel
    win.latent_dock.raise_()
    a = Track("A", 0, False, [n for n in sketch.tracks[0].notes if n.start_tick < 2 * bar])
    b = Track("B", 0, False, [n.shifted(ticks=-(start + 8 * bar)) for n in other])
    panel.set_slot("A", a)
    panel.set_slot("B", b)
    handle = panel.interpolate()
    wait_for(app, lambda: handle.finished and panel.thumbs)
    panel.choose(panel.thumbs[3])
    win.view.fit_to_content()
    shot(app, out / "screenshot-latent.png")

    # Continue: four bars in C major, caught while the notes stream in, then finished.
    win.view.clear_proposal()
    win.continue_dock.raise_()
    cont = win.continue_panel
    cont.length.setValue(4)
    cont.lock_seed.setChecked(True)
    cont.seed.setValue(3)
    cont.start()
    wait_for(app, lambda: not cont.running, timeout=120)
    win.view.fit_to_content()
    shot(app, out / "screenshot-continue.png")

    # Render with the soundfont synth and show the spectrogram.
    win.render_dock.raise_()
    job = win.render_panel.render()
    if job is not None:
        wait_for(app, lambda: win.spectrogram.mel is not None, timeout=120)
    shot(app, out / "screenshot-render.png")
    win.close()
    win.bridge.shutdown()


if __name__ == "__main__":
    main()
