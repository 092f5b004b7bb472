"""PyInstaller runtime hook: the frozen app's own PortAudio and FluidSynth, and numba's cache.

sounddevice and pyfluidsynth find their C library with ctypes.util.find_library("portaudio")
and ("fluidsynth"), which only searches the system. The frozen app carries both libraries (see
cantus.spec); point those two names at the copies beside the program, and leave every other
name to the system.

numba caches compiled code beside a function's source when it may write there, which for a
package installed by root is inside /opt/cantus, where removing the package would leave it
behind; the user's cache folder is the place."""

import ctypes.util
import os
import sys

_BUNDLED = {"portaudio": "libportaudio.so.2", "fluidsynth": "libfluidsynth.so.3"}
_system_find_library = ctypes.util.find_library


def _find_library(name):
    bundled = _BUNDLED.get(name)
    if bundled:
        path = os.path.join(sys._MEIPASS, bundled)
        if os.path.exists(path):
            return path
    return _system_find_library(name)


ctypes.util.find_library = _find_library


if "NUMBA_CACHE_DIR" not in os.environ:
    import platformdirs

    os.environ["NUMBA_CACHE_DIR"] = os.path.join(platformdirs.user_cache_dir("cantus"), "numba")
