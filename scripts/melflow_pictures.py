"""Spectrograms of the neural renderer for the README: a held-out melody and a held-out mix as the
synth rendered them (the reference), and what MelFlow makes of their notes alone (the note
encoder's mean, MelFlow with the fast vocoder, MelFlow with the WaveNet), in the app's colours
and levels (80 mel bands in dB, -80 to +20 dB), and the audio.

    .venv/bin/python scripts/melflow_pictures.py docs/ [--wav-dir /tmp/neural] [--no-wavenet]

The clips come from the test split of the POP909 audio corpus (cantus data build-audio), so no
model here has heard them. Needs matplotlib (not a dependency of Cantus; pip install it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "scripts"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="folder for the PNG files")
    parser.add_argument("--wav-dir", default=None, help="also write every rendering as WAV here")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--no-wavenet", action="store_true")
    args = parser.parse_args()
    from engine.audio.neural import get_melflow
    from engine.audio.vocode import available, get_vocoder
    from engine.eval.render import neural_mel, test_pieces
    from vocoder_pictures import draw  # the same pictures, the same colours

    net, config = get_melflow()
    temperature = float(config.get("temperature", 0.5))
    pieces = test_pieces("pop909", limit=12, seconds=args.seconds)
    picks = {"melody": next(p for p in pieces if p.monophonic), "mix": next(p for p in pieces if not p.monophonic)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fast = get_vocoder("fast")
    for kind, piece in picks.items():
        n = len(piece.audio)
        encoder = neural_mel(piece, net, 0.0, use_flow=False)
        flow = neural_mel(piece, net, temperature, use_flow=True)
        rows = [("synth (reference)", piece.audio),
                ("note encoder alone + fast vocoder (the regression baseline)", fast(encoder, n)),
                (f"MelFlow (temperature {temperature:g}) + fast vocoder", fast(flow, n))]
        if not args.no_wavenet and available("wavenet") is None:
            rows.append((f"MelFlow (temperature {temperature:g}) + WaveNet", get_vocoder("wavenet")(flow, n)))
        draw(rows, piece.audio, f"Held-out POP909 {kind} ({piece.name.split()[0]}): the synth's render, and what "
             "the neural renderer makes of its notes alone", out / f"melflow-{kind}.png", args.wav_dir, kind)
        print(f"wrote {out / f'melflow-{kind}.png'}")


if __name__ == "__main__":
    main()
