"""`cantus play`: a sketch rendered and played to its end on a sound output (the null ALSA device
of tests/alsa-null.conf), the outputs listed, and a clear sentence where there is no sound card.
Each run is its own process: PortAudio reads the sound system's configuration once per process."""

import os
import subprocess
import sys
from pathlib import Path

from engine.music.midi_io import write_midi
from engine.music.sketch import Note, Sketch, Track

NO_CARD = "pcm.!default { type hw card 42 }\nctl.!default { type hw card 42 }\n"


def cantus(*args, alsa_config):
    env = {**os.environ, "ALSA_CONFIG_PATH": str(alsa_config), "JACK_NO_START_SERVER": "1",
           "JACK_DEFAULT_SERVER": "cantus-test-no-such-server"}
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def phrase(tmp_path) -> Path:
    sketch = Sketch.new(qpm=120)
    sketch.tracks.append(Track("Melody", 0, False, [Note(60 + i, 90, i * 480, (i + 1) * 480) for i in range(4)]))
    return write_midi(sketch, tmp_path / "phrase.mid")


def test_play_renders_and_plays_to_the_end(tmp_path):
    null = Path(__file__).resolve().parents[1] / "alsa-null.conf"
    out = cantus("play", str(phrase(tmp_path)), "--start", "1", alsa_config=null)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("playing phrase.mid (0:0") and "on default (ALSA)" in lines[0]
    played = float(lines[-1].removeprefix("played to ").removesuffix(" s"))
    assert played > 2.0  # the four notes' two seconds and the synth's release, from 1 s in

    listed = cantus("play", "--list-devices", alsa_config=null)
    assert listed.returncode == 0 and "default (ALSA" in listed.stdout


def test_play_without_a_sound_card_says_so(tmp_path):
    config = tmp_path / "no-card.conf"
    config.write_text(NO_CARD)
    out = cantus("play", str(phrase(tmp_path)), alsa_config=config)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == ("cantus: No sound output was found. Connect headphones or speakers, "
                                  "or check that the sound system is running.")
    listed = cantus("play", "--list-devices", alsa_config=config)
    assert listed.returncode == 1 and "no sound output was found" in listed.stderr
