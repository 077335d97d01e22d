"""``\\boxed{}`` answers: finding them, and grouping several boxes into one answer.

POLICY for several boxes in one response (the field disagrees; this is ours):

* The answer is the *last* box, unless the boxes before it belong to the same final answer.
* An *enumeration* is a run of boxes separated only by connectors: punctuation, math delimiters,
  "and"/"or" (in a few languages), a variable being assigned (``x = ``) or a part label (``(b)``).
  ``x=\\boxed{4}`` and ``x=\\boxed{-1}`` answers "4, -1", so against a single-valued gold it is a list
  and matches only if every element equals the gold.
* A *group* is looser: a run of boxes with at most a short clause between neighbours (no blank line,
  no more than ``GROUP_GAP_CHARS`` characters, no word that retracts the previous box such as "but"
  or "wait"). "The smallest is \\boxed{3} and the largest is \\boxed{11}" is the group "3, 11". A group
  is only tried against a gold with several values (a list, set, tuple or ``\\pm``), and only in
  addition to the last box.
* Revisions stay revisions: "I got \\boxed{6}, but ... the answer is \\boxed{5}" answers 5.
* A gold written as several boxes is their list in order.

Every scan is linear in the text length.
"""
from __future__ import annotations

import re

_BOX_RE = re.compile(r"\\(?:boxed|fbox|framebox)(?![A-Za-z])")
GROUP_GAP_CHARS = 160
MAX_RUN = 64  # boxes in one answer, at most

_CONNECTOR_WORDS = (
    "and", "or", "und", "oder", "et", "ou", "y", "o", "e", "и", "или", "和", "或", "与", "以及", "及",
    "as well as", "also",
)
# What may sit between two boxes of an enumeration, once delimiters and punctuation are removed.
_ASSIGN_PREFIX_RE = re.compile(r"[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?\s*=")
_PART_LABEL_RE = re.compile(r"\(?(?:[a-h]|i{1,3}|iv|v|vi{1,3})\)")
_GAP_NOISE_RE = re.compile(r"\\text\s*\{([^{}]*)\}|\$|\\[()\[\]]|\\q?quad|\\[,;:!]|[\s,;.&:]+")
_CONNECTOR_RE = re.compile(
    r"(?<![^\W\d_])(?:" + "|".join(re.escape(w) for w in sorted(_CONNECTOR_WORDS, key=len, reverse=True))
    + r")(?![^\W\d_])"
)
# Words that withdraw the box before them: the later box replaces it.
_RETRACTION_RE = re.compile(
    r"\b(?:but|however|wait|actually|instead|correct(?:ed|ing|ion)?|mistake|wrong|incorrect|"
    r"not|no|oops|redo|recheck|double[- ]counts?|error)\b",
    re.IGNORECASE,
)


def brace_partners(text: str) -> dict[int, int]:
    """Index of each ``{`` -> index of its matching ``}``, in one linear pass (unmatched ones are
    absent). Escaped braces (``\\{``, ``\\}``) are literal characters in LaTeX and do not count.
    One pass for the whole text keeps many unbalanced boxes linear, not quadratic."""
    partners, stack = {}, []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            partners[stack.pop()] = i
        i += 1
    return partners


def _box_span(text: str, m: re.Match, partners: dict[int, int]):
    """(content, end index) of one box, or None when it is not well formed."""
    i, n = m.end(), len(text)
    while i < n and text[i] in " \t":
        i += 1
    if i >= n:
        return None
    if text[i] == "{":
        end = partners.get(i)
        return None if end is None else (text[i + 1 : end], end + 1)
    # `\boxed 5` / `\boxed -3.5`: the argument runs to whitespace or a math delimiter.
    j = i
    while j < n and text[j] not in " \t\n$":
        j += 1
    token = text[i:j].rstrip(".,;")
    return (token, j) if token else None


_WRAPPING_BOX_RE = re.compile(r"^\\(?:boxed|fbox|framebox)\s*\{")


def _unwrap(content: str) -> str:
    """``\\boxed{5}`` inside a box is just 5 (bounded depth, linear in the content)."""
    for _ in range(4):
        m = _WRAPPING_BOX_RE.match(content)
        if not m or brace_partners(content).get(m.end() - 1) != len(content) - 1:
            break
        content = content[m.end() : -1].strip()
    return content


def find_boxes(text: str) -> list[tuple[int, int, str]]:
    """Every well-formed, non-empty box as (start, end, stripped content), in order."""
    matches = list(_BOX_RE.finditer(text))
    if not matches:
        return []
    partners = brace_partners(text)
    boxes = []
    for m in matches:
        span = _box_span(text, m, partners)
        if span is not None and span[0].strip():
            boxes.append((m.start(), span[1], span[0].strip()))
    # A box inside another box is part of the outer one.
    outer, last_end = [], -1
    for start, end, content in boxes:
        if start >= last_end:
            outer.append((start, end, _unwrap(content)))
            last_end = end
    return outer


def last_boxed(text: str) -> str | None:
    """Content of the last well-formed box, or None. Unbalanced boxes are skipped."""
    boxes = find_boxes(text)
    return boxes[-1][2] if boxes else None


def _is_connector_gap(gap: str) -> bool:
    rest = _GAP_NOISE_RE.sub(lambda m: f" {m.group(1)} " if m.group(1) else " ", gap)
    rest = _ASSIGN_PREFIX_RE.sub(" ", rest)
    rest = _PART_LABEL_RE.sub(" ", rest)
    rest = _CONNECTOR_RE.sub(" ", rest.lower())
    return not rest.strip()


def _is_group_gap(gap: str) -> bool:
    if len(gap) > GROUP_GAP_CHARS or re.search(r"\n\s*\n", gap):
        return False
    return _RETRACTION_RE.search(gap) is None


def final_run(text: str, boxes: list[tuple[int, int, str]], loose: bool) -> list[str]:
    """Contents of the trailing run of boxes joined by connector gaps (``loose``: group gaps)."""
    if not boxes:
        return []
    accept = _is_group_gap if loose else _is_connector_gap
    run = [boxes[-1]]  # built backwards
    for prev in reversed(boxes[-MAX_RUN:-1]):
        if not accept(text[prev[1] : run[-1][0]]):
            break
        run.append(prev)
    return [b[2] for b in reversed(run)]


__all__ = ["find_boxes", "last_boxed", "final_run", "brace_partners", "GROUP_GAP_CHARS"]
