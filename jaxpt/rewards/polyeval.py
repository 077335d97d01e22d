"""Exact equality of rational functions with rational coefficients, without sympy.

``(x+1)^2`` vs ``x^2+2x+1`` or ``\\frac{1}{2n+2}`` vs ``\\frac{1}{2(n+1)}``: both sides are built as
num/den polynomials (``latex_arith.Parser`` with ``PolyAlgebra``) and compared by
cross-multiplication, which is a proof. ``\\pi`` is treated as one more variable: it is
transcendental, so a polynomial identity in pi holds exactly when it holds symbolically.

Only what this can decide exactly is accepted: no decimals (those follow the tolerance policy),
no irrational roots, no imaginary unit, bounded degree and size; everything else is Undecided.
"""
from __future__ import annotations

from fractions import Fraction

from jaxpt.rewards.latex_arith import Undecided, Undefined, parse_with
from jaxpt.rewards.numeval import _int_root

MAX_TERMS = 400
MAX_DEGREE = 64

# A polynomial is {monomial: coefficient}; a monomial is a sorted tuple of (variable, power).
_ONE = ()


def _clean(p: dict) -> dict:
    return {m: c for m, c in p.items() if c != 0}


def _check(p: dict) -> dict:
    if len(p) > MAX_TERMS:
        raise Undecided("polynomial too large")
    return p


def _padd(a: dict, b: dict, sign: int = 1) -> dict:
    out = dict(a)
    for m, c in b.items():
        out[m] = out.get(m, 0) + sign * c
    return _check(_clean(out))


def _mono_mul(m1: tuple, m2: tuple) -> tuple:
    powers = dict(m1)
    for v, k in m2:
        powers[v] = powers.get(v, 0) + k
        if powers[v] > MAX_DEGREE:
            raise Undecided("degree too high")
    return tuple(sorted(powers.items()))


def _pmul(a: dict, b: dict) -> dict:
    if len(a) * len(b) > 20 * MAX_TERMS:
        raise Undecided("product too large")
    out: dict = {}
    for m1, c1 in a.items():
        for m2, c2 in b.items():
            m = _mono_mul(m1, m2)
            out[m] = out.get(m, 0) + c1 * c2
    return _check(_clean(out))


def _const(p: dict) -> Fraction | None:
    if not p:
        return Fraction(0)
    if set(p) == {_ONE}:
        return p[_ONE]
    return None


class RatFunc:
    """num / den, both polynomials."""

    __slots__ = ("num", "den")

    def __init__(self, num: dict, den: dict | None = None):
        self.num, self.den = num, ({_ONE: Fraction(1)} if den is None else den)

    def constant(self) -> Fraction | None:
        n, d = _const(self.num), _const(self.den)
        return None if n is None or d is None or d == 0 else n / d


def _number(q: Fraction) -> RatFunc:
    return RatFunc(_clean({_ONE: Fraction(q)}))


class PolyAlgebra:
    def integer(self, n: int) -> RatFunc:
        if n.bit_length() > 4000:
            raise Undecided("integer too large")
        return _number(Fraction(n))

    def decimal(self, text: str) -> RatFunc:
        raise Undecided("decimals follow the tolerance policy")

    def imag(self) -> RatFunc:
        raise Undecided("imaginary unit")

    def pi(self) -> RatFunc:
        return self.variable("\\pi")

    def variable(self, name: str) -> RatFunc:
        return RatFunc({((name, 1),): Fraction(1)})

    def binop(self, a: RatFunc, b: RatFunc, op: str) -> RatFunc:
        if op in "+-":
            sign = 1 if op == "+" else -1
            if a.den == b.den:
                return RatFunc(_padd(a.num, b.num, sign), a.den)
            return RatFunc(_padd(_pmul(a.num, b.den), _pmul(b.num, a.den), sign), _pmul(a.den, b.den))
        if op == "*":
            return RatFunc(_pmul(a.num, b.num), _pmul(a.den, b.den))
        if not b.num:
            raise Undefined("division by zero")
        return RatFunc(_pmul(a.num, b.den), _pmul(a.den, b.num))

    def power(self, base: RatFunc, exp: RatFunc) -> RatFunc:
        e = exp.constant()
        if e is None or e.denominator != 1 or abs(e) > MAX_DEGREE:
            raise Undecided("non-integer or large exponent")
        n = int(e)
        if n < 0:
            if not base.num:
                raise Undefined("zero to a negative power")
            base, n = RatFunc(base.den, base.num), -n
        out = RatFunc({_ONE: Fraction(1)})
        for _ in range(n):
            out = self.binop(out, base, "*")
        return out

    def root(self, radicand: RatFunc, index: int) -> RatFunc:
        c = radicand.constant()
        if c is None or c < 0:
            raise Undecided("root of a non-constant or negative")
        num, den = _int_root(c.numerator, index), _int_root(c.denominator, index)
        if num is None or den is None:
            raise Undecided("irrational root")
        return _number(Fraction(num, den))

    def small_int(self, v: RatFunc) -> int | None:
        c = v.constant()
        if c is None or c.denominator != 1 or abs(c) > 10**6:
            return None
        return int(c)


def poly_equal(a: str, b: str) -> bool | None:
    """True/False when both sides are exact rational functions, else None."""
    try:
        fa, fb = parse_with(a, PolyAlgebra()), parse_with(b, PolyAlgebra())
        if not fa.den or not fb.den:
            return None
        return _pmul(fa.num, fb.den) == _pmul(fb.num, fa.den)
    except (Undecided, Undefined, ValueError, ArithmeticError, RecursionError, MemoryError):
        return None
