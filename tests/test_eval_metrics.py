"""Evaluation metrics on hand-computed values."""
import math

import numpy as np
import pytest

from jaxpt.eval.metrics import benchmark_metrics, majority_correct, overall_metrics, pass_at_k, pass_ks
from jaxpt.eval.report import markdown_table


def test_pass_at_k_matches_the_binomial_formula():
    assert pass_at_k(4, 0, 1) == 0.0 and pass_at_k(4, 4, 4) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_at_k(4, 3, 2) == 1.0  # fewer than k wrong samples: every k-subset has a correct one
    for n, c, k in [(16, 3, 4), (10, 7, 3), (64, 1, 8)]:
        exact = 1 - math.comb(n - c, k) / math.comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)
    assert pass_ks(1) == [1] and pass_ks(4) == [1, 2, 4] and pass_ks(6) == [1, 2, 4, 6]


def test_majority_vote():
    assert majority_correct(["5", "5", "3"], [True, True, False])
    assert not majority_correct(["3", "5", "3"], [False, True, False])
    assert majority_correct([None, None, "5"], [False, False, True])  # None never wins the vote
    assert not majority_correct([None, None], [False, False])
    assert majority_correct(["5", "3", "3", "5"], [True, False, False, True])  # tie: first seen wins


def test_benchmark_metrics_by_hand():
    correct = np.array([[1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 0]], bool)
    answers = [["2", "7", "7", "2"], ["1", "1", None, "9"], ["4", "4", "4", "5"]]
    m = benchmark_metrics(correct, answers)
    assert m["num_problems"] == 3 and m["k"] == 4
    assert m["pass@1"] == pytest.approx((0.5 + 0 + 0.75) / 3) and m["avg@4"] == m["pass@1"]
    # pass@2 per problem: 1 - C(2,2)/C(4,2) = 5/6; 0; 1 - C(1,2)/C(4,2) = 1.
    assert m["pass@2"] == pytest.approx((5 / 6 + 0 + 1) / 3)
    assert m["pass@4"] == pytest.approx(2 / 3)
    # maj@4: problem 0 ties "2"/"7", "2" seen first and correct; problem 1 wrong; problem 2 "4" correct.
    assert m["maj@4"] == pytest.approx(2 / 3)


def test_overall_is_count_weighted():
    per = {"a": {"num_problems": 30, "k": 1, "pass@1": 0.1, "maj@1": 0.2},
           "b": {"num_problems": 10, "k": 1, "pass@1": 0.5, "maj@1": 0.6, "only_b": 1.0}}
    o = overall_metrics(per)
    assert o["num_problems"] == 40
    assert o["pass@1"] == pytest.approx((30 * 0.1 + 10 * 0.5) / 40)
    assert o["maj@1"] == pytest.approx((30 * 0.2 + 10 * 0.6) / 40)
    assert "only_b" not in o
    table = markdown_table(per, o)
    assert "| a | 30 | 10.0 | 20.0 |" in table and "overall (count-weighted) | 40 | 20.0 |" in table
