"""jaxpt's decoder against transformers (torch, CPU) on tiny random models of both families."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import jax  # noqa: E402
import transformers  # noqa: E402

import jaxpt  # noqa: E402
from tests.helpers.hf_tiny import make_hf_model  # noqa: E402

PRESETS = ["tiny-qwen", "tiny-llama"]


@pytest.fixture(autouse=True)
def full_precision_matmuls():
    """On GPUs JAX's default lets float32 matmuls run in TF32 (about 1e-3 relative error; 6 of these tests
    failed on an H100 that way). The comparison is of model definitions, so pin full float32. No-op on CPU."""
    with jax.default_matmul_precision("highest"):
        yield


@pytest.fixture(scope="module", params=PRESETS)
def pair(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(request.param)
    hf, cfg = make_hf_model(request.param, d, seed=3)
    return request.param, hf, jaxpt.load_pretrained(d), d


def _ids(b, t, seed=0, vocab=256):
    return np.random.RandomState(seed).randint(0, vocab, (b, t))


def test_causal_batch_matches_transformers(pair):
    _, hf, model, _ = pair
    ids = _ids(3, 40)
    with torch.no_grad():
        ref = hf(torch.tensor(ids)).logits.numpy()
    out = np.asarray(model.logits(ids))
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= 1e-5


def test_left_padded_batch_matches_transformers(pair):
    _, hf, model, _ = pair
    ids = _ids(3, 24, seed=1)
    mask = np.ones_like(ids)
    mask[0, :7] = 0
    mask[2, :15] = 0
    pos = np.maximum(mask.cumsum(-1) - 1, 0)
    with torch.no_grad():
        ref = hf(torch.tensor(ids), attention_mask=torch.tensor(mask),
                 position_ids=torch.tensor(pos)).logits.numpy()
    out = np.asarray(model.logits(ids, mask))  # positions default to cumsum(mask) - 1
    diff = np.abs(out - ref) * mask[..., None]
    assert diff.max() <= 1e-5
    # Padding really changes the result for the padded rows (the test would catch an ignored mask).
    unmasked = np.asarray(model.logits(ids))
    assert np.abs((unmasked - out) * mask[..., None])[0].max() > 1e-4


def test_export_round_trip_loads_in_transformers(pair, tmp_path):
    name, hf, model, _ = pair
    out_dir = model.save_pretrained(tmp_path / "export")
    hf2 = transformers.AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32)
    ids = _ids(2, 16, seed=2)
    with torch.no_grad():
        ref = hf(torch.tensor(ids)).logits.numpy()
        ref2 = hf2(torch.tensor(ids)).logits.numpy()
    assert np.abs(ref2 - ref).max() <= 1e-6
    # And back into jaxpt.
    again = jaxpt.load_pretrained(out_dir)
    assert np.abs(np.asarray(again.logits(ids)) - ref).max() <= 1e-5
    if name == "tiny-qwen":
        assert hf2.config.model_type == "qwen2"
    else:
        assert hf2.config.rope_scaling.get("rope_type") == "llama3" or \
            hf2.config.rope_parameters.get("rope_type") == "llama3"


def test_transformers5_rope_parameters_config_is_read(pair, tmp_path):
    """A config.json written by transformers 5 stores theta inside rope_parameters; both layouts load."""
    import json
    import shutil

    _, hf, model, src = pair
    hf_cfg = json.loads((src / "config.json").read_text())
    assert "rope_parameters" in hf_cfg or "rope_theta" in hf_cfg
    legacy = dict(hf_cfg)
    params = legacy.pop("rope_parameters", None) or {}
    legacy["rope_theta"] = params.get("rope_theta", model.config.rope_theta)
    if params.get("rope_type", "default") != "default":
        legacy["rope_scaling"] = {k: v for k, v in params.items() if k != "rope_theta"}
    d = tmp_path / "legacy"
    shutil.copytree(src, d)
    (d / "config.json").write_text(json.dumps(legacy))
    assert jaxpt.load_pretrained(d).config == model.config


def test_scan_remat_and_bf16_options(pair):
    _, hf, model, src = pair
    ids = _ids(2, 20, seed=4)
    ref = np.asarray(model.logits(ids))
    scanned = jaxpt.load_pretrained(src, scan_layers=True, remat="full")
    assert np.abs(np.asarray(scanned.logits(ids)) - ref).max() <= 1e-5
    bf16 = jaxpt.load_pretrained(src, dtype="bfloat16")
    assert jax.tree.leaves(bf16.params)[0].dtype == np.dtype("bfloat16")
    out = np.asarray(bf16.logits(ids))
    assert out.dtype == np.float32
    assert np.abs(out - ref).max() < 0.05 * max(1.0, np.abs(ref).max())


def test_sharded_checkpoint_index_is_read(pair, tmp_path):
    from jaxpt.models import hf_params

    _, _, model, _ = pair
    out = tmp_path / "sharded"
    out.mkdir()
    hf_params.save_hf_params(model.params, model.config, out, shard_bytes=20_000)
    assert (out / "model.safetensors.index.json").is_file()
    assert len(list(out.glob("model-*.safetensors"))) > 2
    (out / "config.json").write_text(
        __import__("json").dumps(jaxpt.models.hf_config.config_to_hf(model.config)))
    ids = _ids(1, 8)
    again = jaxpt.load_pretrained(out)
    assert np.abs(np.asarray(again.logits(ids)) - np.asarray(model.logits(ids))).max() == 0.0


def test_bad_config_names_file_and_field(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "gpt2", "vocab_size": 3}')
    with pytest.raises(ValueError, match=r"config.json.*model_type"):
        jaxpt.load_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "qwen2",\n "vocab_size": }')
    with pytest.raises(ValueError, match=r"config.json: line 2"):
        jaxpt.load_pretrained(tmp_path)
