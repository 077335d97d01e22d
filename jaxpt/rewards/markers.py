"""Explicit final-answer markers ("The final answer is", "Answer:", "Die Antwort lautet", "答案是", ...)
and the answer that follows the last one.

What follows a marker may be the answer itself ("Answer: 17"), delimited math ("is $\\frac34$."), or
a sentence ("Final Answer: The farmer has 42 sheep left."). A sentence is read in this order: a
number or math it starts with ("42, wie man ... sieht"), else its last math that is not just a name,
else its only number, else the first number after its last copula ("is", "=", "ist", ...), else its
last number.

A marked answer *ends* somewhere: at a closing math delimiter, a line end or a sentence end. For a
truncated output (cut at the length limit) an answer that runs into the cut is not trusted: "the
answer is 12" may have been "the answer is 120" one token later.
"""
from __future__ import annotations

import re

_L = r"(?<![^\W\d_])"  # not preceded by a letter (any script)
_MARKERS = (
    # English
    r"final\s+answer\s*\**\s*(?:is\b|:|\n)", r"answer\s+is\b", r"answer\s*\**\s*:", r"####",
    # German, Dutch
    r"(?:antwort|ergebnis)\s*(?:ist\b|lautet\b|:)", r"antwoord\s*(?:is\b|:)",
    # French, Spanish, Portuguese, Italian
    r"réponse(?:\s+finale)?\s*(?:est\b|:)", r"respuesta(?:\s+final)?\s*(?:es\b|:)",
    r"resposta(?:\s+final)?\s*(?:é|:)", r"risposta(?:\s+finale)?\s*(?:è|:)",
    # Polish, Turkish, Indonesian, Vietnamese
    r"odpowiedź\s*(?:to\b|:)", r"(?:cevap|yanıt)\s*:", r"jawaban(?:nya)?\s*(?:adalah\b|:)",
    r"đáp\s+(?:án|số)\s*(?:là\b|:)",
    # Russian, Ukrainian
    r"ответ\s*(?::|—|равен\b|будет\b)", r"відповідь\s*:",
)
_CJK_MARKERS = (r"(?:最终)?答案\s*(?:是|为|:|：)", r"答\s*[:：]", r"答え\s*(?:は|:|：)", r"解答\s*(?:は|:|：)", r"정답\s*(?:은|는|:)",
                r"답\s*(?:은|:)")
MARKER_RE = re.compile(_L + "(?:" + "|".join(_MARKERS) + ")|" + "|".join(_CJK_MARKERS), re.IGNORECASE)

# A marked answer ends at a line end, or a sentence end (a period not inside a number, 。, !, ?).
_SENTENCE_END_RE = re.compile(r"\n|\.(?!\d)(?=\s|$)|[。！？!?](?=\s|$)|[。！？]")
_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))

# Prose: two words of letters (any script, LaTeX commands excluded) in a row, or a run of CJK.
_PROSE_RE = re.compile(r"(?<![\\\w])[^\W\d_]{2,}[,.;:]?\s+(?<!\\)[^\W\d_]{2,}"
                       r"|[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]{2}")
_TEXT_CMD_RE = re.compile(r"\\(?:text|textbf|textit|textrm|mbox|mathrm|operatorname)\s*\{[^{}]*\}")

_LEADING_NUMBER_RE = re.compile(r"^[-+]?(?:\\\$|\$)?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?(?![\d\w.^_{\\])")
_NUMBER_RE = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_COPULA_RE = re.compile(
    r"(?<![^\W\d_])(?:is|are|equals?|was|be|ist|sind|est|sont|es|son|é|è|равн[аоы]?|是|为)(?![^\W\d_])|=",
    re.IGNORECASE,
)
_NEGATION_RE = re.compile(r"(?:not|n't|never|nicht|kein|pas|no\s|non\s|не\s|不)", re.IGNORECASE)
_LONE_NAME_RE = re.compile(r"^\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?\s*$")
# "8, not 9" / "5 cm, which ...": a comma then a word (not a LaTeX command, not a one-letter name)
# starts a clause after the answer.
_CLAUSE_AFTER_ANSWER_RE = re.compile(r"(?:,\s*(?<!\\)(?=[^\W\d_]{2,})|[，、；]\s*(?=[^\W\d_]))")


def looks_prose(text: str) -> bool:
    """Words in a row (``so the sum is 5``), not an answer (``5\\text{ cm}``, ``x = 2 \\text{ or } 3``)."""
    return _PROSE_RE.search(_TEXT_CMD_RE.sub(" ", text)) is not None


def _last_marker(text: str):
    last = None
    for last in MARKER_RE.finditer(text):
        pass
    return last


def _sentence_answer(sentence: str) -> str | None:
    """The answer inside a sentence that follows a marker (module doc)."""
    from jaxpt.rewards.mathspans import computation_result, math_segments

    m = _LEADING_NUMBER_RE.match(sentence)
    if m:
        return m.group(0)
    for _, _, content in reversed(math_segments(sentence)):
        if not looks_prose(content) and not _LONE_NAME_RE.match(content):
            return computation_result(content)
    numbers = list(_NUMBER_RE.finditer(sentence))
    if not numbers:
        return None
    if len(numbers) == 1:
        return numbers[0].group(0)
    copula = None
    for copula in _COPULA_RE.finditer(sentence):
        pass
    if copula is not None:
        after = [n for n in numbers if n.start() >= copula.end()]
        if after:
            return after[0].group(0)
    return numbers[-1].group(0)


def marker_answer(text: str, truncated: bool = False) -> str | None:
    """The answer after the last final-answer marker, or None (see module doc)."""
    marker = _last_marker(text)
    if marker is None:
        return None
    rest = text[marker.end() : marker.end() + 2000].lstrip(" \t\r\n*:：}")  # } closes \text{Answer:
    if not rest or _NEGATION_RE.match(rest):
        return None  # "the answer is not 5": no answer given here
    for opener, closer in _DELIMS:
        if rest.startswith(opener):
            end = rest.find(closer, len(opener))
            if end > 0:
                inner = rest[len(opener) : end].strip()
                return inner or None
            break  # a lone `$` is currency ("is $18."): read on as a sentence
    m = _SENTENCE_END_RE.search(rest)
    if m is None and truncated:
        return None  # the answer runs into the cut
    answer = (rest[: m.start()] if m else rest).strip().strip("*")
    clause = _CLAUSE_AFTER_ANSWER_RE.search(answer)
    if clause is not None and clause.start() > 0 and not looks_prose(answer[: clause.start()]):
        answer = answer[: clause.start()]
    answer = answer.rstrip(".,;").strip()
    if not answer:
        return None
    if looks_prose(answer):
        return _sentence_answer(answer)
    return answer


__all__ = ["MARKER_RE", "marker_answer", "looks_prose"]
