"""WaveNet vocoder: mu-law, causality, the conditioning's alignment, cached against naive sampling,
chunk-parallel generation and its crossfade."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.audio.mel import MEL, log_mel
from engine.audio import lpc
from engine.audio.lpc import lpc_from_mel
from engine.jobs import Cancelled
from engine.models import wavenet, wavenet_step
from engine.models.wavenet import (WaveNet, WaveNetConfig, crossfade_join, generate_long, mu_law_decode,
                                   mu_law_encode)

# Dilations 1, 2, 4, 8 (receptive field 16), 8 channels, a 16-sample hop.
TINY = dict(n_layers=4, dilation_cycle=4, residual_channels=8, gate_channels=16, skip_channels=8,
            n_mels=8, cond_channels=8, hop_length=16, upsample_scales=(4, 4))


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # These tensors are tiny: a second thread gains nothing, and when the other core is busy each
    # parallel region waits for a time slice (40 s instead of 0.2 for the naive sampling test).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny(seed: int = 0, **changes) -> WaveNet:
    torch.manual_seed(seed)
    model = WaveNet(WaveNetConfig(**{**TINY, **changes})).eval()
    with torch.no_grad():  # sharper output distributions make sampling a finer test of the logits
        model.out2.weight.mul_(4.0)
    return model


def random_mel(frames: int, n_mels: int = 8, batch: int | None = None, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    shape = (n_mels, frames) if batch is None else (batch, n_mels, frames)
    return -5.0 + 3.0 * torch.randn(shape, generator=g)


def test_mu_law_round_trip_is_within_its_quantisation():
    x = torch.linspace(-1, 1, 200_001)
    classes = mu_law_encode(x)
    assert classes.dtype == torch.long and classes.min() == 0 and classes.max() == 255
    assert mu_law_encode(torch.tensor(0.0)) == 128
    err = (mu_law_decode(classes) - x).abs()
    bound = 1.03 * math.log(256) / 255 ** 2 * (1 + 255 * x.abs())  # half a step times the slope
    assert (err <= bound).all()
    assert err.max() < 0.022 and err[x.abs() < 1e-3].max() < 1.1e-4
    # numpy in, numpy out
    back = mu_law_decode(mu_law_encode(np.array([-1.0, 0.0, 0.5, 1.0])))
    assert isinstance(back, np.ndarray) and np.allclose(back, [-1.0, 0.0, 0.5, 1.0], atol=0.012)


def test_config_round_trips_through_json():
    cfg = WaveNetConfig(n_layers=20, upsample_scales=(8, 8, 4))
    back = WaveNetConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and back.upsample_scales == (8, 8, 4)
    assert WaveNetConfig().receptive_field == 1024
    assert WaveNetConfig(n_layers=20).receptive_field == 2047
    assert WaveNetConfig(**TINY).receptive_field == 16
    with pytest.raises(ValueError):
        WaveNetConfig(upsample_scales=(4, 4, 4))


def test_forward_shapes_and_loss():
    model = tiny()
    classes = torch.randint(0, 256, (2, 64))
    logits = model(classes, random_mel(5, batch=2))  # 64 / 16 + 1 frames
    assert logits.shape == (2, 256, 64)
    model.train()
    loss = model.loss(torch.rand(2, 64) * 2 - 1, random_mel(5, batch=2))
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert model.upsample.conv_in.weight.grad is not None


def test_logits_see_only_the_past_and_the_receptive_field():
    model = tiny()
    mel = random_mel(9, batch=1)
    classes = torch.randint(0, 256, (1, 128))
    changed = classes.clone()
    t = 40
    changed[0, t] = (classes[0, t] + 100) % 256
    with torch.no_grad():
        a, b = model(classes, mel), model(changed, mel)
    rf = model.cfg.receptive_field
    assert torch.equal(a[:, :, :t + 1], b[:, :, :t + 1])  # logits at t predict x[t] from x[<t]
    assert not torch.allclose(a[:, :, t + 1], b[:, :, t + 1])
    assert torch.equal(a[:, :, t + rf + 1:], b[:, :, t + rf + 1:])  # past the receptive field


def default_sized_upsampler(identity: bool) -> WaveNet:
    """The default hop and upsampling scales, with tiny everything else (8 mel bands)."""
    torch.manual_seed(0)
    model = WaveNet(WaveNetConfig(n_layers=2, residual_channels=4, gate_channels=4, skip_channels=4,
                                  n_mels=8, cond_channels=8))
    if identity:  # a pure delay-free identity over frames: what remains is the upsampling itself
        with torch.no_grad():
            model.upsample.conv_in.weight.zero_()
            model.upsample.conv_in.weight[:, :, 1] = torch.eye(8)
            model.upsample.conv_in.bias.zero_()
    return model


def test_frame_k_conditions_the_samples_around_k_times_hop():
    model = default_sized_upsampler(identity=True)
    hop, frames = 256, 12
    base = torch.zeros(1, 8, frames)
    with torch.no_grad():
        rest = model.condition(base)
        assert rest.shape == (1, 8, (frames - 1) * hop)  # (T - 1) * hop: what log_mel's frames cover
        for k in (3, 5, 8):
            impulse = base.clone()
            impulse[0, 7, k] = 1.0
            response = (model.condition(impulse) - rest)[0, 7]
            n = torch.arange(response.shape[0], dtype=torch.float64)
            centroid = (n * response.double()).sum() / response.double().sum()
            # frame k rules samples k*hop - hop/2 .. k*hop + hop/2 - 1, centred on k*hop - 1/2
            assert abs(centroid.item() - (k * hop - 0.5)) < 0.25, (k, centroid)
            assert response.argmax().item() in range(k * hop - hop // 2, k * hop + hop // 2)


def test_each_sample_is_driven_mostly_by_its_nearest_frame():
    model = default_sized_upsampler(identity=False)  # as initialised
    hop, frames = 256, 9
    mel = random_mel(frames, batch=1)
    samples = [3 * hop - 90, 3 * hop, 3 * hop + 90, 4 * hop + 40, 5 * hop - 100, 6 * hop + 100]
    # The conditioning is affine in the mel: move each input channel of a frame by one, at once
    # as a batch, and sum the squared changes (the Jacobian's squared norm per sample and frame).
    influence = torch.zeros(len(samples), frames)
    with torch.no_grad():
        base = model.condition(mel)[:, :, samples]
        for j in range(frames):
            probe = mel.repeat(8, 1, 1)
            probe[range(8), range(8), j] += 1.0
            influence[:, j] = (model.condition(probe)[:, :, samples] - base).pow(2).sum(dim=(0, 1))
    for i, n in enumerate(samples):
        assert influence[i].argmax().item() == math.floor(n / hop + 0.5), (n, influence[i])


def test_a_segment_with_context_frames_conditions_as_the_whole_piece_does():
    # generate_long conditions each chunk on its own frames plus context_frames on either side.
    model = default_sized_upsampler(identity=False)
    hop, margin = 256, model.upsample.context_frames
    mel = random_mel(40, batch=1)
    with torch.no_grad():
        whole = model.condition(mel)
        a, b = 15, 22  # samples a*hop .. b*hop - 1
        part = model.condition(mel[:, :, a - margin:b + margin + 1])[:, :, margin * hop:(margin + b - a) * hop]
        less = margin - 1
        short = model.condition(mel[:, :, a - less:b + less + 1])[:, :, less * hop:(less + b - a) * hop]
    assert margin == 2
    assert torch.allclose(part, whole[:, :, a * hop:b * hop], atol=1e-5)
    assert not torch.allclose(short, whole[:, :, a * hop:b * hop], atol=1e-4)  # and no fewer frames


def test_conditioning_a_range_of_samples_reads_only_the_frames_it_needs():
    model = tiny()
    mel = random_mel(30, batch=2)
    with torch.no_grad():
        whole = model.condition(mel)
        for start, stop in ((0, 464), (0, 5), (37, 200), (160, 176), (300, 464), (463, 464)):
            assert torch.allclose(model.upsample.samples(mel, start, stop), whole[:, :, start:stop], atol=1e-5)


class _RecordedFeedback(wavenet._Feedback):
    made: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.made.append(self)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "torch"])
@pytest.mark.parametrize("lpc_order", [0, 6], ids=["samples", "excitation"])
@pytest.mark.parametrize("small_blocks", [False, True], ids=["one-block", "many-blocks"])
@pytest.mark.parametrize("kernel_size", [2, 3])
def test_cached_generation_draws_the_samples_of_a_full_recomputation(kernel_size, small_blocks, lpc_order,
                                                                     compiled, monkeypatch):
    if compiled and not wavenet_step.enabled():
        pytest.skip("numba is not installed")
    monkeypatch.setenv("CANTUS_COMPILED_STEP", "1" if compiled else "0")
    calls = []
    run_block = wavenet_step.run_block
    monkeypatch.setattr(wavenet_step, "run_block", lambda *a: calls.append(a[0]) or run_block(*a))
    if small_blocks:  # the conditioning in blocks of 16 samples (gates) and 32 (upsampling)
        monkeypatch.setattr(wavenet, "GATE_BLOCK_FLOATS", 16 * 2 * 4 * 16)
        monkeypatch.setattr(wavenet, "COND_BLOCK_FLOATS", 32 * 2 * 8)
        monkeypatch.setattr(wavenet, "UNIFORM_BLOCK", 24)  # uniforms' blocks across the gates'
    monkeypatch.setattr(wavenet, "_Feedback", _RecordedFeedback)
    _RecordedFeedback.made = []
    model = tiny(kernel_size=kernel_size, lpc_order=lpc_order)
    mel = random_mel(5, batch=2)
    cached = model.generate(mel, seed=7)
    naive = model.generate(mel, seed=7, naive=True)
    assert cached.shape == (2, 64) and cached.dtype == torch.float32
    drawn, drawn_naive = (f.classes for f in _RecordedFeedback.made)
    assert torch.equal(drawn, drawn_naive)

    def same(a, b):  # with prediction the compiled p[t] is a sum in another order, fed back
        return torch.allclose(a, b, rtol=0, atol=1e-4) if compiled and lpc_order else torch.equal(a, b)

    assert same(cached, naive)
    assert bool(calls) == compiled
    if compiled:  # every step ran compiled, in blocks that start where a gates' or uniforms' block does
        assert calls == ([0, 16, 24, 32, 48] if small_blocks else [0])
    assert not torch.equal(cached, model.generate(mel, seed=8))
    assert len(set(mu_law_encode(cached).flatten().tolist())) > 20  # really sampled
    greedy = model.generate(mel, temperature=0, seed=1)
    assert same(greedy, model.generate(mel, temperature=0, seed=2, naive=True))


def test_with_linear_prediction_the_network_reads_the_past_and_predicts_the_excitation():
    model = tiny(lpc_order=6)
    mel = random_mel(9, batch=1)
    audio = 0.01 * torch.sin(torch.arange(128) * 0.3)[None]
    with pytest.raises(ValueError):
        model(mu_law_encode(audio), mel)  # the classes alone are not its input
    with torch.no_grad():
        logits, targets = model.teacher_forced(audio, mel)
        a = lpc_from_mel(mel, 6)
        changed = audio.clone()
        changed[0, 40] += 0.003
        logits2, targets2 = model.teacher_forced(changed, mel)
    assert logits.shape == (1, 128, 256) and targets.shape == (1, 128)
    assert torch.equal(targets, mu_law_encode(audio - lpc.predict(audio, a, 16)))
    assert torch.equal(logits[:, :41], logits2[:, :41])  # logits at t read samples before t only
    assert not torch.allclose(logits[:, 41], logits2[:, 41])
    # The excitation of samples 40 .. 46 changes (46 is the last whose prediction reads sample 40).
    e, e2 = audio - lpc.predict(audio, a, 16), changed - lpc.predict(changed, a, 16)
    assert torch.equal(e[:, :40], e2[:, :40]) and torch.equal(e[:, 47:], e2[:, 47:])
    assert (e[0, 40:47] != e2[0, 40:47]).all()
    loss = model.train().loss(audio, mel)
    loss.backward()
    assert torch.isfinite(loss) and model.embed_prediction.weight.grad.abs().sum() > 0
    assert model.embed_excitation.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("lpc_order", [0, 6], ids=["samples", "excitation"])
def test_generation_feeds_back_what_teacher_forcing_reads(lpc_order, monkeypatch):
    # Read back by teacher forcing, sampled audio gives the logits the sampler drew from and the
    # classes it drew: the sampler feeds the network the inputs it was trained on.
    seen_logits, seen_classes = [], []

    def draw(logits, temperature, u):
        classes = real_draw(logits, temperature, u)
        seen_logits.append(logits.clone())
        seen_classes.append(classes.clone())
        return classes

    real_draw = wavenet._draw
    monkeypatch.setattr(wavenet, "_draw", draw)
    monkeypatch.setenv("CANTUS_COMPILED_STEP", "0")  # the torch loop, whose draws can be watched
    model = tiny(lpc_order=lpc_order)
    with torch.no_grad():  # small excitations, as a trained model draws: the sum stays inside [-1, 1]
        model.out2.bias.add_(-0.02 * (torch.arange(256.0) - 128) ** 2)
    # The tiny model's mel (8 bands, hop 16) of two tones: predictors with resonances, as in music.
    spec = replace(MEL, n_mels=8, hop_length=16)
    t = np.arange(1024) / MEL.sample_rate
    mel = torch.from_numpy(np.stack([log_mel(0.3 * np.sin(2 * np.pi * f * t), spec) for f in (220, 880)]))
    with torch.no_grad():
        audio = model.generate(mel, seed=5)
        logits, targets = model.teacher_forced(audio, mel)
    drawn = torch.stack(seen_classes, 1)
    assert len(set(drawn.flatten().tolist())) > 20  # really sampled
    assert audio.abs().max() < 1  # never clamped (a clamped sample is not p + e)
    assert (targets == drawn).float().mean() > 0.99  # up to float rounding of x - p
    assert torch.allclose(logits, torch.stack(seen_logits, 1), atol=1e-3)


def test_generation_reports_progress_and_stops_when_cancelled():
    model = tiny()
    mel = random_mel(41, batch=1)
    seen = []
    model.generate(mel, seed=0, progress=seen.append)
    assert seen == [0.0, 256 / 640, 512 / 640]
    with pytest.raises(Cancelled):
        model.generate(mel, seed=0, cancel=lambda: len(seen) > 3, progress=seen.append)


def test_generate_long_gives_the_whole_piece_deterministically():
    model = tiny()
    mel = random_mel(40)  # 39 * 16 = 624 samples
    args = dict(chunk_samples=128, overlap_samples=32, preroll_samples=64, max_batch=3)
    seen = []
    audio = generate_long(model, mel, seed=3, progress=seen.append, **args)
    assert audio.shape == (624,) and audio.dtype == np.float32
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
    assert np.array_equal(audio, generate_long(model, mel.numpy(), seed=3, **args))
    assert not np.array_equal(audio, generate_long(model, mel, seed=4, **args))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        generate_long(model, mel, seed=3, cancel=lambda: True, **args)
    assert generate_long(model, mel[:, :1]).shape == (0,)
    # defaults (one chunk here) and a piece shorter than the overlap
    assert generate_long(model, mel, seed=0).shape == (624,)
    assert generate_long(model, mel[:, :2], seed=0, **args).shape == (16,)


def test_generate_long_puts_each_chunk_under_its_own_frames():
    # At temperature 0 a chunk is a function of its conditioning alone: rebuild every chunk from
    # the conditioning of the whole piece (silence before and after it) and compare.
    model = tiny()
    hop, margin = 16, model.upsample.context_frames
    mel = random_mel(40)
    chunk, preroll = 160, 48
    audio = generate_long(model, mel, chunk_samples=chunk, overlap_samples=0, preroll_samples=preroll,
                          max_batch=2, temperature=0)
    silence = torch.full((8, preroll // hop + margin), MEL.silence)
    padded = torch.cat([silence, mel, silence, silence], dim=1)[None]
    with torch.no_grad():
        start = margin * hop  # where the first chunk's pre-roll begins
        parts = [model._sample_cached(padded, start + i, preroll + chunk, 0, None)[:, preroll:]
                 for i in range(0, 624, chunk)]
    expected = torch.cat(parts, dim=1)[0, :624].numpy()
    assert np.array_equal(audio, expected)


def test_crossfade_joins_without_a_jump():
    ones, zeros = np.ones(100, np.float32), np.zeros(100, np.float32)
    flat = crossfade_join(np.stack([ones * 0.3] * 4), 20, fade="linear")
    assert flat.shape == (4 * 100 - 3 * 20,)
    assert np.allclose(flat, 0.3)
    for fade, power in (("linear", 1), ("equal_power", 2)):
        out = crossfade_join(np.stack([ones, zeros]), 20, fade)
        into = crossfade_join(np.stack([zeros, ones]), 20, fade)
        assert np.allclose(out ** power + into ** power, 1.0, atol=1e-6)
        assert np.abs(np.diff(out)).max() < 0.08  # continuous: no step bigger than the ramp's
        assert np.array_equal(out[:80], ones[:80]) and np.array_equal(out[100:], zeros[20:])
