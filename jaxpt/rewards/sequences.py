"""Comparing sequences: tuples, intervals, unions, sets, comma lists, matrices.

POLICY where the field disagrees (ours, applied the same way on the symbolic path):

* Braces make a set: ``\\{1, 2\\}`` equals ``\\{2, 1\\}``, and a set also equals the same elements in
  parentheses (``(1, 2)``, ``(2, 1)``), a common way to write a solution set. It never equals an
  interval with a closed end (``[1, 2]``): that is a continuum, not two points.
* A bare comma list is ordered, as in the answer checkers whose test suites we measure against
  (math-verify disagrees and treats it as a set): ``2, 3`` is not ``3, 2``. Braces make it a set, on
  either side: ``\{2, 3\}`` equals ``3, 2``. Next to a tuple it reads as that tuple without its
  parentheses: ``-4, 7`` equals ``(-4, 7)`` but ``7, -4`` does not.
* Tuples and intervals are ordered and their brackets count: ``(1, 2)`` is not ``[1, 2]``.
* Rounding inside tuples, intervals and matrices: an entry written as a decimal with at least two
  decimal places equals an exact value that rounds to it (``(0.33, 0.67)`` equals
  ``(\\frac13, \\frac23)``; ``0.66`` does not round 2/3, ``1.4`` has too few places). A whole answer
  keeps the stricter rule of ``tolerance.py`` (``0.33`` is not ``\\frac13``): a vector or interval of
  rounded entries is the usual way to report one, a lone rounded number is an imprecise answer.
* Intervals read from inequalities keep their variable: ``x < 3`` is not ``y < 3``. Inequalities
  in one variable joined by "or" (a list) are the union of their solutions. An inequality (chained
  or not) and an interval are different objects: ``2 \le x < 5`` is not ``[2, 5)`` (the field's
  checkers keep them apart; math-verify does not).
"""
from __future__ import annotations

import math

from jaxpt.rewards.structure import MAX_ITEMS, ORDERED, UNORDERED, Node


def all_of(verdicts) -> bool | None:
    """All True -> True; any False -> False; else None."""
    result = True
    for v in verdicts:
        if v is False:
            return False
        if v is None:
            result = None
    return result


def match_unordered(a: list, b: list, cmp) -> bool | None:
    """Set semantics: every element has an equal partner on the other side."""
    if len(a) * len(b) > MAX_ITEMS * MAX_ITEMS // 4:
        return None
    table = [[cmp(x, y) for y in b] for x in a]
    verdict = True
    for row in table:
        if any(v is True for v in row):
            continue
        if all(v is False for v in row):
            return False
        verdict = None
    for j in range(len(b)):
        col = [table[i][j] for i in range(len(a))]
        if any(v is True for v in col):
            continue
        if all(v is False for v in col):
            return False
        verdict = None
    return verdict


def interval_pieces(node: Node):
    """A union of intervals with exact endpoints as canonical merged pieces, or None."""
    pieces = []
    for item in node.items if node.shape == "union" else [node]:
        if item is None or item.kind != "seq" or item.shape not in ORDERED or len(item.items) != 2:
            return None
        ends = []
        for end in item.items:
            if end is not None and end.kind == "inf":
                ends.append(math.inf if end.value == "+" else -math.inf)
            elif end is not None and end.kind == "num" and end.value.q is not None and end.value.q[1] == 0 \
                    and not end.value.approx:
                ends.append(end.value.q[0])
            else:
                return None
        lo, hi = ends
        # An infinite end is never included (sympy normalises [5, oo] to [5, oo) too).
        lo_closed = item.shape[0] == "[" and lo != -math.inf
        hi_closed = item.shape[1] == "]" and hi != math.inf
        if lo > hi or (lo == hi and not (lo_closed and hi_closed)):
            continue  # empty
        pieces.append([lo, lo_closed, hi, hi_closed])
    pieces.sort(key=lambda p: (p[0], not p[1]))
    merged = []
    for lo, lo_closed, hi, hi_closed in pieces:
        if merged:
            last = merged[-1]
            if lo < last[2] or (lo == last[2] and (last[3] or lo_closed)):  # overlaps or touches
                if hi > last[2]:
                    last[2], last[3] = hi, hi_closed
                elif hi == last[2]:
                    last[3] = last[3] or hi_closed
                continue
        merged.append([lo, lo_closed, hi, hi_closed])
    return [tuple(p) for p in merged]


def _in_order(a: list, b: list, cmp_rounded) -> bool | None:
    if len(a) != len(b):
        return False
    return all_of(cmp_rounded(x, y) for x, y in zip(a, b))


def _inequalities_as_union(node: Node) -> Node:
    """``x < -2, x > 2`` (from "x < -2 or x > 2"): the union of the solutions; else unchanged."""
    items = node.items
    if node.shape == "list" and all(i is not None and i.kind == "seq" and i.var for i in items) \
            and len({i.var for i in items}) == 1:
        return Node("seq", shape="union", items=items, var=items[0].var)
    return node


def compare_sequences(a: Node, b: Node, cmp, cmp_rounded) -> bool | None:
    """Both ``a`` and ``b`` are seq nodes. ``cmp`` compares elements, ``cmp_rounded`` entries under
    the rounding rule (module doc)."""
    a, b = _inequalities_as_union(a), _inequalities_as_union(b)
    sa, sb = a.shape, b.shape
    if sa in ORDERED and sb in ORDERED:
        if sa != sb or len(a.items) != len(b.items):
            return False  # (1,2) vs [1,2], [1,2) vs [1,2]: open vs closed matters
        if a.var != b.var:
            return False  # x < 3 vs y < 3, and an inequality vs an interval
        return _in_order(a.items, b.items, cmp_rounded)
    if sa == "matrix" and sb == "matrix":
        if a.value != b.value:
            return False
        return _in_order(a.items, b.items, cmp_rounded)
    if sa == "list" and sb == "list":
        return _in_order(a.items, b.items, cmp_rounded)  # bare comma lists are ordered
    if sa in UNORDERED and sb in UNORDERED:
        return match_unordered(a.items, b.items, cmp)  # braces on a side make both a set
    if {sa, sb} == {"set", "()"}:
        return match_unordered(a.items, b.items, cmp)
    if {sa, sb} == {"list", "()"}:
        return _in_order(a.items, b.items, cmp_rounded)
    if (sa in UNORDERED and sb in ORDERED) or (sb in UNORDERED and sa in ORDERED):
        return False  # points vs an interval with a closed end
    if "union" in (sa, sb) and {sa, sb} <= ORDERED | {"union"}:
        pa, pb = interval_pieces(a), interval_pieces(b)
        if pa is not None and pb is not None:
            return pa == pb
        if sa == sb and match_unordered(a.items, b.items, cmp) is True:
            return True  # the same pieces make the same union
    return None


__all__ = ["compare_sequences", "match_unordered", "interval_pieces", "all_of"]
