"""The MusicVAE facade, on a small model trained here for a few seconds: tracks in, tracks out."""

import numpy as np
import pytest
import torch

from engine.generate.musicvae import MelodyVAE, compute_attribute_vectors, prepare, slerp
from engine.models.musicvae import MusicVAE, MusicVAEConfig
from engine.music.sketch import Note, Sketch, Track
from engine.registry import ModelLoadError
from engine.train.musicvae import export_bundle

S = 120  # a 16th note in ticks


def _scale(offset=0, n=8, length=2):
    return Track("Lead", 0, False, [Note(60 + [0, 2, 4, 5, 7, 9, 11, 12][i % 8], 90 + i, offset + i * length * S,
                                         offset + (i + 1) * length * S) for i in range(n)])


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    cfg = MusicVAEConfig(embed_size=16, enc_size=48, z_size=16, dec_size=64, free_bits=1000)
    model = MusicVAE(cfg)
    a = MelodyVAE(model).to_windows(prepare(_scale()))
    b = MelodyVAE(model).to_windows(prepare(_scale(n=16, length=1)))
    data = torch.from_numpy(np.concatenate([a, b]).astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(400):
        terms = model.loss(model(data), data, step)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
    return MelodyVAE(model.eval())


def test_prepare_makes_any_input_usable():
    chords = Track("Piano", 0, False, [Note(60, 80, 1930, 2400), Note(64, 80, 1930, 2400), Note(120, 80, 2400, 2880)])
    p = prepare(chords)
    assert p.track.is_monophonic() and p.offset_ticks == 1920
    assert [(n.pitch, n.start_tick) for n in p.track.notes] == [(64, 0), (108, 480)]
    assert any("Polyphony" in r for r in p.notes) and any("Quantized" in r for r in p.notes)
    assert any("octaves" in r for r in p.notes)


def test_reconstruction_keeps_notes_velocities_and_the_last_note(vae):
    melody = _scale()
    _, mu, _ = vae.encode(melody)
    out = vae.decode(mu, like=melody)
    assert [(n.pitch, n.start_tick, n.end_tick) for n in out.notes] == \
           [(n.pitch, n.start_tick, n.end_tick) for n in melody.notes]
    assert [n.velocity for n in out.notes] == [n.velocity for n in melody.notes]


def test_interpolation_keeps_a_and_b_as_end_points(vae):
    a, b = _scale(), _scale(n=16, length=1)
    steps = vae.interpolate(a, b, steps=5)
    assert len(steps) == 5
    assert steps[0].notes == prepare(a).track.notes and steps[-1].notes == prepare(b).track.notes
    assert all(t.is_monophonic() for t in steps)
    assert len(vae.interpolate(a, b, steps=2)) == 2
    with pytest.raises(ValueError):
        vae.interpolate(a, b, steps=1)


def test_longer_melodies_are_cut_into_windows_and_joined(vae):
    long = Track("L", 0, False, _scale().notes + [n.shifted(ticks=32 * S) for n in _scale().notes])
    _, mu, _ = vae.encode(long)
    assert mu.shape == (2, 16)
    out = vae.decode(mu, like=long)
    assert out.notes[-1].end_tick == long.notes[-1].end_tick  # nothing lost at the boundary


def test_seeded_sampling_and_variations_repeat(vae):
    a = vae.sample(2, temperature=1.0, seed=7)
    b = vae.sample(2, temperature=1.0, seed=7)
    assert [t.notes for t in a] == [t.notes for t in b]
    v1 = vae.similar(_scale(), n=2, similarity=0.5, seed=3)
    v2 = vae.similar(_scale(), n=2, similarity=0.5, seed=3)
    assert [t.notes for t in v1] == [t.notes for t in v2]
    same = vae.similar(_scale(), n=1, similarity=1.0, seed=3)[0]
    assert same.notes == vae.decode(vae.encode(_scale())[1], like=_scale()).notes


def test_attribute_vectors_and_bundles(vae, tmp_path):
    windows = np.concatenate([vae.to_windows(prepare(_scale(n=k, length=2))) for k in range(2, 17)])
    vectors = compute_attribute_vectors(vae.model, windows)
    assert "note_density" in vectors and len(vectors["note_density"]) == 16
    export_bundle(vae.model, tmp_path / "mv", {"attribute_vectors": vectors})
    loaded = MelodyVAE.load(tmp_path / "mv")
    pushed = loaded.apply_attributes(_scale(), {"density": 0.0})
    assert pushed.is_monophonic()
    with pytest.raises(ModelLoadError, match="no 'sparkle' attribute"):
        loaded.apply_attributes(_scale(), {"sparkle": 1.0})


def test_missing_and_damaged_models_say_so(tmp_path):
    with pytest.raises(ModelLoadError, match="not installed"):
        MelodyVAE.load(tmp_path / "nothing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text('{"model": "musicvae", "config": {}}')
    (tmp_path / "bad" / "weights.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match="damaged"):
        MelodyVAE.load(tmp_path / "bad")


def test_slerp_end_points():
    a, b = np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]])
    assert np.allclose(slerp(a, b, 0.0), a) and np.allclose(slerp(a, b, 1.0), b)
    assert np.allclose(slerp(a, a, 0.5), a)


