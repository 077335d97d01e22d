"""Grading modes and honest grading of outputs the sampler cut off at the length limit (grading.py)."""
import numpy as np
import pytest

import jaxpt.rewards as rewards
from jaxpt.rewards import Grading, extract_answer, resolve_grading

# The report from issue 15: a base model's only "correct" GSM8K answer was a cut-off line whose last
# number happened to equal the gold.
CUT_LINE = "Each box holds 6 cans and there are 1200 boxes, so in total we have 1200 * 6 = "


def test_grading_modes_resolve_by_name_and_from_the_older_flag():
    assert resolve_grading("strict") is Grading.STRICT and resolve_grading(" Lenient ") is Grading.LENIENT
    assert resolve_grading(None, strict=True) is Grading.STRICT
    assert resolve_grading(None, strict=False) is Grading.LENIENT
    assert resolve_grading(Grading.LENIENT, strict=True) is Grading.LENIENT  # the mode wins
    assert resolve_grading() is Grading.LENIENT
    assert str(Grading.STRICT) == "strict" and Grading.STRICT == "strict"
    with pytest.raises(ValueError, match="grading"):
        resolve_grading("boxed")


@pytest.mark.parametrize("text, gold, complete, cut", [
    # the last number of a cut-off line is no answer
    (CUT_LINE, "6", True, False),
    ("So far: 3 + 4 = 7, and then", "7", True, False),
    ("$x = 5$ and then we substitute into", "5", True, False),
    # a closed box is an explicit, complete answer
    ("Thus \\boxed{42}. Now let us double-check by computing 6 * 7 = ", "42", True, True),
    # an unclosed box is not
    ("So the answer is \\boxed{4", "4", False, False),
    # a marker whose answer ends before the cut counts
    ("The answer is 12.\nTo check, 12 * 3 = 3", "12", True, True),
    ("Final Answer: $\\frac{3}{4}$ and to verify we", "0.75", True, True),
    ("Die Antwort lautet 15.\nProbe: 3 * 5 = 1", "15", True, True),
    # a marker answer that runs into the cut may have been longer
    ("After all that, the answer is 12", "12", True, False),
    ("The final answer is $\\frac{3}{4", "0.75", False, False),
    # a box without braces at the very end may have been cut mid-token
    ("so the result is \\boxed 12", "12", True, False),
])
def test_truncated_outputs_score_only_through_a_complete_explicit_answer(text, gold, complete, cut):
    assert rewards.verify(text, gold, timeout_s=20) is complete
    assert rewards.verify(text, gold, timeout_s=20, truncated=True) is cut


def test_strict_mode_ignores_markers_and_last_numbers_truncated_or_not():
    texts = ["The answer is 5.", CUT_LINE, "so \\boxed{5}", "Answer: 5"]
    golds = ["5", "6", "5", "5"]
    for flags in (None, [False] * 4, [True] * 4):
        assert rewards.verify_batch(texts, golds, grading="strict", truncated=flags) == [False, False, True, False]
    assert rewards.verify_batch(texts, golds, strict=True) == [False, False, True, False]


def test_flags_are_per_output_and_accept_numpy_masks():
    texts = [CUT_LINE, CUT_LINE, "\\boxed{6}"]
    done = np.array([True, False, False])  # the sampler's state: ~done marks a cut-off row
    out, stats = rewards.verify_batch(texts, ["6"] * 3, truncated=~done, return_stats=True)
    assert out == [True, False, True]
    assert stats["no_answer"] == 1
    with pytest.raises(ValueError, match="truncated"):
        rewards.verify_batch(texts, ["6"] * 3, truncated=[True])


def test_reward_fn_takes_the_truncated_flags():
    r = rewards.reward_fn(["\\boxed{6}", "\\boxed{6}", CUT_LINE], ["6"] * 3, truncated=[False, True, True])
    assert r.tolist() == [1.0, 1.0, 0.0]
    lenient = rewards.reward_fn([CUT_LINE, CUT_LINE], ["6", "6"], grading="lenient", truncated=[False, True])
    assert lenient.tolist() == [1.0, 0.0]


def test_extract_answer_follows_the_mode_and_the_flag():
    assert extract_answer(CUT_LINE) == "6"
    assert extract_answer(CUT_LINE, truncated=True) is None
    assert extract_answer("The answer is 7.", grading="strict") is None
    assert extract_answer("The answer is 7.", truncated=True) == "7"
    assert extract_answer("<think>\\boxed{3}</think>", truncated=True) == "3"  # nothing after the reasoning
    assert extract_answer("<think>so the answer is \\boxed{3}. Or is it", truncated=True) is None  # still thinking
    assert extract_answer("<think>so the answer is \\boxed{3}. Or is it") == "3"
