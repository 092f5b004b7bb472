"""Music Transformer: skewed relative attention against a direct computation, and the cache."""

import pytest
import torch

from engine.models import transformer_step
from engine.models.music_transformer import Attention, MusicTransformer, TransformerConfig, skew

TINY = dict(d_model=32, n_layers=2, n_heads=4, d_ff=64, max_len=64, dropout=0.0)


def test_skew_puts_each_distance_in_place():
    L = 5
    # column c of Q E^T holds distance L-1-c; write the distance itself there.
    rel = torch.arange(L - 1, -1, -1).float().expand(L, L)
    out = skew(rel)
    for i in range(L):
        for j in range(i + 1):
            assert out[i, j] == i - j


def direct_relative_attention(attn: Attention, x: torch.Tensor) -> torch.Tensor:
    """softmax((q_i.k_j + q_i.E[i-j]) / sqrt(d)) over j <= i, one pair at a time."""
    cfg = attn.cfg
    B, n, _ = x.shape
    q, k, v = attn.qkv(x).view(B, n, 3, cfg.n_heads, cfg.d_head).permute(2, 0, 3, 1, 4)
    out = torch.zeros_like(q)
    for i in range(n):
        logits = torch.stack([(q[:, :, i] * (k[:, :, j] + attn.rel[None, :, i - j])).sum(-1)
                              for j in range(i + 1)], dim=-1) / cfg.d_head ** 0.5
        out[:, :, i] = (logits.softmax(-1)[..., None] * v[:, :, : i + 1]).sum(2)
    return attn.proj(out.transpose(1, 2).reshape(B, n, cfg.d_model))


def test_relative_attention_matches_the_direct_computation():
    torch.manual_seed(0)
    attn = Attention(TransformerConfig(**TINY)).eval()
    x = torch.randn(2, 12, 32)
    with torch.no_grad():
        assert torch.allclose(attn(x), direct_relative_attention(attn, x), atol=1e-5)


@pytest.mark.parametrize("relative", [True, False])
def test_cached_steps_give_the_logits_of_a_full_recomputation(relative):
    torch.manual_seed(1)
    cfg = TransformerConfig(**{**TINY, "max_len": 256}, relative=relative)
    model = MusicTransformer(cfg).eval()
    seq = torch.randint(0, 388, (2, 210))
    with torch.no_grad():
        full = model(seq)
        cache = model.new_cache()
        parts = [model(seq[:, :10], cache)]  # a prime, then one event at a time
        parts += [model(seq[:, t:t + 1], cache) for t in range(10, 210)]
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-4)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "torch"])
@pytest.mark.parametrize("relative", [True, False])
def test_the_single_event_step_matches_the_cached_forward(relative, compiled, monkeypatch):
    # step() is forward() without the modules, for sampling (on the CPU the numba kernel of
    # engine/models/transformer_step.py, elsewhere bare torch); the relative model also slides.
    if compiled and not transformer_step.enabled():
        pytest.skip("numba is not installed")
    monkeypatch.setenv("CANTUS_COMPILED_STEP", "1" if compiled else "0")
    torch.manual_seed(4)
    model = MusicTransformer(TransformerConfig(**TINY, relative=relative)).eval()
    seq = torch.randint(0, 388, (1, 200 if relative else 64))
    with torch.no_grad():
        slow, fast = model.new_cache(), model.new_cache()
        model(seq[:, :5], slow)
        model(seq[:, :5], fast)
        for t in range(5, seq.shape[1]):
            expected = model(seq[:, t:t + 1], slow)[0, -1]
            assert torch.allclose(model.step(int(seq[0, t]), fast), expected, atol=1e-5), t
    assert fast.seen == seq.shape[1]
    assert isinstance(fast.stepper, transformer_step.CompiledStepper if compiled else transformer_step.TorchStepper)
    if not relative:
        with pytest.raises(ValueError):
            model.step(0, fast)


def test_forward_goes_on_from_a_cache_the_compiled_step_has_used():
    # Sampling primes with forward() and steps with the kernel; a later forward() over the same
    # cache takes the keys and values back (and the sliding window with them).
    if not transformer_step.enabled():
        pytest.skip("numba is not installed")
    torch.manual_seed(5)
    model = MusicTransformer(TransformerConfig(**TINY)).eval()
    seq = torch.randint(0, 388, (1, 160))
    with torch.no_grad():
        reference, cache = model.new_cache(), model.new_cache()
        model(seq[:, :20], reference)
        model(seq[:, :20], cache)
        for t in range(20, 150):
            expected = model(seq[:, t:t + 1], reference)[0, -1]
            assert torch.allclose(model.step(int(seq[0, t]), cache), expected, atol=1e-5), t
        assert isinstance(cache.stepper, transformer_step.CompiledStepper)
        assert torch.allclose(model(seq[:, 150:160], cache), model(seq[:, 150:160], reference), atol=1e-5)
        assert cache.stepper is None and cache.seen == 160


def test_the_relative_cache_slides_past_max_len():
    # With one layer, keys depend on their own event only, so after sliding, the newest step must
    # equal a fresh computation over the last max_len events.
    torch.manual_seed(2)
    model = MusicTransformer(TransformerConfig(**{**TINY, "n_layers": 1})).eval()
    seq = torch.randint(0, 388, (1, 300))  # past the buffer's end (2 x 64) twice
    with torch.no_grad():
        cache = model.new_cache()
        model(seq[:, :40], cache)
        for t in range(40, 300):
            last = model(seq[:, t:t + 1], cache)
            if t in (100, 128, 129, 200, 299):
                assert torch.allclose(last[:, -1], model(seq[:, t - 63:t + 1])[:, -1], atol=1e-4), t
        assert cache.layers[0].end - cache.layers[0].start == 64 and cache.seen == 300
    absolute = MusicTransformer(TransformerConfig(**TINY, relative=False)).eval()
    with pytest.raises(ValueError):
        absolute(torch.randint(0, 388, (1, 65)))


def test_loss_ignores_padding_and_learns():
    torch.manual_seed(3)
    model = MusicTransformer(TransformerConfig(**TINY))
    seq = torch.randint(0, 388, (4, 33))
    seq[:, 20:] = 388  # PAD
    nll, count = model.loss(seq)
    assert count == 4 * 19 and 5.0 < nll < 7.0  # about log(390) untrained
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(60):
        loss, _ = model.loss(seq)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss < 1.0
