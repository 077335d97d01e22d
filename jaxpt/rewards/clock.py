"""Clock times: ``10:30``, ``3:45 PM``, ``7:15 p.m.``, ``\\text{10:30 a.m.}``, ``19:15``, ``10:30:00``.

A time is ``H:MM`` or ``H:MM:SS`` (two-digit minutes; ``3:4`` is a ratio, not a time), optionally
with am/pm. Normalisation writes it as ``H:MM[:SS][ am|pm]``. Two times are equal when their
minutes and seconds agree and their hours can be the same hour of the day:

* with am/pm, or written ``0:..``/``13:..``-``24:..``, or zero-padded (``02:30``), the hour is definite;
* a bare ``1``-``12`` hour is a 12-hour reading without its half of the day: ``3:45`` is 3:45 or
  15:45, so it equals ``15:45`` and ``3:45 pm`` but not ``4:45``;
* ``12:00 am`` is midnight and ``12:00 pm`` noon.

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
    """(possible hours of the day, minute, second) of a canonical time, or None."""
    m = CANONICAL_TIME_RE.match(text)
    if not m:
        return None
    hour, minute, second, half = m.groups()
    h = int(hour)
    if half:
        hours = {h % 12 + (12 if half == "p" else 0)}
    elif h == 0 or h >= 13 or hour.startswith("0"):
        hours = {h % 24}
    else:
        hours = {h % 12, h % 12 + 12}
    return frozenset(hours), int(minute), int(second or 0)


def times_equal(a, b) -> bool:
    return a[1:] == b[1:] and bool(a[0] & b[0])


__all__ = ["canonical_time", "parse_time", "times_equal", "CANONICAL_TIME_RE"]
