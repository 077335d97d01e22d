"""Numeric values of constant LaTeX arithmetic (the number algebra for ``latex_arith.Parser``).

Constant results are exact Gaussian rationals when possible, floats otherwise (see ``Val``).
Variables get values only when the caller passes an ``env``: the fast path evaluates two
expressions at the same sample point to *prove them different* (a float difference far above the
rounding-noise bound ``Val.m`` is a real difference). Equality of expressions with variables is
left to ``polyeval`` (exact) or sympy.
"""
from __future__ import annotations

import math
from fractions import Fraction

from jaxpt.rewards.latex_arith import Undecided, Undefined, parse_with

MAX_BITS = 20_000  # exact results larger than this are left to sympy (and its timeout)


class Val:
    """A value. ``q``: exact (re, im) Fractions, or None if irrational/variable-dependent.
    ``z``: float approximation, or None if out of float range. ``approx``: a decimal literal went
    into it. ``m``: bound on the absolute rounding error of ``z``, in units of machine epsilon
    (``|value|`` for exact inputs, propagated to first order by each operation)."""

    __slots__ = ("q", "z", "approx", "m")

    def __init__(self, q, z, approx, m=None):
        self.q, self.z, self.approx = q, z, approx
        self.m = (abs(z) if z is not None else math.inf) if m is None else m

    def __repr__(self):
        return f"Val(q={self.q}, z={self.z}, approx={self.approx}, m={self.m})"


_ZERO = Fraction(0)


def _float_of(q) -> complex | None:
    try:
        return complex(float(q[0]), float(q[1]))
    except OverflowError:
        return None


def exact(re_part, im_part=_ZERO, approx=False) -> Val:
    q = (Fraction(re_part), Fraction(im_part))
    return Val(q, _float_of(q), approx)


def approx_float(z: complex, approx: bool = False, m: float | None = None) -> Val:
    """A float-only value (irrational constant or a variable's sample value)."""
    return Val(None, _finite(z), approx, m)


def _bits(q) -> int:
    return max(
        q[0].numerator.bit_length(), q[0].denominator.bit_length(),
        q[1].numerator.bit_length(), q[1].denominator.bit_length(),
    )


def _finite(z):
    if z is None or not (math.isfinite(z.real) and math.isfinite(z.imag)):
        return None
    return z


def _binop(a: Val, b: Val, op: str) -> Val:
    approx = a.approx or b.approx
    if a.q is not None and b.q is not None:
        (ar, ai), (br, bi) = a.q, b.q
        if op == "+":
            q = (ar + br, ai + bi)
        elif op == "-":
            q = (ar - br, ai - bi)
        elif op == "*":
            q = (ar * br - ai * bi, ar * bi + ai * br)
        else:
            d = br * br + bi * bi
            if d == 0:
                raise Undefined("division by zero")
            q = ((ar * br + ai * bi) / d, (ai * br - ar * bi) / d)
        if _bits(q) > MAX_BITS:
            raise Undecided("too large")
        return Val(q, _float_of(q), approx)
    if a.z is None or b.z is None:
        raise Undecided("out of float range")
    try:
        if op == "+":
            z = a.z + b.z
        elif op == "-":
            z = a.z - b.z
        elif op == "*":
            z = a.z * b.z
        else:
            if b.z == 0:
                raise Undecided("division by a float zero")
            z = a.z / b.z
    except (OverflowError, ZeroDivisionError) as e:
        raise Undecided(str(e))
    z = _finite(z)
    if z is None:
        raise Undecided("out of float range")
    # m bounds the absolute rounding error (in units of machine epsilon): errors of the inputs
    # propagate by first-order calculus, and exact inputs carry m = |value|.
    if op in "+-":
        m = a.m + b.m
    elif op == "*":
        m = abs(b.z) * a.m + abs(a.z) * b.m
    else:
        m = a.m / abs(b.z) + abs(a.z) * b.m / abs(b.z) ** 2
    m = max(m, abs(z))
    return Val(None, z, approx, m)


def _int_root(n: int, k: int) -> int | None:
    """Exact k-th root of a non-negative int, or None."""
    if n < 2:
        return n
    if n.bit_length() >= 1000:
        return None
    r = round(n ** (1.0 / k))
    for c in (r - 1, r, r + 1):
        if c >= 0 and c**k == n:
            return c
    return None


