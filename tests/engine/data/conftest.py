"""Corpus tests: each test gets its own empty cache folder, and shared window checks."""

import numpy as np
import pytest

from engine.music.encodings.melody_onehot import MelodyOneHot


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    # Per test, so that counting parsed files means something; never the user's cache.
    path = tmp_path / "cache"
    monkeypatch.setenv("CANTUS_CACHE_DIR", str(path))
    return path


def assert_valid_windows(windows: np.ndarray, steps: int) -> None:
    """uint8 (n, steps); each decodes to >= 2 monophonic notes in 21..108 with no silent bar."""
    assert windows.dtype == np.uint8
    assert windows.ndim == 2 and windows.shape[1] == steps
    enc = MelodyOneHot()
    for w in windows:
        notes = enc.decode(w)
        assert len(notes) >= 2
        assert all(a.end_tick <= b.start_tick for a, b in zip(notes, notes[1:]))
        assert all(21 <= n.pitch <= 108 for n in notes)
        for bar in range(steps // 16):
            lo, hi = bar * 16 * 120, (bar + 1) * 16 * 120
            assert any(n.start_tick < hi and n.end_tick > lo for n in notes), f"bar {bar} is silent"
