"""When two numbers count as equal. Shared by the fast path (parent process) and the symbolic path
(worker processes) so both give the same verdict.

Tolerance policy:

* Exact values (integers, fractions, radicals, pi, ...) get no tolerance at all: they must be equal.
  So ``1/2^99 != 1/2^98`` and ``10^{-9} != 0``. (On the symbolic path, when sympy cannot simplify a
  difference to zero, agreement to 40 significant digits is taken as equality.)
* When either side is written as a decimal (``0.333333``, ``27.0``, ``1.5\\times10^{3}``, ``4.5e33``),
  it is an approximation and the two are equal when ``|a - b| <= REL_TOL * max(|a|, |b|)`` with
  ``REL_TOL = 5e-6``: about six significant digits, so every correct six-digit rounding
  (``0.123457`` for 10/81, ``3.14159`` for pi) matches. The tolerance is *relative*, never absolute,
  so tiny distinct values stay distinct (``1e-7 != 2e-7``) and huge ones compare sensibly
  (``4.5e33 != 4.6e33``).
* Rounding (entries of tuples, intervals and matrices only; POLICY in ``sequences.py``): a decimal
  written with at least ``MIN_ROUNDED_PLACES`` places also equals an exact value that rounds to it
  (``(0.33, 0.67)`` is ``(\\frac13, \\frac23)``). A whole answer ``0.33`` stays unequal to ``\\frac13``.
"""
from __future__ import annotations

import re
from fractions import Fraction

REL_TOL = 5e-6
_REL_TOL_Q = Fraction(5, 10**6)
# Floats of two exact-but-irrational values further apart than this are certainly different values.
FLOAT_SEPARATION = 1e-9
# Relative agreement taken as exact equality when a symbolic proof is not available (sympy, 50 digits).
EXACT_DIGITS_AGREEMENT = 1e-40


def _abs2(re: Fraction, im: Fraction) -> Fraction:
    return re * re + im * im


def exact_within_tol(a: tuple[Fraction, Fraction], b: tuple[Fraction, Fraction]) -> bool:
    """Relative tolerance on exact (Gaussian) rationals, compared squared to stay exact."""
    d2 = _abs2(a[0] - b[0], a[1] - b[1])
    if d2 == 0:
        return True
    scale2 = max(_abs2(*a), _abs2(*b))
    return d2 <= _REL_TOL_Q * _REL_TOL_Q * scale2


def float_verdict(za: complex, zb: complex, approx: bool, noise: float = 0.0):
    """Verdict from float approximations: True/False, or None when floats cannot decide.

    ``noise`` bounds the rounding error of the floats; a verdict is only given when it holds
    for every pair of true values within that noise.
    """
    scale = max(abs(za), abs(zb))
    if scale != scale or scale == float("inf") or scale < 1e-300:
        return None  # nan, overflow or underflow: the floats carry no information
    diff = abs(za - zb)
    if approx:
        tol = REL_TOL * scale
        if diff + noise <= tol:
            return True
        return False if diff - noise > tol else None
    # Exact irrational values: floats can prove a difference but never an equality.
    return False if diff > max(FLOAT_SEPARATION * scale, 1e4 * noise) else None


# Rounding rule for entries of tuples, intervals and matrices (POLICY in ``sequences.py``): a decimal
# written with at least this many places equals an exact value that rounds to it.
MIN_ROUNDED_PLACES = 2
_DECIMAL_LITERAL_RE = re.compile(r"^[-+]?\d*\.(\d+)$")


def decimal_places(text: str | None) -> int | None:
    """Places after the point of a plain decimal literal (``-0.33`` -> 2), else None."""
    if text is None:
        return None
    m = _DECIMAL_LITERAL_RE.match(text.strip())
    return len(m.group(1)) if m else None


def rounds_to(literal: str, places: int, q=None, z=None) -> bool:
    """Does the exact value (``q``: (re, im) Fractions, else float ``z``) round to ``literal``?"""
    if places < MIN_ROUNDED_PLACES or places > 15:
        return False
    shown = Fraction(literal.strip())
    half = Fraction(1, 2 * 10**places)
    if q is not None:
        return q[1] == 0 and abs(q[0] - shown) <= half
    if z is None or z.imag != 0:
        return False
    # float value of an irrational: ties (a distance of exactly half a unit) cannot occur
    return abs(z.real - float(shown)) <= float(half) * (1 + 1e-9)
