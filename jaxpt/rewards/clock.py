"""Clock times: ``10:30``, ``3:45 PM``, ``7:15 p.m.``, ``\\text{10:30 a.m.}``, ``19:15``, ``10:30:00``.

A time is ``H:MM`` or ``H:MM:SS`` (two-digit minutes; ``3:4`` is a ratio, not a time), optionally
with am/pm. Normalisation writes it as ``H:MM[:SS][ am|pm]``. Two times are equal when their
minutes and seconds agree and their hours name the same hour:

* with am/pm the hour of the day is definite (``12:00 am`` is midnight, ``12:00 pm`` noon), and
  ``3:45 pm`` equals ``15:45``;
* a time without am/pm is read as written: ``3:45`` equals ``3:45 am`` and ``3:45 pm`` (the half of
  the day left out), but not ``15:45`` (another way of writing it, not the same answer).

A time never equals a plain number: ``10:30`` is not the ratio 1/3 (which sympy would read).
"""
from __future__ import annotations

import re

_RAW_TIME_RE = re.compile(
    r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?\s*(?:\\?(?:text|mathrm|mbox)\s*\{\s*)?(?:([aApP])\.?\s*[mM]\.?)?\s*\}?$"
)
CANONICAL_TIME_RE = re.compile(r"^(\d{1,2}):(\d\d)(?::(\d\d))?(?: ([ap])m)?$")


def canonical_time(s: str) -> str | None:
    """``3:45 \\text{ P.M.}`` -> ``3:45 pm``; None when `s` is not a clock time."""
    m = _RAW_TIME_RE.match(s.strip())
    if not m:
        return None
    hour, minute, second, half = m.groups()
    h = int(hour)
    if h > 24 or (half and not 1 <= h <= 12):
        return None
    out = f"{hour}:{minute}"
    if second and second != "00":
        out += f":{second}"
    if half:
        out += f" {half.lower()}m"
    return out


def parse_time(text: str):
    """(hour as written, hour of the day or None without am/pm, minute, second), or None."""
    m = CANONICAL_TIME_RE.match(text)
    if not m:
        return None
    hour, minute, second, half = m.groups()
    h = int(hour)
    day_hour = h % 12 + (12 if half == "p" else 0) if half else None
    return h, day_hour, int(minute), int(second or 0)


def times_equal(a, b) -> bool:
    if a[2:] != b[2:]:
        return False
    if a[1] is not None and b[1] is not None:
        return a[1] == b[1]
    if a[1] is None and b[1] is None:
        return a[0] == b[0]
    bare, half = (a, b) if a[1] is None else (b, a)
    return bare[0] in (half[0], half[1])  # 3:45 vs 3:45 pm; 15:45 vs 3:45 pm


__all__ = ["canonical_time", "parse_time", "times_equal", "CANONICAL_TIME_RE"]
