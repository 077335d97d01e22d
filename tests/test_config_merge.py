"""The shared config merge: dotted paths in errors, typed vs untyped values, free-form sections."""
import ml_collections
import pytest

from jaxpt.rl.rl_config import default_config as rl_defaults, merge as rl_merge
from jaxpt.train.sft_config import default_config as sft_defaults, merge as sft_merge
from jaxpt.utils.config_merge import merge_config


def _base():
    return ml_collections.ConfigDict({"a": 1, "lr": 0.5, "sec": {"x": "s", "fields": {"q": "question"}}})


def test_nested_values_merge_and_defaults_stay():
    out = merge_config(_base(), {"sec": {"x": "t"}}, "T")
    assert out.sec.x == "t" and out.a == 1 and out.sec.fields.q == "question"


def test_unknown_nested_key_names_its_path():
    with pytest.raises(KeyError, match=r"unknown T config key 'sec\.y'"):
        merge_config(_base(), {"sec": {"y": 1}}, "T")


def test_typed_rejects_a_changed_type_with_its_path_untyped_accepts():
    with pytest.raises(TypeError, match=r"'a'"):
        merge_config(_base(), {"a": "one"}, "T", typed=True)
    assert merge_config(_base(), {"a": "one"}, "T", typed=False).a == "one"
    assert merge_config(_base(), {"lr": 1}, "T", typed=True).lr == 1  # int for float is fine


def test_free_form_sections_take_new_keys():
    out = merge_config(_base(), {"sec": {"fields": {"a": "answer"}}}, "T", free_form=("fields",))
    assert out.sec.fields.to_dict() == {"q": "question", "a": "answer"}
    with pytest.raises(KeyError):
        merge_config(_base(), {"sec": {"fields": {"a": "answer"}}}, "T")


def test_stage_merges_use_it():
    with pytest.raises(KeyError, match=r"unknown SFT config key 'train\.nope'"):
        sft_merge(sft_defaults(), {"train": {"nope": 1}})
    with pytest.raises(KeyError, match=r"unknown RL config key 'rl\.nope'"):
        rl_merge(rl_defaults(), {"rl": {"nope": 1}})
    assert rl_merge(rl_defaults(), {"rl": {"dynamic_sampling": True}}).rl.dynamic_sampling is True