def test_eval_reports_every_key(vae):
    from engine.eval.musicvae import cohens_d, evaluate, note_f1

    windows = np.concatenate([vae.to_windows(prepare(_scale(n=k, length=2))) for k in range(2, 17)]
                             + [vae.to_windows(prepare(_scale(n=16, length=1)))])
    vae.attribute_vectors = {k: np.asarray(v, np.float32)
                             for k, v in compute_attribute_vectors(vae.model, windows).items()}
    out = evaluate(vae, windows, pairs=10, attribute_melodies=8)
    for key in ("token_accuracy_tf", "token_accuracy_sampled", "note_f1", "kl_bits", "active_dims",
                "interp_spearman_median", "interp_max_jump", "attribute_d", "attribute_monotonic",
                "attribute_f1_kept", "n_melodies", "model"):
        assert key in out
    assert 0 <= out["note_f1"] <= 1 and out["n_melodies"] == len(windows)
    density = out["attribute_d"]["note_density"]
    assert set(density) == {"own", "max_other", "means", "monotonic", "f1_kept"} and len(density["means"]) == 5
    assert -1 <= out["attribute_monotonic"]["note_density"] <= 1 and 0 <= out["attribute_f1_kept"]["note_density"] <= 1
    same = windows[:3]
    assert note_f1(same, same) == 1.0 and note_f1(same, np.zeros_like(same)) == 0.0
    assert cohens_d(np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 2.0, 1.0, 2.0])) > 1.5


def test_eval_measures_the_split_it_is_asked_for(song_001, pop909_dir, monkeypatch, capsys):
    # Tuning reads the validation split, the card the test split; `load_windows` is where the
    # command takes them from (here song 001's real windows, to keep the corpus build out).
    import json

    import engine.train.musicvae as tm
    from engine.cli import main
    from engine.music.files import open_sketch

    vae, _ = song_001
    windows = vae.to_windows(prepare(open_sketch(pop909_dir / "001" / "001.mid")))
    asked = []
    monkeypatch.setattr(tm, "load_windows", lambda sources, bars, split: asked.append((sources, bars, split)) or windows)
    for split in ("validation", None):
        assert main(["eval", "musicvae", "--sources", "pop909", "--pairs", "2", "--attribute-melodies", "4",
                     "--json"] + (["--split", split] if split else [])) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["split"] == (split or "test") and out["n_melodies"] == len(windows)
        assert len(out["attribute_d"]) == 5
    assert asked == [("pop909", 2, "validation"), ("pop909", 2, "test")]


