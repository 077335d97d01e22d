"""Numeric matrix expressions: ``A + B``, ``A - B``, ``AB``, ``A \\cdot B``, ``2A``, ``-A``, ``(A + B)C``.

An answer may be written as the sum or product that produces the matrix instead of the matrix
itself. Entries must be constants (``numeval``), so the result is a matrix of exact values (or
floats for irrational ones) that the fast path compares entry by entry. Anything else (variables
in entries, transposes, inverses, shapes that do not fit) is None and left to sympy.
"""
from __future__ import annotations

import re

from jaxpt.rewards.numeval import Undecided, Undefined, _binop, evaluate, exact

MAX_CELLS = 64
MAX_MATRICES = 8

_MATRIX_LITERAL_RE = re.compile(r"\\begin\{pmatrix\}(.*?)\\end\{pmatrix\}", re.S)
_PRODUCT_SIGN_RE = re.compile(r"^(?:\\cdot|\\times|\*)")


class _NotMatrix(Exception):
    pass


def _cells(body: str, split_top) -> list[list]:
    rows = [r for r in split_top(body, "\\\\") if r.strip()]
    cells = [split_top(r, "&") for r in rows]
    if not cells or len({len(r) for r in cells}) != 1 or len(cells) * len(cells[0]) > MAX_CELLS:
        raise _NotMatrix("ragged or too big")
    return [[evaluate(c.strip()) for c in row] for row in cells]


def _add(a, b, op):
    if len(a) != len(b) or len(a[0]) != len(b[0]):
        raise _NotMatrix("shapes differ")
    return [[_binop(x, y, op) for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]


def _mul(a, b):
    if isinstance(a, list) and isinstance(b, list):
        if len(a[0]) != len(b):
            raise _NotMatrix("inner dimensions differ")
        out = []
        for row in a:
            new_row = []
            for j in range(len(b[0])):
                acc = exact(0)
                for k, x in enumerate(row):
                    acc = _binop(acc, _binop(x, b[k][j], "*"), "+")
                new_row.append(acc)
            out.append(new_row)
        return out
    if isinstance(a, list):
        a, b = b, a
    if isinstance(b, list):  # scalar times matrix
        return [[_binop(a, x, "*") for x in row] for row in b]
    return _binop(a, b, "*")


class _Parser:
    """expr := term (+|- term)*; term := factor ((\\cdot|\\times|*|juxtaposition) factor)*;
    factor := -factor | (expr) | matrix | scalar text up to the next operator or matrix."""

    def __init__(self, s: str, split_top):
        self.s, self.i, self.split_top = s, 0, split_top

    def _skip(self):
        while self.i < len(self.s) and self.s[self.i] == " ":
            self.i += 1

    def expr(self):
        v = self.term()
        while True:
            self._skip()
            if self.i < len(self.s) and self.s[self.i] in "+-":
                op = self.s[self.i]
                self.i += 1
                w = self.term()
                if not (isinstance(v, list) and isinstance(w, list)):
                    raise _NotMatrix("matrix plus scalar")
                v = _add(v, w, op)
            else:
                return v

    def term(self):
        v = self.factor()
        while True:
            self._skip()
            rest = self.s[self.i:]
            m = _PRODUCT_SIGN_RE.match(rest)
            if m:
                self.i += m.end()
            elif not rest or rest[0] in "+-)":
                return v
            v = _mul(v, self.factor())

    def factor(self):
        self._skip()
        s, i = self.s, self.i
        if i >= len(s):
            raise _NotMatrix("missing operand")
        if s[i] == "-":
            self.i += 1
            return _mul(exact(-1), self.factor())
        if s[i] == "(":
            self.i += 1
            v = self.expr()
            self._skip()
            if self.i >= len(s) or s[self.i] != ")":
                raise _NotMatrix("unbalanced")
            self.i += 1
            return v
        m = _MATRIX_LITERAL_RE.match(s, i)
        if m:
            self.i = m.end()
            return _cells(m.group(1), self.split_top)
        # A scalar: text up to the next matrix, top-level sign or product sign.
        j, depth = i, 0
        while j < len(s):
            c = s[j]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif depth == 0 and (s.startswith("\\begin", j) or c in "+-()" or _PRODUCT_SIGN_RE.match(s[j:j + 6])):
                break
            j += 1
        if j == i:
            raise _NotMatrix("empty scalar")
        self.i = j
        return evaluate(s[i:j].strip())


def evaluate_matrix_expression(s: str, split_top):
    """Rows of Val entries of a numeric matrix expression, or None (module doc)."""
    if s.count("\\begin{pmatrix}") > MAX_MATRICES or len(s) > 4000:
        return None
    p = _Parser(s, split_top)
    try:
        v = p.expr()
        p._skip()
    except (_NotMatrix, Undecided, Undefined, ValueError, ArithmeticError, RecursionError, IndexError):
        return None
    if p.i != len(s) or not isinstance(v, list):
        return None
    return v


__all__ = ["evaluate_matrix_expression"]
