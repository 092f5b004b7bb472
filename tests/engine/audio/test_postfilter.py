"""The mel post-filter: a vocoder's audio brought back to its mel's loudness per band and frame."""

import numpy as np
import pytest

from engine.audio.mel import MEL, log_mel
from engine.audio.postfilter import mel_postfilter, settings
from engine.eval.render import mrstft

SR = MEL.sample_rate


def tone(seconds: float = 1.0, f0: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return sum(0.2 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 6)).astype(np.float32)


def noisy(clean: np.ndarray, level: float = 0.02, seed: int = 0) -> np.ndarray:
    return (clean + level * np.random.default_rng(seed).standard_normal(len(clean))).astype(np.float32)


def band_level(audio: np.ndarray, hz: float) -> float:
    """The mean magnitude of the STFT bin nearest hz over the middle of the signal."""
    spec = np.abs(np.fft.rfft(audio[SR // 4:3 * SR // 4] * np.hanning(SR // 2)))
    return float(spec[int(round(hz * (SR // 2) / SR))])


def test_it_takes_the_hiss_between_harmonics_away_and_keeps_the_harmonics():
    clean = tone()
    heard = noisy(clean)
    out = mel_postfilter(heard, log_mel(clean), max_gain=4.0, passes=3)
    assert out.shape == heard.shape and out.dtype == np.float32
    assert mrstft(out, clean) < 0.6 * mrstft(heard, clean)
    for k in range(1, 4):  # the harmonics stay within 10% of their level ...
        assert band_level(out, 220 * k) == pytest.approx(band_level(clean, 220 * k), rel=0.1)
    # ... and the noise between two low harmonics (330 Hz, in bands of its own) drops by 10 dB
    assert band_level(out, 330) < 0.3 * band_level(heard, 330)


def test_with_a_largest_gain_of_one_it_only_turns_down():
    clean = tone()
    quiet = 0.3 * noisy(clean)  # every harmonic 10 dB below what the mel asks for
    out = mel_postfilter(quiet, log_mel(clean), max_gain=1.0, passes=1)
    assert (log_mel(out) <= log_mel(quiet) + 0.05).mean() > 0.99
    louder = mel_postfilter(quiet, log_mel(clean), max_gain=8.0, passes=3)
    for k in range(1, 4):
        assert band_level(out, 220 * k) < 0.35 * band_level(clean, 220 * k)
        assert band_level(louder, 220 * k) == pytest.approx(band_level(clean, 220 * k), rel=0.15)


def test_where_the_mel_is_silent_the_audio_goes_silent():
    heard = noisy(tone(), level=0.05)
    mel = log_mel(tone())
    mel[:, 40:] = MEL.silence  # the note stops at frame 40; frames past the mel are silent too
    out = mel_postfilter(heard, mel[:, :70], max_gain=4.0, passes=2)
    stop = 40 * MEL.hop_length
    assert np.sqrt(np.mean(out[stop + 2048:] ** 2)) < 0.01 * np.sqrt(np.mean(heard[stop + 2048:] ** 2))
    assert np.sqrt(np.mean(out[:stop - 2048] ** 2)) > 0.5 * np.sqrt(np.mean(heard[:stop - 2048] ** 2))
    assert mel_postfilter(np.zeros(0, np.float32), mel).shape == (0,)


def test_settings_come_from_the_bundle_config():
    assert settings({}) is None and settings({"postfilter": None}) is None
    assert settings({"postfilter": {"max_gain": 16, "passes": 0}}) is None
    assert settings({"postfilter": {"max_gain": 16, "passes": 12}}) == {"max_gain": 16.0, "passes": 12}
    for bad in ({"max_gain": "loud", "passes": 2}, {"passes": 2}, {"max_gain": -1, "passes": 2},
                {"max_gain": 2, "passes": -1}, "yes"):
        with pytest.raises(ValueError):
            settings({"postfilter": bad})


def test_momentum_brings_it_closer_in_the_same_passes():
    # four decaying notes under hiss: the phase has to move with the notes, where momentum helps
    t = np.arange(SR) / SR
    clean = np.zeros(SR, np.float32)
    for i, f0 in enumerate((220, 330, 262, 392)):
        part = slice(i * SR // 4, (i + 1) * SR // 4)
        clean[part] = tone(1.0, f0)[:part.stop - part.start] * np.exp(-6 * (t[part] - t[part][0]))
    heard = noisy(clean, level=0.03)
    mel = log_mel(clean)
    plain = mel_postfilter(heard, mel, max_gain=16.0, passes=24, momentum=0.0)
    fast = mel_postfilter(heard, mel, max_gain=16.0, passes=24)
    assert mrstft(fast, clean) < 0.9 * mrstft(plain, clean)
    assert mrstft(plain, clean) < mrstft(mel_postfilter(heard, mel, max_gain=16.0, passes=8, momentum=0.0), clean)
    assert np.array_equal(mel_postfilter(heard, mel, passes=0), heard)
