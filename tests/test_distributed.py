"""Training through torchrun on the CPU (gloo), as on many GPUs: two processes run a few steps
of each trainer, every rank stops on the same step and ends with the same weights, and only
rank 0 evaluates, saves and reports (`cantus train musicvae` under torchrun prints one line)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.music.midi_io import write_midi
from engine.music.sketch import Note, Sketch, Track

ROOT = Path(__file__).resolve().parents[1]


def torchrun(*args, cache: Path, timeout: int = 600):
    env = {**os.environ, "CANTUS_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """(a folder of three MIDI files, the cache that holds their paired audio corpus)."""
    from engine.data.audio_corpus import build_audio_corpus

    root, cache = tmp_path_factory.mktemp("pairs"), tmp_path_factory.mktemp("cache")
    for i, program in enumerate((0, 73, 19)):
        notes = [Note(55 + 3 * i + 2 * k, 90, k * 240, (k + 1) * 240 + 120) for k in range(10)]
        write_midi(Sketch.new(qpm=120, tracks=[Track("T", program, False, notes)]), root / f"t{i}.mid")
    os.environ["CANTUS_CACHE_DIR"], saved = str(cache), os.environ.get("CANTUS_CACHE_DIR")
    try:
        build_audio_corpus(root, progress=False)
    finally:
        if saved is None:
            del os.environ["CANTUS_CACHE_DIR"]
        else:
            os.environ["CANTUS_CACHE_DIR"] = saved
    return root, cache


@pytest.mark.parametrize("kind", ["musicvae", "transformer", "fast", "wavenet", "melflow"])
def test_two_ranks_train_in_step_and_only_rank_0_reports(kind, pairs, tmp_path):
    root, cache = pairs
    out = torchrun("tests/ddp_train.py", kind, str(tmp_path), str(root), cache=cache)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world_size"] == 2 and r["ranks_agree"] for r in ranks), ranks
    assert ranks[0]["steps"] == ranks[1]["steps"] > 0
    assert [r["reported"] for r in ranks] == [True, False]
    assert json.loads((tmp_path / "train.json").read_text())["world_size"] == 2


@pytest.mark.parametrize("kind", ["musicvae-budget", "transformer-budget"])
def test_a_rank_whose_time_is_up_stops_every_rank(kind, tmp_path):
    """Rank 1's budget is spent after a step or two, rank 0 has none: they stop together (a rank
    that stopped alone would leave the other waiting in backward's all-reduce)."""
    out = torchrun("tests/ddp_train.py", kind, str(tmp_path), cache=tmp_path / "cache", timeout=180)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["steps"] == ranks[1]["steps"] < 400 and all(r["ranks_agree"] for r in ranks)


def test_the_command_line_reports_once_under_torchrun(tmp_path):
    from engine.data import build_corpus

    songs = tmp_path / "songs"
    songs.mkdir()
    rng = np.random.default_rng(0)
    cache = tmp_path / "cache"
    os.environ["CANTUS_CACHE_DIR"], saved = str(cache), os.environ.get("CANTUS_CACHE_DIR")
    try:  # built before the two ranks start, so that they only read it
        for i in range(200):  # songs until one falls in the validation split (1 in 20 does)
            pitches = 60 + np.cumsum(rng.integers(-2, 3, 32))
            notes = [Note(int(p), 90, k * 240, k * 240 + 200) for k, p in enumerate(pitches)]
            write_midi(Sketch.new(tracks=[Track("Melody", 0, False, notes)]), songs / f"song{i:03d}.mid")
            if i >= 7 and i % 4 == 3:
                corpus = build_corpus(songs, workers=1, progress=False)
                if len(corpus.windows(2, "validation")):
                    break
    finally:
        if saved is None:
            del os.environ["CANTUS_CACHE_DIR"]
        else:
            os.environ["CANTUS_CACHE_DIR"] = saved
    assert len(corpus.windows(2, "validation")) and len(corpus.windows(2, "train"))
    out = torchrun("-m", "engine", "train", "musicvae", "--sources", str(songs), "--out", str(tmp_path / "vae"),
                   "--batch-size", "8", "--max-steps", "4", "--eval-every", "2", "--precision", "fp32", cache=cache)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    reports = [line for line in out.stdout.splitlines() if line.startswith("trained ")]
    assert len(reports) == 1 and "nan" not in reports[0], out.stdout
