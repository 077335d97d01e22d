"""The embedded default task: chained integer arithmetic with step-by-step expert solutions.

A problem is a left-to-right chain of additions/subtractions, e.g. question ``19+17-9-19=?`` with the expert
solution ``19+17=36,36-9=27,27-19=8,\\boxed{8}``. Everything is generated offline and deterministically from a
seed, so `make run` needs no downloads.

Why it looks like this (see docs/toy-task-notes.md of the shared docs):
- Chains of 3 operations with operands up to 39 are learnable by a ~0.7M-parameter model in minutes on a
  2-core CPU and leave headroom for RL; operands up to 99 are too hard, up to 19 too easy.
- The expert trajectories carry *irreducible variety*: each separator is ``;`` with probability `noise`
  (else ``,``). Without it the validation loss falls monotonically and never shows the minimum the paper's
  regimes (Adaptive / Stable / Mild / Severe overfitting) are defined by. `noise` is the knob for that.
- Difficulty levels vary the number of reasoning steps and the operand size; size presets mirror the paper's
  data variants (S1K: a small hard set; Easy/Uniform/Hard102K: equal size, different difficulty; SFT889K: a
  large mixed set), scaled down for a CPU.
- The held-out sets (validation trajectories, test problems, RL prompts) are drawn from a stream that depends
  only on the seed, not on the preset, so every preset of one seed shares them (comparable validation losses
  across data variants), and training problems are de-duplicated against them.

Records are dicts {question, solution, answer, level}; `write_splits` stores them as JSONL so the generic
loaders in jaxpt.data.sources read them like any other data set.
"""
import dataclasses
import json
import os
import pathlib
import random
from typing import Dict, List, Optional, Sequence, Tuple


@dataclasses.dataclass(frozen=True)
class Level:
    num_ops: int  # reasoning steps: one "a+b=c" line per operation
    max_operand: int  # operands are drawn from 0..max_operand


# Difficulty levels, easiest first. Level 3 is the task the prototype trained in minutes (3 ops, 0..39).
LEVELS: Dict[int, Level] = {
    1: Level(2, 19),
    2: Level(3, 29),
    3: Level(3, 39),
    4: Level(4, 49),
    5: Level(5, 59),
}

# Level mixtures (weights over LEVELS) of the paper's Easy / Uniform / Hard variants.
MIXES: Dict[str, Dict[int, float]] = {
    "easy": {1: 0.45, 2: 0.35, 3: 0.20},
    "uniform": {1: 0.2, 2: 0.2, 3: 0.2, 4: 0.2, 5: 0.2},
    "hard": {3: 0.20, 4: 0.35, 5: 0.45},
}


@dataclasses.dataclass(frozen=True)
class Preset:
    num_train: int
    mix: str
    note: str = ""


PRESETS: Dict[str, Preset] = {
    "s1k": Preset(100, "hard", "small hard set, like S1K"),
    "easy": Preset(1000, "easy", "like Easy102K"),
    "uniform": Preset(1000, "uniform", "like Uniform102K; the default of `make run`"),
    "hard": Preset(1000, "hard", "like Hard102K"),
    "general": Preset(8000, "uniform", "large mixed set, like SFT889K"),
    "tiny": Preset(200, "uniform", "for tests: overfits within a minute"),
}

# Every character the task (and the toy tokenizer's chat template) can produce.
CHARSET = "0123456789+-=?,; \\boxed{}\n"
DEFAULT_NOISE = 0.3
NUM_VAL, NUM_TEST, NUM_RL = 500, 500, 2000


def make_problem(rng: random.Random, level: int) -> Tuple[str, List[Tuple[int, str, int, int]], int]:
    """(expression, steps [(a, op, b, result)], answer). Intermediate values never go negative."""
    spec = LEVELS[level]
    cur = rng.randint(0, spec.max_operand)
    expr, steps = str(cur), []
    for _ in range(spec.num_ops):
        b = rng.randint(0, spec.max_operand)
        op = rng.choice("+-")
        if op == "-" and b > cur:  # keep every intermediate in 0..999 (non-negative)
            op = "+"
        new = cur + b if op == "+" else cur - b
        steps.append((cur, op, b, new))
        expr += f"{op}{b}"
        cur = new
    return expr, steps, cur


def render_solution(steps, answer: int, rng: random.Random, noise: float) -> str:
    """The expert trajectory; each separator is ';' with probability `noise` (irreducible variety)."""
    parts = [f"{a}{op}{b}={c}" for a, op, b, c in steps] + [f"\\boxed{{{answer}}}"]
    out = parts[0]
    for part in parts[1:]:
        out += (";" if rng.random() < noise else ",") + part
    return out


def make_record(rng: random.Random, level: int, noise: float) -> dict:
    expr, steps, answer = make_problem(rng, level)
    return {"question": f"{expr}=?", "solution": render_solution(steps, answer, rng, noise),
            "answer": str(answer), "level": level}


