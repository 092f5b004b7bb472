"""The `cantus` command: headless subcommands go to engine.cli without Qt; otherwise the window.

    cantus                      open an empty window
    cantus song.mid             open a MIDI file or a .cantus sketch
    cantus song.mid --screenshot shot.png
                                render the window to a PNG and exit (works with no display)
    cantus info song.mid        a headless command (see `cantus info --help`)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from typing import Callable, Sequence

WINDOW_SIZE = (1280, 800)


def headless_commands() -> frozenset[str]:
    """The subcommands that engine.cli runs without a window."""
    from engine.cli import COMMANDS

    return COMMANDS


def _run_headless(argv: list[str]) -> int:
    from engine.cli import main as cli_main

    return int(cli_main(argv) or 0)


def _parse_gui_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="cantus",
        description="Cantus, a melody sketchbook. Headless commands: "
                    + ", ".join(sorted(headless_commands())) + ".")
    parser.add_argument("file", nargs="?", help="a MIDI file (.mid) or a sketch (.cantus) to open")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="render the window to this PNG and exit, without an event loop")
    from engine import __version__

    parser.add_argument("--version", action="version", version=f"cantus {__version__}")
    return parser.parse_args(argv)


def _choose_platform() -> bool:
    """Pick Qt's platform; False when there is no screen to show a window on.

    With no display server (a CI box, ssh) Qt would abort; draw offscreen instead. Only on
    X11/Wayland systems: macOS and Windows have no DISPLAY and need none.
    """
    if sys.platform in ("win32", "darwin") or "QT_QPA_PLATFORM" in os.environ:
        return True
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return False
    return True


def main(argv: Sequence[str] | None = None, *, on_started: Callable | None = None) -> int:
    """Entry point of the `cantus` console script; returns the process exit code.

    ``on_started(window)`` is called once the window shows and the start-up questions
    (recovering a crashed session) are answered; scripts and tests drive the app through it.
    """
    # A frozen app (packaging/) is its own Python: the corpus builder's worker processes start
    # as this program with multiprocessing's arguments, which this turns into a worker.
    multiprocessing.freeze_support()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] in headless_commands():
        return _run_headless(argv)
    args = _parse_gui_args(argv)

    if not _choose_platform() and not args.screenshot:
        print("cantus: there is no display to open the window on (DISPLAY and WAYLAND_DISPLAY "
              "are unset). Run Cantus on a desktop, under Xvfb (xvfb-run cantus), or render "
              "the window to a picture: cantus FILE --screenshot OUT.png", file=sys.stderr)
        return 1
    from PySide6.QtCore import QEvent, Qt, QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from app.main_window import APP_NAME, MainWindow
    from app.theme import apply_dark_theme
    from engine.registry import resource

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv and sys.argv[0] else "cantus"])
        app.setApplicationName(APP_NAME)
        app.setOrganizationName(APP_NAME)
        app.setApplicationDisplayName(APP_NAME)
        apply_dark_theme(app)
    # The desktop entry's name (packaging/linux/cantus.desktop): Wayland shells find the icon and
    # the window's launcher through it.
    app.setDesktopFileName("cantus")
    app.setWindowIcon(QIcon(str(resource("icons", "cantus.svg"))))

    window = MainWindow()
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.resize(*WINDOW_SIZE)

    if args.screenshot:
        # No dialog may wait for a click here: errors go to stderr.
        window.show_error = lambda title, message: print(f"cantus: {message}", file=sys.stderr)
        try:
            if args.file and not window.open_file(args.file):
                return 2
            window.show()
            app.processEvents()
            window.view.fit_to_content()
            app.processEvents()
            if not window.grab().save(args.screenshot):
                print(f"cantus: could not write the screenshot to {args.screenshot}",
                      file=sys.stderr)
                return 1
            print(args.screenshot)
            return 0
        finally:
            window.close()
            QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)

    window.show()
    if args.file:
        window.open_file(args.file)

    def started() -> None:
        # In the event loop, so that the window is drawn before any question is asked.
        window.offer_recovery()
        if on_started is not None:
            on_started(window)

    QTimer.singleShot(0, started)
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
