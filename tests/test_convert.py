"""launch.convert: HF directory -> jaxpt checkpoint -> HF directory keeps transformers' logits."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import transformers  # noqa: E402

from jaxpt.models.checkpoint import is_jaxpt_checkpoint, load_model  # noqa: E402
from tests.helpers.hf_tiny import make_hf_model  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]


def _convert(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-m", "launch.convert", *args], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_convert_round_trip(tmp_path):
    hf, _ = make_hf_model("tiny-llama", tmp_path / "hf", seed=9)
    _convert(f"--src={tmp_path / 'hf'}", f"--dst={tmp_path / 'ck'}", "--to=jaxpt")
    assert is_jaxpt_checkpoint(tmp_path / "ck")
    _convert(f"--src={tmp_path / 'ck'}", f"--dst={tmp_path / 'hf2'}", "--to=hf")
    hf2 = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf2", dtype=torch.float32)
    ids = np.random.RandomState(0).randint(0, 256, (2, 11))
    with torch.no_grad():
        a = hf(torch.tensor(ids)).logits.numpy()
        b = hf2(torch.tensor(ids)).logits.numpy()
    assert np.abs(a - b).max() <= 1e-6
    ours = np.asarray(load_model(tmp_path / "ck").logits(ids))
    assert np.abs(ours - a).max() <= 1e-5


def test_load_model_rejects_unknown_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a jaxpt checkpoint"):
        load_model(tmp_path)


def test_exports_keep_special_ids_generation_config_and_tokenizer(tmp_path):
    """An HF export keeps pad/eos ids and gets a generation config; a jaxpt checkpoint carries its tokenizer
    files, so it still works after being moved."""
    import json
    import shutil

    from jaxpt.data.tokenizer import toy_tokenizer_dir

    make_hf_model("tiny-llama", tmp_path / "hf", seed=3, vocab_size=32, eos_token_ids=(1,), pad_token_id=0,
                  bos_token_id=None)
    for f in toy_tokenizer_dir().iterdir():
        shutil.copy(f, tmp_path / "hf" / f.name)
    _convert(f"--src={tmp_path / 'hf'}", f"--dst={tmp_path / 'ck'}", "--to=jaxpt")
    shutil.move(tmp_path / "ck", tmp_path / "moved")
    model = load_model(tmp_path / "moved")
    assert pathlib.Path(model.tokenizer_dir) == tmp_path / "moved" / "tokenizer"
    assert (tmp_path / "moved" / "tokenizer" / "tokenizer.json").is_file()
    _convert(f"--src={tmp_path / 'moved'}", f"--dst={tmp_path / 'hf2'}", "--to=hf")
    cfg = json.loads((tmp_path / "hf2" / "config.json").read_text())
    assert (cfg["pad_token_id"], cfg["eos_token_id"]) == (0, 1)
    gen = transformers.GenerationConfig.from_pretrained(tmp_path / "hf2")
    assert (gen.pad_token_id, gen.eos_token_id) == (0, 1)
    assert transformers.AutoTokenizer.from_pretrained(tmp_path / "hf2").eos_token == "<eos>"
