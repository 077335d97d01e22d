"""Grading modes: which parts of a response may count as its final answer.

One named concept shared by RL rewards, the RL benchmark evaluation and ``launch.eval``, so all of
them grade by the same rule and record which one they used:

* ``Grading.STRICT`` ("strict"): only a ``\\boxed{}`` answer counts. The RL reward default: a policy
  cannot earn reward from a number that merely happens to come last.
* ``Grading.LENIENT`` ("lenient"): a box, else an explicit final-answer marker ("the answer is",
  "Final Answer:", "Antwort:", "答案是", ...), else a bare answer, else the last math or number of
  the text. The evaluation default, as in the usual benchmark harnesses.

Truncated outputs (the sampler stopped them at the length limit, without an end-of-sequence token)
are graded honestly in both modes: the text was cut off mid-thought, so whatever number or formula
happens to come last is not an answer the model gave. Such an output scores only through an
explicit, complete final answer: a closed box, or (lenient) a marker whose answer is terminated
before the cut (a sentence end, a line end, a closed math delimiter). Everything else scores 0.
"""
from __future__ import annotations

import enum


class Grading(str, enum.Enum):
    STRICT = "strict"
    LENIENT = "lenient"

    def __str__(self) -> str:  # "strict", not "Grading.STRICT", in logs and JSON
        return self.value


GRADING_MODES = tuple(m.value for m in Grading)
# The defaults, named once: rewards are strict, evaluations (launch.eval, the RL loop's benchmark
# evaluation) lenient unless asked otherwise, so both report the same numbers for a checkpoint.
REWARD_GRADING = Grading.STRICT
EVAL_GRADING = Grading.LENIENT


def resolve_grading(grading=None, strict: bool | None = None, default: Grading = Grading.LENIENT) -> Grading:
    """A Grading from a mode name / Grading, or from the older ``strict`` flag; unknown names raise.

    ``grading`` wins when both are given; neither gives ``default``.
    """
    if grading is not None:
        if isinstance(grading, Grading):
            return grading
        try:
            return Grading(str(grading).strip().lower())
        except ValueError:
            raise ValueError(f"unknown grading mode {grading!r}; known: {', '.join(GRADING_MODES)}") from None
    if strict is not None:
        return Grading.STRICT if strict else Grading.LENIENT
    return default


__all__ = ["Grading", "GRADING_MODES", "REWARD_GRADING", "EVAL_GRADING", "resolve_grading"]
