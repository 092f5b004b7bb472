#!/usr/bin/env bash
# Starts a JACK server on its dummy driver (keeps real time, needs no sound card) for the
# real-time playback tests, unless one is already running. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

log="${CANTUS_JACK_LOG:-/tmp/cantus-jackd.log}"
export JACK_NO_START_SERVER=1  # our checks must never start a server of their own

if ! command -v jackd >/dev/null 2>&1; then
  echo "start-jack: jackd is not installed (apt package jackd2); the real-time playback test will skip, or fail under CI"
  exit 0
fi

running() {
  # jack_wait prints "running" or "not running" and exits 0 either way.
  if command -v jack_wait >/dev/null 2>&1; then
    [ "$(jack_wait --check 2>/dev/null)" = "running" ]
  else
    pgrep -u "$(id -u)" -x jackd >/dev/null 2>&1
  fi
}

if running; then
  echo "start-jack: a JACK server is already running"
  exit 0
fi

echo "start-jack: starting jackd --no-realtime -d dummy -r 48000 -p 1024 (log: $log)"
# setsid: the server outlives make; no stdin, so it never waits for a terminal.
setsid jackd --no-realtime -d dummy -r 48000 -p 1024 </dev/null >>"$log" 2>&1 &
pid=$!

for _ in $(seq 100); do
  if running; then
    echo "start-jack: JACK is up (pid $pid)"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
echo "start-jack: jackd did not come up; the real-time playback test will skip (fail under CI). The end of $log:" >&2
tail -n 20 "$log" >&2 || true
