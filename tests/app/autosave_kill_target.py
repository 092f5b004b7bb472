"""The app as `python -m app FILE` starts it, plus a timer that draws notes: the process the
autosave test kills with SIGKILL.

    python tests/app/autosave_kill_target.py FILE EDITS INTERVAL_MS [SETTLE_S MAX_WAIT_S]

EDITS notes are drawn (0: forever), one every INTERVAL_MS, each as its own undo step, note i
being `note(i)`. After each edit it prints "EDIT i REVISION"; after the last, "SETTLED".
SETTLE_S and MAX_WAIT_S change the autosave timing (the defaults are the app's).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.music.sketch import Note  # noqa: E402


def note(i: int) -> Note:
    return Note(48 + (i * 5) % 36, 40 + (i * 7) % 80, i * 120, i * 120 + 240)


def main() -> int:
    from PySide6.QtCore import QTimer

    from app import launcher
    from app.commands import push
    from app.main_window import MainWindow
    from engine.document import NoteEdit

    path, edits, interval_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if len(sys.argv) > 5:
        MainWindow.AUTOSAVE_SETTLE_S = float(sys.argv[4])
        MainWindow.AUTOSAVE_MAX_WAIT_S = float(sys.argv[5])

    def started(window) -> None:
        count = 0
        timer = QTimer(window)

        def edit() -> None:
            nonlocal count
            push(window.undo_stack, window.document, NoteEdit(0, (), (note(count),), "Draw Note"))
            count += 1
            print(f"EDIT {count} {window.document.revision}", flush=True)
            if count == edits:
                timer.stop()
                print("SETTLED", flush=True)

        timer.timeout.connect(edit)
        timer.start(interval_ms)

    return launcher.main([path], on_started=started)


if __name__ == "__main__":
    raise SystemExit(main())
