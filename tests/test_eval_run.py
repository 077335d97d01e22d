"""evaluate() plumbing (prompting, batching, decoding, grading, metrics) and launch.eval end to end."""
import json

import numpy as np
import pytest

from jaxpt.sample.sampler import SampleOutput


class _ScriptedModel:
    """Stands in for a Model: answers each toy question "a+b=?" correctly on even samples, wrongly on odd
    ones, so every metric has a known value. Records the calls the evaluator makes."""

    def __init__(self, tokenizer):
        from jaxpt.models.config import get_config

        self.tok = tokenizer
        self.config = get_config("tiny-qwen", vocab_size=len(tokenizer), eos_token_ids=(1,))
        self.calls = []

    def generate(self, prompt_ids, max_new_tokens, n=1, pad_batch_to=1, **kw):
        self.calls.append((len(prompt_ids), n, pad_batch_to, kw["temperature"]))
        rows = []
        for ids in prompt_ids:
            question = self.tok.decode(ids)
            a, b = question.split("=")[0].split("+")
            for j in range(n):
                value = int(a) + int(b) + (j % 2)
                rows.append(self.tok.encode(f"{a}+{b}={value},\\boxed{{{value}}}", add_special_tokens=False) + [1])
        width = max_new_tokens
        tokens = np.zeros((len(rows), width), np.int32)
        for r, row in enumerate(rows):
            tokens[r, :len(row)] = row[:width]
        lengths = np.array([min(len(r), width) for r in rows], np.int32)
        zeros = np.zeros(tokens.shape, np.float32)
        return SampleOutput(tokens, lengths, zeros, zeros, lengths >= width, n)


@pytest.fixture(scope="module")
def toy_tok():
    from jaxpt.data.tokenizer import load_tokenizer

    return load_tokenizer("toy")


def test_evaluate_on_records(toy_tok):
    from jaxpt.eval import evaluate

    records = [{"question": f"{a}+{b}=?", "answer": str(a + b)} for a, b in [(1, 2), (30, 4), (7, 7), (12, 9),
                                                                               (5, 5)]]
    model = _ScriptedModel(toy_tok)
    res = evaluate(model, toy_tok, records, k=4, temperature=0.7, max_new_tokens=32, batch_size=8,
                   prompt_fn=lambda q: toy_tok.encode(q, add_special_tokens=False), progress=False)
    # 8 sequences per call = 2 prompts x 4 samples; 3 calls, all padded to the same 2-prompt batch.
    assert [c[:3] for c in model.calls] == [(2, 4, 2), (2, 4, 2), (1, 4, 2)]
    m = res.metrics
    assert m["num_problems"] == 5 and m["pass@1"] == pytest.approx(0.5) and m["avg@4"] == pytest.approx(0.5)
    assert m["pass@2"] == pytest.approx(1 - 1 / 6) and m["pass@4"] == 1.0
    assert m["maj@4"] == 1.0  # two correct votes first, two wrong: the tie goes to the first seen
    p = res.problems[1]
    assert p["question"] == "30+4=?" and p["gold"] == "34" and p["correct"] == [True, False, True, False]
    assert p["outputs"][0] == "30+4=34,\\boxed{34}" and p["answers"][:2] == ["34", "35"]


def test_outputs_cut_at_the_length_limit_are_graded_honestly(toy_tok):
    """The scripted answers "a+b=v,\\boxed{v}" cut after "a+b=v": the last number equals the gold on even
    samples, but a cut-off output has no explicit final answer, so nothing scores."""
    from jaxpt.eval import evaluate
    from jaxpt.rewards import verify_batch

    records = [{"question": f"{a}+{b}=?", "answer": str(a + b)} for a, b in [(1, 2), (3, 4), (2, 2)]]
    cut = len(toy_tok.encode("1+2=3", add_special_tokens=False))
    res = evaluate(_ScriptedModel(toy_tok), toy_tok, records, k=2, temperature=0.7, max_new_tokens=cut, batch_size=4,
                   prompt_fn=lambda q: toy_tok.encode(q, add_special_tokens=False), progress=False)
    outputs = [o for p in res.problems for o in p["outputs"]]
    assert outputs[0] == "1+2=3" and all(t for p in res.problems for t in p["truncated"])
    # the same texts graded as if complete would score on the last number: the flag is what decides
    assert sum(verify_batch(outputs, [p["gold"] for p in res.problems for _ in p["outputs"]])) == 3
    assert res.metrics["pass@1"] == 0.0 and res.metrics["truncated"] == 1.0
    assert all(a is None for p in res.problems for a in p["answers"])
    assert res.settings["grading"] == "lenient"


def test_strict_grading_is_recorded_and_still_reads_boxes(toy_tok):
    from jaxpt.eval import evaluate

    records = [{"question": "1+2=?", "answer": "3"}, {"question": "5+5=?", "answer": "10"}]
    res = evaluate(_ScriptedModel(toy_tok), toy_tok, records, k=2, temperature=0.7, max_new_tokens=32, batch_size=4,
                   prompt_fn=lambda q: toy_tok.encode(q, add_special_tokens=False), progress=False, grading="strict")
    assert res.settings["grading"] == "strict" and res.metrics["pass@1"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="grading"):
        evaluate(_ScriptedModel(toy_tok), toy_tok, records, progress=False, grading="loose")


def test_launch_eval_end_to_end(tmp_path, shared_dir):
    """`python -m launch.eval` in a subprocess (its absl flags stay out of this process)."""
    import os
    import pathlib
    import subprocess
    import sys

    import jaxpt
    from jaxpt.data.tokenizer import load_tokenizer, toy_tokenizer_dir

    tok = load_tokenizer("toy")
    model = jaxpt.Model.from_config("tiny-qwen", seed=0, vocab_size=len(tok), eos_token_ids=(1,))
    model.tokenizer_dir = toy_tokenizer_dir()
    ckpt = model.save_pretrained(tmp_path / "ckpt")
    out = tmp_path / "eval"
    cmd = [sys.executable, "-m", "launch.eval", f"--checkpoint={ckpt}", "--benchmarks=gsm8k,amc23", "--limit=2",
           "--k=2", "--temperature=1.0", "--max_new_tokens=8", "--batch_size=8", f"--out={out}", "--noprogress",
           "--strict"]
    env = {**os.environ, "JAXPT_SHARED_DIR": str(shared_dir)}
    repo = pathlib.Path(__file__).resolve().parents[1]
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| gsm8k | 2 |" in proc.stdout
    summary = json.loads((out / "results.json").read_text())
    assert set(summary["benchmarks"]) == {"gsm8k", "amc23"}
    assert summary["overall"]["num_problems"] == 4 and "pass@1" in summary["overall"]
    assert summary["settings"]["k"] == 2 and summary["settings"]["max_new_tokens"] == 8
    assert summary["grading"] == "strict" and summary["settings"]["grading"] == "strict"
    assert "| gsm8k | 2 |" in (out / "results.md").read_text()
    rows = [json.loads(line) for line in (out / "outputs" / "gsm8k.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["gold"] == "18"
    assert len(rows[0]["outputs"]) == 2 and all(n <= 8 for n in rows[0]["lengths"])