def test_command_line(vae, tmp_path, capsys):
    from engine.cli import main
    from engine.music.midi_io import read_midi, write_midi

    bundle = tmp_path / "mv"
    export_bundle(vae.model, bundle, {"attribute_vectors": {k: v.tolist() for k, v in vae.attribute_vectors.items()}
                                      if vae.attribute_vectors else {}})
    write_midi(Sketch.new(tracks=[_scale()]), tmp_path / "a.mid")
    write_midi(Sketch.new(tracks=[_scale(n=16, length=1)]), tmp_path / "b.mid")
    assert main(["interpolate", str(tmp_path / "a.mid"), str(tmp_path / "b.mid"), "--steps", "5",
                 "--model", str(bundle), "-o", str(tmp_path / "i.mid")]) == 0
    out = read_midi(tmp_path / "i.mid")
    # A comes first, exactly; five steps of at least a bar, with a bar of rest between them.
    assert out.tracks[0].notes[:8] == _scale().notes
    assert out.end_tick > 4 * 2 * 1920
    assert main(["interpolate", str(tmp_path / "a.mid"), str(tmp_path / "b.mid"), "--steps", "3",
                 "--model", str(bundle), "--out-dir", str(tmp_path / "steps")]) == 0
    assert sorted(p.name for p in (tmp_path / "steps").iterdir()) == ["step00.mid", "step01.mid", "step02.mid"]
    assert main(["sample", "--n", "2", "--seed", "1", "--model", str(bundle), "-o", str(tmp_path / "s.mid")]) == 0
    assert main(["vary", str(tmp_path / "a.mid"), "--similar", "0.7", "--n", "2", "--seed", "2",
                 "--model", str(bundle), "-o", str(tmp_path / "v.mid")]) == 0
    assert main(["vary", str(tmp_path / "a.mid"), "--model", str(bundle), "-o", str(tmp_path / "w.mid")]) == 2
    assert "Say how to vary it" in capsys.readouterr().err

    capsys.readouterr()
    write_midi(Sketch.new(tracks=[_scale()], time_signature=(3, 4)), tmp_path / "waltz.mid")
    assert main(["vary", str(tmp_path / "waltz.mid"), "--similar", "0.7", "--model", str(bundle),
                 "-o", str(tmp_path / "never.mid")]) == 2
    assert "bar 1 is in 3/4" in capsys.readouterr().err and not (tmp_path / "never.mid").exists()
    assert main(["sample", "--model", str(tmp_path / "nope"), "-o", str(tmp_path / "x.mid")]) == 2
    assert "not installed" in capsys.readouterr().err


def test_attribute_vectors_exist_for_attributes_that_are_mostly_zero(vae):
    # Syncopation is 0 in most melodies, so its quartiles tie; a vector must still come out.
    plain = [vae.to_windows(prepare(_scale(n=k, length=2))) for k in range(4, 17)]
    synco = Track("s", 0, False, [Note(60 + i, 90, (4 * i + 1) * S, (4 * i + 3) * S) for i in range(8)])
    windows = np.concatenate(plain + [vae.to_windows(prepare(synco))] * 2)
    vectors = compute_attribute_vectors(vae.model, windows)
    assert "syncopation_16th" in vectors


def test_the_bundled_model_plays_back_a_real_melody(pop909_dir):
    # A guard on the bundled weights and config (not a held-out measurement: song 001 may be in
    # the training split; `cantus eval musicvae` measures the test split). Measured: F1 0.865.
    from engine.eval.musicvae import note_f1
    from engine.music.files import open_sketch

    bundled = MelodyVAE.load("musicvae-mel2bar")
    assert set(bundled.attribute_vectors) == {"c_diatonic", "note_density", "mean_interval",
                                              "syncopation_16th", "syncopation_8th"}
    windows = bundled.to_windows(prepare(open_sketch(pop909_dir / "001" / "001.mid")))
    mu = bundled.model.encode(torch.from_numpy(windows.astype(np.int64)))[0].numpy()
    assert len(windows) == 33 and note_f1(windows, bundled.decode_tokens(mu)) > 0.8


