"""Mel to audio by vocoder name: the fast vocoder, the WaveNet, or Griffin-Lim (the baseline).

`get_vocoder("fast" | "wavenet" | "griffinlim")` gives a callable that turns a log-mel
(`engine.audio.mel`) into mono audio at the mel rate; trained vocoders are loaded once from
their bundles and kept (the engine's cache of loaded models). `read_audio` and `vocode_audio`
run any audio file through the mel and back, so a musician can hear what a vocoder does to a sound.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from engine.audio.mel import MEL
from engine.errors import CantusError

# name -> (bundled model folder, or None, and what a musician reads)
VOCODERS: dict[str, tuple[str | None, str]] = {
    "fast": ("fast-vocoder", "Fast neural vocoder"),
    "wavenet": ("wavenet-vocoder", "WaveNet vocoder (sample by sample)"),
    "griffinlim": (None, "Griffin-Lim (no model, the baseline)"),
}
BUNDLE_KINDS = {"fast": "fast_vocoder", "wavenet": "wavenet"}  # the "model" field of their config.json
SILENT_PEAK = 10 ** (-80 / 20)  # an input quieter than -80 dBFS throughout has nothing to vocode


class VocoderError(CantusError):
    """A vocoder cannot run, or the audio given to it cannot be used."""


@dataclass
class Vocoder:
    name: str
    label: str
    run: Callable[..., np.ndarray]  # run(mel (n_mels, T), num_samples, progress, cancel, seed) -> (samples,)
    device: str = "CPU"

    def __call__(self, mel: np.ndarray, num_samples: int | None = None, progress=None, cancel=None,
                 seed: int | None = 0) -> np.ndarray:
        """mel : np.ndarray [shape=(n_mels, T)] log-mel; returns float32 (num_samples,) at 22,050 Hz,
        by default (T - 1) * hop_length samples."""
        mel = np.asarray(mel, dtype=np.float32)
        if mel.ndim != 2 or mel.shape[0] != MEL.n_mels:
            raise VocoderError(f"A vocoder takes a mel spectrogram of {MEL.n_mels} bands, not shape {mel.shape}.")
        n = num_samples if num_samples is not None else (mel.shape[1] - 1) * MEL.hop_length
        return np.asarray(self.run(mel, n, progress, cancel, seed), dtype=np.float32)


_loaded: dict[tuple[str, str], Vocoder] = {}


def get_vocoder(name: str, model: str | os.PathLike | None = None, device: str | None = None) -> Vocoder:
    """The vocoder of a name; ``model`` picks another bundle folder for "fast" or "wavenet".

    Raises `VocoderError` for an unknown name, and `engine.registry.ModelLoadError` (a sentence
    saying which model and why) when its model is missing or damaged.
    """
    if name not in VOCODERS:
        raise VocoderError(f"Unknown vocoder '{name}'; choose one of: {', '.join(VOCODERS)}.")
    folder, label = VOCODERS[name]
    if folder is None:
        from engine.audio.griffinlim import griffin_lim

        return Vocoder(name, label, lambda mel, n, progress, cancel, seed: griffin_lim(mel, num_samples=n))
    key = (name, str(model or folder))
    if key not in _loaded:
        _loaded[key] = _load(name, label, model or folder, device)
    return _loaded[key]


def _load(name: str, label: str, model, device: str | None) -> Vocoder:
    import torch

    from engine.registry import device_name, load_model

    if name == "fast":
        from engine.models.fast_vocoder import FastVocoder, FastVocoderConfig

        net, _, _ = load_model(model, BUNDLE_KINDS[name], lambda c: FastVocoder(FastVocoderConfig.from_dict(c)),
                               label, device)
        def run(mel, n, progress, cancel, seed):
            with torch.no_grad():
                return net(torch.from_numpy(mel).to(net.window.device), n).cpu().numpy()
    else:
        from engine.models.wavenet import WaveNet, WaveNetConfig, generate_long

        net, config, _ = load_model(model, BUNDLE_KINDS[name], lambda c: WaveNet(WaveNetConfig.from_dict(c)),
                                    label, device)
        from engine.audio import postfilter
        from engine.registry import ModelLoadError

        # The bundle's sampling temperature and mel post-filter, chosen on the validation split
        # (the card says how).
        temperature = float(config.get("temperature", 1.0))
        try:
            post = postfilter.settings(config)
        except ValueError as e:
            raise ModelLoadError(f"The {label} model in '{model}' is damaged: {e}.") from None

        def run(mel, n, progress, cancel, seed):
            audio = generate_long(net, mel, temperature=temperature, seed=seed, progress=progress, cancel=cancel)
            if post:
                audio = postfilter.mel_postfilter(audio, mel, **post)
            return np.pad(audio, (0, max(n - len(audio), 0)))[:n]
    return Vocoder(name, label, run, device_name(next(net.parameters()).device))


def available(name: str) -> str | None:
    """Why a vocoder cannot be used, in a sentence, or None when it can (cheap: loads nothing)."""
    from engine.registry import not_installed

    if name not in VOCODERS:
        return f"Unknown vocoder '{name}'."
    folder, label = VOCODERS[name]
    return None if folder is None else not_installed(folder, f"The {label.split(' (')[0].lower()}")


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, list[str]]:
    """An audio file as mono float32 at the mel rate, and what was done to it (for the user).

    Stereo is averaged to mono and other sample rates resampled, each said in the notes;
    a file that is not audio, is empty or is silent raises `VocoderError`.
    """
    import soundfile

    from engine.audio.dsp import resample

    path = Path(path)
    if not path.is_file():
        raise VocoderError(f"There is no file '{path}'.")
    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, TypeError, ValueError):
        raise VocoderError(f"'{path.name}' is not an audio file Cantus can read "
                           "(WAV, FLAC and OGG are).") from None
    notes = []
    if audio.shape[0] == 0:
        raise VocoderError(f"'{path.name}' holds no audio.")
    if audio.shape[1] > 1:
        notes.append(f"'{path.name}' has {audio.shape[1]} channels; they were mixed to mono.")
    mono = audio.mean(axis=1)
    if rate != MEL.sample_rate:
        notes.append(f"'{path.name}' is at {rate:,} Hz; it was resampled to {MEL.sample_rate:,} Hz, "
                     "the vocoders' rate.")
        mono = resample(mono, rate, MEL.sample_rate)
    if not np.all(np.isfinite(mono)):
        raise VocoderError(f"'{path.name}' holds invalid samples (NaN or infinity).")
    if float(np.max(np.abs(mono))) < SILENT_PEAK:
        raise VocoderError(f"'{path.name}' is silent; there is nothing to vocode.")
    if len(mono) < MEL.n_fft:
        raise VocoderError(f"'{path.name}' is too short to vocode (under 50 ms).")
    return mono.astype(np.float32), notes


def vocode_audio(audio: np.ndarray, vocoder: str = "fast", model=None, seed: int | None = 0,
                 progress=None, cancel=None) -> np.ndarray:
    """Mono audio at the mel rate through the mel and back: what the vocoder makes of it, the
    same length."""
    from engine.audio.mel import log_mel

    voc = get_vocoder(vocoder, model)
    return voc(log_mel(audio), len(audio), progress, cancel, seed)
