"""Answers as trees: the structure the fast path compares (``fastpath.py``).

``parse`` reads a normalised answer into a ``Node``: a constant (exact or float, ``numeval``), an
expression with variables, infinity, text, a number in another base, an assignment ``x = ...``, a
clock time, a relation (``x \\ne 4``, ``a < b < c``), or a sequence: tuple / interval / union / set /
comma list / matrix of those. A one-variable inequality with constant bounds (``x < 3``,
``-2 < x \\le 5``) is read as the interval of its solutions, remembering the variable's name.
A sum or product of numeric matrices is evaluated (``matrix_arith.py``). Anything outside this
is None: the symbolic path decides it.

Sizes and depth are capped, so parsing is bounded for any input.
"""
from __future__ import annotations

import math
import re

from jaxpt.rewards.clock import CANONICAL_TIME_RE, parse_time
from jaxpt.rewards.latex_arith import GREEK
from jaxpt.rewards.numeval import Undecided, Undefined, evaluate

MAX_ITEMS = 64
MAX_DEPTH = 6


class Node:
    """kind: num | fn | undef | inf | text | base | assign | time | rel | seq.

    num: constant (``value`` a Val, ``src`` its text, None when computed); fn: expression with
    variables (``src``); seq: ``shape`` is '()', '[]', '[)', '(]' (ordered), 'set' / 'list'
    (unordered), 'union' or 'matrix' (``value`` = (rows, cols)); an interval read from an
    inequality keeps its variable in ``var``; assign: ``var`` = ``value``; time: ``value`` from
    ``clock.parse_time``; rel: ``items`` the sides of a relation that is no interval, ``value`` its
    operators (written left to right with ``<`` / ``\\le`` / ``\\ne``)."""

    __slots__ = ("kind", "value", "shape", "items", "var", "src")

    def __init__(self, kind, value=None, shape=None, items=None, var=None, src=None):
        self.kind, self.value, self.shape, self.items, self.var, self.src = kind, value, shape, items, var, src


ORDERED = {"()", "[]", "[)", "(]"}
UNORDERED = {"set", "list"}
_ORDERED, _UNORDERED = ORDERED, UNORDERED
_MATRIX_RE = re.compile(r"^\\begin\{(pmatrix)\}(.*)\\end\{\1\}$", re.S)
_GREEK_NAMES = "|".join(sorted(g[1:] for g in GREEK))
_LONE_VAR_RE = re.compile(r"^(?:[A-Za-z]|\\(?:" + _GREEK_NAMES + r"))(?:_\{?[A-Za-z0-9]+\}?)?$")
_RELATION_OPS = ("<", ">", "\\le", "\\ge", "\\ne")
_FLIP = {"<": ">", ">": "<", "\\le": "\\ge", "\\ge": "\\le", "\\ne": "\\ne"}
# x = 3, a_1 = 3, f(2) = 7: a name (or a function value) and what it equals.
_ASSIGN_RE = re.compile(r"^([A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?(?:\([^()=<>]{1,20}\))?)\s*=\s*([^=<>]+)$")
_SET_BUILDER_RE = re.compile(r"^\\\{\s*([A-Za-z])\s*(?:\\mid|\||:)\s*(.+)\\\}$")
_REVERSED_ASSIGN_RE = re.compile(r"^([^=<>A-Za-z]+)=([A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?)$")  # 3 = x
_TUPLE_ASSIGN_RE = re.compile(r"^(\([A-Za-z](?:,[A-Za-z])+\))=(\(.+\))$")  # (x,y)=(2,3)
_INF_RE = re.compile(r"^([+-]?)\\infty$")
_BASE_RE = re.compile(r"^([0-9A-Za-z]+)_\{?(\d+)\}?$")
_OPEN = "([{"
_CLOSE = ")]}"


def split_top(s: str, sep: str) -> list[str]:
    """Splits on `sep` outside any (), [], {} nesting (brackets of any kind count, so "[1,2)" nests)."""
    parts, depth, start, i, n, k = [], 0, 0, 0, len(s), len(sep)
    while i < n:
        if depth == 0 and s.startswith(sep, i):
            parts.append(s[start:i])
            i += k
            start = i
            continue
        c = s[i]
        if c == "\\":
            if i + 1 < n and s[i + 1] in "{}":
                depth += 1 if s[i + 1] == "{" else -1  # \{ \} delimit set elements
            i += 2  # an escaped character is never a bracket or a separator
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        i += 1
    parts.append(s[start:])
    return parts


