"""The one config tree: typed merge, unknown keys with the nearest known key, stage views and optimizer
overrides, value validation naming the key, and --help listing the main keys."""
import os
import subprocess
import sys

import ml_collections
import pytest

from jaxpt.config import (ConfigKeyError, ConfigValueError, merge, pipeline_config, rl_config, rl_view, sft_config,
                          sft_view, stage_optim, validate)
from jaxpt.config.stages import SHARED

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_stage_shares_the_same_sections_with_the_same_defaults():
    trees = [sft_config(), rl_config(), pipeline_config()]
    for section in SHARED:
        dumps = [t[section].to_dict() if hasattr(t[section], "to_dict") else t[section] for t in trees]
        assert dumps[0] == dumps[1] == dumps[2], section
    # No stage nests another stage's tree, and no optimizer key lives outside `optim`.
    assert "rl" not in trees[0] and "sft" not in trees[1] and "rl" not in trees[2].rl
    for t in trees:
        for stage in ("sft", "rl"):
            if stage in t:
                assert not {"lr", "b1", "b2", "eps"} & set(t[stage].keys())
                assert set(t[stage].optim.keys()) == set(t.optim.keys())


def test_unknown_key_names_its_path_and_the_nearest_key():
    with pytest.raises(ConfigKeyError, match=r"'sft\.total_step'; did you mean 'sft\.total_steps'"):
        merge(sft_config(), {"sft": {"total_step": 3}})
    with pytest.raises(ConfigKeyError, match=r"'data\.sft\.sourc'; did you mean 'data\.sft\.source'"):
        merge(pipeline_config(), {"data": {"sft": {"sourc": "x"}}})
    # A key of an earlier release says where it went.
    with pytest.raises(ConfigKeyError, match=r"'train\.lr'.*sft\.optim\.lr"):
        merge(sft_config(), {"train": {"lr": 1e-3}})
    # In the pipeline the schedule picks the RL algorithm: rl.algorithm is not a key there.
    with pytest.raises(ConfigKeyError, match=r"'rl\.algorithm'.*schedule\.rl_algorithm"):
        merge(pipeline_config(), {"rl": {"algorithm": "dapo"}})


def test_typed_merge_keeps_types_and_free_form_maps():
    c = merge(sft_config(), {"optim": {"lr": 1}, "data": {"sft": {"fields": {"solution": "response"}}},
                             "model": {"overrides": {"num_layers": 2}}})
    assert c.optim.lr == 1 and c.data.sft.fields.solution == "response" and c.data.sft.fields.question == "question"
    assert c.model.overrides.num_layers == 2
    with pytest.raises(TypeError, match=r"'sft\.total_steps'"):
        merge(sft_config(), {"sft": {"total_steps": "many"}})
    with pytest.raises(TypeError, match=r"'data' is a section"):
        merge(sft_config(), {"data": "file.jsonl"})
    # Algorithm-dependent RL keys are typed placeholders: unset = the algorithm's value.
    r = merge(rl_config(), {"rl": {"group_size": 4, "dynamic_sampling": True}})
    assert r.rl.group_size == 4 and r.rl.dynamic_sampling is True and rl_config().rl.group_size is None
    with pytest.raises(TypeError, match=r"'rl\.group_size'"):
        merge(rl_config(), {"rl": {"group_size": "four"}})


def test_stage_optimizer_overrides_the_shared_one():
    c = merge(pipeline_config(), {"optim": {"b2": 0.98, "clip_norm": 0.5}, "sft": {"optim": {"lr": 2e-3}},
                                  "rl": {"optim": {"lr": 1e-6, "b2": 0.999}}})
    assert stage_optim(c, "sft") == {**c.optim.to_dict(), "lr": 2e-3}
    assert stage_optim(c, "rl") == {**c.optim.to_dict(), "lr": 1e-6, "b2": 0.999}
    # A shared value every stage overrides would change nothing: an error, not a silent no-op.
    with pytest.raises(ConfigValueError, match=r"optim\.lr = 0\.1 is unused: sft\.optim\.lr and rl\.optim\.lr"):
        validate(merge(c, {"optim": {"lr": 0.1}, "eval": {"source": "toy"}}))


def test_views_cut_the_stage_trees_out_of_the_pipeline_tree():
    c = merge(pipeline_config(), {"model": {"init_from": "tiny-llama"}, "sft": {"total_steps": 7},
                                  "rl": {"total_steps": 3}, "data": {"rl": {"source": "p.jsonl"}}})
    s = sft_view(c, "/tmp/x/sft")
    r = rl_view(c, "/tmp/x/rl", "dapo_dc")
    assert s.workdir == "/tmp/x/sft" and s.sft.total_steps == 7 and "rl" not in s
    assert r.rl.algorithm == "dapo_dc" and r.rl.total_steps == 3 and r.data.rl.source == "p.jsonl"
    assert s.model.init_from == r.model.init_from == "tiny-llama"
    validate(s, "sft")
    validate(r, "rl")


