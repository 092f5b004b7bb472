"""WAV export: every format and rate, normalised without clipping, atomic, and from the CLI."""

import os

import numpy as np
import pytest
import soundfile

from engine.audio.wav import AudioFileError, write_wav
from engine.cli import main


def _tone(rate=44100, seconds=0.5, amp=1.7):
    t = np.arange(int(rate * seconds)) / rate
    mono = amp * np.sin(2 * np.pi * 440 * t)
    return np.stack([mono, 0.5 * mono], axis=1).astype(np.float32)


@pytest.mark.parametrize("bits, subtype", [(16, "PCM_16"), (24, "PCM_24"), (32, "FLOAT")])
@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_formats_and_rates(tmp_path, bits, subtype, rate):
    path = write_wav(tmp_path / "out.wav", _tone(44100), 44100, bits=bits, target_rate=rate)
    info = soundfile.info(path)
    assert (info.samplerate, info.channels, info.subtype) == (rate, 2, subtype)
    assert info.frames == pytest.approx(rate * 0.5, abs=2)
    audio, _ = soundfile.read(path, dtype="float32")
    peak = np.abs(audio).max()
    assert peak == pytest.approx(10 ** (-1 / 20), abs=2e-3)  # 1 dB of headroom, no clipping
    assert os.listdir(tmp_path) == ["out.wav"]


def test_without_normalising_quiet_audio_stays_quiet_and_loud_audio_never_clips(tmp_path):
    quiet = _tone(amp=0.1)
    write_wav(tmp_path / "q.wav", quiet, 44100, bits=24, normalise=False)
    audio, _ = soundfile.read(tmp_path / "q.wav", dtype="float32")
    assert np.abs(audio).max() == pytest.approx(0.1, abs=1e-3)
    write_wav(tmp_path / "l.wav", _tone(amp=3.0), 44100, bits=16, normalise=False)
    audio, _ = soundfile.read(tmp_path / "l.wav", dtype="float32")
    assert np.abs(audio).max() < 1.0


def test_bad_requests_write_nothing(tmp_path):
    with pytest.raises(AudioFileError, match="16-bit, 24-bit or 32-bit"):
        write_wav(tmp_path / "a.wav", _tone(), 44100, bits=8)
    with pytest.raises(AudioFileError, match="not offered"):
        write_wav(tmp_path / "a.wav", _tone(), 44100, target_rate=96000)
    bad = _tone()
    bad[10, 0] = np.nan
    with pytest.raises(AudioFileError, match="invalid samples"):
        write_wav(tmp_path / "a.wav", bad, 44100)
    with pytest.raises(AudioFileError, match="Cannot write"):
        write_wav(tmp_path / "no" / "such" / "a.wav", _tone(), 44100)
    assert os.listdir(tmp_path) == []


def test_cli_render(pop909_dir, tmp_path, capsys):
    from engine.music.midi_io import read_midi, write_midi
    from engine.music.sketch import Sketch

    # The first 8 bars of a real song keep the test quick.
    song = read_midi(pop909_dir / "002" / "002.mid")
    short = Sketch([t.copy([n for n in t.notes if n.start_tick < 8 * 1920]) for t in song.tracks],
                   song.tempos, song.time_signatures)
    src = write_midi(short, tmp_path / "in.mid")
    assert main(["render", str(src), "-o", str(tmp_path / "out.wav"), "--sample-rate", "48000",
                 "--bits", "24"]) == 0
    out = capsys.readouterr().out
    info = soundfile.info(tmp_path / "out.wav")
    assert (info.samplerate, info.subtype) == (48000, "PCM_24")
    assert info.duration >= short.duration_s
    assert "wrote" in out and ("FluidSynth" in out or "built-in" in out)
    assert main(["render", str(src), "-o", str(tmp_path / "b.wav"), "--renderer", "builtin"]) == 0
    assert "built-in synth" in capsys.readouterr().out
    # a broken input: an error sentence, exit 2, nothing written
    (tmp_path / "bad.mid").write_bytes(b"nope")
    assert main(["render", str(tmp_path / "bad.mid"), "-o", str(tmp_path / "c.wav")]) == 2
    assert not (tmp_path / "c.wav").exists()
