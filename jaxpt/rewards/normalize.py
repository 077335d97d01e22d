"""Canonicalises an extracted answer string before comparison.

What is dropped, and why: math delimiters (``$``, ``\\(``), sizing (``\\left``/``\\right``), spacing
commands, ``\\dfrac``/``\\tfrac`` spellings, degree signs, currency, thousands separators and trailing
unit words (``\\text{ cm}``, ``\\mbox{ inches}^2``, ``5 apples``). Graders for MATH-style data treat all of
these as presentation, and a model that writes ``\\$1{,}000`` for gold ``1000`` is right.

Percent policy: a trailing ``%`` (``\\%``, "percent") is removed and remembered in ``Answer.percent``.
A value written with a percent sign matches either its number or its value: ``50\\%`` equals ``50``,
``0.5`` and ``\\frac{1}{2}``. Numbers without the sign compare plainly, so ``50`` does not equal ``0.5``.

Other spellings that mean the same thing (relations, matrix environments, digit grouping, money
and units in other languages) are rewritten by ``notation.py``; clock times get one form
(``clock.py``).

Mixed numbers written as a whole answer (``2\\frac{1}{2}``, ``2 1/2``) are rewritten to an improper
fraction here so the fast path and the symbolic path read them the same way; ``2\\sqrt{2}`` and
``2\\frac{3}{2}`` (improper) stay products.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from jaxpt.rewards.clock import canonical_time
from jaxpt.rewards.structure import split_top
from jaxpt.rewards.notation import (canonical_matrices, canonical_relations, strip_money_and_foreign_units,
                                    tidy_relation_spacing, ungroup_digits)

# Answers longer than this after normalisation are scored False without any parsing: no gold in
# the benchmarks exceeds ~200 characters, and long strings are where parsers blow up.
MAX_ANSWER_CHARS = 1000


@dataclass(frozen=True)
class Answer:
    text: str  # canonical LaTeX-ish text
    percent: bool = False  # the answer carried a trailing percent sign
    is_text: bool = False  # the whole answer was a \text{...} word (a name, a choice letter)


_TEXT_CMDS = r"(?:text|textbf|textit|textrm|textup|mbox|mathrm|mathbf|mathit|textnormal)"
_DELIM_PAIRS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))

_SUBS = [
    (re.compile("\u2212"), "-"),  # unicode minus
    (re.compile("\u00d7"), r"\\times "),
    (re.compile("\u00b7|\u22c5"), r"\\cdot "),
    (re.compile("\u03c0"), r"\\pi "),
    (re.compile("\u221e"), r"\\infty "),
    (re.compile("\u221a"), r"\\sqrt"),
    (re.compile("\u00b2"), "^2"),
    (re.compile("\u00b3"), "^3"),
    (re.compile("[\u00a0\u2009\u202f]"), " "),  # no-break and thin spaces
    (re.compile(r"\*\*"), ""),  # Markdown bold
    (re.compile(r"\\[dt]frac(?![A-Za-z])"), r"\\frac"),
    # LaTeX one-token arguments spelled out, so equal answers also compare equal as strings.
    (re.compile(r"\\frac\s*(\d)\s*(\d)"), r"\\frac{\1}{\2}"),
    (re.compile(r"\\frac\s*(\{[^{}]*\})\s*(\d)"), r"\\frac\1{\2}"),
    (re.compile(r"\\sqrt\s*(\d)"), r"\\sqrt{\1}"),
    (re.compile(r"\\(?:displaystyle|textstyle|scriptstyle)(?![A-Za-z])"), ""),
    (re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)\s*\."), ""),
    (re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![A-Za-z])"), ""),
    (re.compile(r"\\(?:q?quad)(?![A-Za-z])"), " "),
    (re.compile(r",\\!\s*"), ","),  # 11,\! 111: a thousands separator, not a list
    # spacing commands; a `\\` row break is kept whole (its second backslash is no command)
    (re.compile(r"(\\\\)|\\([,;:! ])"), lambda m: m.group(1) or (" " if m.group(2) == " " else "")),
    (re.compile(r"\{,\}"), ","),
    (re.compile(r"~"), " "),
    # degrees: ^\circ, ^{\circ}, °, \degree
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![A-Za-z])"), ""),
    (re.compile(r"\\varnothing(?![A-Za-z])"), r"\\emptyset"),
    # 1.5e-7 -> 1.5\times10^{-7}: sympy's LaTeX parser would read the `e` as Euler's number.
    (re.compile(r"(?<![\w.])(\d+(?:\.\d*)?|\.\d+)[eE]([+-]?)0*(\d+)(?![\w.])"), r"\1\\times10^{\2\3}"),
]
_DOLLAR_PREFIX_RE = re.compile(r"(?<![A-Za-z])(?:US|R|A|C|NZ|HK|S)\\\$")
_WORD_JOIN_RE = re.compile(r"\\" + _TEXT_CMDS + r"\s*\{\s*(?:or|and)\s*\}|\s+(?:or|and)\s+")
# A trailing \text{unit}; `\mathrm{i}` / `\mathrm{e}` are the imaginary unit and Euler's number.
_TRAILING_UNIT_RE = re.compile(
    r"^(.*?\S)\s*\\" + _TEXT_CMDS + r"\s*\{(?!\s*[ie]\s*\})[^{}]*\}\s*(?:\^\s*\{?\d\}?)?$", re.S
)
_STARTS_NUMERIC_RE = re.compile(r"^\s*[-+]?\d")
_WHOLE_TEXT_RE = re.compile(r"^\\" + _TEXT_CMDS + r"\s*\{([^{}]*)\}$")
_TEXT_UNWRAP_RE = re.compile(r"\\" + _TEXT_CMDS + r"\s*\{([^{}]*)\}")
# "18 dollars", "5 cm", "3 m": a word of 2+ letters, or one of the one-letter SI units (never a
# variable name such as x, n, i).
_NUMBER_THEN_WORDS_RE = re.compile(
    r"^([-+]?[\d.,]*\d(?:/\d+)?)\s+(?:[^\W\d_]{2}|[mgsLJNVWK](?![A-Za-z]))[\w ./^]*$"
)
_PERCENT_RE = re.compile(r"(?:\\?%|\s+percent)\s*$")
_THOUSANDS_RE = re.compile(r"^[-+]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$")  # 0,125 is no thousands
_SPACE_AROUND_PUNCT_RE = re.compile(r"\s*([^\w\s\\])\s*")
_VAR_IN_RE = re.compile(r"^[A-Za-z]\s*\\in\s*")
_CHOICE_RE = re.compile(r"^\(?([A-E])\)?$")
_MIXED_LATEX_RE = re.compile(r"^([-+]?)(\d+)\s*\\frac\s*\{(\d+)\}\s*\{(\d+)\}$")
_MIXED_PLAIN_RE = re.compile(r"^([-+]?)(\d+)\s+(\d+)/(\d+)$")


def _strip_delimiters(s: str) -> str:
    s = s.strip()
    changed = True
    while changed and s:
        changed = False
        for left, right in _DELIM_PAIRS:
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                s = s[len(left) : len(s) - len(right)].strip()
                changed = True
    return s


def _mixed_number(s: str) -> str:
    m = _MIXED_LATEX_RE.match(s) or _MIXED_PLAIN_RE.match(s)
    if not m:
        return s
    sign, whole, num, den = m.groups()
    whole, num, den = int(whole), int(num), int(den)
    if den == 0 or num >= den:  # improper "fraction part": a product, not a mixed number
        return s
    return f"{'-' if sign == '-' else ''}\\frac{{{whole * den + num}}}{{{den}}}"


def normalize(answer: str) -> Answer | None:
    """Canonical form of an extracted answer, or None when nothing comparable is left."""
    if not isinstance(answer, str) or len(answer) > 4 * MAX_ANSWER_CHARS:
        return None
    return _normalize(answer)


@functools.lru_cache(maxsize=1 << 16)  # golds repeat across an RL group, answers across a batch
def _normalize(answer: str) -> Answer | None:
    s = answer.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    s = _DOLLAR_PREFIX_RE.sub("", s).replace("\\$", "")  # currency: \$5, R\$ 30, US\$5
    s = _strip_delimiters(s).replace("$", "")  # inline pieces: "$(1,2)$,$(3,4)$"
    for pattern, repl in _SUBS:
        s = pattern.sub(repl, s)
    s = canonical_matrices(canonical_relations(s)).strip()
    time = canonical_time(_TEXT_UNWRAP_RE.sub(lambda m: m.group(1), s))
    if time is not None:
        return Answer(time)

    percent = False
    if _PERCENT_RE.search(s):
        percent = True
        s = _PERCENT_RE.sub("", s).strip()

    is_text = False
    whole = _WHOLE_TEXT_RE.match(s)
    if whole and _STARTS_NUMERIC_RE.match(whole.group(1)):
        s, whole = whole.group(1).strip(), None  # \text{5 euros}: a number with its unit, not a word
    if whole:
        s, is_text = whole.group(1).strip(), True
    else:
        s = _WORD_JOIN_RE.sub(",", s)
        # Units: drop trailing \text{...} (repeatedly: "5\text{ m}\text{/s}") while something is left.
        for _ in range(3):  # bounded: each pass is a regex scan
            m = _TRAILING_UNIT_RE.match(s)
            if not m:
                break
            s = m.group(1)
        s = _TEXT_UNWRAP_RE.sub(lambda m: m.group(1), s)
        m = _NUMBER_THEN_WORDS_RE.match(s)
        if m:  # "18 dollars", "5 cm", "10 m/s"
            s = m.group(1)
        s = strip_money_and_foreign_units(s)  # "€12", "12 евро", "15元"
    s = _VAR_IN_RE.sub("", s)  # "x \in [2, 5)" -> "[2, 5)"
    s = s.strip().rstrip(".;").strip()
    if s.startswith("="):
        s = s[1:].strip()
    s = ungroup_digits(s)  # "1 234 567", "2.500.000", "1.234,5"
    if _THOUSANDS_RE.match(s):
        s = s.replace(",", "")
    s = _SPACE_AROUND_PUNCT_RE.sub(r"\1", s)
    s = tidy_relation_spacing(re.sub(r"\s+", " ", s)).strip()
    choice = _CHOICE_RE.match(s)
    if choice:
        s, is_text = choice.group(1), True
    parts = split_top(s, ",") if "," in s else [s]
    s = ",".join(_mixed_number(p) for p in parts)  # also inside a list: "15\frac{39}{40}, \frac{639}{40}"
    if not s or len(s) > MAX_ANSWER_CHARS:
        return None
    return Answer(s, percent, is_text)
