"""The gold answer of a benchmark record, as a string the verifier accepts.

Format traps handled here (docs/algorithms.md section 8):
  * GSM8K stores a worked solution ending in ``#### 18``: the gold is the text after ``####``.
  * Minerva Math has no answer field: the gold is the last ``\\boxed{}`` of the solution.
  * AMC23 answers are floats (``27.0``): written back as ``27``.
  * AIME answers may carry leading zeros (``025``): written back as ``25``.
  * OlympiadBench keeps a list: the gold is ``final_answer[0]`` (its ``$...$`` delimiters removed).
"""
from __future__ import annotations

import re

from jaxpt.rewards.extract import last_boxed

_ALIASES = {
    "gsm8k": "gsm8k",
    "math500": "math500",
    "math": "math500",
    "aime24": "aime",
    "aime25": "aime",
    "aime": "aime",
    "amc23": "amc",
    "amc": "amc",
    "minervamath": "minerva",
    "minerva": "minerva",
    "olympiadbench": "olympiadbench",
    "olympiad": "olympiadbench",
}


def _canonical(name: str) -> str:
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    if key not in _ALIASES:
        raise KeyError(f"unknown benchmark {name!r}; known: {sorted(set(_ALIASES))}")
    return _ALIASES[key]


def _number_text(value) -> str:
    """27.0 -> "27", "025" -> "25", 2.5 -> "2.5"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return str(int(text))
    if re.fullmatch(r"[+-]?\d+\.0+", text):
        return str(int(float(text)))
    return text


def _strip_dollars(text: str) -> str:
    """Turns "$(1,2)$,$(3,4)$" into "(1,2),(3,4)"; an escaped ``\\$`` (currency) stays."""
    return re.sub(r"(?<!\\)\$", "", text).strip()


def gold_answer(benchmark_name: str, record: dict) -> str:
    """Gold answer string for one record of ``benchmark_name`` (see module doc)."""
    kind = _canonical(benchmark_name)
    if kind == "gsm8k":
        return record["answer"].split("####")[-1].strip().replace(",", "")
    if kind == "math500":
        if record.get("answer") not in (None, ""):
            return str(record["answer"]).strip()
        boxed = last_boxed(record.get("solution", ""))
        if boxed is None:
            raise ValueError("MATH record without answer or boxed solution")
        return boxed
    if kind in ("aime", "amc"):
        return _number_text(record["answer"])
    if kind == "minerva":
        boxed = last_boxed(record.get("solution", ""))
        if boxed is None:
            raise ValueError("Minerva record without a boxed answer in its solution")
        return boxed
    answers = record["final_answer"]
    return _strip_dollars(answers[0] if isinstance(answers, (list, tuple)) else str(answers))