def _closing_index(s: str) -> int:
    """Index of the bracket closing s[0] (any bracket kind closes any), or -1."""
    depth = 0
    for i, c in enumerate(s):
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth == 0:
                return i
    return -1


def _unordered(shape: str, parts: list[str], depth: int) -> Node | None:
    if len(parts) > MAX_ITEMS:
        return None
    items = []
    for p in parts:
        node = parse(p, depth + 1)
        # "\{1 \pm \sqrt{5}, -2\}" holds three elements, not a pair and a number.
        if node is not None and node.kind == "seq" and node.shape == "list":
            items.extend(node.items)
        else:
            items.append(node)
    return Node("seq", shape=shape, items=items)


def parse(s: str, depth: int = 0, is_text: bool = False) -> Node | None:
    s = s.strip()
    if not s or depth > MAX_DEPTH:
        return None
    if is_text:
        return Node("text", s.lower())
    if CANONICAL_TIME_RE.match(s):
        return Node("time", value=parse_time(s))
    m = _MATRIX_RE.match(s) if s.count("\\begin") == 1 else None
    if m is None and "\\begin{pmatrix}" in s:
        return _matrix_expression(s)
    if m:
        rows = [r for r in split_top(m.group(2), "\\\\") if r.strip()]
        cells = [split_top(r, "&") for r in rows]
        if not cells or len({len(r) for r in cells}) != 1 or len(cells) * len(cells[0]) > MAX_ITEMS:
            return None
        items = [parse(c, depth + 1) for r in cells for c in r]
        return Node("seq", shape="matrix", items=items, value=(len(cells), len(cells[0])))
    parts = split_top(s, "\\cup")
    if len(parts) > 1:
        if len(parts) > MAX_ITEMS:
            return None
        return Node("seq", shape="union", items=[parse(p, depth + 1) for p in parts])
    parts = split_top(s, ",")
    if len(parts) > 1:
        return _unordered("list", parts, depth)
    if s.startswith("\\{") and s.endswith("\\}"):
        m = _SET_BUILDER_RE.match(s)
        if m:  # \{x \mid x > 2\}: the solutions of the condition
            cond = parse(m.group(2), depth + 1)
            if cond is None or cond.kind != "seq" or cond.var != m.group(1):
                return None
            # A set, not an inequality: it equals the interval (its variable is bound inside the braces).
            return Node("seq", shape=cond.shape, items=cond.items, var=None)
        return _unordered("set", split_top(s[2:-2], ","), depth)
    if s[0] in "([" and s[-1] in ")]" and _closing_index(s) == len(s) - 1:
        parts = split_top(s[1:-1], ",")
        if len(parts) == 1:
            return _scalar(s) if s[0] == "(" and s[-1] == ")" else None
        shape = s[0] + s[-1]
        if (shape != "()" and len(parts) != 2) or len(parts) > MAX_ITEMS:
            return None
        return Node("seq", shape=shape, items=[parse(p, depth + 1) for p in parts])
    relation = _relation(s, depth)
    if relation is not None:
        return relation
    if s.count("\\pm") == 1:
        plus, minus = s.replace("\\pm", "+"), s.replace("\\pm", "-")
        return Node("seq", shape="list", items=[parse(plus, depth + 1), parse(minus, depth + 1)])
    m = _ASSIGN_RE.match(s) or _TUPLE_ASSIGN_RE.match(s)
    if m:
        return Node("assign", var=m.group(1).replace("{", "").replace("}", ""), value=parse(m.group(2), depth + 1))
    m = _REVERSED_ASSIGN_RE.match(s)
    if m:
        return Node("assign", var=m.group(2).replace("{", "").replace("}", ""), value=parse(m.group(1), depth + 1))
    return _scalar(s)


def _split_relations(s: str):
    """Top-level relation operators of `s`: (sides, operators); no operator gives ([s], [])."""
    parts, ops, depth, start, i, n = [], [], 0, 0, 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            op = next((o for o in _RELATION_OPS[2:] if s.startswith(o, i)
                       and not s[i + len(o): i + len(o) + 1].isalpha()), None)
            if op and depth == 0:
                parts.append(s[start:i])
                ops.append(op)
                i += len(op)
                start = i
                continue
            i += 2
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif depth == 0 and c in "<>":
            parts.append(s[start:i])
            ops.append(c)
            start = i + 1
        i += 1
    parts.append(s[start:])
    return parts, ops


