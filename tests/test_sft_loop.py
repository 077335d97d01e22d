"""The SFT loop end to end on CPU: resume exactness, the eval hook, exports, the tiny task's overfitting
curve, GSM8K with the SmolLM2 vocabulary, and the launcher."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxpt.models.checkpoint import load_model
from jaxpt.train.checkpointing import read_best_info
from jaxpt.train.sft_loop import load_train_checkpoint_params, run_sft
from jaxpt.utils.metrics import read_metrics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_MODEL = {"init_from": "tiny-qwen", "overrides": {"hidden_size": 32, "intermediate_size": 64,
                                                     "num_layers": 1, "num_heads": 2, "num_kv_heads": 1}}


def small_config(workdir, **sft):
    return {"workdir": str(workdir), "model": TINY_MODEL, "mesh": {"data": 1}, "prompt": {"template": "{question}"},
            "data": {"sft": {"max_len": 96, "seq_len": 128}, "toy": {"preset": "tiny", "num_train": 60, "num_val": 24}},
            "sft": {"total_steps": 8, "batch_rows": 4, "grad_accum": 2, "eval_every": 4, "checkpoint_every": 4,
                    **sft},
            "optim": {"lr": 3e-3, "warmup_steps": 2, "schedule": "cosine"},
            "log": {"every": 3, "progress": False, "tensorboard": False}}


def test_resume_is_exact(tmp_path):
    full = run_sft(small_config(tmp_path / "full"))
    part = run_sft(small_config(tmp_path / "part", stop_at_step=4))
    assert part.final_step == 4 and part.checkpoint_steps == [4]
    cfg = small_config(tmp_path / "part")
    with pytest.raises(ValueError, match="resume"):
        run_sft(cfg)  # checkpoints exist: refuses to silently start over
    cfg["checkpoint"] = {"resume": True}
    resumed = run_sft(cfg)
    assert resumed.final_step == 8
    assert resumed.train_losses == full.train_losses  # bitwise: same batches, same state
    assert resumed.history == full.history
    assert [h[0] for h in full.history] == [0, 4, 8]
    assert full.history[1][1] > 0 and full.history[2][2] > full.history[1][2] > 0  # tokens, FLOPs grow
    # Metrics after the interruption point are not duplicated.
    steps = [r["step"] for r in read_metrics(tmp_path / "part" / "metrics.jsonl") if "train/loss" in r]
    assert steps == list(range(1, 9))
    # Best model: a jaxpt checkpoint that load_model reads (RL starts from it).
    model = load_model(full.best_model_dir)
    info = read_best_info(full.best_model_dir)
    assert info["step"] == full.best_step and info["val_loss"] == pytest.approx(full.best_val_loss)
    if full.best_step == 8:
        for a, b in zip(jax.tree.leaves(model.params), jax.tree.leaves(full.state["params"])):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # The export carries its own copy of the tokenizer files (it stays usable when moved).
    import pathlib

    tok_copy = pathlib.Path(model.tokenizer_dir)
    assert tok_copy.parent == pathlib.Path(full.best_model_dir)
    assert (tok_copy / "tokenizer.json").read_bytes() == (pathlib.Path(full.tokenizer_dir) / "tokenizer.json").read_bytes()
    # Any train checkpoint can be turned into a model (to branch RL from other points).
    m4 = load_train_checkpoint_params(tmp_path / "full", step=4)
    assert m4.config == full.model_config


def test_on_eval_hook_stops(tmp_path):
    calls = []

    def hook(step, metrics):
        calls.append((step, metrics["val/loss"], metrics["tokens"], metrics["flops"]))
        return step >= 4

    res = run_sft(small_config(tmp_path / "hook", total_steps=20), on_eval=hook)
    assert res.stopped_by_hook and res.final_step == 4
    assert [c[0] for c in calls] == [0, 4] and 4 in res.checkpoint_steps
    assert [(s, v) for s, _, _, v in res.history] == [(s, v) for s, v, _, _ in calls]


def test_tiny_task_val_loss_min_then_rise(tmp_path):
    """Training loss falls; with irreducible trajectory variety the validation loss bottoms out and rises."""
    cfg = {"workdir": str(tmp_path / "curve"), "mesh": {"data": 1}, "prompt": {"template": "{question}"},
           "model": {"init_from": "tiny-qwen", "overrides": {"hidden_size": 64, "intermediate_size": 176,
                                                             "num_layers": 2, "num_heads": 4, "num_kv_heads": 2}},
           "data": {"sft": {"max_len": 128, "seq_len": 128}, "toy": {"preset": "tiny", "num_val": 200, "noise": 0.3}},
           "sft": {"total_steps": 300, "batch_rows": 16, "eval_every": 25, "checkpoint_every": 1000},
           "optim": {"lr": 3e-3, "schedule": "constant", "warmup_steps": 20, "b2": 0.98},
           "log": {"every": 50, "progress": False, "tensorboard": False}}
    res = run_sft(cfg)
    losses = [v for _, _, _, v in res.history]
    steps = [s for s, _, _, _ in res.history]
    i_min = int(np.argmin(losses))
    assert 0 < i_min < len(losses) - 2, losses
    assert losses[-1] > 1.1 * losses[i_min], losses
    train = [l for _, l in res.train_losses]
    assert np.mean(train[-20:]) < 0.3 * np.mean(train[:5])
    assert res.best_step == steps[i_min]
    print("val-loss curve:", [(s, round(v, 4)) for s, v in zip(steps, losses)])


def test_gsm8k_smollm2_vocab_trains(shared_dir, tmp_path):
    """GSM8K through the SmolLM2 chat template, a tiny random model with the real 49152 vocabulary."""
    from jaxpt.utils.smollm2 import smollm2_hf_dir

    cfg = {"workdir": str(tmp_path / "gsm"), "tokenizer": str(smollm2_hf_dir()), "mesh": {"data": 1},
           "model": {"init_from": "tiny-llama", "overrides": {"hidden_size": 32, "intermediate_size": 64,
                                                              "num_layers": 1, "num_heads": 2, "num_kv_heads": 1,
                                                              "head_dim": 16}},
           "data": {"sft": {"source": str(shared_dir / "data/train/gsm8k/train.jsonl"), "normalize": "gsm8k",
                            "limit": 40, "max_len": 256, "seq_len": 256}, "val": {"size": 8},
                    "cache_dir": str(tmp_path / "hf")},
           "prompt": {"template": "{question}",
                      "system_prompt": "Please reason step by step, and put your final answer within \\boxed{}."},
           "sft": {"total_steps": 4, "batch_rows": 2, "loss_chunk": 64, "eval_every": 4, "checkpoint_every": 100,
                   "export_best": False},
           "optim": {"lr": 1e-2, "warmup_steps": 0, "schedule": "constant"},
           "log": {"every": 1, "progress": False, "tensorboard": False}}
    res = run_sft(cfg)
    assert res.model_config.vocab_size == 49152
    assert res.data_stats["train/records"] == 32 and res.data_stats["val/records"] == 8
    val = [v for _, _, _, v in res.history]
    assert np.isfinite(val).all() and val[-1] < val[0]
    assert res.train_losses[-1][1] < res.train_losses[0][1]
    from jaxpt.data.tokenizer import load_tokenizer

    im_end = load_tokenizer(res.tokenizer_dir).convert_tokens_to_ids("<|im_end|>")
    assert im_end in res.model_config.eos_token_ids  # the sampler stops where training taught it to


def test_launcher_cli(tmp_path):
    work = tmp_path / "cli"
    cmd = [sys.executable, "-m", "launch.sft", "--config=configs/sft_tiny.py", f"--config.workdir={work}",
           "--config.sft.total_steps=3", "--config.sft.eval_every=3", "--config.data.toy.preset=tiny",
           "--config.data.toy.num_val=16", "--config.sft.batch_rows=4", "--config.log.progress=False",
           "--config.model.overrides.num_layers=1"]
    env = {**os.environ, "XLA_FLAGS": "", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "best val loss" in out.stdout
    rows = read_metrics(work / "metrics.jsonl")
    assert any("val/loss" in r and r["step"] == 3 for r in rows)
    assert json.loads((work / "config.json").read_text())["model"]["overrides"]["num_layers"] == 1
    assert (work / "tb").is_dir() and (work / "best_model" / "jaxpt_model.json").is_file()


def test_sharded_run_and_resume_match_unsharded(tmp_path):
    """The loop on an 8-device (data 2, fsdp 2, tensor 2) mesh, interrupted and resumed onto the mesh."""
    mesh = {"data": 2, "fsdp": 2, "tensor": 2}
    ref = run_sft(small_config(tmp_path / "ref", total_steps=4, batch_rows=8))
    cfg = small_config(tmp_path / "sh", total_steps=4, batch_rows=8, stop_at_step=2)
    cfg["mesh"] = mesh
    part = run_sft(cfg)
    assert part.final_step == 2
    cfg["sft"]["stop_at_step"] = 0
    cfg["checkpoint"] = {"resume": True}
    res = run_sft(cfg)
    from jax.sharding import PartitionSpec

    assert res.state["params"]["embed"].sharding.spec == PartitionSpec("tensor", "fsdp")
    np.testing.assert_allclose([l for _, l in res.train_losses], [l for _, l in ref.train_losses], rtol=1e-4)
    np.testing.assert_allclose([h[3] for h in res.history], [h[3] for h in ref.history], rtol=1e-4)
