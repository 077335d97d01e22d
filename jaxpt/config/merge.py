"""One typed merge for every config tree: a partial dict or ConfigDict over a tree's defaults.

- An unknown key fails with its dotted path and the nearest known key ("did you mean ...").
- A value keeps its default's type (an int is accepted for a float; a typed None placeholder takes its type).
- Sections merge key by key; free-form maps (field mappings, model overrides) take new keys as given.
"""
import copy
import difflib
from typing import Dict, List

import ml_collections

from jaxpt.config.schema import FREE_FORM, walk

# Keys of earlier releases and where they live now: an old config gets told, not a bare "unknown key".
MOVED: Dict[str, str] = {
    "train": "sft", "train.lr": "sft.optim.lr (or optim.lr for every stage)",
    "train.total_steps": "sft.total_steps", "train.batch_rows": "sft.batch_rows",
    "eval.every": "sft.eval_every / rl.eval_every", "checkpoint.every": "sft.checkpoint_every / rl.checkpoint_every",
    "model.preset": "model.init_from (a preset name)", "mesh.enabled": "mesh.data/fsdp/tensor (always used)",
    "data.source": "data.sft.source (trajectories) or data.rl.source (RL prompts)",
    "data.toy_preset": "data.toy.preset", "data.toy_noise": "data.toy.noise", "data.toy_seed": "data.toy.seed",
    "data.val_size": "data.val.size", "data.system_prompt": "prompt.system_prompt",
    "data.max_len": "data.sft.max_len", "data.max_prompt_len": "data.rl.max_prompt_len",
    "data.eval_source": "eval.source", "eval.benchmark_limit": "eval.limit", "eval.batch_prompts": "eval.batch_size",
    "rl.rl": "rl", "rl.reward_strict": "rl.grading ('strict' or 'lenient')", "sft.train": "sft",
    "eval.num_problems": "eval.limit",
    "rl.algorithm": "schedule.rl_algorithm (sequential / pure_rl) or schedule.paradigm (luffy, srft, upt): in the "
                    "pipeline the schedule picks the RL algorithm",
}


class ConfigKeyError(KeyError):
    def __str__(self):  # KeyError quotes its message; print it plainly
        return str(self.args[0]) if self.args else ""


def known_keys(cfg) -> List[str]:
    keys = []
    for key, _ in walk(cfg):
        keys.append(key)
        parts = key.split(".")
        keys += [".".join(parts[:i]) for i in range(1, len(parts))]
    return sorted(set(keys))


def unknown_key_message(path: str, root, what: str = "config") -> str:
    msg = f"unknown {what} key {path!r}"
    if path in MOVED:
        return f"{msg}: it is now {MOVED[path]}"
    near = difflib.get_close_matches(path, known_keys(root), n=1, cutoff=0.5)
    if not near:  # a right key in the wrong section: compare the last part
        leaf = path.rsplit(".", 1)[-1]
        near = [k for k in known_keys(root) if k.rsplit(".", 1)[-1] == leaf][:1]
    return f"{msg}; did you mean {near[0]!r}?" if near else msg


def _most_specific(path: str, value) -> str:
    """For an unknown section given as a mapping, its first leaf with a known new home (train.lr), else the
    section itself."""
    if isinstance(value, (dict, ml_collections.ConfigDict)):
        for k, v in _plain(value).items():
            leaf = _most_specific(f"{path}.{k}", v)
            if leaf in MOVED:
                return leaf
    return path


def _plain(d) -> dict:
    if isinstance(d, ml_collections.ConfigDict):
        return {k: d[k] for k in d.keys()}
    if not isinstance(d, dict):
        raise TypeError(f"expected a mapping, got {type(d).__name__}")
    return dict(d)


def merge(base: ml_collections.ConfigDict, override, what: str = "config") -> ml_collections.ConfigDict:
    """A copy of `base` updated with `override` (dict or ConfigDict, possibly partial and nested)."""
    out = copy.deepcopy(base)
    if override is not None:
        _merge_into(out, override, out, "", what)
    return out


def _merge_into(node, override, root, prefix: str, what: str) -> None:
    for key, value in _plain(override).items():
        path = prefix + key
        if key not in node:
            raise ConfigKeyError(unknown_key_message(_most_specific(path, value), root, what))
        current = node[key]
        if isinstance(current, ml_collections.ConfigDict) and path not in FREE_FORM:
            if not isinstance(value, (dict, ml_collections.ConfigDict)):
                raise TypeError(f"{what} key {path!r} is a section; give a mapping, not {value!r}")
            _merge_into(current, value, root, path + ".", what)
        elif isinstance(current, ml_collections.ConfigDict):
            node[key] = ml_collections.ConfigDict({**current.to_dict(), **_plain(value)})
        else:
            try:
                node[key] = value
            except TypeError as e:
                raise TypeError(f"{what} key {path!r}: {e}") from None
