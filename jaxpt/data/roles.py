"""The records of every role in a job, from one config tree: SFT trajectories and validation, RL prompts,
expert trajectories, evaluation problems.

Every role reads a file (.jsonl/.json/.parquet, or a hub data set when online) through jaxpt.data.sources
with its field mapping, or "toy", the embedded task (jaxpt.data.tasks.toy). Records are plain dicts
{question, solution, answer}; nothing downstream knows where they came from.
"""
import logging
import pathlib
from typing import Dict, List, Optional, Tuple

from jaxpt.data.sources import DataError, load_records, split_holdout

TOY = "toy"


def _cache(cfg) -> Optional[str]:
    return cfg.data.cache_dir or None


def _load(role: str, source: str, fields, normalize: str, split: str, limit: int, cfg,
          require_solution: bool = True, require_answer: bool = False) -> List[dict]:
    try:
        if require_solution:
            return load_records(source, fields=dict(fields), split=split, normalize=normalize,
                                limit=limit or None, cache_dir=_cache(cfg), require_answer=require_answer)
        return load_problems(source, fields, normalize, split, limit, cfg)
    except FileNotFoundError as e:
        raise DataError(f"{role}.source: {e}") from None


def load_problems(source: str, fields, normalize: str, split: str, limit: int, cfg) -> List[dict]:
    """(question, answer) records; a solution column is optional (prompt sets, benchmark-style files)."""
    fields = dict(fields)
    try:
        return load_records(source, fields=fields, split=split, normalize=normalize, limit=limit or None,
                            cache_dir=_cache(cfg), require_answer=normalize == "none")
    except DataError as e:
        if "(mapped to solution) is missing" not in str(e):
            raise
    # No solution column: read the answer column in its place, then drop it.
    recs = load_records(source, fields={**fields, "solution": fields.get("answer", "answer")}, split=split,
                        normalize="none", limit=limit or None, cache_dir=_cache(cfg), require_answer=True)
    return [{"question": r["question"], "answer": r["answer"]} for r in recs]


def sft_records(cfg) -> Tuple[List[dict], List[dict], Dict[str, str]]:
    """(train, validation, where each came from) for the SFT stage."""
    from jaxpt.data.tasks import toy

    d = cfg.data
    if d.sft.source == TOY:
        train = toy.split(d.toy, "train")
        if d.sft.limit:
            train = train[:d.sft.limit]
        files = {"train": "toy:train"}
    else:
        train = _load("data.sft", d.sft.source, d.sft.fields, d.sft.normalize, d.sft.split, d.sft.limit, cfg)
        files = {"train": str(d.sft.source)}
    if d.val.source == TOY or (not d.val.source and d.sft.source == TOY):
        val = toy.split(d.toy, "val")
        files["val"] = "toy:val"
    elif d.val.source:
        val = _load("data.val", d.val.source, d.sft.fields, d.sft.normalize, d.val.split, 0, cfg)
        files["val"] = str(d.val.source)
    else:
        train, val = split_holdout(train, int(d.val.size), int(d.sft.shuffle_seed))
        files["val"] = f"{d.sft.source} (held out {len(val)})"
    held = {r["question"] for r in val}
    n0 = len(train)
    train = [r for r in train if r["question"] not in held]
    if len(train) < n0:
        logging.warning("data.sft: dropped %d of %d training records whose question is in the validation set",
                        n0 - len(train), n0)
    return train, val, files


def rl_records(cfg) -> Tuple[List[dict], str]:
    """(RL prompt records {question, answer[, solution]}, where they came from)."""
    from jaxpt.data.tasks import toy

    d = cfg.data
    source = d.rl.source or d.sft.source
    if source == TOY:
        recs = toy.split(d.toy, "rl_prompts") if d.rl.source == TOY or not d.rl.source else []
        where = "toy:rl_prompts"
    elif d.rl.source:
        recs = _load("data.rl", d.rl.source, d.rl.fields, d.rl.normalize, d.rl.split, 0, cfg, require_solution=False)
        where = str(d.rl.source)
    else:  # the SFT data's questions
        recs = _load("data.sft", d.sft.source, d.sft.fields, d.sft.normalize, d.sft.split, 0, cfg)
        where = f"{d.sft.source} (data.sft)"
    if d.rl.limit:
        recs = recs[:d.rl.limit]
    return recs, where


def expert_records(cfg) -> List[dict]:
    """Expert trajectories for synchronized SFT+RL (LUFFY, SRFT, UPT): data.expert.source, else data.sft."""
    d = cfg.data
    if d.expert.source:
        if d.expert.source == TOY:
            from jaxpt.data.tasks import toy

            return toy.split(d.toy, "train")
        return _load("data.expert", d.expert.source, d.sft.fields, d.sft.normalize, d.expert.split, 0, cfg)
    return sft_records(cfg)[0]


def eval_sets(cfg) -> Dict[str, List[dict]]:
    """{name: problems}: each of eval.benchmarks, then eval.source (named after the file, or "toy")."""
    from jaxpt.eval.benchmarks import load_benchmark

    e = cfg.eval
    out: Dict[str, List[dict]] = {}
    for name in [n.strip() for n in str(e.benchmarks).split(",") if n.strip()]:
        out[name] = load_benchmark(name, limit=e.limit or None)
    if e.source:
        if e.source == TOY:
            from jaxpt.data.tasks import toy

            name, recs = TOY, toy.split(cfg.data.toy, "test")
            if e.limit:
                recs = recs[:e.limit]
        else:
            name = pathlib.Path(str(e.source)).stem or "eval"
            recs = _load("eval", e.source, {"solution": "solution", **e.fields.to_dict()}, "none", "test", e.limit,
                         cfg, require_solution=False)
        if name in out:
            name = f"{name}_file"
        out[name] = [{**r, "benchmark": name} for r in recs]
    return out