@pytest.mark.parametrize("override, fragment", [
    ({"model": {"dtype": "fp16"}}, "model.dtype = 'fp16'"),
    ({"sft": {"batch_rows": 6, "grad_accum": 4}}, "sft.batch_rows = 6 must divide by sft.grad_accum = 4"),
    ({"sft": {"eval_every": -1}}, "sft.eval_every = -1"),
    ({"mesh": {"data": -1, "fsdp": -1}}, "at most one axis may be -1"),
    ({"mesh": {"tensor": 0}}, "mesh.tensor = 0"),
    ({"optim": {"b2": 1.0}}, "optim.b2 = 1.0"),
    ({"sft": {"optim": {"schedule": "linear"}}}, "sft.optim.schedule = 'linear'"),
    ({"prompt": {"template": "no placeholder"}}, "prompt.template"),
    ({"eval": {"benchmarks": "gsm8k,mathx"}}, "unknown benchmark 'mathx'"),
    ({"data": {"sft": {"normalize": "gsm"}}}, "data.sft.normalize = 'gsm'"),
    ({"data": {"sft": {"max_len": 512, "seq_len": 256}}}, "data.sft.seq_len = 256 < data.sft.max_len = 512"),
    ({"data": {"sft": {"source": ""}}}, "data.sft.source is empty"),
])
def test_bad_values_fail_before_anything_loads_naming_the_key(override, fragment):
    with pytest.raises(ConfigValueError) as e:
        validate(merge(sft_config(), override), "sft")
    assert fragment in str(e.value)


def test_pipeline_checks():
    base = {"eval": {"source": "toy"}}
    with pytest.raises(ConfigValueError, match="switch_step > 0"):
        validate(merge(pipeline_config(), {**base, "schedule": {"switch_mode": "step"}}))
    with pytest.raises(ConfigValueError, match="sft.eval_every must be > 0"):
        validate(merge(pipeline_config(), {**base, "sft": {"eval_every": 0}}))
    with pytest.raises(ConfigValueError, match="set eval.benchmarks and/or eval.source"):
        validate(merge(pipeline_config(), {}))
    with pytest.raises(ConfigValueError, match="schedule.paradigm = 'dapo'"):
        validate(merge(pipeline_config(), {**base, "schedule": {"paradigm": "dapo"}}))
    with pytest.raises(ConfigValueError, match="rl.algorithm = 'ppo2'"):
        validate(merge(rl_config(), {"rl": {"algorithm": "ppo2"}}), "rl")


def test_shipped_configs_validate():
    from configs import (default, pipeline_qwen25_7b, pipeline_smoke, rl_qwen25_7b_dapo, rl_tiny, sft_llama32_3b,
                         sft_qwen25_7b, sft_tiny)

    for mod, kind in ((default, "pipeline"), (pipeline_qwen25_7b, "pipeline"), (rl_tiny, "rl"),
                      (rl_qwen25_7b_dapo, "rl"), (sft_tiny, "sft"), (sft_qwen25_7b, "sft"), (sft_llama32_3b, "sft")):
        base = {"sft": sft_config, "rl": rl_config, "pipeline": pipeline_config}[kind]()
        validate(merge(base, mod.get_config()), kind)
    smoke = pipeline_smoke.get_config()
    with pytest.raises(ConfigValueError, match="model.init_from is empty"):  # it must be given
        validate(merge(pipeline_config(), smoke))


def test_mesh_sizes_are_never_ignored():
    from jaxpt.parallel.mesh import sharder_from_config

    import jax

    assert jax.device_count() == 8
    assert sharder_from_config(ml_collections.ConfigDict({"data": 1, "fsdp": 1, "tensor": 1})) is None
    sh = sharder_from_config(sft_config().mesh)  # data=-1: all 8 devices
    assert sh is not None and sh.mesh.shape["data"] == 8
    with pytest.raises(ValueError, match=r"mesh.data/fsdp/tensor = \(1, 1, 3\)"):
        sharder_from_config(ml_collections.ConfigDict({"data": 1, "fsdp": 1, "tensor": 3}))
    sh = sharder_from_config(ml_collections.ConfigDict({"data": -1, "fsdp": 1, "tensor": 2}))
    assert dict(sh.mesh.shape) == {"data": 4, "fsdp": 1, "tensor": 2}


@pytest.mark.parametrize("script, keys", [
    ("launch.sft", ("model.init_from", "data.sft.source", "sft.total_steps", "optim.lr", "sft.optim.<key>")),
    ("launch.rl", ("rl.algorithm", "data.rl.source", "rl.group_size", "eval.benchmarks")),
    ("launch.pipeline", ("schedule.paradigm", "schedule.rl_algorithm", "data.rl.source", "eval.limit",
                         "rl.optim.<key>")),
])
def test_help_lists_the_main_keys(script, keys):
    out = subprocess.run([sys.executable, "-m", script, "--help"], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    text = out.stdout + out.stderr
    for key in keys:
        assert key in text, key
    line = next(x for x in text.splitlines() if x.strip().startswith("model.init_from"))
    assert "preset" in line and "Hugging Face" in line  # a one-line meaning, not just the key


def test_cli_unknown_key_names_the_nearest_key():
    out = subprocess.run([sys.executable, "-m", "launch.sft", "--config=configs/sft_tiny.py",
                          "--config.sft.total_step=3"], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert out.returncode != 0
    assert "unknown config key 'sft.total_step'; did you mean 'sft.total_steps'?" in out.stderr
