"""Decides the common cases without sympy: numbers, constant LaTeX, expressions that differ at a
sample point, and tuples / intervals / unions / sets / lists / matrices / ``\\pm`` / assignments
built from them.

``compare_answers`` returns True or False when it is sure and None when sympy must decide. "Sure"
means: the verdict cannot change under the symbolic path's rules (same tolerance policy, see
``tolerance.py``). Everything here is bounded (capped sizes, no sympy), so the caller's process
runs it inline for every item.
"""
from __future__ import annotations

import math
import re

from jaxpt.rewards.normalize import Answer
from jaxpt.rewards.numeval import Undecided, Undefined, Val, evaluate, exact
from jaxpt.rewards.polyeval import poly_equal
from jaxpt.rewards.tolerance import exact_within_tol, float_verdict

MAX_ITEMS = 64
MAX_DEPTH = 6
NOISE_EPS = 1e-13  # generous machine-epsilon multiple for the float noise bound (Val.m)
_APPROX_EXPR_SEPARATION = 1e-3  # decimals inside expressions: only a gross difference is proof


class Node:
    """kind: num | fn | undef | inf | text | base | assign | seq.

    num: constant (``value`` a Val, ``src`` its text); fn: expression with variables (``src``);
    seq: ``shape`` is '()', '[]', '[)', '(]' (ordered), 'set' / 'list' (unordered), 'union' or
    'matrix' (``value`` = (rows, cols)); assign: ``var`` = ``value``."""

    __slots__ = ("kind", "value", "shape", "items", "var", "src")

    def __init__(self, kind, value=None, shape=None, items=None, var=None, src=None):
        self.kind, self.value, self.shape, self.items, self.var, self.src = kind, value, shape, items, var, src


_ORDERED = {"()", "[]", "[)", "(]"}
_UNORDERED = {"set", "list"}
_MATRIX_RE = re.compile(r"^\\begin\{([pbB]?matrix)\}(.*)\\end\{\1\}$", re.S)
_ASSIGN_RE = re.compile(r"^([A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?)\s*=\s*([^=<>]+)$")
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
    m = _MATRIX_RE.match(s)
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
        return _unordered("set", split_top(s[2:-2], ","), depth)
    if s[0] in "([" and s[-1] in ")]" and _closing_index(s) == len(s) - 1:
        parts = split_top(s[1:-1], ",")
        if len(parts) == 1:
            return _scalar(s) if s[0] == "(" and s[-1] == ")" else None
        shape = s[0] + s[-1]
        if (shape != "()" and len(parts) != 2) or len(parts) > MAX_ITEMS:
            return None
        return Node("seq", shape=shape, items=[parse(p, depth + 1) for p in parts])
    if s.count("\\pm") == 1:
        plus, minus = s.replace("\\pm", "+"), s.replace("\\pm", "-")
        return Node("seq", shape="list", items=[parse(plus, depth + 1), parse(minus, depth + 1)])
    m = _ASSIGN_RE.match(s)
    if m:
        return Node("assign", var=m.group(1).replace("{", "").replace("}", ""), value=parse(m.group(2), depth + 1))
    return _scalar(s)


# Sample points for expressions with variables: each name gets an unremarkable value in (1, 2)
# (golden-ratio / sqrt(2) rotations keep different names apart).
_PHI, _SQRT2 = (math.sqrt(5) - 1) / 2, math.sqrt(2)


def _sample(point: int):
    def env(name: str) -> float:
        k = sum((i + 1) * ord(c) for i, c in enumerate(name))
        step = _PHI if point == 0 else _SQRT2
        return 1.0 + ((k * step) % 1.0) * 0.9 + 0.05

    return env


_ENVS = (_sample(0), _sample(1))


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


def _and(verdicts) -> bool | None:
    """All True -> True; any False -> False; else None."""
    result = True
    for v in verdicts:
        if v is False:
            return False
        if v is None:
            result = None
    return result


def _match_unordered(a: list, b: list) -> bool | None:
    """Set semantics: every element has an equal partner on the other side."""
    if len(a) * len(b) > MAX_ITEMS * MAX_ITEMS // 4:
        return None
    table = [[compare_nodes(x, y) for y in b] for x in a]
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


