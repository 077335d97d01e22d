"""Benchmark loaders read all six real files with the right counts and usable golds."""
import json

import pytest

from jaxpt.eval.benchmarks import BENCHMARKS, EXPECTED_ROWS, load_benchmark, load_records


@pytest.mark.parametrize("name", BENCHMARKS)
def test_loader_reads_every_row(name, shared_dir):
    recs = load_benchmark(name, root=shared_dir / "data" / "bench")
    assert len(recs) == EXPECTED_ROWS[name]
    assert all(r["question"].strip() and r["answer"].strip() for r in recs)
    assert all(r["benchmark"] == name for r in recs)
    assert len({r["id"] for r in recs}) == len(recs)


def test_gold_format_traps(shared_dir):
    root = shared_dir / "data" / "bench"
    assert load_benchmark("gsm8k", root, limit=1)[0]["answer"] == "18"
    assert load_benchmark("amc23", root, limit=1)[0]["answer"] == "27"  # stored as 27.0
    assert "#" not in "".join(r["answer"] for r in load_benchmark("gsm8k", root, limit=50))
    aime = load_benchmark("aime24", root)
    assert all(not (a["answer"].startswith("0") and len(a["answer"]) > 1) for a in aime)  # no "025"
    minerva = load_benchmark("minerva_math", root, limit=5)
    assert all("boxed" not in r["answer"] for r in minerva)
    assert len(load_benchmark("math500", root, limit=3)) == 3


def test_generic_records(tmp_path):
    path = tmp_path / "test.jsonl"
    rows = [{"question": "1+2=?", "solution": "1+2=3,\\boxed{3}", "answer": 3},
            {"question": "5-1=?", "solution": "5-1=4,\\boxed{4}", "answer": "4"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recs = load_records(path)
    assert [(r["question"], r["answer"]) for r in recs] == [("1+2=?", "3"), ("5-1=?", "4")]
