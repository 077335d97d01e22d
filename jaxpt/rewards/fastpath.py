"""Decides the common cases without sympy: numbers, constant LaTeX, expressions that differ at a
sample point, and tuples / intervals / unions / sets / lists / matrices / ``\\pm`` / assignments
built from them.

``compare_answers`` returns True or False when it is sure and None when sympy must decide. "Sure"
means: the verdict cannot change under the symbolic path's rules (same tolerance policy, see
``tolerance.py``). Everything here is bounded (capped sizes, no sympy), so the caller's process
runs it inline for every item.
"""
from __future__ import annotations

from jaxpt.rewards.clock import times_equal
from jaxpt.rewards.normalize import Answer
from jaxpt.rewards.notation import decimal_comma_reading
from jaxpt.rewards.numeval import Undecided, Undefined, Val, evaluate, exact
from jaxpt.rewards.polyeval import poly_equal
from jaxpt.rewards.sequences import all_of, compare_sequences, match_unordered
from jaxpt.rewards.structure import ENVS, UNORDERED, Node, parse, split_top
from jaxpt.rewards.tolerance import decimal_places, exact_within_tol, float_verdict, rounds_to

NOISE_EPS = 1e-13  # generous machine-epsilon multiple for the float noise bound (Val.m)
_APPROX_EXPR_SEPARATION = 1e-3  # decimals inside expressions: only a gross difference is proof


def values_equal(a: Val, b: Val) -> bool | None:
    approx = a.approx or b.approx
    if a.q is not None and b.q is not None:
        return exact_within_tol(a.q, b.q) if approx else a.q == b.q
    if a.z is None or b.z is None:
        return None
    return float_verdict(a.z, b.z, approx, NOISE_EPS * max(a.m, b.m))


def _expressions_differ(src_a: str, src_b: str) -> bool | None:
    """False when the two expressions take different values at a sample point, else None."""
    for env in ENVS:
        try:
            va, vb = evaluate(src_a, env), evaluate(src_b, env)
        except (Undecided, Undefined, ValueError, ArithmeticError, RecursionError, MemoryError):
            return None
        if va.z is None or vb.z is None:
            return None
        noise = NOISE_EPS * max(va.m, vb.m)
        if va.approx or vb.approx:
            scale = max(abs(va.z), abs(vb.z))
            if abs(va.z - vb.z) - noise > _APPROX_EXPR_SEPARATION * scale:
                return False
        elif float_verdict(va.z, vb.z, False, noise) is False:
            return False
    return None


def _rounded_match(a: Node, b: Node) -> bool:
    """One side a decimal literal with enough places, the other an exact value that rounds to it."""
    for lit, other in ((a, b), (b, a)):
        places = decimal_places(lit.src)
        if places is not None and not other.value.approx:
            return rounds_to(lit.src, places, other.value.q, other.value.z)
    return False


