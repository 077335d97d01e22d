"""Merging a partial config (dict or ConfigDict, possibly nested) over a stage's defaults.

One rule set for SFT and RL: unknown keys raise with their full dotted path; nested sections merge key by
key; "free-form" sections (field maps, model overrides) take new keys as given. With `typed=True` a value
must keep its default's type (ConfigDict's own check; an int is accepted for a float); with `typed=False`
any value replaces the default (RL allows "on"/True style switches).
"""
from typing import Iterable

import ml_collections


def merge_config(base: ml_collections.ConfigDict, override, stage: str, free_form: Iterable[str] = (),
                 typed: bool = True) -> ml_collections.ConfigDict:
    free_form = tuple(free_form)
    if not typed:
        out = base.to_dict()
        _merge_plain(out, _plain(override) if override is not None else {}, stage, free_form, "")
        return ml_collections.ConfigDict(out)
    return _merge_typed(base, override, stage, free_form, "")


def _merge_typed(base, override, stage, free_form, prefix):
    out = ml_collections.ConfigDict(base.to_dict())
    if override is None:
        return out
    for k, v in _plain(override).items():
        if k not in out:
            raise KeyError(f"unknown {stage} config key {prefix + k!r}")
        if isinstance(out[k], ml_collections.ConfigDict) and k not in free_form:
            out[k] = _merge_typed(out[k], v, stage, free_form, prefix + k + ".")
        elif isinstance(out[k], ml_collections.ConfigDict):
            out[k] = ml_collections.ConfigDict({**out[k].to_dict(), **_plain(v)})
        else:
            try:
                out[k] = v
            except TypeError as e:
                raise TypeError(f"{stage} config key {prefix + k!r}: {e}") from None
    return out


def _merge_plain(out: dict, over: dict, stage, free_form, prefix) -> None:
    for k, v in over.items():
        if k not in out:
            raise KeyError(f"unknown {stage} config key {prefix + k!r}")
        if isinstance(out[k], dict) and k not in free_form:
            _merge_plain(out[k], _plain(v), stage, free_form, prefix + k + ".")
        elif isinstance(out[k], dict):
            out[k] = {**out[k], **_plain(v)}
        else:
            out[k] = v


def _plain(d) -> dict:
    return d.to_dict() if hasattr(d, "to_dict") else dict(d)
