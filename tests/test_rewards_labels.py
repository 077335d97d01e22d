"""The verifier against our hand-labelled pairs: every label must match.

tests/data/verifier_pairs.jsonl: the original pairs (one category per answer form).
tests/data/verifier_pairs_field.jsonl: pairs written for issue 15, in the forms other people's answer
checkers test (several boxes, long outputs, matrices, relations, number formats, sets/tuples/intervals,
expressions/text/units), each category with equal and unequal pairs.
"""
import collections
import json
import pathlib

import pytest

from jaxpt.rewards.verifier import Verifier

DATA = pathlib.Path(__file__).parent / "data"
PAIRS_PATH = DATA / "verifier_pairs.jsonl"
FIELD_PATH = DATA / "verifier_pairs_field.jsonl"
CATEGORIES = {
    "integer", "decimal", "fraction", "mixed_number", "scientific", "latex", "units", "percent",
    "symbolic", "equation", "tuple", "interval", "set", "matrix", "pm", "multiple", "extraction",
    "gold_format", "garbage",
}
FIELD_CATEGORIES = {
    "multi_box", "long_output", "matrix_form", "relation", "number_format", "set_tuple_interval", "expr_text",
}


def _pairs(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _both_orders(pairs) -> int:
    keys = {(p["output"], json.dumps(p["gold"])) for p in pairs}
    return sum(1 for p in pairs if (p["gold"], json.dumps(p["output"])) in keys)


@pytest.fixture(scope="module")
def verifier():
    v = Verifier(workers=2, timeout_s=20.0)  # generous: a loaded CI box must not flip a label
    yield v
    v.close()


@pytest.mark.parametrize("path, categories, min_pairs, min_both_orders", [
    (PAIRS_PATH, CATEGORIES, 200, 150),
    (FIELD_PATH, FIELD_CATEGORIES, 150, 150),
])
def test_pairs_file_is_well_formed_and_covers_every_category(path, categories, min_pairs, min_both_orders):
    pairs = _pairs(path)
    assert len(pairs) >= min_pairs
    for p in pairs:
        assert set(p) == {"output", "gold", "label", "category"}
        assert isinstance(p["label"], bool)
    by_cat = collections.defaultdict(list)
    for p in pairs:
        by_cat[p["category"]].append(p)
    assert set(by_cat) == categories
    for cat, items in by_cat.items():
        assert len(items) >= 7, cat
        if cat != "garbage":
            assert any(p["label"] for p in items), f"{cat}: no positive pair"
        assert any(not p["label"] for p in items), f"{cat}: no negative pair"
    # symmetric equalities are stored in both argument orders
    assert _both_orders(pairs) >= min_both_orders


def test_field_pairs_are_new():
    """The issue-15 pairs add to the original ones instead of repeating them."""
    old = {(p["output"], json.dumps(p["gold"])) for p in _pairs(PAIRS_PATH)}
    assert not [p for p in _pairs(FIELD_PATH) if (p["output"], json.dumps(p["gold"])) in old]


@pytest.mark.parametrize("path", [PAIRS_PATH, FIELD_PATH], ids=["original", "field"])
def test_every_label_matches(verifier, path):
    pairs = _pairs(path)
    results, stats = verifier.verify_batch(
        [p["output"] for p in pairs], [p["gold"] for p in pairs], return_stats=True
    )
    wrong = [
        f"[{p['category']}] output={p['output']!r} gold={p['gold']!r} label={p['label']} got={r}"
        for p, r in zip(pairs, results)
        if r != p["label"]
    ]
    assert not wrong, "\n".join(wrong)
    assert stats["timeouts"] == 0 and stats["crashes"] == 0
    # most labelled cases never reach sympy
    assert stats["fast_path"] >= 0.7 * len(pairs)
