"""The verifier against our labelled pairs (tests/data/verifier_pairs.jsonl): every label must match."""
import collections
import json
import pathlib

import pytest

from jaxpt.rewards.verifier import Verifier

PAIRS_PATH = pathlib.Path(__file__).parent / "data" / "verifier_pairs.jsonl"
CATEGORIES = {
    "integer", "decimal", "fraction", "mixed_number", "scientific", "latex", "units", "percent",
    "symbolic", "equation", "tuple", "interval", "set", "matrix", "pm", "multiple", "extraction",
    "gold_format", "garbage",
}


def _pairs():
    return [json.loads(line) for line in PAIRS_PATH.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def verifier():
    v = Verifier(workers=2, timeout_s=20.0)  # generous: a loaded CI box must not flip a label
    yield v
    v.close()


def test_pairs_file_is_well_formed_and_covers_every_category():
    pairs = _pairs()
    assert len(pairs) >= 200
    for p in pairs:
        assert set(p) == {"output", "gold", "label", "category"}
        assert isinstance(p["label"], bool)
    by_cat = collections.defaultdict(list)
    for p in pairs:
        by_cat[p["category"]].append(p)
    assert set(by_cat) == CATEGORIES
    for cat, items in by_cat.items():
        assert len(items) >= 7, cat
        if cat != "garbage":
            assert any(p["label"] for p in items), f"{cat}: no positive pair"
        assert any(not p["label"] for p in items), f"{cat}: no negative pair"
    # symmetric equalities are stored in both argument orders
    keys = {(p["output"], json.dumps(p["gold"])) for p in pairs}
    both_orders = sum(1 for p in pairs if (p["gold"], json.dumps(p["output"])) in keys)
    assert both_orders >= 150


def test_every_label_matches(verifier):
    pairs = _pairs()
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
