"""Gradients of jaxpt's training loss against transformers' loss.backward() (torch autograd), on tiny random
models of both families: the hand-written backward passes (blocked causal attention, fused LM head +
log-softmax) must give the same gradient for every parameter as an independent implementation."""
import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import jaxpt  # noqa: E402
from jaxpt.models import attention, hf_params  # noqa: E402
from jaxpt.train import sft_step  # noqa: E402
from tests.helpers.hf_tiny import make_hf_model  # noqa: E402


@pytest.fixture(autouse=True)
def full_precision_matmuls():
    with jax.default_matmul_precision("highest"):  # no TF32 on GPUs: this compares model definitions
        yield


@pytest.fixture(scope="module", params=["tiny-qwen", "tiny-llama"])  # untied / tied LM head
def pair(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(request.param)
    hf, _ = make_hf_model(request.param, d, seed=5)
    return hf, jaxpt.load_pretrained(d)


def _batch(seq_len):
    """Left-padded rows: the loss counts position t -> t+1 only where both are real tokens."""
    rng = np.random.RandomState(7)
    ids = rng.randint(0, 256, (3, seq_len))
    mask = np.ones_like(ids)
    mask[1, :9] = 0
    mask[2, :seq_len - 5] = 0
    weights = np.zeros(ids.shape, np.float32)
    weights[:, :-1] = mask[:, :-1] * mask[:, 1:]
    targets = np.concatenate([ids[:, 1:], np.zeros((3, 1), ids.dtype)], axis=1)
    batch = {"tokens": ids.astype(np.int32), "positions": np.maximum(mask.cumsum(-1) - 1, 0).astype(np.int32),
             "segment_ids": mask.astype(np.int32), "targets": targets.astype(np.int32), "weights": weights}
    return batch, ids, mask


def _hf_grads(hf, ids, mask, weights):
    labels = np.where(np.concatenate([np.zeros((3, 1)), weights[:, :-1]], axis=1) > 0, ids, -100)
    hf.zero_grad()
    out = hf(torch.tensor(ids), attention_mask=torch.tensor(mask),
             position_ids=torch.tensor(np.maximum(mask.cumsum(-1) - 1, 0)), labels=torch.tensor(labels))
    out.loss.backward()
    return float(out.loss.detach()), {name: p.grad.numpy() for name, p in hf.named_parameters()}


@pytest.mark.parametrize("seq_len,loss_chunk,block", [(40, 0, 128), (40, 8, 16), (36, 12, 7)])
def test_loss_and_gradients_match_transformers(pair, monkeypatch, seq_len, loss_chunk, block):
    """Several query blocks (including a ragged last one) and a chunked LM head give the same gradients."""
    hf, model = pair
    monkeypatch.setattr(attention, "BLOCK", block)
    batch, ids, mask = _batch(seq_len)
    ref_loss, ref = _hf_grads(hf, ids, mask, batch["weights"])

    def mean_nll(params):
        s, n = sft_step.loss_sums(params, model.config, batch, loss_chunk=loss_chunk)
        return s / n

    loss, grads = jax.jit(jax.value_and_grad(mean_nll))(model.params)
    assert abs(float(loss) - ref_loss) <= 1e-5 * abs(ref_loss)
    worst = 0.0
    for path, key, transform in hf_params.path_to_hf_keys(model.config):
        want = ref[key].T if transform == "T" else ref[key]
        got = np.asarray(hf_params._get(grads, path))
        assert got.shape == want.shape, path
        worst = max(worst, float(np.abs(got - want).max() / (np.abs(want).max() + 1e-12)))
    assert worst <= 2e-5, worst
    if model.config.tie_embeddings:  # the tied matrix gets both the lookup and the LM-head gradient
        assert "lm_head" not in grads


def test_blocked_attention_block_size_does_not_change_the_step(pair, monkeypatch):
    """Block boundaries only skip entries the causal mask forbids: any block size, the same gradients."""
    _, model = pair
    batch, _, _ = _batch(40)
    fn = functools.partial(sft_step.loss_sums, cfg=model.config, batch=batch)
    results = []
    for block in (40, 9):
        monkeypatch.setattr(attention, "BLOCK", block)
        results.append(jax.jit(jax.grad(lambda p: fn(p)[0]))(model.params))
    for a, b in zip(jax.tree.leaves(results[0]), jax.tree.leaves(results[1])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    # Sanity: the gradient is not trivially zero.
    assert max(float(jnp.abs(x).max()) for x in jax.tree.leaves(results[0])) > 1e-3