def _power(base: Val, exp: Val) -> Val:
    approx = base.approx or exp.approx
    if exp.q is None or exp.q[1] != 0:
        raise Undecided("irrational, complex or variable exponent")
    e = exp.q[0]
    if e.denominator == 1:
        n = e.numerator
        if base.q is not None:
            if _bits(base.q) * abs(n) > MAX_BITS:
                raise Undecided("power too large")
            br, bi = base.q
            if n < 0 and br == 0 and bi == 0:
                raise Undefined("zero to a negative power")
            if bi == 0:
                q = (br**n, _ZERO)
            else:  # Gaussian power by repeated squaring
                rr, ri = Fraction(1), _ZERO
                pr, pi_ = br, bi
                k = abs(n)
                while k:
                    if k & 1:
                        rr, ri = rr * pr - ri * pi_, rr * pi_ + ri * pr
                    pr, pi_ = pr * pr - pi_ * pi_, 2 * pr * pi_
                    k >>= 1
                if n < 0:
                    d = rr * rr + ri * ri
                    rr, ri = rr / d, -ri / d
                q = (rr, ri)
            return Val(q, _float_of(q), approx)
        if base.z is None or abs(n) > 1000 or (n < 0 and base.z == 0):
            raise Undecided("float power")
        try:
            z = _finite(base.z**n)
        except (OverflowError, ZeroDivisionError) as err:
            raise Undecided(str(err))
        if z is None:
            raise Undecided("out of float range")
        rel = base.m / abs(base.z) if base.z != 0 else math.inf
        return Val(None, z, approx, max(abs(z), abs(z) * abs(n) * rel) if z != 0 else base.m)
    # Fractional exponent: only real, non-negative bases (principal branches of negative ones are
    # where parsers disagree, so sympy decides those).
    if abs(e.numerator) > 64 or e.denominator > 64:
        raise Undecided("exponent too complex")
    if base.q is not None:
        if base.q[1] != 0 or base.q[0] < 0:
            raise Undecided("root of a negative or complex number")
        b = base.q[0]
        num, den = _int_root(b.numerator, e.denominator), _int_root(b.denominator, e.denominator)
        if num is not None and den is not None:
            return _power(exact(Fraction(num, den), approx=base.approx), exact(e.numerator, approx=exp.approx))
        if b == 0:
            return _power(exact(0), exact(e.numerator))
        try:
            z = complex(float(b) ** float(e))
        except (OverflowError, ZeroDivisionError) as err:
            raise Undecided(str(err))
        return approx_float(z, approx)
    if base.z is None or base.z.imag != 0 or base.z.real <= 0:
        raise Undecided("root of a non-positive or complex number")
    try:
        z = complex(base.z.real ** float(e))
    except (OverflowError, ZeroDivisionError) as err:
        raise Undecided(str(err))
    return approx_float(z, approx, abs(z) * max(1.0, float(abs(e)) * base.m / abs(base.z)))



class NumAlgebra:
    """Builds ``Val`` numbers; ``env(name) -> float`` gives variables a value (None: undecided)."""

    def __init__(self, env=None):
        self.env = env

    def integer(self, n: int) -> Val:
        return exact(n)

    def decimal(self, text: str) -> Val:
        return exact(Fraction(text), approx=True)

    def imag(self) -> Val:
        return exact(0, 1)

    def pi(self) -> Val:
        return approx_float(complex(math.pi))

    def variable(self, name: str) -> Val:
        if self.env is None:
            raise Undecided(f"variable {name}")
        return approx_float(complex(self.env(name)))

    binop = staticmethod(_binop)
    power = staticmethod(_power)

    def root(self, radicand: Val, index: int) -> Val:
        return _power(radicand, exact(Fraction(1, index)))

    def small_int(self, v: Val) -> int | None:
        if v.q is None or v.q[1] != 0 or v.q[0].denominator != 1 or v.approx or abs(v.q[0]) > 10**6:
            return None
        return int(v.q[0])


def evaluate(s: str, env=None) -> Val:
    """Value of a LaTeX expression; ``env(name) -> float`` supplies variable values (else a
    variable raises Undecided). Raises Undecided outside the supported subset, Undefined on an
    exact division by zero."""
    return parse_with(s, NumAlgebra(env))


def evaluate_or_none(s: str, env=None) -> Val | None:
    """Like ``evaluate`` but None when undecided; Undefined still propagates."""
    try:
        return evaluate(s, env)
    except Undecided:
        return None
    except (ValueError, ArithmeticError, RecursionError, MemoryError):
        return None


__all__ = ["Val", "Undecided", "Undefined", "NumAlgebra", "evaluate", "evaluate_or_none", "exact", "approx_float"]
