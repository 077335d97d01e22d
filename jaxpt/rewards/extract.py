"""Finds the final answer inside a model response (or a stored gold answer).

Rules, in order (the first that yields something wins):

1. the last ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\framebox{...}`` with brace matching
   (``\\boxed 5`` without braces takes the next token);
2. the last "final answer is ...", "the answer is ...", "Answer: ..." phrase;
3. the last number in the text.

``strict=True`` (used for RL rewards) keeps rule 1 only: a response must box its answer to be
rewarded, so the policy cannot earn reward from a number that merely appears last.

Every scan here is linear in the text length (no nested quantifiers), so a megabyte of text or
binary garbage costs milliseconds, never a hang.
"""
from __future__ import annotations

import re

_BOX_RE = re.compile(r"\\(?:boxed|fbox|framebox)(?![A-Za-z])")
# "The final answer is: $x$", "the answer is 5", "**Answer:** 7", "Final Answer: 3".
_PHRASE_RE = re.compile(
    r"(?:final\s+answer\s*(?:is|:)|the\s+answer\s+is|answer\s*:)[\s:*]*",
    re.IGNORECASE,
)
# A number as a model would write it: sign, thousands separators, decimals, a simple fraction.
_NUMBER_RE = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
# Two plain words in a row (not LaTeX commands) mark prose rather than a bare answer.
_PROSE_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}[,.;:]?\s+(?<!\\)[A-Za-z]{2,}")
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|textit|textrm|mbox|mathrm|operatorname)\s*\{[^{}]*\}")

# A phrase answer ends at the end of the line or at a sentence end (a period not inside a number).
_SENTENCE_END_RE = re.compile(r"\n|\.(?!\d)(?=\s|$)")
BARE_MAX_CHARS = 500  # the longest benchmark gold is ~230 characters


def _brace_partners(text: str) -> dict[int, int]:
    """Index of each ``{`` -> index of its matching ``}``, in one linear pass (unmatched ones are
    absent). Escaped braces (``\\{``, ``\\}``) are literal characters in LaTeX and do not count.
    One pass for the whole text keeps many unbalanced boxes linear, not quadratic."""
    partners, stack = {}, []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            partners[stack.pop()] = i
        i += 1
    return partners


def _box_content(text: str, m: re.Match, partners: dict[int, int]) -> str | None:
    i = m.end()
    n = len(text)
    while i < n and text[i] in " \t":
        i += 1
    if i >= n:
        return None
    if text[i] == "{":
        end = partners.get(i)
        return None if end is None else text[i + 1 : end]
    # `\boxed 5` / `\boxed -3.5`: the argument runs to whitespace or a math delimiter.
    j = i
    while j < n and text[j] not in " \t\n$":
        j += 1
    token = text[i:j].rstrip(".,;")
    return token or None


def last_boxed(text: str) -> str | None:
    """Content of the last well-formed box, or None. Unbalanced boxes are skipped."""
    matches = list(_BOX_RE.finditer(text))
    if not matches:
        return None
    partners = _brace_partners(text)
    for m in reversed(matches):
        content = _box_content(text, m, partners)
        if content is not None and content.strip():
            return content.strip()
    return None


def _phrase_answer(text: str) -> str | None:
    last = None
    for last in _PHRASE_RE.finditer(text):
        pass
    if last is None:
        return None
    rest = text[last.end() : last.end() + 2000].lstrip()
    if not rest:
        return None
    for opener, closer in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if rest.startswith(opener):
            end = rest.find(closer, len(opener))
            if end > 0:
                return rest[len(opener) : end].strip() or None
    m = _SENTENCE_END_RE.search(rest)
    answer = (rest[: m.start()] if m else rest).strip().rstrip(".,;*")
    return answer or None


def _last_number(text: str) -> str | None:
    last = None
    for last in _NUMBER_RE.finditer(text):
        pass
    return None if last is None else last.group(0)


def looks_bare(text: str) -> bool:
    """True when `text` is an answer on its own (``\\frac{1}{2}``, ``x = 3``, ``5\\text{ cm}``), not prose."""
    if len(text) > BARE_MAX_CHARS or "\n" in text.strip():
        return False
    return _PROSE_RE.search(_TEXT_CMD_RE.sub(" ", text)) is None


def extract_answer(text: str, strict: bool = False) -> str | None:
    """The final answer in a model response, or None when there is none (see module doc)."""
    if not isinstance(text, str) or not text.strip():
        return None
    boxed = last_boxed(text)
    if boxed is not None or strict:
        return boxed
    phrase = _phrase_answer(text)
    if phrase is not None:
        # "The answer is \boxed{..." was handled above; a phrase may still hold math delimiters.
        return phrase
    if looks_bare(text):
        return text.strip()
    return _last_number(text)


def extract_gold(gold) -> str | None:
    """A stored gold answer as a bare string: unwraps a box; floats/ints become text."""
    if gold is None:
        return None
    if isinstance(gold, bool):
        return None
    if isinstance(gold, (int, float)):
        return repr(gold)
    if not isinstance(gold, str):
        return None
    text = gold.strip()
    if not text:
        return None
    boxed = last_boxed(text)
    return boxed if boxed is not None else text
