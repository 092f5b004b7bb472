#!/usr/bin/env bash
# Sets up Cantus on Debian or Ubuntu: system libraries (apt), a virtual environment in .venv,
# and the project with its test tools. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Qt's libraries (also for the offscreen platform), the X11/xcb plugin for a real window,
# PortAudio for playback, FluidSynth for the soundfont synth, OpenMP for the Music
# Transformer's compiled step on all cores, ALSA's library for MIDI keyboards (python-rtmidi),
# fonts so that text renders.
APT_PACKAGES=(
  libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0
  libxcb-xinerama0 libxcb-randr0 libxcb-xkb1 libx11-xcb1
  libportaudio2 libsndfile1 libfluidsynth3
  libgomp1
  libasound2
  jackd2
  fonts-dejavu-core
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "cantus setup: installing system packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  # jackd2 (a JACK server for the real-time playback test) asks whether to enable real-time
  # priority; preseed "no", since sudo drops DEBIAN_FRONTEND.
  echo "jackd2 jackd/tweak_rt_limits boolean false" | "${sudo_cmd[@]}" debconf-set-selections
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "cantus setup: creating the virtual environment in .venv"
  python3 -m venv .venv
fi

# Reinstall only when pyproject.toml or setup.py changed since the last successful install.
stamp=.venv/.cantus-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ]; then
  echo "cantus setup: installing Cantus and its Python packages into .venv (torch is pinned to 2.13.0)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  # librosa compiles its numba kernels on first use (about 20 s): once here, not inside a test.
  echo "cantus setup: warming librosa's compiled kernels"
  .venv/bin/python -c 'import numpy as np, librosa; y = np.sin(np.arange(22050) / 3.5).astype(np.float32); librosa.pyin(y, fmin=80, fmax=1000, sr=22050); librosa.feature.melspectrogram(y=y, sr=22050)' >/dev/null
  echo "cantus setup: compiling the WaveNet's sampling step"
  .venv/bin/python -c 'from engine.models.wavenet_step import warm; warm()' >/dev/null
  touch "$stamp"
fi
echo "cantus setup: ready"
