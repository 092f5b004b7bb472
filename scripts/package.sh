#!/usr/bin/env bash
# make package: the frozen app (PyInstaller, packaging/cantus.spec) in dist/cantus/, and a Debian
# package of it in dist/ (packaging/make_deb.py). Needs `make setup` first; adds PyInstaller to
# .venv and binutils (strip, objdump) to the system when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v objdump >/dev/null || ! command -v strip >/dev/null || ! command -v dpkg-deb >/dev/null; then
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  echo "cantus package: installing binutils"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends binutils dpkg >/dev/null
fi
# (sed reads pip's whole answer: grep -q would stop early, and pipefail would count pip's SIGPIPE)
if [ "$(.venv/bin/python -m pip show pyinstaller 2>/dev/null | sed -n 's/^Version: //p')" != "6.22.3" ]; then
  echo "cantus package: installing PyInstaller into .venv"
  .venv/bin/python -m pip install --quiet "pyinstaller==6.22.3" "pyinstaller-hooks-contrib==2026.9"
fi

mkdir -p build
start=$(date +%s)
echo "cantus package: freezing the app into dist/cantus (PyInstaller, about 2 minutes)"
.venv/bin/pyinstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
  packaging/cantus.spec 2> build/pyinstaller.log || { tail -40 build/pyinstaller.log; exit 1; }
echo "cantus package: dist/cantus ($(du -sh dist/cantus | cut -f1)) in $(( $(date +%s) - start )) s"
.venv/bin/python packaging/make_deb.py
