"""Greedy sampling equals transformers' greedy `generate` (batched, left padded) on tiny random models of
both families and on SmolLM2-135M-Instruct."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import transformers  # noqa: E402

import jaxpt  # noqa: E402
from tests.helpers.hf_tiny import make_hf_model  # noqa: E402


def _hf_greedy(hf, prompts, new_tokens, pad_id, eos_id=None):
    """transformers generate on a left-padded batch; returns [B, <=new_tokens] new tokens."""
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad_id] * (width - len(p)) + list(p) for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    threads = torch.get_num_threads()
    # One thread: on a shared, busy machine torch's threads spin at barriers (10x slower, measured).
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            out = hf.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens, do_sample=False,
                              pad_token_id=pad_id, eos_token_id=eos_id, top_k=None, top_p=None,
                              temperature=None)
    finally:
        torch.set_num_threads(threads)
    return out[:, width:].numpy()


@pytest.mark.parametrize("preset", ["tiny-qwen", "tiny-llama"])
def test_greedy_matches_transformers_tiny(preset, tmp_path):
    hf, _ = make_hf_model(preset, tmp_path, seed=1)
    model = jaxpt.load_pretrained(tmp_path)
    rng = np.random.RandomState(0)
    prompts = [rng.randint(2, 256, n).tolist() for n in (5, 17, 2, 11)]
    out = model.generate(prompts, 16, eos_ids=())
    ref = _hf_greedy(hf, prompts, 16, pad_id=0)
    np.testing.assert_array_equal(out.tokens, ref)
    assert (out.lengths == 16).all() and out.truncated.all()


@pytest.fixture(scope="module")
def smollm2():
    from jaxpt.utils.smollm2 import smollm2_hf_dir

    path = smollm2_hf_dir()
    tok = transformers.AutoTokenizer.from_pretrained(path)
    return path, tok


def test_greedy_matches_transformers_smollm2(smollm2):
    path, tok = smollm2
    questions = ["What is 2+2? Answer briefly.", "Name one prime number.",
                 "Write one short sentence about the sea, then explain why it is blue in detail."]
    prompts = [tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True,
                                       tokenize=True, return_dict=False) for q in questions]
    prompts = [list(p) for p in prompts]
    assert len({len(p) for p in prompts}) == 3  # different lengths: left padding is exercised
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    model = jaxpt.load_pretrained(path)
    out = model.generate(prompts, 20, eos_ids=(eos,), pad_id=eos)
    hf = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    ref = _hf_greedy(hf, prompts, 20, pad_id=eos, eos_id=eos)
    width = ref.shape[1]
    np.testing.assert_array_equal(out.tokens[:, :width], ref)
    assert (out.tokens[:, width:] == eos).all()
    assert "4" in tok.decode(out.completions()[0])