def test_the_bundled_16_bar_model_plays_back_a_real_melody_and_its_sliders_move_it(pop909_dir):
    # A guard on the bundled 16-bar weights (song 001 may be in the training split; `cantus eval
    # musicvae --model musicvae-mel16bar` measures the test split).
    from engine.eval.musicvae import note_f1
    from engine.music.attributes import melody_attributes
    from engine.music.files import open_sketch

    long = MelodyVAE.load("musicvae-mel16bar")
    assert long.shifts_codes and long.cfg.seq_len == 256
    assert set(long.attribute_vectors) == set(MelodyVAE.load("musicvae-mel2bar").attribute_vectors)
    assert set(long.attribute_units) == set(long.attribute_vectors)  # every slider is searched (`push`)
    song = open_sketch(pop909_dir / "001" / "001.mid")
    windows = long.to_windows(prepare(song))
    mu = long.model.encode(torch.from_numpy(windows.astype(np.int64)))[0].numpy()
    assert len(windows) == 5 and note_f1(windows, long.decode_tokens(mu)) > 0.75
    density = [melody_attributes(Track(notes=list(long.point(song, attributes={"density": a}).notes)),
                                 num_steps=len(windows) * 256)["note_density"] for a in (-1, 0, 1)]
    assert density[0] < density[1] < density[2]
    # +1 is a unit of density in every window that can reach it: song 001, all five
    assert density[2] - density[1] >= long.attribute_units["note_density"] - 1e-9


def test_the_command_line_writes_16_bars_with_bars_16(tmp_path):
    from engine.cli import main
    from engine.music.midi_io import read_midi, write_midi

    assert main(["sample", "--bars", "16", "--n", "1", "--seed", "4", "-o", str(tmp_path / "s.mid")]) == 0
    notes = read_midi(tmp_path / "s.mid").tracks[0].notes
    assert max(n.start_tick for n in notes) >= 12 * 1920  # one 16-bar melody, not one of 2 bars
    phrase = Track("Lead", 0, False, [Note(60 + [0, 2, 4, 5, 7, 5, 4, 2][i % 8], 90, i * 480, i * 480 + 400)
                                      for i in range(64)])
    write_midi(Sketch.new(tracks=[phrase]), tmp_path / "p.mid")
    assert main(["vary", str(tmp_path / "p.mid"), "--bars", "16", "--attribute", "density=+1",
                 "-o", str(tmp_path / "v.mid")]) == 0
    varied = read_midi(tmp_path / "v.mid").tracks[0].notes
    assert len(varied) > len(phrase.notes) and max(n.end_tick for n in varied) <= 16 * 1920


@pytest.fixture(scope="module")
def song_001(pop909_dir):
    """The bundled 2-bar model and the means of song 001's melody windows (a real pop melody)."""
    from engine.music.files import open_sketch

    bundled = MelodyVAE.load("musicvae-mel2bar")
    mu, _ = bundled.means(open_sketch(pop909_dir / "001" / "001.mid"))
    return bundled, mu


@pytest.mark.parametrize("name", ["syncopation_8th", "note_density"])
def test_a_slider_reaches_its_amount_with_the_smallest_push_and_rises_with_it(song_001, name):
    from engine.generate.musicvae import REACH
    from engine.music.attributes import ATTRIBUTES

    vae, mu = song_001
    j, unit, vector = ATTRIBUTES.index(name), vae.attribute_units[name], vae.attribute_vectors[name]
    base = vae._attributes(vae.decode_tokens(mu))[:, j]
    before = base
    for amount in (0.5, 1.0, 2.0):
        shift = vae.push(mu, {name: amount}, hold=False)
        got = vae._attributes(vae.decode_tokens(mu, shift=shift))[:, j]
        steps = shift @ vector / (vector @ vector)  # each window's push, in multiples of the vector
        assert np.allclose(shift, steps[:, None] * vector[None], atol=1e-5)
        index = np.searchsorted(REACH, steps - 1e-4)
        reached = got >= base + amount * unit - 1e-9
        assert reached.sum() >= 3  # song 001: 8th syncopation reaches in 4 to 11 windows of 33, density in all
        for w in np.flatnonzero(reached & (index > 0)):  # and one step less would not have
            smaller = vae.decode_tokens(mu[w:w + 1], shift=REACH[index[w] - 1] * vector[None])
            assert vae._attributes(smaller)[0, j] < base[w] + amount * unit - 1e-9
        assert np.all(got >= before - 1e-9)  # the attribute never falls as the slider rises
        before = got
    down = vae._attributes(vae.decode_tokens(mu, shift=vae.push(mu, {name: -1.0}, hold=False)))[:, j]
    assert np.all(down <= base + 1e-9) and down.mean() < base.mean()