def values_equal(a: Val, b: Val) -> bool | None:
    approx = a.approx or b.approx
    if a.q is not None and b.q is not None:
        return exact_within_tol(a.q, b.q) if approx else a.q == b.q
    if a.z is None or b.z is None:
        return None
    return float_verdict(a.z, b.z, approx, NOISE_EPS * max(a.m, b.m))


def _expressions_differ(src_a: str, src_b: str) -> bool | None:
    """False when the two expressions take different values at a sample point, else None."""
    for env in _ENVS:
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


def _interval_pieces(node: Node):
    """A union of intervals with exact endpoints as canonical merged pieces, or None."""
    pieces = []
    for item in node.items if node.shape == "union" else [node]:
        if item is None or item.kind != "seq" or item.shape not in _ORDERED or len(item.items) != 2:
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


def compare_nodes(a: Node | None, b: Node | None) -> bool | None:
    if a is None or b is None:
        return None
    ka, kb = a.kind, b.kind
    if ka == "assign" or kb == "assign":
        if ka == kb:
            # x = 1 vs y = 1: different statements (math-verify agrees).
            return compare_nodes(a.value, b.value) if a.var == b.var else False
        return compare_nodes(a.value if ka == "assign" else a, b.value if kb == "assign" else b)
    if ka == "undef" or kb == "undef":
        return False  # a division by zero equals nothing (sympy: zoo compares unequal)
    if ka in ("num", "fn") and kb in ("num", "fn"):
        if a.src == b.src:
            return True
        if ka == kb == "num":
            verdict = values_equal(a.value, b.value)
            return verdict if verdict is not None else poly_equal(a.src, b.src)  # pi/2 vs \frac{\pi}{2}
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
    if ka != "seq" and kb == "seq" and b.shape in _UNORDERED:
        return _match_unordered([a], b.items)  # 3 vs "3, 4"
    if kb != "seq" and ka == "seq" and a.shape in _UNORDERED:
        return _match_unordered(a.items, [b])
    if ka != "seq" or kb != "seq":
        return None
    sa, sb = a.shape, b.shape
    if sa in _ORDERED and sb in _ORDERED:
        if sa != sb or len(a.items) != len(b.items):
            return False  # (1,2) vs [1,2], [1,2) vs [1,2]: open vs closed matters
        return _and(compare_nodes(x, y) for x, y in zip(a.items, b.items))
    if sa == "matrix" and sb == "matrix":
        if a.value != b.value:
            return False
        return _and(compare_nodes(x, y) for x, y in zip(a.items, b.items))
    if sa in _UNORDERED and sb in _UNORDERED:
        return _match_unordered(a.items, b.items)
    if "union" in (sa, sb) and {sa, sb} <= _ORDERED | {"union"}:
        pa, pb = _interval_pieces(a), _interval_pieces(b)
        if pa is not None and pb is not None:
            return pa == pb
        if sa == sb and _match_unordered(a.items, b.items) is True:
            return True  # the same pieces make the same union
    return None


def _scaled(node: Node | None) -> Node | None:
    """The value of a percent: 50% -> 0.5."""
    if node is None or node.kind != "num":
        return None
    v = node.value
    if v.q is not None:
        scaled = exact(v.q[0] / 100, v.q[1] / 100, approx=v.approx)
    else:
        scaled = Val(None, None if v.z is None else v.z / 100, v.approx, v.m / 100)
    return Node("num", scaled, src=f"({node.src})/100")


def compare_answers(a: Answer, b: Answer) -> bool | None:
    """Fast verdict on two normalised answers: True/False when sure, None to defer to sympy."""
    if a.text == b.text:  # (a percent sign on one side only still matches: see normalize.py)
        return True
    if a.is_text or b.is_text:
        if a.text.lower() == b.text.lower():
            return True
        return False if (a.is_text and b.is_text) else None
    na, nb = parse(a.text), parse(b.text)
    candidates = [(na, nb)]
    if a.percent:
        candidates.append((_scaled(na), nb))
    if b.percent:
        candidates.append((na, _scaled(nb)))
    verdicts = [compare_nodes(x, y) for x, y in candidates]
    if any(v is True for v in verdicts):
        return True
    if all(v is False for v in verdicts):
        return False
    return None


__all__ = ["compare_answers", "compare_nodes", "parse", "values_equal", "split_top"]
