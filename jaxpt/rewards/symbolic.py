"""Symbolic equivalence, run only inside worker processes (see ``pool.py``), never in the caller.

Parsing is math-verify's (``parse`` of the answer wrapped in ``$...$``, which handles far more LaTeX
than we would write ourselves). The comparison is ours where math-verify's defaults are wrong for a
reward: numbers follow ``tolerance.py`` (math-verify rounds floats to 6 decimals, making 1e-7 equal
2e-7, and chops tiny differences, making 1/2^99 equal 1/2^98); intervals, tuples, sets and matrices
recurse into that number rule; an equation only matches a bare value when it is an assignment
(``x = 3`` vs ``3``), not ``x^2 + y^2 = 1`` vs ``1``. Two inequalities in the same single variable
are compared as the sets they describe (``2x < 6`` is ``x < 3``); other relations, symbols and
text fall back to math-verify's own comparison. Matrix sums and products are evaluated first.
Sets, lists, tuples and rounding inside them follow the POLICY of ``sequences.py``, as on the fast
path.

math-verify's timeouts use ``signal.alarm``; they are disabled here (``parsing_timeout=None``,
``timeout_seconds=None``) because the pool bounds time by killing the worker process instead.
"""
from __future__ import annotations

import logging

from math_verify import ExprExtractionConfig, LatexExtractionConfig
from math_verify import grader as mv_grader
from math_verify import parse as mv_parse
from sympy import Basic, FiniteSet, Interval, MatrixBase, Pow, Set, Tuple, Union
from sympy.matrices.expressions import MatrixExpr

from jaxpt.rewards.structure import split_top
from jaxpt.rewards.symbolic_numbers import is_plain_number, numbers_equal

logging.getLogger("math_verify").setLevel(logging.ERROR)  # "timeout disabled" warnings: we know

_CONFIG = (LatexExtractionConfig(), ExprExtractionConfig())
_MAX_DEPTH = 8


def parse_answer(text: str, is_text: bool = False):
    """A normalised answer string -> sympy object, or None when math-verify cannot parse it."""
    latex = f"\\text{{{text}}}" if is_text else text
    for item in mv_parse(f"${latex}$", extraction_config=_CONFIG, parsing_timeout=None):
        if isinstance(item, (Basic, MatrixBase)):
            return item
    return None


def _assignment_rhs(x):
    return mv_grader.take_last_relation(x).rhs


def _as_set(rel):
    try:
        return mv_grader.unwrap_fcs(rel).as_set()
    except Exception:
        return None


def _in_order(xs, ys, depth) -> bool:
    return len(xs) == len(ys) and all(expr_equal(x, y, depth, rounding=True) for x, y in zip(xs, ys))


def _explicit(x):
    """A sum, product or integer power of explicit matrices as the matrix it is."""
    if isinstance(x, Pow) and isinstance(x.base, MatrixBase) and x.exp.is_Integer:
        try:
            return x.base ** int(x.exp)  # A^{-1}, A^2
        except Exception:
            return x
    if isinstance(x, MatrixExpr) and not isinstance(x, MatrixBase):
        try:
            x = x.doit()
            if isinstance(x, MatrixExpr) and not isinstance(x, MatrixBase):
                x = x.as_explicit()
        except Exception:
            pass
    return x


def _inequality_set(rel):
    """(variable, solution set) of an inequality in one variable, else None."""
    if mv_grader.is_assignment_relation(rel):
        return None
    try:
        symbols = rel.free_symbols
        if len(symbols) != 1:
            return None
        return next(iter(symbols)), _as_set(rel)
    except Exception:
        return None


def _union_of_inequalities(x):
    """``x < -2, x > 2`` ("x < -2 or x > 2") as the union of the solutions; else unchanged."""
    if not isinstance(x, FiniteSet) or len(x.args) < 2 or not all(mv_grader.is_relation(r) for r in x.args):
        return x
    solved = [_inequality_set(r) for r in x.args]
    if any(s is None or s[1] is None for s in solved) or len({s[0] for s in solved}) != 1:
        return x
    return Union(*[s[1] for s in solved])


def _unordered_equal(xs, ys, depth) -> bool:
    """Set semantics: every element has an equal partner on the other side."""
    return all(any(expr_equal(x, y, depth) for y in ys) for x in xs) and all(
        any(expr_equal(x, y, depth) for x in xs) for y in ys
    )


