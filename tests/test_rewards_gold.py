"""gold_answer on the real benchmark files, with the format traps of algorithms.md section 8."""
import json

import pytest

from jaxpt.rewards import gold_answer
from jaxpt.rewards.verifier import Verifier

BENCHMARKS = {"gsm8k": 1319, "math500": 500, "aime24": 30, "amc23": 40, "minerva_math": 272, "olympiadbench": 675}


def _records(shared_dir, name):
    path = shared_dir / "data" / "bench" / name / "test.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def verifier():
    v = Verifier(workers=2, timeout_s=20.0)
    yield v
    v.close()


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_every_record_has_a_gold_that_matches_itself(shared_dir, verifier, name):
    records = _records(shared_dir, name)
    assert len(records) == BENCHMARKS[name]
    golds = [gold_answer(name, r) for r in records]
    assert all(isinstance(g, str) and g.strip() for g in golds)
    # a model that answers exactly the gold is right, whatever the gold's format
    assert verifier.verify_batch(golds, golds) == [True] * len(golds)


def test_format_traps(shared_dir, verifier):
    gsm = _records(shared_dir, "gsm8k")
    assert gold_answer("gsm8k", gsm[0]) == "18"  # text after ####
    amc = _records(shared_dir, "amc23")
    assert amc[0]["answer"] == 27.0 and gold_answer("amc23", amc[0]) == "27"
    aime = _records(shared_dir, "aime24")
    padded = [r for r in aime if str(r["answer"]).startswith("0")]
    assert padded, "AIME24 is expected to hold zero-padded answers"
    for r in padded:
        gold = gold_answer("aime24", r)
        assert not gold.startswith("0") and int(gold) == int(r["answer"])
    minerva = _records(shared_dir, "minerva_math")
    assert "answer" not in minerva[0] and gold_answer("minerva_math", minerva[0]) == "1.6"
    olympiad = _records(shared_dir, "olympiadbench")
    assert gold_answer("olympiadbench", olympiad[0]) == "2"
    assert all("$" not in gold_answer("olympiadbench", r).replace("\\$", "") for r in olympiad)
    # the stored forms verify against the cleaned golds
    assert verifier.verify_batch([str(r["answer"]) for r in aime], [gold_answer("aime24", r) for r in aime]) == [True] * 30
    assert verifier.verify_batch([r["answer"] for r in amc], [gold_answer("amc23", r) for r in amc]) == [True] * 40
    assert verifier.verify("025", "25") and verifier.verify("27", 27.0)


def test_reference_solutions_score_correct(shared_dir, verifier):
    """The worked solutions, read as model responses, must earn their own gold."""
    math500 = _records(shared_dir, "math500")
    results = verifier.verify_batch([r["solution"] for r in math500], [gold_answer("math500", r) for r in math500])
    assert sum(results) == len(math500)
    gsm = _records(shared_dir, "gsm8k")
    assert all(verifier.verify_batch([r["answer"] for r in gsm], [gold_answer("gsm8k", r) for r in gsm]))
    minerva = _records(shared_dir, "minerva_math")
    assert all(verifier.verify_batch([r["solution"] for r in minerva], [gold_answer("minerva", r) for r in minerva]))


def test_benchmark_name_aliases_and_unknown():
    assert gold_answer("MATH-500", {"answer": "\\frac{1}{2}"}) == "\\frac{1}{2}"
    assert gold_answer("AIME", {"answer": "007"}) == "7"
    assert gold_answer("amc", {"answer": 3.5}) == "3.5"
    with pytest.raises(KeyError):
        gold_answer("no-such-bench", {})
