"""The embedded arithmetic task: determinism, held-out disjointness, correct answers, the noise knob."""
import pytest

from jaxpt.data.tasks import toy as toy_task
from jaxpt.data.sources import last_boxed, load_records


def test_deterministic_and_disjoint():
    a = toy_task.make_splits("uniform", seed=3, num_val=50, num_test=50, num_rl=100)
    b = toy_task.make_splits("uniform", seed=3, num_val=50, num_test=50, num_rl=100)
    assert a == b
    c = toy_task.make_splits("uniform", seed=4, num_val=50, num_test=50, num_rl=100)
    assert a["train"] != c["train"]
    assert {k: len(v) for k, v in a.items()} == {"train": 1000, "val": 50, "test": 50, "rl_prompts": 100}
    qs = [r["question"] for split in a.values() for r in split]
    assert len(qs) == len(set(qs)), "questions repeat across or within splits"


def test_heldout_shared_across_presets():
    # Held-out sets depend on the seed only, so validation losses compare across data variants.
    easy = toy_task.make_splits("easy", seed=0, num_val=40, num_test=40, num_rl=40)
    hard = toy_task.make_splits("hard", seed=0, num_val=40, num_test=40, num_rl=40)
    for split in ("val", "test", "rl_prompts"):
        assert easy[split] == hard[split]
    assert sum(r["level"] for r in easy["train"]) < sum(r["level"] for r in hard["train"])
    assert {r["level"] for r in hard["train"]} <= {3, 4, 5}


def test_presets_sizes_and_levels():
    assert toy_task.PRESETS["s1k"].num_train < toy_task.PRESETS["hard"].num_train
    assert (toy_task.PRESETS["easy"].num_train == toy_task.PRESETS["uniform"].num_train
            == toy_task.PRESETS["hard"].num_train)
    assert toy_task.PRESETS["general"].num_train > toy_task.PRESETS["uniform"].num_train
    for level, spec in toy_task.LEVELS.items():
        import random

        rng = random.Random(level)
        for _ in range(50):
            rec = toy_task.make_record(rng, level, noise=0.5)
            assert rec["question"].count("+") + rec["question"].count("-") == spec.num_ops
            assert rec["solution"].count("=") == spec.num_ops


def test_solutions_are_correct_and_boxed():
    splits = toy_task.make_splits("tiny", seed=1, num_val=20, num_test=20, num_rl=20)
    for rec in splits["train"] + splits["test"]:
        assert int(rec["answer"]) == toy_task.answer_of(rec["question"])
        assert rec["solution"].endswith("\\boxed{%s}" % rec["answer"])
        assert last_boxed(rec["solution"]) == rec["answer"]
        # Every step is right and chains from the previous result.
        steps = rec["solution"].replace(";", ",").split(",")[:-1]
        prev = None
        for s in steps:
            lhs, rhs = s.split("=")
            assert toy_task.answer_of(lhs) == int(rhs)
            assert prev is None or lhs.startswith(prev)
            prev = rhs
        assert set(rec["question"] + rec["solution"]) <= set(toy_task.CHARSET)


@pytest.mark.parametrize("noise", [0.0, 0.3, 1.0])
def test_noise_knob(noise):
    recs = toy_task.make_splits("tiny", seed=0, noise=noise, num_val=10, num_test=10, num_rl=10)["train"]
    seps = "".join(ch for r in recs for ch in r["solution"] if ch in ",;")
    frac = seps.count(";") / len(seps)
    assert abs(frac - noise) < 0.05


def test_jsonl_roundtrip(tmp_path):
    paths = toy_task.make_split_files(tmp_path, "tiny", seed=0, num_val=10, num_test=10, num_rl=10)
    recs = load_records(paths["train"], cache_dir=tmp_path / "hf")
    want = toy_task.make_splits("tiny", seed=0, num_val=10, num_test=10, num_rl=10)["train"]
    assert [(r["question"], r["solution"], r["answer"]) for r in recs] == \
        [(r["question"], r["solution"], r["answer"]) for r in want]
    # Second call with the same arguments reuses the files.
    mtime = paths["train"].stat().st_mtime_ns
    toy_task.make_split_files(tmp_path, "tiny", seed=0, num_val=10, num_test=10, num_rl=10)
    assert paths["train"].stat().st_mtime_ns == mtime
