"""SFT data: records of the config's data section (jaxpt.data.roles), formatted with the job's prompt format
and tokenized with a loss mask on response tokens, truncated to data.sft.max_len (counted).

Records that cannot train are dropped and counted per reason with their first file:line places (logged, and
in `stats` as <split>/dropped_<reason>, which the loop writes to metrics.jsonl at step 0): a prompt that fills
max_len by itself ("too long": no response token would be left), a training question that is also a
validation question. Examples that only lose their tail to max_len are kept and counted as truncated.
"""
import dataclasses
import logging
from typing import Dict, List, Optional

import numpy as np

from jaxpt.data.drops import Drops
from jaxpt.data.formatting import PromptFormat, check_prompt_format, encode_examples, unknown_token_report
from jaxpt.data.packing import Example, truncate
from jaxpt.data.sources import record_where


@dataclasses.dataclass
class SFTData:
    train: List[Example]
    val: List[Example]
    stats: Dict[str, float]
    files: Dict[str, str]  # where the records came from
    prompt_format: PromptFormat

    @property
    def mean_length(self) -> float:
        """Mean prompt+response tokens of a training example: the S of the paper's FLOPs formula."""
        return float(np.mean([len(e[0]) for e in self.train]))


def build_sft_data(cfg, tokenizer, extra_stop_ids=(), records: Optional[tuple] = None) -> SFTData:
    """Formats and tokenizes train/val of a config tree. `records` = (train, val) skips loading."""
    from jaxpt.data.roles import sft_records

    fmt = PromptFormat.from_config(cfg.prompt)
    check_prompt_format(tokenizer, fmt)
    drops = {"train": Drops("data.sft (train)"), "val": Drops("data.val")}
    if records is None:
        train_recs, val_recs, files = sft_records(cfg, drops["train"])
    else:
        (train_recs, val_recs), files = records, {}
    max_len = int(cfg.data.sft.max_len)
    stats: Dict[str, float] = {}
    out = {}
    for name, recs in (("train", train_recs), ("val", val_recs)):
        ex = encode_examples(tokenizer, [r["question"] for r in recs], [r["solution"] for r in recs], fmt,
                             extra_stop_ids)
        unk = unknown_token_report(tokenizer, [e[0] for e in ex], [r["question"] + r["solution"] for r in recs],
                                   f"data.sft ({name})", lambda i: record_where(recs[i]))
        if unk:
            stats[f"{name}/unk_examples"] = unk
        for r, (ids, mask) in zip(recs, ex):
            # The examples truncate() drops, by its rule: no response token left as a target within max_len
            # (the first token never is one).
            if not mask[1:max_len].any():
                drops[name].add("too long" if len(ids) > max_len else "no response", record_where(r))
        ex, counts = truncate(ex, max_len)
        drops[name].log(len(ex))
        stats.update(drops[name].metrics(name))
        for k, v in counts.items():
            stats[f"{name}/{k}"] = v
        stats[f"{name}/records"] = len(recs)
        if ex:
            lengths = np.array([len(e[0]) for e in ex])
            stats[f"{name}/mean_len"] = float(lengths.mean())
            stats[f"{name}/max_len"] = int(lengths.max())
            stats[f"{name}/response_tokens"] = int(sum(int(e[1][1:].sum()) for e in ex))
        if counts["truncated"]:
            logging.warning("%s: %d of %d examples truncated to data.sft.max_len=%d (%d tokens dropped)", name,
                            counts["truncated"], len(recs), max_len, counts["truncated_tokens"])
        out[name] = ex
    where = files.get("train", "the given records")
    if not out["train"]:
        raise ValueError(f"data.sft: no training examples in {where} after formatting and truncation")
    if not out["val"]:
        raise ValueError(f"data.val: no validation examples ({files.get('val', 'given records')}): set "
                         "data.val.source or data.val.size > 0")
    return SFTData(out["train"], out["val"], stats, files, fmt)
