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
_DISPLAY_RE = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)", re.S)
MAX_SEGMENT_CHARS = 1000
# Top-level relation signs that end a computation: "2 \cdot 42 = 84" answers 84.
_EQ_RE = re.compile(r"(?<![<>!\\])=(?!=)|\\approx(?![A-Za-z])|≈")
_LONE_NAME_RE = re.compile(r"^\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?(?:\([A-Za-z]\))?\s*$")


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


def math_segments(text: str) -> list[tuple[int, int, str]]:
    """Delimited math segments as (start, end, content), sorted by end."""
    segs = [(m.start(), m.end(), next(g for g in m.groups() if g is not None)) for m in _DISPLAY_RE.finditer(text)]
    starts = [s for s, _, _ in segs]  # display segments do not overlap: bisect finds the one around
    for s, e, c in _inline_dollar_segments(text):
        k = bisect.bisect_right(starts, s) - 1
        if k < 0 or s >= segs[k][1]:
            segs.append((s, e, c))
    segs = [(s, e, c.strip()) for s, e, c in segs if c.strip() and len(c) <= MAX_SEGMENT_CHARS]
    return sorted(segs, key=lambda x: x[1])


def computation_result(expr: str) -> str:
    """``2 \\cdot 42 = 84`` -> ``84``; ``a = b = 5`` -> ``5``; ``x = 5`` and ``y = 2x + 1`` stay whole
    (an assignment is compared by its value anyway, and its name says what was asked)."""
    parts = _EQ_RE.split(expr)
    if len(parts) < 2:
        return expr
    if len(parts) == 2 and _LONE_NAME_RE.match(parts[0]):
        return expr
    last = parts[-1].strip()
    return last or expr


def last_math_answer(text: str) -> tuple[int, str] | None:
    """(end position, answer) of the last math segment whose content is not prose, or None."""
    for start, end, content in reversed(math_segments(text)):
        if looks_prose(content):
            continue
        return end, computation_result(content).rstrip(".,;").strip()
    return None


def last_number(text: str) -> tuple[int, str] | None:
    """(end position, text) of the last number, or None."""
    last = None
    for last in _NUMBER_RE.finditer(text):
        pass
    return None if last is None else (last.end(), last.group(0))


__all__ = ["math_segments", "last_math_answer", "last_number", "computation_result"]
