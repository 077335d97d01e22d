"""Presets: parameter counts via jax.eval_shape (nothing allocated) equal the published ones, and the
real-size models lower for a sharded mesh without running."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpt.models import decoder
from jaxpt.models.config import PRESETS, get_config
from jaxpt.models.model import Model, param_shardings
from jaxpt.models.params import count_params
from jaxpt.parallel.mesh import make_mesh
from jaxpt.parallel.rules import Sharder

# Published totals (sum of numel over the HF checkpoints' parameters).
PUBLISHED = {
    "qwen2.5-0.5b": 494_032_768,
    "qwen2.5-1.5b": 1_543_714_304,
    "qwen2.5-3b": 3_085_938_688,
    "qwen2.5-7b": 7_615_616_512,
    "qwen2.5-14b": 14_770_033_664,
    "qwen2.5-32b": 32_763_876_352,
    "qwen2.5-72b": 72_706_203_648,
    "llama3.2-1b": 1_235_814_400,
    "llama3.2-3b": 3_212_749_824,
    "llama3.1-8b": 8_030_261_248,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_count_matches_published(name):
    _, shapes = Model.abstract(name)
    assert count_params(shapes) == PUBLISHED[name]


def test_scan_layout_has_same_count():
    _, flat = Model.abstract("qwen2.5-7b")
    _, stacked = Model.abstract("qwen2.5-7b", scan_layers=True)
    assert count_params(flat) == count_params(stacked)
    assert stacked["layers"]["wq"].shape == (28, 3584, 3584)


@pytest.mark.parametrize("name", ["qwen2.5-7b", "llama3.2-3b"])
def test_real_size_forward_lowers_sharded(name):
    """AOT-lower a bf16 forward of the real-size preset on a (2, 2, 2) mesh: shapes and shardings check out
    without allocating 7B parameters."""
    cfg = get_config(name, param_dtype="bfloat16", dtype="bfloat16", scan_layers=True, remat="full")
    sharder = Sharder(make_mesh(2, 2, 2))
    shardings = param_shardings(cfg, sharder)
    _, shapes = Model.abstract(cfg)
    params = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), shapes, shardings)
    tokens = jax.ShapeDtypeStruct((8, 256), jnp.int32, sharding=sharder.sharding(("batch", "length")))

    def loss(p, t):
        logits, _ = decoder.forward(p, cfg, t, jnp.broadcast_to(jnp.arange(t.shape[1]), t.shape),
                                    sharder=sharder)
        return jnp.mean(jax.nn.logsumexp(logits, -1))

    lowered = jax.jit(jax.grad(loss)).lower(params, tokens)
    assert "stablehlo" in lowered.as_text()[:2000] or lowered.as_text()


def test_rope_llama3_scaling_values():
    """Hand-checked properties of Llama 3 frequency scaling: high frequencies untouched, low ones / factor."""
    from jaxpt.models.layers import rope_inv_freq

    cfg = PRESETS["llama3.2-1b"]
    base = rope_inv_freq(cfg.replace(rope_type="default"))
    scaled = rope_inv_freq(cfg)
    wavelen = 2 * np.pi / base
    hi = wavelen < cfg.rope_original_max_position / cfg.rope_high_freq_factor
    lo = wavelen > cfg.rope_original_max_position / cfg.rope_low_freq_factor
    np.testing.assert_allclose(scaled[hi], base[hi], rtol=1e-6)
    np.testing.assert_allclose(scaled[lo], base[lo] / 32.0, rtol=1e-6)
    mid = ~hi & ~lo
    assert mid.any() and np.all(scaled[mid] < base[mid]) and np.all(scaled[mid] > base[mid] / 32.0)


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown model preset"):
        get_config("qwen9-1t")
