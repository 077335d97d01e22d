"""Numbers on the symbolic path (worker processes only): the tolerance policy of ``tolerance.py`` and
the rounding rule of ``sequences.py`` applied to sympy values.
"""
from __future__ import annotations

from fractions import Fraction

import sympy
from sympy import Float, MatrixBase, Tuple

from jaxpt.rewards.tolerance import EXACT_DIGITS_AGREEMENT, REL_TOL, decimal_places, rounds_to

_PRECISION = 50  # digits for numeric checks of exact values
_SPECIAL = (sympy.oo, -sympy.oo, sympy.zoo, sympy.nan)


def is_plain_number(x) -> bool:
    return (
        isinstance(x, sympy.Expr)
        and not isinstance(x, (MatrixBase, Tuple))
        and x.is_number
    )


def _rounded_match(a: sympy.Expr, b: sympy.Expr) -> bool:
    """A decimal (``0.33``) against an exact value that rounds to it (``sequences.py`` POLICY)."""
    for lit, other in ((a, b), (b, a)):
        if isinstance(lit, Float) and not other.has(Float):
            text = repr(float(lit))  # the shortest decimal that reads back as this float: as written
            places = decimal_places(text)
            if places is None:
                return False
            if other.is_Rational:
                return rounds_to(text, places, q=(Fraction(int(other.p), int(other.q)), Fraction(0)))
            value = complex(other.evalf(30))
            return rounds_to(text, places, z=value)
    return False


def numbers_equal(a: sympy.Expr, b: sympy.Expr, rounding: bool = False) -> bool:
    if a == b:
        return True
    if rounding and _rounded_match(a, b):
        return True
    if a.has(*_SPECIAL) or b.has(*_SPECIAL):
        return False
    approx = a.has(Float) or b.has(Float)
    if not approx:
        # Exact values: sympy's own simplification of the difference first, so that values too
        # close for 50 digits (10^{100} vs 10^{100}+1) are still told apart.
        d = a - b
        if d.is_Rational:
            return d == 0
        zero = d.is_zero
        if zero is not None:
            return bool(zero)
    A, B = a.evalf(_PRECISION), b.evalf(_PRECISION)
    if not (A.is_number and B.is_number) or A.has(*_SPECIAL) or B.has(*_SPECIAL):
        return False
    diff = abs(A - B)
    scale = max(abs(A), abs(B))
    if diff == 0:
        return True
    if approx:
        return bool(diff <= REL_TOL * scale)
    if A == 0 or B == 0:
        # Is the other side an exact zero that evaluated to a tiny residue? Only a proof counts:
        # 10^{-60} is a tiny non-zero exact value and must not equal 0.
        other = b if A == 0 else a
        return bool(sympy.simplify(other) == 0)
    # Exact values sympy could not simplify: agreement to 40 of 50 digits is taken as equality.
    return bool(diff <= EXACT_DIGITS_AGREEMENT * scale)


__all__ = ["is_plain_number", "numbers_equal"]
