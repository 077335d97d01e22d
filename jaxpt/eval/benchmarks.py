"""The six evaluation benchmarks (files under shared_dir()/data/bench/<name>/test.jsonl) and generic JSONL.

Every loader returns records {"id", "question", "answer"} (+ "benchmark"): the question text as posed to the
model and the gold answer string from `jaxpt.rewards.gold.gold_answer`, which knows each file's format trap
(GSM8K "#### 18", Minerva's boxed solution, AMC floats, AIME zero padding, OlympiadBench final_answer[0]).
"""
import json
import pathlib
from typing import List, Optional

BENCHMARKS = ("gsm8k", "math500", "aime24", "amc23", "minerva_math", "olympiadbench")
EXPECTED_ROWS = {"gsm8k": 1319, "math500": 500, "aime24": 30, "amc23": 40, "minerva_math": 272,
                 "olympiadbench": 675}
# Field holding the problem statement (several files carry both "problem" and "question").
_QUESTION_FIELD = {"gsm8k": "question", "math500": "problem", "aime24": "problem", "amc23": "question",
                   "minerva_math": "problem", "olympiadbench": "question"}


def bench_dir(root=None) -> pathlib.Path:
    from jaxpt.utils.runtime import shared_dir

    return pathlib.Path(root) if root is not None else shared_dir() / "data" / "bench"


def read_jsonl(path, limit: Optional[int] = None) -> List[dict]:
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
                if limit is not None and len(rows) >= limit:
                    break
    return rows


def question_of(name: str, record: dict) -> str:
    text = str(record[_QUESTION_FIELD[name]]).strip()
    context = record.get("context") if name == "olympiadbench" else None
    return f"{str(context).strip()}\n{text}" if context else text  # a few OlympiadBench rows need context


def load_benchmark(name: str, root=None, limit: Optional[int] = None) -> List[dict]:
    """Records of one benchmark (the first `limit` when given)."""
    from jaxpt.rewards.gold import gold_answer

    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    path = bench_dir(root) / name / "test.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: benchmark file missing (set JAXPT_SHARED_DIR)")
    out = []
    for i, rec in enumerate(read_jsonl(path, limit)):
        rid = rec.get("unique_id", rec.get("id", rec.get("idx", i)))
        out.append({"id": str(rid), "question": question_of(name, rec), "answer": gold_answer(name, rec),
                    "benchmark": name})
    return out


def load_records(path, limit: Optional[int] = None, question_key: str = "question",
                 answer_key: str = "answer") -> List[dict]:
    """A generic JSONL of {question, answer, ...} (e.g. the toy task's held-out test.jsonl)."""
    out = []
    for i, rec in enumerate(read_jsonl(path, limit)):
        out.append({"id": str(rec.get("id", i)), "question": str(rec[question_key]),
                    "answer": str(rec[answer_key]).strip()})
    return out
