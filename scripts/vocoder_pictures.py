"""Before/after spectrograms of the vocoders for the README: a held-out clip's mel as the synth
rendered it (the reference) beside what Griffin-Lim, the fast vocoder and the WaveNet make of
that mel (the WaveNet before and after its mel post-filter), in the app's own colours and
levels (80 mel bands in dB, -80 to +20 dB), and the audio.

    .venv/bin/python scripts/vocoder_pictures.py docs/ [--wav-dir /tmp/vocoded]

The clips come from the test split of the POP909 audio corpus (cantus data build-audio), so no
model here has heard them. Needs matplotlib (not a dependency of Cantus; pip install it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.audio.mel import MEL, log_mel, mel_band_frequencies  # noqa: E402


def draw(rows: list[tuple[str, np.ndarray]], reference: np.ndarray, title: str, path: Path,
         wav_dir: str | None = None, kind: str = "") -> None:
    """One spectrogram per (label, audio) row, in the app's colours and levels, each but the
    synth's titled with its MR-STFT against ``reference``; the audio written to ``wav_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile

    from engine.eval.render import mrstft

    freqs = mel_band_frequencies()
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 1.9 * len(rows)), sharex=True)
    for ax, (label, audio) in zip(axes, rows):
        db = 20 * np.log10(np.exp(log_mel(audio)))
        ax.imshow(db, origin="lower", aspect="auto", vmin=-80, vmax=20, cmap="magma",
                  extent=[0, len(audio) / MEL.sample_rate, 0, MEL.n_mels])
        score = "" if label.startswith("synth") else f"   MR-STFT {mrstft(audio, reference):.2f}"
        ax.set_title(f"{label}{score}", fontsize=9, loc="left")
        ticks = [0, 20, 40, 60, 79]
        ax.set_yticks(ticks, [f"{freqs[t] / 1000:.1f}k" if freqs[t] >= 1000 else f"{freqs[t]:.0f}"
                              for t in ticks], fontsize=7)
        ax.set_ylabel("Hz", fontsize=7)
        if wav_dir:
            Path(wav_dir).mkdir(parents=True, exist_ok=True)
            name = label.split(" (")[0].replace(" ", "-").replace("+", "").lower()
            soundfile.write(Path(wav_dir) / f"{kind}-{name}.wav", audio, MEL.sample_rate)
    axes[-1].set_xlabel("seconds", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def wavenet_sampler():
    """The bundled WaveNet's sampling alone, as its vocoder draws it (same temperature and seed),
    where the bundle has a mel post-filter; else None."""
    from engine.audio import postfilter
    from engine.models.wavenet import WaveNet, WaveNetConfig, generate_long
    from engine.registry import load_model

    net, config, _ = load_model("wavenet-vocoder", "wavenet", lambda c: WaveNet(WaveNetConfig.from_dict(c)), "WaveNet")
    if not postfilter.settings(config):
        return None
    temperature = float(config.get("temperature", 1.0))
    return lambda mel: generate_long(net, mel, temperature=temperature, seed=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="folder for the PNG files")
    parser.add_argument("--wav-dir", default=None, help="also write every rendering as WAV here")
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    from engine.audio.vocode import available, get_vocoder
    from engine.eval.render import test_pieces

    pieces = test_pieces("pop909", limit=12, seconds=args.seconds)
    picks = {"melody": next(p for p in pieces if p.monophonic), "mix": next(p for p in pieces if not p.monophonic)}
    methods = ["griffinlim"] + [m for m in ("fast", "wavenet") if available(m) is None]
    raw_wavenet = wavenet_sampler() if "wavenet" in methods else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for kind, piece in picks.items():
        mel = log_mel(piece.audio)
        rows = [("synth (reference)", piece.audio)]
        for m in methods:
            label = get_vocoder(m).label.split(" (")[0]
            if m == "wavenet" and raw_wavenet is not None:  # what its mel post-filter starts from
                rows.append((f"{label}, before its mel post-filter", raw_wavenet(mel)[:len(piece.audio)]))
            rows.append((label, get_vocoder(m)(mel, len(piece.audio))))
        draw(rows, piece.audio, f"Held-out POP909 {kind} ({piece.name.split()[0]}): the synth's render and what "
             "each vocoder makes of its mel", out / f"vocoders-{kind}.png", args.wav_dir, kind)
        print(f"wrote {out / f'vocoders-{kind}.png'}")


if __name__ == "__main__":
    main()
