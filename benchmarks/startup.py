"""Start-up time: from launching Cantus to its window on the screen, for the frozen app
(packaging/, `make package`) and the source app (.venv/bin/cantus), each with a MIDI file open.

The clock stops when xdotool sees the window mapped and named after the file, which the window
does once it is built, shown and has read the file: the first moment a person could click. It
needs an X display (run it under xvfb-run) and xdotool. Each app is started --runs times; the
minimum and the median are printed (the first run also pays for a cold disk cache).

    xvfb-run -a .venv/bin/python benchmarks/startup.py [--runs 5] [--frozen dist/cantus/cantus] [FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def time_to_window(command: list[str], title: str, env: dict) -> float:
    started = time.perf_counter()
    app = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title],
                                   capture_output=True, text=True)
            if found.stdout.strip():
                return time.perf_counter() - started
            if app.poll() is not None:
                raise SystemExit(f"startup: {command[0]} exited ({app.returncode}) before its window showed")
            if time.perf_counter() - started > 120:
                raise SystemExit(f"startup: no window titled {title!r} within 120 s")
            time.sleep(0.02)
    finally:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", default=None, help="a MIDI file to open (default: one sampled here)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frozen", default=str(ROOT / "dist" / "cantus" / "cantus"))
    parser.add_argument("--source", default=str(ROOT / ".venv" / "bin" / "cantus"))
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY") or not shutil.which("xdotool"):
        print("startup: needs an X display and xdotool (xvfb-run -a ...; apt-get install xvfb xdotool)",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CANTUS_DATA_DIR": str(Path(tmp) / "data"), "HOME": tmp}
        midi = Path(args.file) if args.file else Path(tmp) / "phrase.mid"
        if not args.file:
            subprocess.run([args.source, "sample", "--n", "1", "--seed", "1", "-o", str(midi)], check=True,
                           capture_output=True)
        results = {}
        for label, program in (("frozen app", args.frozen), ("source app", args.source)):
            if not os.access(program, os.X_OK):
                print(f"{label:11} {program} is not there (make package builds the frozen app)")
                continue
            times = [time_to_window([program, str(midi)], midi.name, env) for _ in range(args.runs)]
            results[label] = times
            print(f"{label:11} to a usable window: min {min(times):.2f} s, median {statistics.median(times):.2f} s "
                  f"({args.runs} runs: {', '.join(f'{t:.2f}' for t in times)})")
        if len(results) == 2:
            print(f"frozen / source (median): {statistics.median(results['frozen app']) / statistics.median(results['source app']):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