def _draw(rng: random.Random, n: int, mix: Dict[int, float], noise: float, exclude: set) -> List[dict]:
    """n records with unique questions not in `exclude` (which is extended)."""
    levels, weights = zip(*sorted(mix.items()))
    out, tries = [], 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise RuntimeError(f"cannot draw {n} distinct problems from mix {mix}: problem space too small")
        rec = make_record(rng, rng.choices(levels, weights)[0], noise)
        if rec["question"] in exclude:
            continue
        exclude.add(rec["question"])
        out.append(rec)
    return out


def make_splits(preset: str = "uniform", seed: int = 0, noise: float = DEFAULT_NOISE,
                num_train: Optional[int] = None, num_val: int = NUM_VAL, num_test: int = NUM_TEST,
                num_rl: int = NUM_RL, mix: Optional[str] = None) -> Dict[str, List[dict]]:
    """{train, val, test, rl_prompts}: lists of {question, solution, answer, level} records.

    val/test/rl_prompts depend only on (seed, noise, their sizes); train depends on the preset too and never
    repeats a held-out question. All questions are distinct across and within splits.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown toy preset {preset!r}; known: {sorted(PRESETS)}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    p = PRESETS[preset]
    mix_name = mix or p.mix
    if mix_name not in MIXES:
        raise ValueError(f"unknown level mix {mix_name!r}; known: {sorted(MIXES)}")
    seen: set = set()
    held = random.Random(f"jaxpt-toy-heldout-{seed}")  # str seeds hash deterministically (sha512)
    splits = {
        "val": _draw(held, num_val, MIXES["uniform"], noise, seen),
        "test": _draw(held, num_test, MIXES["uniform"], noise, seen),
        "rl_prompts": _draw(held, num_rl, MIXES["uniform"], noise, seen),
    }
    train_rng = random.Random(f"jaxpt-toy-train-{preset}-{mix_name}-{seed}")
    splits["train"] = _draw(train_rng, num_train if num_train is not None else p.num_train,
                            MIXES[mix_name], noise, seen)
    return {k: splits[k] for k in ("train", "val", "test", "rl_prompts")}


def write_jsonl(records: Sequence[dict], path) -> pathlib.Path:
    """Atomic write (temp file + rename) so concurrent readers never see half a file."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    os.replace(tmp, path)
    return path


def write_splits(splits: Dict[str, List[dict]], out_dir) -> Dict[str, pathlib.Path]:
    """Writes <out_dir>/<split>.jsonl for each split; returns {split: path}."""
    out_dir = pathlib.Path(out_dir)
    return {name: write_jsonl(recs, out_dir / f"{name}.jsonl") for name, recs in splits.items()}


def make_split_files(out_dir, preset: str = "uniform", seed: int = 0, noise: float = DEFAULT_NOISE,
                     **kwargs) -> Dict[str, pathlib.Path]:
    """make_splits + write_splits, skipped when the files already exist with the same arguments."""
    out_dir = pathlib.Path(out_dir)
    stamp = json.dumps({"preset": preset, "seed": seed, "noise": noise, **kwargs}, sort_keys=True)
    names = ("train", "val", "test", "rl_prompts")
    paths = {n: out_dir / f"{n}.jsonl" for n in names}
    stamp_file = out_dir / "toy_task.json"
    if stamp_file.is_file() and stamp_file.read_text() == stamp and all(p.is_file() for p in paths.values()):
        return paths
    paths = write_splits(make_splits(preset, seed, noise, **kwargs), out_dir)
    tmp = stamp_file.with_name(f".{stamp_file.name}.{os.getpid()}.tmp")
    tmp.write_text(stamp)
    os.replace(tmp, stamp_file)
    return paths


def answer_of(question: str) -> int:
    """Ground truth recomputed from a question string (for checks; the records carry `answer`)."""
    expr = question.rstrip("=?")
    total, num, sign = 0, "", 1
    for ch in expr + "+":
        if ch.isdigit():
            num += ch
        else:
            total += sign * int(num)
            num, sign = "", (1 if ch == "+" else -1)
    return total


# ------------------------------------------------------------------------------------ as a data source
_CACHE: Dict[tuple, Dict[str, List[dict]]] = {}


def splits_for(toy_cfg) -> Dict[str, List[dict]]:
    """The splits a config's `data.toy` section describes (generated once per process and arguments)."""
    get = toy_cfg.get if hasattr(toy_cfg, "get") else (lambda k, d=None: getattr(toy_cfg, k, d))
    key = (str(get("preset", "uniform")), int(get("seed", 0)), float(get("noise", DEFAULT_NOISE)),
           int(get("num_train", 0) or 0), int(get("num_val", 0) or 0))
    if key not in _CACHE:
        preset, seed, noise, num_train, num_val = key
        if preset not in PRESETS:
            raise ValueError(f"data.toy.preset = {preset!r}; known: {', '.join(PRESETS)}")
        kw = {"num_train": num_train} if num_train else {}
        if num_val:
            kw["num_val"] = num_val
        _CACHE[key] = make_splits(preset, seed=seed, noise=noise, **kw)
    return _CACHE[key]


def split(toy_cfg, name: str) -> List[dict]:
    """One split ("train", "val", "test" or "rl_prompts") as a fresh list."""
    return list(splits_for(toy_cfg)[name])
