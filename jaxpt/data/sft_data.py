"""Assembles the SFT data from a config: records -> formatted, tokenized, truncated examples (train + val).

Config keys (ConfigDict or dict; see configs/sft_tiny.py):
    source        "toy" (embedded task, written as JSONL under <workdir>/data) or a file / hub name
    val_source    "" = carve `val_size` held-out records from the training source
    split, val_split, fields, normalize, limit, cache_dir           (see jaxpt.data.sources.load_records)
    max_len       right truncation length (counts logged)
    system_prompt, plain_template, chat_template                   (see jaxpt.data.formatting)
    toy_preset, toy_seed, toy_noise, toy_num_train, toy_num_val    (see jaxpt.data.toy_task.make_splits)
"""
import dataclasses
import logging
import pathlib
from typing import Dict, List, Optional

import numpy as np

from jaxpt.data import toy_task
from jaxpt.data.formatting import PromptFormat, encode_examples
from jaxpt.data.packing import Example, truncate
from jaxpt.data.sources import load_records, split_holdout


@dataclasses.dataclass
class SFTData:
    train: List[Example]
    val: List[Example]
    stats: Dict[str, float]
    files: Dict[str, str]  # where the records came from (toy: the JSONL files written)
    prompt_format: PromptFormat

    @property
    def mean_length(self) -> float:
        """Mean prompt+response tokens of a training example: the S of the paper's FLOPs formula."""
        return float(np.mean([len(e[0]) for e in self.train]))


def _get(cfg, key, default=None):
    val = cfg.get(key, default) if hasattr(cfg, "get") else getattr(cfg, key, default)
    return default if val is None else val


def load_split_records(cfg, workdir) -> tuple:
    """(train records, val records, files) according to the config."""
    fields = dict(_get(cfg, "fields", {}) or {})
    common = dict(fields=fields, normalize=_get(cfg, "normalize", "none"),
                  cache_dir=_get(cfg, "cache_dir", "") or None)
    limit = int(_get(cfg, "limit", 0)) or None
    source = str(_get(cfg, "source", "toy"))
    if source == "toy":
        kw = {}
        if int(_get(cfg, "toy_num_train", 0)):
            kw["num_train"] = int(cfg["toy_num_train"])
        if int(_get(cfg, "toy_num_val", 0)):
            kw["num_val"] = int(cfg["toy_num_val"])
        paths = toy_task.make_split_files(pathlib.Path(workdir) / "data", preset=_get(cfg, "toy_preset", "uniform"),
                                          seed=int(_get(cfg, "toy_seed", 0)),
                                          noise=float(_get(cfg, "toy_noise", toy_task.DEFAULT_NOISE)), **kw)
        train = load_records(paths["train"], limit=limit, **common)
        val = load_records(paths["val"], **common)
        return train, val, {k: str(v) for k, v in paths.items()}
    train = load_records(source, split=_get(cfg, "split", "train"), limit=limit, **common)
    val_source = _get(cfg, "val_source", "")
    files = {"train": source}
    if val_source:
        val = load_records(val_source, split=_get(cfg, "val_split", "train"), **common)
        files["val"] = str(val_source)
        held = {r["question"] for r in val}
        n0 = len(train)
        train = [r for r in train if r["question"] not in held]
        if len(train) < n0:
            logging.info("removed %d training records whose question is in the validation set", n0 - len(train))
    else:
        train, val = split_holdout(train, int(_get(cfg, "val_size", 500)), int(_get(cfg, "shuffle_seed", 0)))
        files["val"] = f"{source} (held-out {len(val)})"
    return train, val, files


def build_sft_data(cfg, tokenizer, workdir, extra_stop_ids=(), records: Optional[tuple] = None) -> SFTData:
    """Formats and tokenizes train/val. `records` = (train, val) skips loading (programmatic use)."""
    fmt = PromptFormat.from_config(cfg)
    if records is None:
        train_recs, val_recs, files = load_split_records(cfg, workdir)
    else:
        (train_recs, val_recs), files = records, {}
    max_len = int(_get(cfg, "max_len", 512))
    stats: Dict[str, float] = {}
    out = {}
    for name, recs in (("train", train_recs), ("val", val_recs)):
        ex = encode_examples(tokenizer, [r["question"] for r in recs], [r["solution"] for r in recs], fmt,
                             extra_stop_ids)
        ex, counts = truncate(ex, max_len)
        for k, v in counts.items():
            stats[f"{name}/{k}"] = v
        stats[f"{name}/records"] = len(recs)
        if ex:
            lengths = np.array([len(e[0]) for e in ex])
            stats[f"{name}/mean_len"] = float(lengths.mean())
            stats[f"{name}/max_len"] = int(lengths.max())
            stats[f"{name}/response_tokens"] = int(sum(int(e[1][1:].sum()) for e in ex))
        if counts["truncated"]:
            logging.warning("%s: %d of %d examples truncated to max_len=%d (%d tokens dropped)", name,
                            counts["truncated"], len(recs), max_len, counts["truncated_tokens"])
        out[name] = ex
    if not out["train"]:
        raise ValueError("no training examples left after formatting/truncation")
    if not out["val"]:
        raise ValueError("no validation examples: set data.val_source or data.val_size > 0")
    return SFTData(out["train"], out["val"], stats, files, fmt)
