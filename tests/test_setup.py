"""What a stage resolves first: model.init_from (preset, jaxpt checkpoint, HF directory), the tokenizer (the
model's own unless set; the toy tokenizer only for the toy task) and the check that the two fit."""
import json

import pytest

from jaxpt.config import merge, sft_config
from jaxpt.data.tokenizer import load_tokenizer
from jaxpt.train.setup import SetupError, init_kind, resolve_model_config, resolve_tokenizer


def _hf_dir(tmp_path, vocab=49152):
    """A config.json-only HF directory (shapes are all resolve_model_config reads)."""
    from jaxpt.models.config import get_config
    from jaxpt.models.hf_config import config_to_hf

    d = tmp_path / "hf"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(config_to_hf(get_config("tiny-llama", vocab_size=vocab))))
    return d


def test_init_from_kinds_and_errors(tmp_path):
    assert init_kind("tiny-qwen") == "preset" and init_kind("Qwen2.5-7B") == "preset"
    assert init_kind(str(_hf_dir(tmp_path))) == "hf"
    with pytest.raises(SetupError, match=r"model.init_from = '/no/such/model': no such directory"):
        init_kind("/no/such/model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SetupError, match="neither a jaxpt checkpoint"):
        init_kind(str(tmp_path / "empty"))


def test_tokenizer_comes_from_the_model_and_the_toy_only_for_the_toy_task(tmp_path):
    toy = merge(sft_config(), {"model": {"init_from": "tiny-qwen"}})  # data.sft.source = "toy"
    assert resolve_tokenizer(toy).name == "toy-char-v1"
    real_data = merge(toy, {"data": {"sft": {"source": "train.jsonl"}}})
    with pytest.raises(SetupError, match="is a preset .* has no tokenizer: set tokenizer"):
        resolve_tokenizer(real_data)
    hf = _hf_dir(tmp_path)
    with pytest.raises(SetupError, match="has no tokenizer files: set tokenizer"):
        resolve_tokenizer(merge(sft_config(), {"model": {"init_from": str(hf)}}))


def test_a_tokenizer_that_does_not_fit_the_model_is_an_error(tmp_path):
    hf = _hf_dir(tmp_path, vocab=49152)
    cfg = merge(sft_config(), {"model": {"init_from": str(hf)}, "tokenizer": "toy"})
    n = len(load_tokenizer("toy"))
    with pytest.raises(SetupError, match=f"has {n} tokens but the model's vocabulary has 49152: it is not this model's"):
        resolve_model_config(cfg, load_tokenizer("toy"))
    (tmp_path / "s").mkdir()
    small = _hf_dir(tmp_path / "s", vocab=16)
    with pytest.raises(SetupError, match="does not fit this model"):
        resolve_model_config(merge(cfg, {"model": {"init_from": str(small)}}), load_tokenizer("toy"))
    # Preset overrides on a trained model would be silently dropped: an error.
    with pytest.raises(SetupError, match="only applies to a preset"):
        resolve_model_config(merge(cfg, {"model": {"overrides": {"num_layers": 2}}}), load_tokenizer("toy"))
    # A preset sizes its embedding from the tokenizer and takes its special ids.
    mc = resolve_model_config(merge(sft_config(), {"model": {"init_from": "tiny-qwen"}}), load_tokenizer("toy"))
    tok = load_tokenizer("toy")
    assert mc.vocab_size == 32 and mc.pad_token_id == tok.pad_token_id and tok.eos_token_id in mc.eos_token_ids