def _is_real_constant(node: Node | None) -> bool:
    if node is None:
        return False
    if node.kind == "inf":
        return True
    if node.kind != "num":
        return False
    v = node.value
    return (v.q is not None and v.q[1] == 0) or (v.q is None and v.z is not None and v.z.imag == 0)


def _relation(s: str, depth: int) -> Node | None:
    """An inequality as an interval of its variable, or a "rel" node; None when `s` has no relation."""
    parts, ops = _split_relations(s)
    if not ops:
        return None
    if len(ops) > 3 or any(not p.strip() for p in parts):
        return None
    if all(op in (">", "\\ge") for op in ops):  # 5 > x > 1 is 1 < x < 5
        parts, ops = parts[::-1], [_FLIP[op] for op in reversed(ops)]
    names = [p.strip() if _LONE_VAR_RE.match(p.strip()) else None for p in parts]
    nodes = [None if name else parse(p, depth + 1) for p, name in zip(parts, names)]
    if all(op in ("<", "\\le") for op in ops) and len(ops) <= 2:
        interval = _as_interval(names, nodes, ops)
        if interval is not None:
            return interval
    items = [Node("fn", src=name) if name else node for name, node in zip(names, nodes)]
    return Node("rel", items=items, value=tuple(ops), src=s)


def _as_interval(names, nodes, ops) -> Node | None:
    minus_inf, plus_inf = Node("inf", value="-"), Node("inf", value="+")
    opening = {"<": "(", "\\le": "["}
    closing = {"<": ")", "\\le": "]"}
    if len(ops) == 1:
        if names[0] and _is_real_constant(nodes[1]):  # x < 3
            return Node("seq", shape="(" + closing[ops[0]], items=[minus_inf, nodes[1]], var=names[0])
        if names[1] and _is_real_constant(nodes[0]):  # 3 < x
            return Node("seq", shape=opening[ops[0]] + ")", items=[nodes[0], plus_inf], var=names[1])
        return None
    if names[1] and _is_real_constant(nodes[0]) and _is_real_constant(nodes[2]):  # 1 < x <= 3
        return Node("seq", shape=opening[ops[0]] + closing[ops[1]], items=[nodes[0], nodes[2]], var=names[1])
    return None


def _matrix_expression(s: str) -> Node | None:
    from jaxpt.rewards.matrix_arith import evaluate_matrix_expression

    rows = evaluate_matrix_expression(s, split_top)
    if rows is None:
        return None
    items = [Node("num", v) for row in rows for v in row]
    return Node("seq", shape="matrix", items=items, value=(len(rows), len(rows[0])))


# Sample points for expressions with variables: each name gets an unremarkable value in (1, 2)
# (golden-ratio / sqrt(2) rotations keep different names apart).
_PHI, _SQRT2 = (math.sqrt(5) - 1) / 2, math.sqrt(2)


def _sample(point: int):
    def env(name: str) -> float:
        k = sum((i + 1) * ord(c) for i, c in enumerate(name))
        step = _PHI if point == 0 else _SQRT2
        return 1.0 + ((k * step) % 1.0) * 0.9 + 0.05

    return env


ENVS = _ENVS = (_sample(0), _sample(1))


def _scalar(s: str) -> Node | None:
    m = _INF_RE.match(s)
    if m:
        return Node("inf", value=m.group(1) or "+")
    m = _BASE_RE.match(s)
    if m and m.group(2) != "10" and m.group(1).isalnum():
        return Node("base", value=(m.group(1).lower(), int(m.group(2))))
    if "\\pm" in s or "\\mp" in s:
        return None
    try:
        return Node("num", evaluate(s), src=s)
    except Undefined:
        return Node("undef", src=s)
    except Undecided:
        pass
    except (ValueError, ArithmeticError, RecursionError, MemoryError):
        return None
    try:
        evaluate(s, _ENVS[0])  # does it parse once variables have values?
    except (Undecided, Undefined, ValueError, ArithmeticError, RecursionError, MemoryError):
        return None
    return Node("fn", src=s)




def is_multi_valued(answer) -> bool:
    """Does a normalised answer hold several values (a list, a set, a tuple, ``a \\pm b``)?"""
    if answer.is_text:
        return False
    node = parse(answer.text)
    return node is not None and node.kind == "seq" and node.shape in ("list", "set", "()") and len(node.items) > 1


__all__ = ["Node", "parse", "split_top", "is_multi_valued", "MAX_ITEMS", "ORDERED", "UNORDERED", "ENVS"]