def test_a_slider_holds_the_other_attributes_where_they_were(song_001):
    from engine.music.attributes import ATTRIBUTES

    vae, mu = song_001
    j, b = ATTRIBUTES.index("note_density"), ATTRIBUTES.index("mean_interval")
    base = vae._attributes(vae.decode_tokens(mu))
    target = base[:, j] + vae.attribute_units["note_density"]
    tokens = {h: vae.decode_tokens(mu, shift=vae.push(mu, {"density": 1.0}, hold=h)) for h in (True, False)}
    held, loose = vae._attributes(tokens[True]), vae._attributes(tokens[False])
    notes = (vae.decode_tokens(mu) >= 2).sum(1)
    has = notes >= 2  # windows with an interval to keep
    drift = {h: np.abs(a[has, b] - base[has, b]).mean() for h, a in ((True, held), (False, loose))}
    assert drift[True] < 0.9 * drift[False]  # song 001: 0.29 against 0.37 semitones
    # a silent window has no intervals, key or syncopation to keep: the hold leaves it alone
    silent = notes == 0
    assert silent.sum() >= 5 and np.array_equal(tokens[True][silent], tokens[False][silent])
    # holding never gives the slider back, nor pushes it past what the search reached
    assert np.all(held[:, j] >= np.minimum(target, loose[:, j]) - 1e-9)
    reached = loose[:, j] >= target - 1e-9
    assert np.all(held[reached, j] <= loose[reached, j] + 1e-9)


def test_two_sliders_at_once_each_keep_what_their_search_reached(song_001):
    from engine.music.attributes import ATTRIBUTES

    vae, mu = song_001
    base = vae._attributes(vae.decode_tokens(mu))
    both = {"syncopation8": 1.0, "density": 1.0}  # searched in ATTRIBUTES' order whatever the dict's
    got = vae._attributes(vae.decode_tokens(mu, shift=vae.push(mu, both)))
    assert np.array_equal(vae.push(mu, both), vae.push(mu, dict(reversed(both.items()))))
    j = ATTRIBUTES.index("note_density")  # searched first, alone as in the loose push
    alone = vae._attributes(vae.decode_tokens(mu, shift=vae.push(mu, {"density": 1.0}, hold=False)))[:, j]
    target = base[:, j] + vae.attribute_units["note_density"]
    assert np.all(got[:, j] >= np.minimum(target, alone) - 1e-9)  # 8th syncopation did not give it back
    k = ATTRIBUTES.index("syncopation_8th")
    assert got[:, k].mean() > base[:, k].mean() and got[:, j].mean() > base[:, j].mean()


def test_a_slider_without_a_unit_pushes_its_vector_as_before(song_001):
    vae, mu = song_001
    plain = MelodyVAE(vae.model, vae.attribute_vectors)
    shift = plain.push(mu, {"density": 1.5, "syncopation8": -0.5})
    expected = 1.5 * vae.attribute_vectors["note_density"] - 0.5 * vae.attribute_vectors["syncopation_8th"]
    assert np.allclose(shift, np.broadcast_to(expected, shift.shape)) and plain.push(mu, {"density": 0.0}) is None
