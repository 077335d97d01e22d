"""Math written inside prose: delimited math segments, and the last number of a text.

An unboxed solution usually ends with its result as display math (``$$...$$``, ``\\[...\\]``) or
inline math (``$...$``, ``\\(...\\)``), often as the end of a computation (``$2 \\cdot 42 = 84$``).
``last_math_answer`` finds the last such segment and reduces a computation to its result.

Dollar signs are also currency ("she earns $18 and spends $5"). Inline ``$`` math follows the rule
Markdown renderers use: the opening ``$`` is not followed by a space, the closing ``$`` is not
preceded by a space and not followed by a digit, and the segment stays on one line. So "$18 and
spends $5" is no math segment. A segment whose content is prose is ignored too.

All scans are linear in the text length.
"""
from __future__ import annotations

import bisect
import re

from jaxpt.rewards.markers import looks_prose

# A number as a model would write it: sign, thousands separators (comma, or a thin / no-break space),
# decimals, a simple fraction.
_NUMBER_RE = re.compile(r"-?\d+(?:(?:,|[\u202f\u00a0\u2009])\d{3})*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_DISPLAY_DELIMS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"))
MAX_SEGMENT_CHARS = 1000
# Top-level relation signs that end a computation: "2 \cdot 42 = 84" answers 84.
_EQ_RE = re.compile(r"(?<![<>!\\])=(?!=)|\\approx(?![A-Za-z])|≈")
_COMMAND_RE = re.compile(r"\\[A-Za-z]+")
_LETTER_RE = re.compile(r"[A-Za-z]")
_LONE_NAME_RE = re.compile(r"^\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?(?:\([^()=]{1,20}\))?\s*$")


def _inline_dollar_segments(text: str):
    """(start, end, content) of each ``$...$`` segment under the Markdown rule (module doc)."""
    i, n = 0, len(text)
    while True:
        i = text.find("$", i)
        if i < 0:
            return
        if (i > 0 and text[i - 1] == "\\") or text.startswith("$$", i):
            i += 2
            continue
        if i + 1 >= n or text[i + 1].isspace():
            i += 1
            continue
        j = i + 1  # the closing candidate: the next unescaped `$`
        while True:
            j = text.find("$", j)
            if j < 0 or text[j - 1] != "\\":
                break
            j += 1
        if j < 0:
            return
        valid = (text.find("\n", i + 1, j) < 0 and not text[j - 1].isspace()
                 and not (j + 1 < n and text[j + 1].isdigit()) and not text.startswith("$$", j))
        if valid:
            yield i, j + 1, text[i + 1 : j]
            i = j + 1
        else:
            i = j  # the failed closer may open the next segment


def _delimited(text: str, opener: str, closer: str):
    """(start, end, content) of each opener...closer segment, left to right, in one linear pass: once
    no closer follows an opener, none follows any later opener either."""
    i = text.find(opener)
    while i >= 0:
        j = text.find(closer, i + len(opener))
        if j < 0:
            return
        yield i, j + len(closer), text[i + len(opener) : j]
        i = text.find(opener, j + len(closer))


def math_segments(text: str) -> list[tuple[int, int, str]]:
    """Delimited math segments as (start, end, content), sorted by end."""
    found = sorted(seg for opener, closer in _DISPLAY_DELIMS for seg in _delimited(text, opener, closer))
    segs, last_end = [], -1
    for seg in found:  # a segment inside an earlier one ("\(" within "$$...$$") is part of it
        if seg[0] >= last_end:
            segs.append(seg)
            last_end = seg[1]
    starts = [s for s, _, _ in segs]  # kept segments do not overlap: bisect finds the one around
    for s, e, c in _inline_dollar_segments(text):
        k = bisect.bisect_right(starts, s) - 1
        if k < 0 or s >= segs[k][1]:
            segs.append((s, e, c))
    segs = [(s, e, c.strip()) for s, e, c in segs if c.strip() and len(c) <= MAX_SEGMENT_CHARS]
    return sorted(segs, key=lambda x: x[1])


def _has_variables(expr: str) -> bool:
    return _LETTER_RE.search(_COMMAND_RE.sub(" ", expr)) is not None


def computation_result(expr: str) -> str:
    """The result of a written computation: ``2 \\cdot 42 = 84`` -> ``84``, ``x = 2 + 3 = 5`` -> ``5``.
    An equation with variables stays whole: ``x = 5``, ``y = 2x + 1`` and ``x^2 + y^2 = 1`` are
    statements, compared as such."""
    parts = _EQ_RE.split(expr)
    if len(parts) < 2 or not parts[-1].strip() or _has_variables(parts[-1]):
        return expr  # "3 = x" is a statement about x, not the result x
    if any(_has_variables(p) for p in parts[:-1]):
        if not (len(parts) > 2 and _LONE_NAME_RE.match(parts[0])
                and not any(_has_variables(p) for p in parts[1:-1])):
            return expr
    return parts[-1].strip()


def last_math_answer(text: str) -> tuple[int, str] | None:
    """(end position, answer) of the last math segment whose content is not prose, or None."""
    for start, end, content in reversed(math_segments(text)):
        if looks_prose(content) or _LONE_NAME_RE.match(content):
            continue  # "... is $12$ for $x$": a name is not the answer
        return end, computation_result(content).rstrip(".,;").strip()
    return None


def last_number(text: str) -> tuple[int, str] | None:
    """(end position, text) of the last number, or None."""
    last = None
    for last in _NUMBER_RE.finditer(text):
        pass
    return None if last is None else (last.end(), last.group(0))


__all__ = ["math_segments", "last_math_answer", "last_number", "computation_result"]
