"""SFT data: records of the config's data section (jaxpt.data.roles), formatted with the job's prompt format
and tokenized with a loss mask on response tokens, truncated to data.sft.max_len (counted).
"""
import dataclasses
import logging
from typing import Dict, List, Optional

import numpy as np

from jaxpt.data.formatting import PromptFormat, check_prompt_format, encode_examples
from jaxpt.data.packing import Example, truncate


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
    if records is None:
        train_recs, val_recs, files = sft_records(cfg)
    else:
        (train_recs, val_recs), files = records, {}
    max_len = int(cfg.data.sft.max_len)
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