def _sets_equal(a, b, depth) -> bool:
    if isinstance(a, Interval) and isinstance(b, Interval):
        return (
            a.left_open == b.left_open
            and a.right_open == b.right_open
            and expr_equal(a.start, b.start, depth, rounding=True)
            and expr_equal(a.end, b.end, depth, rounding=True)
        )
    if isinstance(a, FiniteSet) and isinstance(b, FiniteSet):
        return _unordered_equal(a.args, b.args, depth)
    if a == b:
        return True
    try:
        return bool(a.symmetric_difference(b).is_empty)
    except Exception:
        return False


def _seq(x):
    """Ordered elements of a tuple, or of an open interval that math-verify read from "(a, b)"."""
    if isinstance(x, Tuple):
        return list(x.args)
    if isinstance(x, Interval) and x.left_open and x.right_open:
        return [x.start, x.end]
    return None


def expr_equal(g, p, depth: int = 0, rounding: bool = False) -> bool:
    """Equivalence of two parsed answers under our policies (module doc). ``rounding``: entries of a
    tuple, interval or matrix."""
    depth += 1
    if depth > _MAX_DEPTH:
        return False
    g, p = _explicit(g), _explicit(p)
    try:
        if g == p:
            return True
    except Exception:
        pass
    g, p = _union_of_inequalities(g), _union_of_inequalities(p)
    g_rel, p_rel = mv_grader.is_relation(g), mv_grader.is_relation(p)
    if g_rel and p_rel:
        if mv_grader.is_assignment_relation(g) and mv_grader.is_assignment_relation(p):
            # x = a vs x = b: our number rules on the values (math-verify would round them)
            if mv_grader.take_first_relation(g).lhs != mv_grader.take_first_relation(p).lhs:
                return False
            return expr_equal(_assignment_rhs(g), _assignment_rhs(p), depth)
        sg_, sp_ = _inequality_set(g), _inequality_set(p)
        if sg_ is not None and sp_ is not None and sg_[1] is not None and sp_[1] is not None:
            # 2x < 6 vs x < 3: the same solutions of the same variable
            return sg_[0] == sp_[0] and _sets_equal(sg_[1], sp_[1], depth)
        return mv_grader.sympy_expr_eq(g, p, 6, 15, False, True)
    if g_rel or p_rel:
        rel, other = (g, p) if g_rel else (p, g)
        if isinstance(other, Set) and not isinstance(other, FiniteSet):
            return False  # 2 <= x < 5 vs [2, 5): an inequality is not an interval (sequences.py)
        if mv_grader.is_assignment_relation(rel):
            return expr_equal(_assignment_rhs(rel), other, depth)
        return False  # x^2 + y^2 = 1 is not the number 1
    if isinstance(g, MatrixBase) or isinstance(p, MatrixBase):
        if not (isinstance(g, MatrixBase) and isinstance(p, MatrixBase)) or g.shape != p.shape:
            return False
        return _in_order(list(g), list(p), depth)
    if isinstance(g, FiniteSet) or isinstance(p, FiniteSet):
        if isinstance(g, FiniteSet) and isinstance(p, FiniteSet):
            return _unordered_equal(g.args, p.args, depth)
        finite, other = (g, p) if isinstance(g, FiniteSet) else (p, g)
        if _seq(other) is not None:  # \{1, 2\} vs (1, 2): braces make a set
            return _unordered_equal(finite.args, _seq(other), depth)
        if isinstance(other, (Set, Tuple, MatrixBase)):
            return False  # a list of answers vs an interval with a closed end
        # One answer vs a list of answers: set semantics, as on the fast path ("3" vs "3, 3").
        return _unordered_equal((g.args if isinstance(g, FiniteSet) else [g]),
                                (p.args if isinstance(p, FiniteSet) else [p]), depth)
    sg, sp = _seq(g), _seq(p)
    if isinstance(g, Tuple) or isinstance(p, Tuple):
        if sg is None or sp is None or len(sg) != len(sp):
            return False
        return _in_order(sg, sp, depth)
    if isinstance(g, Set) or isinstance(p, Set):
        return isinstance(g, Set) and isinstance(p, Set) and _sets_equal(g, p, depth)
    if is_plain_number(g) and is_plain_number(p):
        return numbers_equal(g, p, rounding)
    try:
        return bool(mv_grader.sympy_expr_eq(g, p, 6, 15, False, True))
    except Exception:
        return False


