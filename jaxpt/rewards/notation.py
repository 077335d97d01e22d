"""Spelling variants that mean the same thing, rewritten to one form before comparison.

* Relations: ``\\lt``, ``\\gt``, ``<=``, ``>=``, ``!=``, ``≤``, ``≥``, ``≠``, ``\\leq``, ``\\leqslant``,
  ``\\geq``, ``\\geqslant``, ``\\neq``, ``\\not=`` become ``<``, ``>``, ``\\le``, ``\\ge``, ``\\ne``.
* Matrices: ``bmatrix``, ``Bmatrix``, ``matrix``, ``smallmatrix`` and ``array`` (bare or inside brackets
  or parentheses, any column spec) become ``pmatrix``: the delimiters are typography. ``vmatrix`` (a
  determinant, a number) is left alone.
* Digit grouping in a whole-number answer: ``1 234 567`` (spaces, thin or no-break spaces),
  ``2.500.000`` (two or more dot groups), ``1.234,5`` (dot groups with a decimal comma) are plain
  numbers.
* Decimal commas, where unambiguous: ``3,5`` equals ``3.5`` and ``0,125`` equals ``0.125``, but only
  against a single number (against a list ``3,5`` is the list 3, 5), and never when the comma can
  be a thousands separator (``2,718`` is 2718: three digits after it, something other than 0
  before it).
* Money and units in other languages: currency signs and codes (``€12``, ``12 €``, ``R$ 30``,
  ``¥500``, ``USD 5``) and unit words in any script after a number (``12 евро``, ``15元``, ``20 米``).
  Greek letters are never units (they are variables or pi).
"""
from __future__ import annotations

import re

_RELATION_SUBS = [
    (re.compile(r"\\lt(?![A-Za-z])"), "<"),
    (re.compile(r"\\gt(?![A-Za-z])"), ">"),
    (re.compile(r"\\(?:leq?q?|leqslant)(?![A-Za-z])|≤|⩽|<="), r"\\le "),
    (re.compile(r"\\(?:geq?q?|geqslant)(?![A-Za-z])|≥|⩾|>="), r"\\ge "),
    (re.compile(r"\\(?:neq?|not\s*=)(?![A-Za-z])|≠|!="), r"\\ne "),
]
_RELATION_SPACING_RE = re.compile(r"\s*\\(le|ge|ne) ?\s*")


def canonical_relations(s: str) -> str:
    for pattern, repl in _RELATION_SUBS:
        s = pattern.sub(repl, s)
    return s


def tidy_relation_spacing(s: str) -> str:
    """``x \\le 3`` and ``x\\le3`` -> ``x\\le 3`` (run after spaces around punctuation are removed)."""
    return _RELATION_SPACING_RE.sub(r"\\\1 ", s)


_ARRAY_RE = re.compile(
    r"(?:\[\s*|\(\s*)?\\begin\{(array|matrix|smallmatrix)\}(\{[^{}]*\})?(.*?)\\end\{\1\}(?:\s*\]|\s*\))?", re.S
)
_MATRIX_ENV_RE = re.compile(r"\\(begin|end)\{[bB]?matrix\}")


def canonical_matrices(s: str) -> str:
    if "\\begin" not in s:
        return s
    s = _MATRIX_ENV_RE.sub(lambda m: f"\\{m.group(1)}{{pmatrix}}", s)
    return _ARRAY_RE.sub(lambda m: f"\\begin{{pmatrix}}{m.group(3).strip()}\\end{{pmatrix}}", s)


_SPACE_GROUPS_RE = re.compile(r"^([-+]?\d{1,3})((?:[ \u00a0\u202f\u2009]\d{3})+)(\.\d+)?$")
_DOT_GROUPS_RE = re.compile(r"^([-+]?\d{1,3})((?:\.\d{3}){2,})$")
_DOT_GROUPS_DECIMAL_COMMA_RE = re.compile(r"^([-+]?\d{1,3})((?:\.\d{3})+),(\d+)$")


def ungroup_digits(s: str) -> str:
    """A whole-answer number with grouped digits as plain digits (module doc); else unchanged."""
    m = _SPACE_GROUPS_RE.match(s)
    if m:
        return m.group(1) + re.sub(r"\D", "", m.group(2)) + (m.group(3) or "")
    m = _DOT_GROUPS_RE.match(s)
    if m:
        return m.group(1) + m.group(2).replace(".", "")
    m = _DOT_GROUPS_DECIMAL_COMMA_RE.match(s)
    if m:
        return m.group(1) + m.group(2).replace(".", "") + "." + m.group(3)
    return s


_CURRENCY_SIGNS = "€£¥₹₽₩₺₴₱₦₫₪฿¢"
_CURRENCY_CODES = r"USD|EUR|GBP|JPY|CNY|RMB|INR|RUB|KRW|CHF|CAD|AUD|BRL|MXN|PLN|TRY"
_LEADING_MONEY_RE = re.compile(
    r"^([-+]?)\s*(?:(?:US|R|A|C|NZ|HK|S)?\$|Rs\.?|[" + _CURRENCY_SIGNS + r"]|(?:" + _CURRENCY_CODES + r")\b)"
    r"\s*(?=[\d.])"
)
_TRAILING_MONEY_RE = re.compile(r"(?<=\d)\s*(?:[" + _CURRENCY_SIGNS + r"]|\b(?:" + _CURRENCY_CODES + r"))\s*$")
_NUMBER_THEN_REST_RE = re.compile(r"^([-+]?[\d.,]*\d(?:/\d+)?)\s*(\S.*)$")
_UNIT_PUNCT = set(" .^{}23/")


def _is_foreign_letter(c: str) -> bool:
    """A letter of a script other than Latin and Greek (Greek letters are variables or pi)."""
    return c.isalpha() and not c.isascii() and not ("\u0370" <= c <= "\u03ff") and not ("\u00c0" <= c <= "\u024f")


def strip_money_and_foreign_units(s: str) -> str:
    s = _LEADING_MONEY_RE.sub(r"\1", s)
    s = _TRAILING_MONEY_RE.sub("", s)
    m = _NUMBER_THEN_REST_RE.match(s)
    if m and _is_foreign_letter(m.group(2)[0]) and all(
            _is_foreign_letter(c) or c in _UNIT_PUNCT for c in m.group(2)):
        return m.group(1)
    return s


_DECIMAL_COMMA_RE = re.compile(r"^([-+]?\d+),(\d+)$")


def decimal_comma_reading(text: str) -> str | None:
    """``3,5`` -> ``3.5`` when a comma can only be a decimal comma (module doc), else None."""
    m = _DECIMAL_COMMA_RE.match(text)
    if not m:
        return None
    whole, frac = m.groups()
    if len(frac) == 3 and whole.lstrip("+-") != "0":
        return None  # 2,718: a thousands separator
    return f"{whole}.{frac}"


__all__ = ["decimal_comma_reading", "canonical_relations", "tidy_relation_spacing", "canonical_matrices",
           "ungroup_digits", "strip_money_and_foreign_units"]
