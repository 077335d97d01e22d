"""configs/pipeline_qwen25_7b.py: its SFT step and its DAPO update are lowered and compiled (AOT, abstract
arrays, nothing allocated) on an 8-device mesh as the run would build them, and fit an 80 GB accelerator."""
import jax
import pytest

from configs import pipeline_qwen25_7b
from jaxpt.config import merge, pipeline_config, rl_view, sft_view, validate
from jaxpt.models.config import get_config
from jaxpt.parallel.mesh import sharder_from_config
from jaxpt.train.memory import step_memory

GB = 1e9


@pytest.fixture(scope="module")
def setup():
    cfg = validate(merge(pipeline_config(), pipeline_qwen25_7b.get_config()))
    m = cfg.model
    # The checkpoint is not here: the preset has the same shapes (Qwen2.5-7B, 7.6B parameters).
    mcfg = get_config("qwen2.5-7b").replace(param_dtype=m.param_dtype, dtype=m.dtype, remat=m.remat,
                                           scan_layers=m.scan_layers, attention_impl=m.attention_impl)
    assert jax.device_count() == 8
    return cfg, mcfg, sharder_from_config(cfg.mesh)


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["sft", "rl"])
def test_qwen25_7b_steps_fit_80gb_per_device(setup, stage):
    cfg, mcfg, sharder = setup
    assert dict(sharder.mesh.shape) == {"data": 1, "fsdp": 8, "tensor": 1}
    view = sft_view(cfg, "/tmp/x") if stage == "sft" else rl_view(cfg, "/tmp/x", cfg.schedule.rl_algorithm)
    mem = step_memory(view, stage, mcfg, sharder)
    # The train state (fp32 params + two Adam moments, 12 bytes per parameter) is sharded 8 ways.
    state = 12 * 7_615_616_512 / 8
    assert mem["argument"] >= 0.95 * state, mem
    print(stage, {k: f"{v / GB:.1f} GB" for k, v in mem.items()})
    assert mem["peak"] < 80 * GB, mem
