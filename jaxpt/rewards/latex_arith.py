"""The LaTeX arithmetic grammar shared by the fast path's evaluators.

``Parser`` reads numbers, ``+ - * / ^``, ``\\cdot``, ``\\times``, ``\\div``, ``\\frac``, ``\\sqrt``
(and ``\\sqrt[n]``), ``\\pi``, ``i``, ``!``, ``\\binom``, letters and Greek letters as variables,
parentheses and implicit products (``2\\sqrt{3}``, ``xy``), and builds values through an
*algebra* object: ``numeval`` evaluates numbers, ``polyeval`` builds exact polynomials.

Anything else (functions, subscripts, ambiguous notation such as ``2^10``, ``2 3`` or ``f(x)``)
raises ``Undecided``; an exact division by zero raises ``Undefined``. Work is bounded: token
count and nesting depth are capped (algebras cap the size of what they build).

An algebra provides: ``integer(n)``, ``decimal(text)``, ``imag()``, ``pi()``, ``variable(name)``,
``binop(a, b, op)`` with op in ``+-*/``, ``power(base, exp)``, ``root(radicand, index)`` and
``small_int(v)`` (an exact integer value as int, else None).
"""
from __future__ import annotations

import math
import re

MAX_TOKENS = 400
MAX_DEPTH = 40


class Undecided(Exception):
    """The expression is outside what the evaluator handles."""


class Undefined(Exception):
    """The expression divides by an exact zero: it has no value, so it equals no number."""


_TOKEN_RE = re.compile(r"\s*(?:(\d+\.?\d*|\.\d+)|(\\[A-Za-z]+|\\.)|(.))", re.S)
GREEK = frozenset(
    "\\" + g for g in (
        "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu "
        "xi rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi "
        "Psi Omega"
    ).split()
)
_PRIMARY_CMDS = {"\\frac", "\\sqrt", "\\pi", "\\binom"} | GREEK
# `e` is Euler's number to sympy's LaTeX parser and a variable to people: never guess.
AMBIGUOUS_LETTERS = frozenset({"e", "E"})


def tokenize(s: str) -> list[tuple[str, str]]:
    tokens = []
    pos = 0
    n = len(s)
    while pos < n:
        m = _TOKEN_RE.match(s, pos)
        if m is None:  # trailing whitespace
            break
        pos = m.end()
        num, cmd, ch = m.groups()
        if num is not None:
            tokens.append(("num", num))
        elif cmd is not None:
            tokens.append(("cmd", cmd))
        elif ch is not None and not ch.isspace():
            tokens.append(("ch", ch))
        if len(tokens) > MAX_TOKENS:
            raise Undecided("too long")
    return tokens


def _is_letter(tok) -> bool:
    return tok[0] == "ch" and tok[1].isascii() and tok[1].isalpha()


