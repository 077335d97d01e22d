"""The records of every role in a job, from one config tree: SFT trajectories and validation, RL prompts,
expert trajectories, evaluation problems.

Every role reads a file (.jsonl/.json/.parquet, or a hub data set when online) through jaxpt.data.sources
with its field mapping, or "toy", the embedded task (jaxpt.data.tasks.toy). Records are dicts
{question, solution, answer} (jaxpt.data.sources.Record: they also know their file:line for messages).

A record a role cannot use is dropped and counted per reason in the caller's `Drops` (jaxpt.data.drops): RL
prompts and evaluation problems without an answer, SFT records whose question is in the validation set.
A field missing from a whole file is an error naming the file and the field.
"""
import pathlib
from typing import Dict, List, Optional, Tuple

from jaxpt.data.drops import Drops
from jaxpt.data.sources import DataError, load_records, record_where, split_holdout

TOY = "toy"


def _cache(cfg) -> Optional[str]:
    return cfg.data.cache_dir or None


def _load(role: str, source: str, fields, normalize: str, split: str, limit: int, cfg,
          require_solution: bool = True, drops: Optional[Drops] = None) -> List[dict]:
    try:
        if require_solution:
            return load_records(source, fields=dict(fields), split=split, normalize=normalize,
                                limit=limit or None, cache_dir=_cache(cfg))
        return load_problems(source, fields, normalize, split, limit, cfg, drops)
    except FileNotFoundError as e:
        raise DataError(f"{role}.source: {e}") from None


def load_problems(source: str, fields, normalize: str, split: str, limit: int, cfg,
                  drops: Optional[Drops] = None) -> List[dict]:
    """(question, answer[, solution]) records: the solution column is optional (prompt sets, benchmark-style
    files), the answer is required: a file without the answer field is an error, a record without an answer
    is dropped into `drops` (an error when no `drops` is given)."""
    recs = load_records(source, fields=dict(fields), split=split, normalize=normalize, limit=limit or None,
                        cache_dir=_cache(cfg), require_answer=normalize == "none", require_solution=False,
                        drops=drops)
    for r in recs:
        if r.get("solution") is None:
            del r["solution"]
    return recs


def _log(drops: Drops, kept: int, own: bool) -> None:
    """A role that made its own Drops reports them itself; a caller's Drops is the caller's to report."""
    if own:
        drops.log(kept)


def sft_records(cfg, drops: Optional[Drops] = None) -> Tuple[List[dict], List[dict], Dict[str, str]]:
    """(train, validation, where each came from) for the SFT stage; training records whose question is also a
    validation question are dropped into `drops` (logged here when None)."""
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
    own = drops is None
    drops = Drops("data.sft") if own else drops
    held = {r["question"] for r in val}
    kept = []
    for r in train:
        if r["question"] in held:
            drops.add("question in the validation set", record_where(r))
        else:
            kept.append(r)
    _log(drops, len(kept), own)
    return kept, val, files


def rl_records(cfg, drops: Optional[Drops] = None) -> Tuple[List[dict], str]:
    """(RL prompt records {question, answer[, solution]}, where they came from). Prompts without an answer are
    dropped into `drops` (logged here when None); a source without any answer is an error naming the field."""
    from jaxpt.data.tasks import toy

    d = cfg.data
    own = drops is None
    drops = Drops("data.rl") if own else drops
    source = d.rl.source or d.sft.source
    if source == TOY:
        recs = toy.split(d.toy, "rl_prompts") if d.rl.source == TOY or not d.rl.source else []
        where = "toy:rl_prompts"
    elif d.rl.source:
        recs = _load("data.rl", d.rl.source, d.rl.fields, d.rl.normalize, d.rl.split, 0, cfg, require_solution=False,
                     drops=drops)
        where = str(d.rl.source)
    else:  # the SFT data's questions; SFT needs no answers, RL does
        recs = _load("data.sft", d.sft.source, d.sft.fields, d.sft.normalize, d.sft.split, 0, cfg)
        where = f"{d.sft.source} (data.sft)"
        answered = [r for r in recs if r.get("answer") not in (None, "")]
        if recs and not answered:
            field = d.sft.fields.get("answer", "answer")
            raise DataError(f"{d.sft.source}: no record has an answer (field {field!r}, data.sft.fields.answer), "
                            "and RL prompts need one: map the answer field, set data.sft.normalize, or give "
                            "data.rl.source")
        for r in recs:
            if r.get("answer") in (None, ""):
                drops.add("no answer", record_where(r))
        recs = answered
    if d.rl.limit:
        recs = recs[:d.rl.limit]
    _log(drops, len(recs), own)
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
            drops = Drops(f"eval.source ({e.source})")
            recs = _load("eval", e.source, {"solution": "solution", **e.fields.to_dict()}, "none", "test", e.limit,
                         cfg, require_solution=False, drops=drops)
            drops.log(len(recs))
        if name in out:
            name = f"{name}_file"
        out[name] = [{**r, "benchmark": name} for r in recs]
    return out
