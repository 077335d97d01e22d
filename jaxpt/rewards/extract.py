"""Finds the final answer inside a model response (or a stored gold answer).

Only the answer section is read: the text after the last ``</think>`` (when that is empty, the
reasoning itself). Rules, in order; the first that yields something wins:

1. boxes: the last ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\framebox{...}`` (brace matched), or a run of
   boxes that forms one answer (POLICY in ``boxes.py``);
2. the last explicit final-answer marker: "The final answer is ...", "Answer: ...", "#### 18",
   and the same in other languages ("Die Antwort lautet", "La réponse est", "Ответ:", "答案是", ...;
   see ``markers.py``), including a sentence after the marker;
3. the whole text, when it is a bare answer (``\\frac{1}{2}``, ``x = 3``, ``5\\text{ cm}``);
4. whichever comes later: the last delimited math (``$...$``, ``\\[...\\]``; a computation such as
   ``2 \\cdot 42 = 84`` gives its result) or the last number of the text (``mathspans.py``).

Grading modes (``grading.py``): ``strict`` keeps rule 1 only. A *truncated* output (cut at the
length limit) keeps rules 1-2, and only a complete answer: a closed box, a marker answer that ends
before the cut. Rules 3-4 would read whatever number the cut left last. An output cut inside its
``<think>`` section has given no answer at all.

Every scan here is linear in the text length (no nested quantifiers), so a megabyte of text or
binary garbage costs milliseconds, never a hang.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from jaxpt.rewards.boxes import brace_partners, find_boxes, final_run, last_boxed
from jaxpt.rewards.grading import Grading, resolve_grading
from jaxpt.rewards.markers import looks_prose, marker_answer
from jaxpt.rewards.mathspans import computation_result, last_math_answer, last_number, math_segments

BARE_MAX_CHARS = 500  # the longest benchmark gold is ~230 characters
# Markers, math and numbers are looked for in the last this many characters (about 25k tokens): an
# answer sits at the end, and hostile megabytes of text stay cheap. Boxes are found anywhere.
TAIL_CHARS = 100_000
_THINK_OPEN_RE = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE_RE = re.compile(r"</think>", re.IGNORECASE)
# A word of letters that is no LaTeX command and does not join answers ("$x=2$ or $x=3$").
_WORD_RE = re.compile(r"(?<![\\\w])(?!(?:or|and)(?![^\W\d_]))[^\W\d_]{2,}", re.IGNORECASE)
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|textit|textrm|mbox|mathrm|operatorname)\s*\{[^{}]*\}")
_BARE_BOX_AT_END_RE = re.compile(r"\\(?:boxed|fbox|framebox)\s+[^{\s][^\s$]*\s*$")


@dataclass(frozen=True)
class Extraction:
    """What a response answers. ``answer``: the single final answer (None: no answer).
    ``group``: several boxes that may together be one answer (tried against golds with several
    values, besides ``answer``). ``source``: the rule that found it (box, marker, bare, math, number)."""
    answer: str | None
    group: tuple[str, ...] = ()
    source: str = ""


NO_ANSWER = Extraction(None)


def answer_section(text: str) -> str:
    """The text after the last ``</think>``; the reasoning itself when nothing follows it."""
    close = None
    for close in _THINK_CLOSE_RE.finditer(text):
        pass
    if close is not None:
        after = text[close.end():]
        if after.strip():
            return after
        text = text[: close.start()]
    return _THINK_OPEN_RE.sub(" ", text)


def looks_bare(text: str) -> bool:
    """True when `text` is an answer on its own (``\\frac{1}{2}``, ``x = 3``, ``5\\text{ cm}``), not prose
    (``so the sum is 5``, ``Thus, $x = 5$ and $y = 7$.``: words outside its math)."""
    if len(text) > BARE_MAX_CHARS or "\n" in text.strip():
        return False
    if looks_prose(text):
        return False
    segments = math_segments(text)
    if not segments:
        return True
    outside, pos = [], 0
    for start, end, _ in segments:
        outside.append(text[pos:start])
        pos = end
    outside.append(text[pos:])
    return _WORD_RE.search(_TEXT_CMD_RE.sub(" ", " ".join(outside))) is None


def _from_boxes(text: str, truncated: bool) -> Extraction | None:
    boxes = find_boxes(text)
    if truncated and boxes and _BARE_BOX_AT_END_RE.search(text):
        boxes = boxes[:-1]  # `\boxed 12` at the cut may have been `\boxed 125`
    if not boxes:
        return None
    enumeration = final_run(text, boxes, loose=False)
    if len(enumeration) > 1:
        # x=\boxed{4} and x=\boxed{-1}: the answer is the list.
        return Extraction(", ".join(enumeration), tuple(enumeration), "box")
    group = final_run(text, boxes, loose=True)
    return Extraction(boxes[-1][2], tuple(group) if len(group) > 1 else (), "box")


def extract(text, grading=None, truncated: bool = False) -> Extraction:
    """The final answer of a response under a grading mode (see module doc)."""
    if not isinstance(text, str) or not text.strip():
        return NO_ANSWER
    mode = resolve_grading(grading)
    if truncated and _THINK_OPEN_RE.search(text) and not _THINK_CLOSE_RE.search(text):
        return NO_ANSWER  # cut off while still thinking: nothing in there is its final answer
    section = answer_section(text)
    boxed = _from_boxes(section, truncated)
    if boxed is not None or mode is Grading.STRICT:
        return boxed or NO_ANSWER
    section = section[-TAIL_CHARS:]
    marked = marker_answer(section, truncated)
    if marked is not None:
        return Extraction(marked, (), "marker")
    if truncated:
        return NO_ANSWER
    if looks_bare(section):
        return Extraction(computation_result(section.strip()), (), "bare")  # "1+2=3" answers 3
    math, number = last_math_answer(section), last_number(section)
    if math is not None and (number is None or math[0] >= number[0]):
        return Extraction(math[1], (), "math")
    return Extraction(number[1], (), "number") if number is not None else NO_ANSWER


def extract_answer(text: str, strict: bool = False, truncated: bool = False, grading=None) -> str | None:
    """The final answer in a model response as one string, or None when there is none."""
    return extract(text, resolve_grading(grading, strict), truncated).answer


def extract_gold(gold) -> str | None:
    """A stored gold answer as a bare string: unwraps boxes (several boxes: their list, in order);
    floats/ints become text."""
    if gold is None or isinstance(gold, bool):
        return None
    if isinstance(gold, (int, float)):
        return repr(gold)
    if not isinstance(gold, str):
        return None
    text = gold.strip()
    if not text:
        return None
    boxes = find_boxes(text)
    if len(boxes) > 1:
        return ", ".join(b[2] for b in boxes)
    return boxes[0][2] if boxes else text


__all__ = ["Extraction", "extract", "extract_answer", "extract_gold", "answer_section", "looks_bare",
           "last_boxed", "brace_partners"]
