"""Optional native libraries, imported once and quietly."""

from __future__ import annotations

import contextlib
import io
from functools import lru_cache


@lru_cache(maxsize=1)
def fluidsynth():
    """pyfluidsynth's module, or None where libfluidsynth is missing.

    pyfluidsynth prints where it found the library whenever the CI variable is set, and
    pretty_midi imports it too: importing it here first, with stdout held, keeps that line
    out of the command line's output (`cantus info --json` must stay valid JSON).
    """
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            import fluidsynth as module
        except (ImportError, OSError):
            return None
    return module
