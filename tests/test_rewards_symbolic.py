"""The symbolic path (run inline here, as a worker would) follows the same policies as the fast path,
where the fast path cannot decide: answers with variables or functions in them."""
import pytest

from jaxpt.rewards.fastpath import compare_answers
from jaxpt.rewards.normalize import normalize


@pytest.fixture(scope="module")
def symbolic_equal():
    from jaxpt.rewards.symbolic import symbolic_equal

    return symbolic_equal


@pytest.mark.parametrize("a, b, expected", [
    ("\\{a, b^2\\}", "(b^2, a)", True),  # braces make a set
    ("b^2, a", "(b^2, a)", True),  # a bare list next to a tuple: in order
    ("a, b^2", "(b^2, a)", False),
    ("\\{a, b^2\\}", "[a, b^2]", False),
    ("(0.33, \\sin x)", "(\\frac13, \\sin x)", True),  # rounding inside a tuple
    ("(0.34, \\sin x)", "(\\frac13, \\sin x)", False),
    ("\\begin{pmatrix}0.71 & \\sin x\\end{pmatrix}",
     "\\begin{pmatrix}\\frac{\\sqrt2}{2} & \\sin x\\end{pmatrix}", True),
    ("\\begin{pmatrix}a&0\\\\0&1\\end{pmatrix}+\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}",
     "\\begin{pmatrix}a+1&0\\\\0&2\\end{pmatrix}", True),  # a matrix sum is evaluated
    ("\\begin{pmatrix}a&0\\\\0&1\\end{pmatrix}+\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}",
     "\\begin{pmatrix}a+1&0\\\\0&1\\end{pmatrix}", False),
    ("2x<6", "x<3", True),  # inequalities: the same solutions of the same variable
    ("x^2<4", "-2<x<2", True),
    ("2x<6", "y<3", False),
    ("a<b<c", "(a,c)", False),  # an ordering is not an interval
    ("a<b<c", "b<a<c", False),
    ("\\sin x", "\\sin t", False),  # renamed variables
])
def test_symbolic_path_policies(symbolic_equal, a, b, expected):
    na, nb = normalize(a), normalize(b)
    assert compare_answers(na, nb) in (None, expected)  # the fast path never contradicts
    args = (na.text, na.percent, na.is_text, nb.text, nb.percent, nb.is_text)
    assert symbolic_equal(*args) is expected
    assert symbolic_equal(*args[3:], *args[:3]) is expected
