"""jaxpt.train.loss (LM head + log-softmax under a hand-written VJP): log-probabilities, entropies and their
gradients against torch autograd in float64, with temperature, chunking and tied / untied heads."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jaxpt.models.config import get_config  # noqa: E402
from jaxpt.train import loss  # noqa: E402

B, T, H, V = 3, 12, 16, 40
TEMPERATURE = 0.7


def _inputs(tied):
    rng = np.random.RandomState(3)
    h = rng.randn(B, T, H).astype(np.float32)
    w = (0.5 * rng.randn(V, H) if tied else 0.5 * rng.randn(H, V)).astype(np.float32)
    targets = rng.randint(0, V, (B, T)).astype(np.int32)
    a, b = rng.randn(B, T).astype(np.float32), rng.randn(B, T).astype(np.float32)  # cotangents
    return h, w, targets, a, b


def _torch_reference(h, w, targets, a, b, tied):
    th = torch.tensor(h, dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    z = (th @ (tw.T if tied else tw)) / TEMPERATURE
    logsm = torch.log_softmax(z, dim=-1)
    logp = logsm.gather(-1, torch.tensor(targets, dtype=torch.int64)[..., None])[..., 0]
    ent = -(logsm.exp() * logsm).sum(-1)
    (torch.tensor(a, dtype=torch.float64) * logp + torch.tensor(b, dtype=torch.float64) * ent).sum().backward()
    return logp.detach().numpy(), ent.detach().numpy(), th.grad.numpy(), tw.grad.numpy()


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("chunk", [0, 4])
def test_logprobs_entropy_and_gradients_match_torch(tied, chunk):
    h, w, targets, a, b = _inputs(tied)
    cfg = get_config("tiny-qwen", vocab_size=V, hidden_size=H, tie_embeddings=tied)
    key = "embed" if tied else "lm_head"

    def f(h, w):
        logp, ent = loss.token_logprobs({key: w}, cfg, h, targets, inv_temperature=1.0 / TEMPERATURE,
                                        with_entropy=True, chunk=chunk)
        return jnp.sum(a * logp + b * ent), (logp, ent)

    (_, (logp, ent)), (gh, gw) = jax.jit(jax.value_and_grad(f, argnums=(0, 1), has_aux=True))(h, w)
    want_logp, want_ent, want_gh, want_gw = _torch_reference(h, w, targets, a, b, tied)
    np.testing.assert_allclose(np.asarray(logp), want_logp, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ent), want_ent, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(gh), want_gh, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(gw), want_gw, rtol=1e-4, atol=1e-5)


def test_without_entropy_and_nll_sums():
    h, w, targets, _, _ = _inputs(False)
    cfg = get_config("tiny-qwen", vocab_size=V, hidden_size=H, tie_embeddings=False)
    logp, ent = loss.token_logprobs({"lm_head": w}, cfg, h, targets)
    assert float(jnp.abs(ent).max()) == 0.0
    z = h.astype(np.float64) @ w
    z = z - z.max(-1, keepdims=True)
    want = np.take_along_axis(z - np.log(np.exp(z).sum(-1, keepdims=True)), targets[..., None], -1)[..., 0]
    np.testing.assert_allclose(np.asarray(logp), want, rtol=1e-5, atol=1e-5)
    weights = (np.arange(T) % 3 != 0).astype(np.float32)[None].repeat(B, 0)
    s, n = loss.nll_sums({"lm_head": w}, cfg, h, targets, weights, chunk=6)
    np.testing.assert_allclose(float(s), -(want * weights).sum(), rtol=1e-5)
    assert float(n) == weights.sum()
    with pytest.raises(ValueError, match="loss_chunk"):
        loss.token_logprobs({"lm_head": w}, cfg, h, targets, chunk=5)