def compare_nodes(a: Node | None, b: Node | None, rounding: bool = False) -> bool | None:
    """True/False when sure, None when sympy must decide. ``rounding``: entries of a tuple, interval or
    matrix (the rounding rule of ``sequences.py``)."""
    if a is None or b is None:
        return None
    ka, kb = a.kind, b.kind
    if ka == "time" or kb == "time":
        return times_equal(a.value, b.value) if ka == kb else False
    if ka == "rel" or kb == "rel":
        if ka == kb and a.value == b.value and len(a.items) == len(b.items):
            if all_of(compare_nodes(x, y) for x, y in zip(a.items, b.items)) is True:
                return True
            if a.value == ("\\ne",) and all_of(compare_nodes(x, y) for x, y in zip(a.items, b.items[::-1])) is True:
                return True  # a \ne b is b \ne a
        other = b if ka == "rel" else a
        # A relation is no value: "x \ne 4" is not "x = 4". Against another relation or an interval
        # only sympy can tell equivalent forms apart (2x < 6 is x < 3).
        return None if other.kind in ("rel", "seq") else False
    if ka == "assign" or kb == "assign":
        if ka == kb:
            # x = 1 vs y = 1: different statements (math-verify agrees).
            return compare_nodes(a.value, b.value, rounding) if a.var == b.var else False
        return compare_nodes(a.value if ka == "assign" else a, b.value if kb == "assign" else b, rounding)
    if ka == "undef" or kb == "undef":
        return False  # a division by zero equals nothing (sympy: zoo compares unequal)
    if ka in ("num", "fn") and kb in ("num", "fn"):
        if a.src is not None and a.src == b.src:
            return True
        if ka == kb == "num":
            if rounding and _rounded_match(a, b):
                return True
            verdict = values_equal(a.value, b.value)
            if verdict is None and a.src is not None and b.src is not None:
                verdict = poly_equal(a.src, b.src)  # pi/2 vs \frac{\pi}{2}
            return verdict
        if a.src is None or b.src is None:
            return None
        if _expressions_differ(a.src, b.src) is False:
            return False
        return poly_equal(a.src, b.src)  # exact identity of rational functions, or None
    if ka == "inf" and kb == "inf":
        return a.value == b.value
    if {ka, kb} == {"inf", "num"}:
        return False
    if ka == kb and ka in ("text", "base"):
        return a.value == b.value
    if ka == "base" or kb == "base":
        return None
    if ka != "seq" and kb == "seq" and b.shape in UNORDERED:
        return match_unordered([a], b.items, compare_nodes)  # 3 vs "3, 4"
    if kb != "seq" and ka == "seq" and a.shape in UNORDERED:
        return match_unordered(a.items, [b], compare_nodes)
    if ka != "seq" or kb != "seq":
        seq = a if ka == "seq" else b
        other = b if ka == "seq" else a
        if seq.kind == "seq" and other.kind in ("num", "fn", "inf", "text") \
                and not (seq.shape == "matrix" and seq.value == (1, 1)):
            return False  # a tuple, interval or matrix is not a single value
        return None
    return compare_sequences(a, b, compare_nodes, _compare_rounded)


def _compare_rounded(a, b):
    return compare_nodes(a, b, rounding=True)


def _scaled(node: Node | None) -> Node | None:
    """The value of a percent: 50% -> 0.5."""
    if node is None or node.kind != "num":
        return None
    v = node.value
    if v.q is not None:
        scaled = exact(v.q[0] / 100, v.q[1] / 100, approx=v.approx)
    else:
        scaled = Val(None, None if v.z is None else v.z / 100, v.approx, v.m / 100)
    return Node("num", scaled, src=None if node.src is None else f"({node.src})/100")


def compare_answers(a: Answer, b: Answer) -> bool | None:
    """Fast verdict on two normalised answers: True/False when sure, None to defer to sympy."""
    if a.text == b.text:  # (a percent sign on one side only still matches: see normalize.py)
        return True
    if a.is_text or b.is_text:
        if a.text.lower() == b.text.lower():
            return True
        return False if (a.is_text and b.is_text) else None
    na, nb = parse(a.text), parse(b.text)
    readings_a, readings_b = [na], [nb]
    # "3,5" against a single number: a decimal comma (POLICY in notation.py).
    if nb is not None and nb.kind == "num" and decimal_comma_reading(a.text) is not None:
        readings_a.append(parse(decimal_comma_reading(a.text)))
    if na is not None and na.kind == "num" and decimal_comma_reading(b.text) is not None:
        readings_b.append(parse(decimal_comma_reading(b.text)))
    candidates = []
    for x in readings_a:
        for y in readings_b:
            candidates.append((x, y))
            if a.percent:
                candidates.append((_scaled(x), y))
            if b.percent:
                candidates.append((x, _scaled(y)))
    verdicts = [compare_nodes(x, y) for x, y in candidates]
    if any(v is True for v in verdicts):
        return True
    if all(v is False for v in verdicts):
        return False
    return None


__all__ = ["compare_answers", "compare_nodes", "parse", "values_equal", "split_top"]
