"""Answer extraction rules (jaxpt/rewards/extract.py). Pure string work: no worker pool."""
import time

import pytest

from jaxpt.rewards.extract import extract_answer, extract_gold, last_boxed, looks_bare


@pytest.mark.parametrize(
    "text, expected",
    [
        ("so \\boxed{5}.", "5"),
        ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}"),  # nested braces
        ("first \\boxed{3} then \\boxed{4}", "4"),  # the last box wins
        ("\\fbox{7}", "7"),
        ("\\framebox{204} minutes", "204"),
        ("so \\boxed 5.", "5"),  # no braces: the next token
        ("so \\boxed -3.5 done", "-3.5"),
        ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),  # escaped braces do not close the box
        ("\\boxed{2} and \\boxed{3", "2"),  # an unbalanced box is skipped
        ("\\boxed{}", None),
        ("no box here", None),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Thus the answer is \\boxed{12}. The answer is 13.", "12"),  # a box beats a phrase
        ("The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
        ("Final Answer: The final answer is 25. I hope it is correct.", "25"),
        ("We find that the answer is 42.", "42"),
        ("the answer is 3.5.", "3.5"),  # a decimal point is not a sentence end
        ("Answer: 17", "17"),
        ("**Answer:** 12", "12"),
        ("The final answer is \\(\\frac{7}{2}\\).", "\\frac{7}{2}"),
        ("So we get 3 apples and then 5 more, giving 8", "8"),  # last number
        ("Then 1,000 people came and left", "1,000"),
        ("She makes $18 every day.\n#### 18", "18"),
        ("\\frac{1}{2}", "\\frac{1}{2}"),  # a bare answer is taken whole
        ("x = 3", "x = 3"),
        ("5\\text{ cm}", "5\\text{ cm}"),
        ("np.arcsin(10/13)", "np.arcsin(10/13)"),
        ("nothing numeric at all here", None),
        ("", None),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


def test_strict_mode_takes_boxed_answers_only():
    assert extract_answer("The answer is 5.", strict=True) is None
    assert extract_answer("Answer: 5", strict=True) is None
    assert extract_answer("5", strict=True) is None
    assert extract_answer("so it is \\boxed{5}", strict=True) == "5"


def test_looks_bare():
    assert looks_bare("\\frac{1}{2}")
    assert looks_bare("x = 2 \\text{ or } x = 3")
    assert looks_bare("\\text{Evelyn}")
    assert not looks_bare("so the sum is 5")
    assert not looks_bare("1\n2")


def test_extract_gold_formats():
    assert extract_gold("\\boxed{12}") == "12"
    assert extract_gold("$\\frac{1}{2}$") == "$\\frac{1}{2}$"  # delimiters go in normalisation
    assert extract_gold(27.0) == "27.0"
    assert extract_gold(7) == "7"
    assert extract_gold("025") == "025"
    assert extract_gold("") is None
    assert extract_gold(None) is None


def test_extraction_is_linear_time_on_hostile_text():
    hostile = [
        "x" * 1_000_000,
        "9" * 1_000_000,
        "\\boxed{" * 100_000,
        "{" * 500_000 + "}" * 10,
        "The answer is " * 50_000,
        bytes(range(256)).decode("latin-1") * 4000,
        "1," * 300_000,
    ]
    for text in hostile:
        t0 = time.perf_counter()
        extract_answer(text)
        extract_answer(text, strict=True)
        assert time.perf_counter() - t0 < 5.0, text[:30]  # ~0.2 s idle; quadratic would be minutes
