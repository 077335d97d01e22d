"""The forecast keys of the pipeline config: each acts in its mode and is an error anywhere else, the stop
keys stay out of the RL stage's own tree, and the pipeline wires them to the scheduler and the RL hook."""
import pytest

from jaxpt.config import ConfigValueError, merge, pipeline_config, rl_view, validate
from jaxpt.pipeline.forecast_stage import forecast_switch


def _cfg(**over):
    base = {"eval": {"source": "toy"}, "data": {"sft": {"source": "toy"}}, "model": {"init_from": "tiny-qwen"}}
    for k, v in over.items():
        base[k] = {**base.get(k, {}), **v}
    return merge(pipeline_config(), base)


FORECAST = {"switch_mode": "forecast", "probe_flops": 1e11}


def test_forecast_mode_validates_and_builds_its_switch():
    cfg = validate(_cfg(schedule={**FORECAST, "probe_every": 2, "probe_patience": 2, "budget_flops": 5e12},
                        rl={"total_steps": 30}))
    fs = forecast_switch(cfg, 500)
    assert (fs.probe_flops, fs.probe_every, fs.patience, fs.budget, fs.rl_total_steps, fs.n_problems) == \
        (1e11, 2, 2, 5e12, 30, 500)
    assert forecast_switch(validate(_cfg()), 500) is None  # other modes have none


@pytest.mark.parametrize("key, value", [("probe_flops", 1e11), ("probe_every", 3), ("probe_confidence", 0.9),
                                        ("probe_patience", 2), ("probe_target", "ceiling"),
                                        ("budget_flops", 1e13)])
def test_forecast_keys_outside_forecast_mode_are_errors(key, value):
    with pytest.raises(ConfigValueError, match=rf"schedule\.{key} = .* acts only with schedule\.switch_mode = "
                                               "'forecast'"):
        validate(_cfg(schedule={key: value}))


@pytest.mark.parametrize("schedule, rl, message", [
    ({"switch_mode": "forecast"}, {}, r"needs schedule\.probe_flops > 0"),
    ({**FORECAST, "probe_target": "ceiling", "budget_flops": 1e13}, {}, r"probe_target\s+must be 'horizon'"),
    ({**FORECAST, "probe_target": "top"}, {}, r"schedule\.probe_target = 'top'"),
    ({**FORECAST, "probe_confidence": 0.3}, {}, r"schedule\.probe_confidence = 0\.3"),
    ({**FORECAST, "paradigm": "pure_rl"}, {}, r"must be 'sequential'"),
    ({**FORECAST, "continue_sft_after_switch": True}, {}, r"continue_sft_after_switch"),
    ({**FORECAST}, {"eval_every": 0}, r"rl\.eval_every must be > 0"),
    ({**FORECAST, "forecast_prior": "/no/such/curves.csv"}, {}, r"is not a file"),
    ({}, {"stop": "forecast"}, r"needs rl\.stop_gain_per_eflop > 0 and/or rl\.stop_remaining > 0"),
    ({}, {"stop_remaining": 0.5}, r"rl\.stop_remaining acts only with rl\.stop = 'forecast'"),
    ({}, {"stop": "early"}, r"rl\.stop = 'early'"),
    ({"paradigm": "pure_sft"}, {"stop": "forecast", "stop_remaining": 1.0}, r"no RL to stop"),
])
def test_invalid_forecast_settings_name_the_key(schedule, rl, message):
    with pytest.raises(ConfigValueError, match=message):
        validate(_cfg(schedule=schedule, rl=rl))


def test_stop_keys_are_the_pipelines_not_the_rl_stages():
    cfg = validate(_cfg(rl={"stop": "forecast", "stop_remaining": 1.0}))
    view = rl_view(cfg, "/tmp/x/rl", "grpo")
    assert not {"stop", "stop_gain_per_eflop", "stop_remaining"} & set(view.rl.keys())
    validate(view, "rl")  # the RL tree stays valid for run_rl