def _bare_list(text: str, is_text: bool):
    """The items of a bare comma list (no braces), or None."""
    if is_text or text.startswith("\\{"):
        return None
    pieces = split_top(text, ",")
    return pieces if len(pieces) >= 2 else None


def _list_against_list(a_text: str, a_is_text: bool, b_text: str, b_is_text: bool):
    """Two bare comma lists are compared in order (``sequences.py``); None when this is not that case."""
    pa, pb = _bare_list(a_text, a_is_text), _bare_list(b_text, b_is_text)
    if pa is None or pb is None:
        return None
    if len(pa) != len(pb):
        return False
    xs, ys = [parse_answer(p) for p in pa], [parse_answer(p) for p in pb]
    if any(v is None for v in xs + ys):
        return None
    return _in_order(xs, ys, 0)


def _list_against_tuple(list_text: str, other, is_text: bool):
    """A bare comma list next to a tuple reads as that tuple: compared in order (``sequences.py``).
    None when this is not that case."""
    if is_text or list_text.startswith("\\{") or _seq(other) is None:
        return None
    pieces = split_top(list_text, ",")
    if len(pieces) < 2:
        return None
    items = [parse_answer(piece) for piece in pieces]
    if any(item is None for item in items):
        return False
    return _in_order(items, _seq(other), 0)


def _percent_variants(x, percent: bool):
    if percent and is_plain_number(x):
        return [x, x / 100]
    return [x]


def symbolic_equal(a_text: str, a_percent: bool, a_is_text: bool, b_text: str, b_percent: bool, b_is_text: bool) -> bool:
    """Worker entry point: are two normalised answers equivalent? (argument order does not matter
    for anything but math-verify's relation fallback, which treats `a` as the gold side)"""
    a = parse_answer(a_text, a_is_text)
    b = parse_answer(b_text, b_is_text)
    if a is None or b is None:
        return False
    ordered = _list_against_list(a_text, a_is_text, b_text, b_is_text)
    if ordered is None:
        ordered = _list_against_tuple(a_text, b, a_is_text)
    if ordered is None:
        ordered = _list_against_tuple(b_text, a, b_is_text)
    if ordered is not None:
        return ordered
    for x in _percent_variants(a, a_percent):
        for y in _percent_variants(b, b_percent):
            if expr_equal(x, y):
                return True
    return False


# Answers in the styles of MATH-type benchmarks. The LaTeX parser (ANTLR) builds its prediction
# tables lazily, so the first parse of each construct costs ~100 ms; parsing these once in the
# fork server makes every worker forked from it start with warm tables.
_WARM_PAIRS = (
    ("\\frac{1}{2}+\\sqrt{2}x", "(1,2]"),
    ("x^2+2x+1", "(x+1)^2"),
    ("2 \\le x<5", "[2,5)"),
    ("y=3-\\frac{x}{2}", "y=-\\frac{1}{2}x+3"),
    ("\\sin^2 x+\\cos^2 x", "1"),
    ("\\begin{pmatrix}\\frac{2}{\\sqrt{2}}\\\\1\\end{pmatrix}", "\\begin{pmatrix}\\sqrt{2}&1\\end{pmatrix}"),
    ("(-\\infty,3)\\cup(2,\\infty)", "(-\\infty,2]\\cup[3,\\infty)"),
    ("(3,2),(-3,2)", "\\{1,2\\}"),
    ("\\sqrt{3+2\\sqrt{2}}", "1+\\sqrt[3]{2}"),
    ("\\text{Evelyn}", "Evelyn"),
    ("n=k+4", "\\frac{n(n+1)(2n+1)}{6}"),
    ("6+9i", "\\frac{\\pi}{2}"),
    ("\\log_2 8+\\ln x", "e^{x}\\tan\\theta"),
    ("a_1+b_{10}", "|x-1|"),
    ("\\binom{5}{2}\\cdot 3!", "2^{10}\\times10^{-3}"),
    ("x \\ge 2", "x<-1 \\text{ or } x>1"),
    ("\\frac{-1\\pm\\sqrt{5}}{2}", "\\dfrac{a+b}{c-d}"),
    ("0.5", "1.5708"),
)


_warmed = False


def warm_up() -> None:
    """Builds the LaTeX parser tables and sympy caches once per process tree: done in the fork
    server, every worker forked from it inherits them (and this flag)."""
    global _warmed
    if _warmed:
        return
    _warmed = True
    for a, b in _WARM_PAIRS:
        try:
            symbolic_equal(a, False, False, b, False, False)
        except Exception:
            pass