class Parser:
    """Recursive descent over the tokens; every value is built by ``algebra`` (see module doc)."""

    def __init__(self, tokens, algebra):
        self.t = tokens
        self.i = 0
        self.depth = 0
        self.alg = algebra

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, kind, text):
        if self.take() != (kind, text):
            raise Undecided(f"expected {text}")

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Undecided("too deep")

    def parse(self):
        v = self.expr()
        if self.i != len(self.t):
            raise Undecided(f"unparsed {self.peek()}")
        return v

    def expr(self):
        self.enter()
        v = self.term()
        while self.peek() in (("ch", "+"), ("ch", "-")):
            op = self.take()[1]
            v = self.alg.binop(v, self.term(), op)
        self.depth -= 1
        return v

    def _starts_primary(self, tok) -> bool:
        kind, text = tok
        return (
            kind == "num"
            or (kind == "ch" and text in "({")
            or _is_letter(tok)
            or (kind == "cmd" and text in _PRIMARY_CMDS)
        )

    def term(self):
        v = self.implicit()
        while True:
            tok = self.peek()
            if tok in (("ch", "*"), ("cmd", "\\cdot"), ("cmd", "\\times")):
                self.take()
                v = self.alg.binop(v, self.implicit(), "*")
            elif tok in (("ch", "/"), ("cmd", "\\div")):
                self.take()
                v = self.alg.binop(v, self.implicit(), "/")
            else:
                return v

    def implicit(self):
        """A juxtaposed product (``2x``, ``2\\sqrt{3}``). It binds tighter than ``/``, as in sympy's
        LaTeX parser: ``1/2x`` is 1/(2x)."""
        v = self.unary()
        while True:
            tok = self.peek()
            if tok[0] is None or not self._starts_primary(tok):
                return v
            if tok[0] == "num" and self.t[self.i - 1][0] == "num":
                raise Undecided("two numbers side by side")
            if tok == ("ch", "(") and _is_letter(self.t[self.i - 1]) and self.t[self.i + 2: self.i + 3] == [("ch", ")")]:
                # sympy's LaTeX parser reads f(x) and g(2) as function calls but n(n+1) as a product
                raise Undecided("f(x): a function call")
            v = self.alg.binop(v, self.power(), "*")

    def unary(self):
        tok = self.peek()
        if tok in (("ch", "-"), ("ch", "+")):
            self.take()
            self.enter()
            v = self.unary()
            self.depth -= 1
            return self.alg.binop(self.alg.integer(0), v, "-") if tok[1] == "-" else v
        return self.power()

    def power(self):
        base = self.postfix()
        if self.peek() == ("ch", "^"):
            self.take()
            exp = self.arg(exponent=True)
            if self.peek() == ("ch", "^"):
                raise Undecided("double superscript")
            return self.alg.power(base, exp)
        return base

    def postfix(self):
        v = self.primary()
        while self.peek() == ("ch", "!"):
            self.take()
            n = self.alg.small_int(v)
            if n is None or not 0 <= n <= 1000:
                raise Undecided("factorial")
            v = self.alg.integer(math.factorial(n))
        return v

    def arg(self, exponent=False):
        """A macro argument: `{expr}`, or a single character/token as LaTeX reads it."""
        tok = self.peek()
        kind, text = tok
        if tok == ("ch", "{"):
            self.take()
            self.enter()
            v = self.expr()
            self.depth -= 1
            self.expect("ch", "}")
            return v
        if kind == "num":
            if len(text) > 1:
                if exponent:
                    raise Undecided("ambiguous exponent")  # 2^10: LaTeX says 2^1 0, people mean 1024
                # \frac12: LaTeX takes one digit; leave the rest as the next token.
                self.t[self.i] = ("num", text[1:])
                return self.alg.integer(int(text[0]))
            self.take()
            return self.alg.integer(int(text))
        if (kind == "cmd" and text in _PRIMARY_CMDS and text not in ("\\frac", "\\sqrt", "\\binom")) or _is_letter(tok):
            return self.primary()
        raise Undecided("unsupported argument")

    def _variable(self, name: str):
        if name in AMBIGUOUS_LETTERS:
            raise Undecided(f"ambiguous letter {name}")
        return self.alg.variable(name)

    def primary(self):
        kind, text = self.take()
        if kind == "num":
            if len(text) > 4000:
                raise Undecided("too many digits")
            return self.alg.decimal(text) if "." in text else self.alg.integer(int(text))
        if kind == "ch" and text in "({":
            closer = ")" if text == "(" else "}"
            self.enter()
            v = self.expr()
            self.depth -= 1
            self.expect("ch", closer)
            return v
        if (kind, text) == ("ch", "i"):
            return self.alg.imag()
        if _is_letter((kind, text)):
            return self._variable(text)
        if kind == "cmd":
            if text == "\\pi":
                return self.alg.pi()
            if text in GREEK:
                return self._variable(text)
            if text == "\\frac":
                num = self.arg()
                den = self.arg()
                return self.alg.binop(num, den, "/")
            if text == "\\binom":
                n, k = self.alg.small_int(self.arg()), self.alg.small_int(self.arg())
                if n is None or k is None or not 0 <= n <= 10_000:
                    raise Undecided("binom")
                return self.alg.integer(math.comb(n, k) if 0 <= k else 0)
            if text == "\\sqrt":
                index = 2
                if self.peek() == ("ch", "["):
                    self.take()
                    ktok = self.take()
                    self.expect("ch", "]")
                    if ktok[0] != "num" or not ktok[1].isdigit() or not 2 <= int(ktok[1][:3]) <= 64:
                        raise Undecided("root index")
                    index = int(ktok[1])
                radicand = self.arg()
                return self.alg.root(radicand, index)
        raise Undecided(f"unsupported token {text!r}")


def parse_with(s: str, algebra):
    """Parses `s` and builds its value with `algebra` (raises Undecided / Undefined)."""
    tokens = tokenize(s)
    if not tokens:
        raise Undecided("empty")
    return Parser(tokens, algebra).parse()
