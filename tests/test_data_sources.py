"""Loading expert trajectories: field mapping, formats, clear errors, GSM8K with the SmolLM2 chat template."""
import json

import numpy as np
import pytest

from jaxpt.data.formatting import PromptFormat, encode_example, encode_prompt
from jaxpt.data.sources import DataError, load_records, split_holdout
from jaxpt.data.tokenizer import load_tokenizer


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_field_mapping_json_and_parquet(tmp_path):
    rows = [{"problem": f"q{i}", "response": f"s{i} \\boxed{{{i}}}", "ans": i} for i in range(5)]
    (tmp_path / "d.json").write_text(json.dumps(rows))
    fields = {"question": "problem", "solution": "response", "answer": "ans"}
    recs = load_records(tmp_path / "d.json", fields=fields, cache_dir=tmp_path / "hf")
    assert recs[2] == {"question": "q2", "solution": "s2 \\boxed{2}", "answer": "2"}
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    assert load_records(tmp_path / "d.parquet", fields=fields, cache_dir=tmp_path / "hf") == recs
    # No answer column: taken from the last \boxed{} with normalize="boxed".
    recs2 = load_records(tmp_path / "d.json", fields={**fields, "answer": None}, normalize="boxed",
                         cache_dir=tmp_path / "hf")
    assert [r["answer"] for r in recs2] == [str(i) for i in range(5)]


def test_errors_name_file_line_and_field(tmp_path):
    good = json.dumps({"question": "q", "solution": "s"})
    bad_json = write_lines(tmp_path / "bad.jsonl", [good, good, '{"question": "q", "solution": '])
    with pytest.raises(DataError, match=r"bad\.jsonl:3: invalid JSON"):
        load_records(bad_json, cache_dir=tmp_path / "hf")
    empty = write_lines(tmp_path / "empty.jsonl", [good, "", json.dumps({"question": "q", "solution": ""})])
    with pytest.raises(DataError, match=r"empty\.jsonl:3: field 'solution' \(solution\) is empty"):
        load_records(empty, cache_dir=tmp_path / "hf")
    missing = write_lines(tmp_path / "missing.jsonl", [json.dumps({"question": "q", "response": "s"})])
    with pytest.raises(DataError, match=r"missing\.jsonl: field 'solution' .* missing.*'response'"):
        load_records(missing, cache_dir=tmp_path / "hf")
    mixed = write_lines(tmp_path / "mixed.jsonl", [good, json.dumps({"question": 3, "solution": "s"})])
    with pytest.raises(DataError, match=r"mixed\.jsonl:2: field 'question'"):
        load_records(mixed, cache_dir=tmp_path / "hf")
    with pytest.raises(DataError, match="no such data file"):
        load_records(tmp_path / "nope.jsonl")


def test_split_holdout_is_deterministic_and_disjoint():
    recs = [{"question": f"q{i}", "solution": "s", "answer": None} for i in range(50)]
    tr, va = split_holdout(recs, 10, seed=1)
    assert (tr, va) == split_holdout(recs, 10, seed=1)
    assert len(va) == 10 and len(tr) == 40
    assert not {r["question"] for r in tr} & {r["question"] for r in va}


def test_plain_template_without_chat_template():
    tok = load_tokenizer("toy")
    fmt = PromptFormat(chat_template="never", plain_template="{question}\n")
    ids, mask = encode_example(tok, "1+2=?", "1+2=3,\\boxed{3}", fmt)
    assert tok.decode(ids) == "1+2=?\n1+2=3,\\boxed{3}<eos>"
    assert tok.decode(ids[mask]) == "1+2=3,\\boxed{3}<eos>"  # EOS appended and trained
    assert encode_prompt(tok, "1+2=?", fmt) == list(ids[:len(ids) - mask.sum()])


def test_gsm8k_with_smollm2_chat_template(shared_dir, tmp_path):
    from jaxpt.utils.smollm2 import smollm2_hf_dir

    recs = load_records(shared_dir / "data/train/gsm8k/train.jsonl", normalize="gsm8k", limit=20,
                        cache_dir=tmp_path / "hf")
    assert recs[0]["answer"] == "72" and recs[0]["solution"].endswith("The answer is \\boxed{72}.")
    assert "<<" not in recs[0]["solution"]
    tok = load_tokenizer(smollm2_hf_dir())
    fmt = PromptFormat(system_prompt="Please reason step by step, and put your final answer within \\boxed{}.")
    ids, mask = encode_example(tok, recs[0]["question"], recs[0]["solution"], fmt)
    prompt = tok.decode(ids[~mask])
    assert prompt.startswith("<|im_start|>system\nPlease reason step by step")
    assert "<|im_start|>user\nNatalia sold clips" in prompt and prompt.endswith("<|im_start|>assistant\n")
    assert tok.decode(ids[mask]) == recs[0]["solution"] + "<|im_end|>"
    # The prompt the sampler will use is exactly the trained prefix.
    assert encode_prompt(tok, recs[0]["question"], fmt) == list(ids[~mask])
    assert np.all(mask[np.argmax(mask):])  # response is one contiguous suffix
