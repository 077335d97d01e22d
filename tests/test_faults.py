"""Faults and bad input (issue 14): nothing is lost, and every error names its cause.

Faults injected, each checked against an uninterrupted run or an independent reference:
  SFT in a child process: SIGKILL while a checkpoint save is in flight, then SIGKILL at 3 random points, each
  followed by a resume; a second run on the held work directory; NaN (optim.eps=0, and NaN batches under both
  guard policies); a flat loss with zero gradients; a corrupt newest checkpoint.
  RL in a child process: SIGKILL at 3 random points, each resumed, `launch.rl --resume`; a second run on the
  held work directory; NaN (optim.eps=0).
Bad input, each with the exact message fragment: bytes that are not UTF-8, empty data files, a truncated
safetensors file, bad values set programmatically, a missing answer field, records dropped (no answer, too
long), characters the tokenizer cannot encode.

Child runs: tests/helpers/fault_run.py (the public run_sft / run_rl, slowed a little so that a kill can land
anywhere inside a step).
"""
import json
import logging
import os
import pathlib
import random
import re
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxpt.config import ConfigValueError, merge, rl_config, sft_config
from jaxpt.data.sources import DataError, load_records
from jaxpt.train.checkpointing import TrainCheckpointer
from jaxpt.train.guard import NonFiniteError, TrainGuard
from jaxpt.train.sft_loop import run_sft
from jaxpt.utils.metrics import read_metrics
from jaxpt.utils.workdir_lock import LOCK_NAME, WorkdirBusy, WorkdirLock

REPO = pathlib.Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(REPO))
TINY = {"init_from": "tiny-qwen", "overrides": {"hidden_size": 32, "intermediate_size": 64, "num_layers": 1,
                                                "num_heads": 2, "num_kv_heads": 1}}
SFT_KEYS = ("train/loss", "train/grad_norm", "train/lr", "train/tokens", "val/loss", "tokens", "flops",
            "data/train/records", "guard/skipped_updates")
RL_KEYS = ("rollout/accuracy", "rollout/reward_mean", "train/loss", "train/grad_norm", "flops/rl_cumulative",
           "eval/accuracy", "data/prompts")


def sft_cfg(workdir, **sft):
    return {"workdir": str(workdir), "model": TINY, "mesh": {"data": 1}, "prompt": {"template": "{question}"},
            "data": {"sft": {"max_len": 96, "seq_len": 128}, "toy": {"preset": "tiny", "num_train": 60,
                                                                     "num_val": 16}},
            "sft": {"total_steps": 40, "batch_rows": 4, "eval_every": 8, "checkpoint_every": 3, **sft},
            "optim": {"lr": 3e-3, "warmup_steps": 2, "schedule": "cosine"},
            "checkpoint": {"max_to_keep": 2, "resume": True},
            "log": {"every": 4, "progress": False, "tensorboard": False, "print_evals": False}}


def rl_cfg(workdir, **rl):
    return {"workdir": str(workdir), "tokenizer": "toy", "model": TINY, "mesh": {"data": 1},
            "prompt": {"template": "{question}"},
            "data": {"rl": {"source": "toy"}, "toy": {"preset": "tiny"}},
            "rl": {"algorithm": "grpo", "total_steps": 14, "gen_prompts": 4, "group_size": 4, "max_new_tokens": 12,
                   "num_minibatches": 2, "eval_every": 4, "checkpoint_every": 2, "optim": {"lr": 3e-3}, **rl},
            "checkpoint": {"max_to_keep": 2, "resume": True},
            "log": {"progress": False, "tensorboard": False, "samples": 4}}


# ------------------------------------------------------------------------------------------------ helpers
def _rows(path) -> list:
    try:
        return read_metrics(path)
    except (FileNotFoundError, ValueError):
        return []


def _by_step(rows, keys) -> dict:
    """{(step, row kind, key): value} of the deterministic metrics, where a row's kind is the set of those keys
    it holds (a step's training row and its evaluation row differ); each must occur once."""
    out = {}
    for r in rows:
        kind = tuple(k for k in keys if k in r)
        for k in kind:
            assert (r["step"], kind, k) not in out, f"step {r['step']} has {k} twice"
            out[(r["step"], kind, k)] = r[k]
    return out


def _samples(path) -> dict:
    out: dict = {}
    for r in _rows(path):
        out.setdefault(r["step"], []).append(r)
    return out


def _checkpoints(workdir) -> list:
    ck = pathlib.Path(workdir) / "checkpoints"
    return sorted(int(p.name) for p in ck.iterdir() if p.name.isdigit()) if ck.is_dir() else []


def _start(kind, cfg, err_path, *extra):
    return subprocess.Popen([sys.executable, "-m", "tests.helpers.fault_run", kind, json.dumps(cfg), *extra],
                            cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=open(err_path, "w"), text=True)


def _wait_for(proc, err_path, done, timeout=400):
    deadline = time.time() + timeout
    while not done():
        assert proc.poll() is None, f"the run ended (rc {proc.returncode}) first:\n{err_path.read_text()[-3000:]}"
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def _kill(proc, err_path):
    assert proc.poll() is None, f"the run ended before the kill:\n{err_path.read_text()[-3000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _finish(proc, err_path, timeout=400):
    assert proc.wait(timeout=timeout) == 0, err_path.read_text()[-4000:]


def _kill_points(rng, first, gap, count=3):
    """Increasing steps, each beyond any row the previous killed run may have left past its checkpoint."""
    points = [rng.randint(first, first + 2)]
    for _ in range(count - 1):
        points.append(points[-1] + gap + rng.randint(0, 2))
    return points


def _assert_prefix(rows, ref, keys, upto):
    """Every reference value of steps <= upto is in `rows`, equal: nothing before the checkpoint was lost."""
    got = _by_step(rows, keys)
    want = {k: v for k, v in _by_step(ref, keys).items() if k[0] <= upto}
    assert {k: got.get(k) for k in want} == want


# ------------------------------------------------------------------------------------------------ references
@pytest.fixture(scope="module")
def sft_ref(tmp_path_factory):
    work = tmp_path_factory.mktemp("sft_ref")
    res = run_sft(sft_cfg(work))
    return read_metrics(work / "metrics.jsonl"), res


@pytest.fixture(scope="module")
def rl_ref(tmp_path_factory):
    from jaxpt.rl import run_rl
    from tests.helpers.fault_run import has_one, param_score

    work = tmp_path_factory.mktemp("rl_ref")
    run_rl(rl_cfg(work), reward_fn=has_one, eval_fn=param_score)
    return read_metrics(work / "metrics.jsonl"), _samples(work / "samples.jsonl")


# ------------------------------------------------------------------------------------------------ SFT kills
def test_sft_killed_in_a_save_and_at_three_random_points_ends_as_an_uninterrupted_run(tmp_path, sft_ref):
    ref, _ = sft_ref
    work = tmp_path / "run"
    cfg = sft_cfg(work)
    metrics = work / "metrics.jsonl"
    # 1. SIGKILL while the asynchronous save of step 6 is in flight.
    err = tmp_path / "0.err"
    proc = _start("sft", cfg, err, "--slow", "0.03", "--kill-in-save", "6")
    proc.wait(timeout=400)
    assert proc.returncode == -signal.SIGKILL, err.read_text()[-3000:]
    assert max(_checkpoints(work), default=0) <= 6
    _assert_prefix(_rows(metrics), ref, SFT_KEYS, max(_checkpoints(work), default=0))
    # 2-4. SIGKILL at random points (a step, its logging, a validation or a save), each time resumed.
    rng = random.Random(14)
    for i, point in enumerate(_kill_points(rng, 8, 8), 1):
        err = tmp_path / f"{i}.err"
        proc = _start("sft", cfg, err, "--slow", "0.03")
        _wait_for(proc, err, lambda: any(r["step"] >= point and "train/loss" in r for r in _rows(metrics)))
        if i == 1:  # a second run on the held work directory fails at once, naming the holder
            with pytest.raises(WorkdirBusy, match=f"is in use by an SFT run: pid {proc.pid} on host"):
                run_sft(cfg)
        time.sleep(rng.uniform(0.0, 0.1))
        _kill(proc, err)
        text = err.read_text()
        assert "taking over the lock of an SFT run that ended without releasing it (pid" in text, text[-2000:]
        _assert_prefix(_rows(metrics), ref, SFT_KEYS, max(_checkpoints(work)))
    err = tmp_path / "last.err"
    _finish(_start("sft", cfg, err), err)
    assert _by_step(read_metrics(metrics), SFT_KEYS) == _by_step(ref, SFT_KEYS)
    assert not [p.name for p in (work / "checkpoints").iterdir() if not p.name.isdigit()]  # no half saves left
    assert (work / LOCK_NAME).read_text() == ""  # released


# ------------------------------------------------------------------------------------------------ SFT NaN
def _poison(monkeypatch, steps):
    """NaN loss weights in the batches of the given steps (counted from the start of this process's run)."""
    from jaxpt.data.iterator import BatchIterator

    draw = BatchIterator.next_batch
    calls = {"n": 0, "start": 0}

    def next_batch(self):
        calls["n"] += 1
        batch, info = draw(self)
        if calls["start"] + calls["n"] in steps:
            batch = {**batch, "weights": batch["weights"] * np.float32("nan")}
        return batch, info

    monkeypatch.setattr(BatchIterator, "next_batch", next_batch)
    return calls


def test_sft_nan_stops_naming_step_and_metric_and_resume_recovers(tmp_path, monkeypatch, sft_ref):
    ref, ref_res = sft_ref
    work = tmp_path / "nan"
    _poison(monkeypatch, {7})
    with pytest.raises(NonFiniteError, match=r"SFT step 7: non-finite train/loss = nan, train/grad_norm = nan; "
                                             r"guard.nonfinite_policy='stop' ended the run"):
        run_sft(sft_cfg(work))
    assert _checkpoints(work) == [3, 6]  # nothing saved past the fault, rotation kept the finite ones
    rows = read_metrics(work / "metrics.jsonl")
    _assert_prefix(rows, ref, SFT_KEYS, 6)
    assert [r["train/loss"] for r in rows if r["step"] == 7 and "train/loss" in r] == [None]  # the failing row
    monkeypatch.undo()
    res = run_sft(sft_cfg(work))  # the cause gone, the run resumes from step 6 and ends as if nothing happened
    assert _by_step(read_metrics(work / "metrics.jsonl"), SFT_KEYS) == _by_step(ref, SFT_KEYS)
    for a, b in zip(jax.tree.leaves(res.state), jax.tree.leaves(ref_res.state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_sft_nan_skip_policy_skips_exactly_those_updates_and_caps_a_streak(tmp_path, monkeypatch):
    work = tmp_path / "skip"
    guard = {"nonfinite_policy": "skip", "max_consecutive_skips": 3}
    before = run_sft({**sft_cfg(work, stop_at_step=6), "guard": guard})
    calls = _poison(monkeypatch, {7, 8, 10, 11, 12})
    calls["start"] = 6
    skipped = run_sft({**sft_cfg(work, stop_at_step=8), "guard": guard})
    # The independent reference for "skip": after skipping steps 7 and 8 the train state (parameters, Adam
    # moments, step counter) is bit for bit the state after step 6.
    for a, b in zip(jax.tree.leaves(skipped.state), jax.tree.leaves(before.state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    calls.update(n=0, start=8)
    # Step 9 trains; 10, 11, 12 in a row reach max_consecutive_skips=3: the run stops, naming the streak.
    with pytest.raises(NonFiniteError, match=r"SFT step 12: 3 non-finite updates in a row \(every update after "
                                             r"step 9; last: train/loss = nan"):
        run_sft({**sft_cfg(work, stop_at_step=14), "guard": guard})
    rows = {r["step"]: r for r in read_metrics(work / "metrics.jsonl") if "train/loss" in r}
    assert [rows[s]["guard/skipped_updates"] for s in range(6, 13)] == [0, 1, 2, 2, 3, 4, 5]
    assert [rows[s]["train/loss"] is None for s in range(6, 13)] == [False, True, True, False, True, True, True]
    assert _checkpoints(work) == [8, 9]  # the streak saved nothing


def test_sft_eps0_of_the_issue_stops_at_once(tmp_path):
    """The issue's reproduction: Adam with eps=0 turns the parameters into NaN in step 1 (0/0), step 2's loss
    shows it; the run used to go on to its last step and save NaN checkpoints."""
    cfg = {**sft_cfg(tmp_path), "optim": {"lr": 3e-3, "eps": 0.0}}
    with pytest.raises(NonFiniteError, match=r"SFT step 2: non-finite train/loss = nan"):
        run_sft(cfg)
    assert _checkpoints(tmp_path) == []  # the first one was due at step 3
    rows = [r for r in read_metrics(tmp_path / "metrics.jsonl") if "train/loss" in r]
    assert [(r["step"], r["train/loss"] is None) for r in rows] == [(1, False), (2, True)]


def test_sft_flat_loss_with_zero_gradient_warns(tmp_path, caplog):
    cfg = sft_cfg(tmp_path, total_steps=10, eval_every=0, checkpoint_every=0)
    cfg["optim"] = {"lr": 1e6, "warmup_steps": 0}
    cfg["guard"] = {"flat_steps": 5}
    with caplog.at_level(logging.WARNING):
        run_sft(cfg)
    msgs = [r.getMessage() for r in caplog.records if "gradient norm of exactly 0" in r.getMessage()]
    assert len(msgs) == 1 and "for 5 steps" in msgs[0] and "learning rate 1e+06" in msgs[0], msgs


def test_guard_flat_warning_needs_both_a_flat_loss_and_a_zero_gradient(caplog):
    with caplog.at_level(logging.WARNING):
        for name, rows in (("moving", [(2.0 - 0.01 * i, 0.0) for i in range(8)]),
                           ("learning", [(2.0, 0.1)] * 8), ("stuck", [(2.0, 0.0)] * 8)):
            g = TrainGuard(flat_steps=5, stage=name)
            for step, (loss, gnorm) in enumerate(rows, 1):
                g.check(step, {"loss": loss, "grad_norm": gnorm, "finite": True})
    warned = [r.getMessage().split(":")[0] for r in caplog.records]
    assert warned == ["stuck"]


def test_nonfinite_state_is_never_saved_or_exported(tmp_path):
    from jaxpt.models.model import Model
    from jaxpt.train.checkpointing import export_model

    model = Model.from_config("tiny-qwen", seed=0, vocab_size=32)
    bad = jax.tree.map(lambda x: x, model.params)
    bad["embed"] = bad["embed"].at[0, 0].set(np.nan)
    ck = TrainCheckpointer(tmp_path / "checkpoints", 1)
    ck.save(1, {"params": model.params}, {})
    ck.wait()
    with pytest.raises(NonFiniteError, match=r"step 2: the train state: non-finite values in 1 of \d+ tensors; "
                                             r"not written"):
        ck.save(2, {"params": bad}, {})
    ck.close()
    assert _checkpoints(tmp_path) == [1]  # max_to_keep=1 did not rotate the finite one out
    export_model(model.params, model.config, tmp_path / "final_model")
    with pytest.raises(NonFiniteError, match="final_model: the exported parameters: non-finite values in 1 of"):
        export_model(bad, model.config, tmp_path / "final_model")
    from jaxpt.models.checkpoint import load_model

    kept = load_model(tmp_path / "final_model")  # the earlier export is intact
    np.testing.assert_array_equal(np.asarray(kept.params["embed"]), np.asarray(model.params["embed"]))


# ------------------------------------------------------------------------------------------------ SFT resume
def test_checkpoint_meta_is_the_one_given_at_save_time(tmp_path):
    """Saves are asynchronous and the loops keep updating their progress dict right after: a checkpoint must
    hold the position of its own step (it held a later one, so a resume skipped steps)."""
    ck = TrainCheckpointer(tmp_path / "checkpoints", 0)  # keep all
    state = {"p": jax.numpy.ones(3)}
    steps = range(1, 9)  # the race is timing-dependent: several saves make it show
    for step in steps:
        meta = {"progress": {"step": step, "history": [[step, 0.5]]}}
        ck.save(step, state, meta)
        meta["progress"]["step"] = -1
        meta["progress"]["history"].append([99, 0.0])
    ck.wait()
    abstract = {"p": jax.ShapeDtypeStruct((3,), np.float32, sharding=jax.sharding.SingleDeviceSharding(
        jax.devices()[0]))}
    assert [ck.restore(s, abstract)[1] for s in steps] == [{"progress": {"step": s, "history": [[s, 0.5]]}}
                                                           for s in steps]
    ck.close()


def test_corrupt_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, sft_ref, caplog):
    ref, _ = sft_ref
    work = tmp_path / "corrupt"
    run_sft(sft_cfg(work, stop_at_step=12))
    assert _checkpoints(work) == [9, 12]
    for f in (work / "checkpoints" / "12" / "state").rglob("*"):
        if f.is_file():
            f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])  # cut short, as by a failing disk
    with caplog.at_level(logging.WARNING):
        run_sft(sft_cfg(work))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/checkpoints/12 cannot be resumed from" in text and "resuming from step 9, the newest usable" in text
    assert _by_step(read_metrics(work / "metrics.jsonl"), SFT_KEYS) == _by_step(ref, SFT_KEYS)
    assert [p.name.split("-")[0] for p in (work / "checkpoints.unreadable").iterdir()] == ["12"]


def test_workdir_lock_names_the_holder_and_takes_over_a_dead_one(tmp_path, caplog):
    lock = WorkdirLock(tmp_path, "an SFT run").acquire()
    info = json.loads((tmp_path / LOCK_NAME).read_text())
    assert info["pid"] == os.getpid() and info["host"] and info["started"]
    with pytest.raises(WorkdirBusy, match=re.escape(f"in use by an SFT run: pid {os.getpid()} on host "
                                                    f"{info['host']}, started {info['started']}")):
        WorkdirLock(tmp_path, "an RL run").acquire()
    lock.release()
    WorkdirLock(tmp_path).acquire().release()  # released: free again, and no warning (a clean end)
    # A holder that died (kill -9) leaves its details but not the lock.
    dead = subprocess.Popen([sys.executable, "-c", "import sys, time; from jaxpt.utils.workdir_lock import "
                             "WorkdirLock; WorkdirLock(sys.argv[1], 'an SFT run').acquire(); print(1, flush=True); "
                             "time.sleep(60)", str(tmp_path)], env=ENV, stdout=subprocess.PIPE, text=True)
    assert dead.stdout.readline().strip() == "1"
    with pytest.raises(WorkdirBusy, match=f"pid {dead.pid}"):
        WorkdirLock(tmp_path).acquire()
    dead.kill()
    dead.wait()
    with caplog.at_level(logging.WARNING):
        WorkdirLock(tmp_path, "an SFT run").acquire().release()
    taken = [r.getMessage() for r in caplog.records if "taking over" in r.getMessage()]
    assert len(taken) == 1 and taken[0].startswith(
        f"{tmp_path}: taking over the lock of an SFT run that ended without releasing it (pid {dead.pid} on host "
        f"{info['host']}, started ")


# ------------------------------------------------------------------------------------------------ bad input
def _write(path, lines):
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_bad_bytes_and_empty_files_name_the_file_and_line(tmp_path):
    good = json.dumps({"question": "1+2=?", "solution": "1+2=3,\\boxed{3}", "answer": "3"})
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(((good + "\n") * 12).encode() + b'{"question": "1+\xff=?", "solution": "s", "answer": "1"}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:13: not UTF-8 text \(byte 0xff at column 17\)"):
        load_records(bad, cache_dir=tmp_path / "hf")
    for name, text in (("empty.jsonl", ""), ("blank.jsonl", "\n \n"), ("empty.json", "")):
        (tmp_path / name).write_text(text)
        with pytest.raises(DataError, match=f"{name}: the file is empty \\(no records\\)"):
            load_records(tmp_path / name, cache_dir=tmp_path / "hf")
    (tmp_path / "none.json").write_text("[]")
    with pytest.raises(DataError, match=r"none\.json: no records"):
        load_records(tmp_path / "none.json", cache_dir=tmp_path / "hf")
    # Through a run: the same message, before anything is built in the work directory.
    with pytest.raises(DataError, match=r"bad\.jsonl:13: not UTF-8"):
        run_sft({**sft_cfg(tmp_path / "w"), "tokenizer": "toy", "data": {"sft": {"source": str(bad)},
                                                                         "val": {"size": 2}}})
    assert not (tmp_path / "w" / "checkpoints" / "0").exists() and not (tmp_path / "w" / "metrics.jsonl").exists()


def test_truncated_safetensors_names_the_file(tmp_path):
    from jaxpt.models.model import Model, load_pretrained

    Model.from_config("tiny-qwen", seed=0, vocab_size=32).save_pretrained(tmp_path / "hf")
    f = tmp_path / "hf" / "model.safetensors"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(ValueError, match=f"{f}: .*truncated or corrupt"):
        load_pretrained(tmp_path / "hf")


@pytest.mark.parametrize("kind, key, value, fragment", [
    ("sft", "sft.batch_rows", -1, "sft.batch_rows = -1"),
    ("sft", "optim.lr", float("nan"), "optim.lr = nan"),
    ("sft", "guard.nonfinite_policy", "ignore", "guard.nonfinite_policy = 'ignore'"),
    ("sft", "guard.max_consecutive_skips", 0, "guard.max_consecutive_skips = 0"),
    ("rl", "rl.gen_prompts", 0, "rl.gen_prompts = 0"),
    ("rl", "rl.optim.eps", float("inf"), "rl.optim.eps = inf"),
])
def test_bad_values_set_in_code_fail_before_the_model_loads(tmp_path, monkeypatch, kind, key, value, fragment):
    import jaxpt.train.setup
    import jaxpt.train.sft_loop

    for module in (jaxpt.train.setup, jaxpt.train.sft_loop):
        monkeypatch.setattr(module, "initial_params", lambda *a, **k: pytest.fail("the model was loaded"))
    cfg = merge(sft_config(), sft_cfg(tmp_path / "w")) if kind == "sft" else merge(rl_config(), rl_cfg(tmp_path / "w"))
    *path, last = key.split(".")
    node = cfg
    for part in path:
        node = node[part]
    node[last] = value  # set in code on the ConfigDict, as a notebook would
    with pytest.raises(ConfigValueError) as e:
        if kind == "sft":
            run_sft(cfg)
        else:
            from jaxpt.rl import run_rl

            run_rl(cfg)
    assert fragment in str(e.value)
    assert not (tmp_path / "w").exists()


def test_rl_prompts_without_answers_are_counted_and_a_missing_field_is_an_error(tmp_path, caplog):
    from jaxpt.data.drops import Drops
    from jaxpt.data.roles import rl_records

    rows = [{"question": f"{i}+1=?", "answer": str(i + 1)} for i in range(6)]
    rows[1]["answer"], rows[4]["answer"] = "", None
    path = _write(tmp_path / "rl.jsonl", rows)
    cfg = merge(rl_config(), {"data": {"rl": {"source": str(path)}, "cache_dir": str(tmp_path / "hf")}})
    drops = Drops("data.rl")
    recs, where = rl_records(cfg, drops)
    assert [r["question"] for r in recs] == ["0+1=?", "2+1=?", "3+1=?", "5+1=?"] and where == str(path)
    assert drops.metrics("data/rl") == {"data/rl/dropped_no_answer": 2, "data/rl/dropped": 2}
    with caplog.at_level(logging.WARNING):
        rl_records(cfg)  # without a caller's Drops the role logs them itself
    assert f"data.rl: dropped 2 of 6 records (no answer); first at {path}:2, {path}:5" in caplog.text
    # The whole field missing: an error naming the file and the field, before any model.
    _write(tmp_path / "noans.jsonl", [{"question": "1+1=?", "solution": "2"}])
    cfg = merge(rl_config(), {"data": {"rl": {"source": str(tmp_path / "noans.jsonl")},
                                       "cache_dir": str(tmp_path / "hf")}})
    with pytest.raises(DataError, match=r"noans\.jsonl: answer field 'answer' is missing; fields are "
                                        r"\['question', 'solution'\]"):
        rl_records(cfg)
    # RL prompts taken from the SFT file, which has no answers at all.
    cfg = merge(rl_config(), {"data": {"sft": {"source": str(tmp_path / "noans.jsonl")},
                                       "cache_dir": str(tmp_path / "hf")}})
    with pytest.raises(DataError, match=r"noans\.jsonl: no record has an answer \(field 'answer', "
                                        r"data.sft.fields.answer\), and RL prompts need one"):
        rl_records(cfg)


def test_sft_drops_and_unknown_characters_are_counted_with_places(tmp_path, caplog):
    from jaxpt.data.sft_data import build_sft_data
    from jaxpt.data.tokenizer import load_tokenizer

    rows = [{"question": f"{i}+1=?", "solution": f"{i}+1={i + 1},\\boxed{{{i + 1}}}"} for i in range(10)]
    rows[3]["question"] = "9" * 200 + "+1=?"  # the prompt alone is longer than max_len
    rows[6]["solution"] = "Seven, \\boxed{7}"  # letters the toy alphabet lacks
    path = _write(tmp_path / "sft.jsonl", rows)
    cfg = merge(sft_config(), {"prompt": {"template": "{question}"}, "data": {
        "sft": {"source": str(path), "max_len": 96}, "val": {"size": 2}, "cache_dir": str(tmp_path / "hf")}})
    with caplog.at_level(logging.WARNING):
        data = build_sft_data(cfg, load_tokenizer("toy"))
    kept = data.stats["train/kept"]
    assert data.stats["train/dropped_too_long"] + data.stats.get("val/dropped_too_long", 0) == 1
    assert f"records (too long); first at {path}:4" in caplog.text
    assert data.stats.get("train/unk_examples", 0) + data.stats.get("val/unk_examples", 0) == 1
    from jaxpt.data.tasks.toy import CHARSET

    unknown = "".join(sorted(set("Seven, ") - set(CHARSET)))
    assert f"hold characters the tokenizer cannot encode ({unknown!r})" in caplog.text
    assert f"{path}:7" in caplog.text
    assert kept + data.stats.get("val/kept", 0) == 9
    assert data.stats["train/records"] + data.stats["val/records"] == 10


# ------------------------------------------------------------------------------------------------ RL
# These need the RL learner to call the guard, the lock and the JSONL writers (see the module docstring of
# jaxpt/train/guard.py, jaxpt/utils/workdir_lock.py and jaxpt/utils/metrics.py).
def test_rl_killed_at_three_random_points_ends_as_an_uninterrupted_run(tmp_path, rl_ref):
    ref, ref_samples = rl_ref
    work = tmp_path / "run"
    cfg = rl_cfg(work)
    metrics = work / "metrics.jsonl"
    rng = random.Random(41)
    for i, point in enumerate(_kill_points(rng, 2, 3)):
        err = tmp_path / f"{i}.err"
        proc = _start("rl", cfg, err, "--slow", "0.05")
        _wait_for(proc, err, lambda: any(r["step"] >= point and "rollout/accuracy" in r for r in _rows(metrics)))
        if i == 0:
            _wait_for(proc, err, lambda: _checkpoints(work))
            from jaxpt.rl import run_rl

            with pytest.raises(WorkdirBusy, match=f"is in use by an RL run: pid {proc.pid} on host"):
                run_rl({**cfg, "checkpoint": {"resume": False}})
        time.sleep(rng.uniform(0.0, 0.1))
        _kill(proc, err)
        last = max(_checkpoints(work))
        _assert_prefix(_rows(metrics), ref, RL_KEYS, last)
        got = _samples(work / "samples.jsonl")
        assert {s: got.get(s) for s in ref_samples if s <= last} == {s: v for s, v in ref_samples.items()
                                                                      if s <= last}
    err = tmp_path / "last.err"
    _finish(_start("rl", cfg, err), err)
    assert _by_step(read_metrics(metrics), RL_KEYS) == _by_step(ref, RL_KEYS)
    assert _samples(work / "samples.jsonl") == ref_samples  # every step's rows, once, complete
    # launch.rl --resume continues a run as launch.sft --resume does (here: one already at its last step).
    flags = [f"--config.workdir={work}", "--config.tokenizer=toy", "--config.mesh.data=1",
             "--config.model.init_from=tiny-qwen", "--config.data.toy.preset=tiny", "--config.eval.source=",
             "--config.log.progress=False", "--config.log.tensorboard=False", "--config.rl.gen_prompts=4",
             "--config.rl.total_steps=14", "--config.rl.group_size=4", "--config.rl.max_new_tokens=12",
             "--config.rl.num_minibatches=2", "--config.rl.train_prompts=4"]
    flags += [f"--config.model.overrides.{k}={v}" for k, v in TINY["overrides"].items()]
    out = subprocess.run([sys.executable, "-m", "launch.rl", "--config=configs/rl_tiny.py", *flags, "--resume"],
                         cwd=REPO, env=ENV, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0 and "RL done: 14 steps" in out.stdout, out.stderr[-3000:]


def test_rl_nan_stops_naming_step_and_metric_and_exports_nothing(tmp_path):
    """optim.eps=0 as in the issue (RL exported a final_model with 0 of 51 leaves finite). The prompts come from
    a file with two prompts lacking an answer and one too long: both reasons are counted in metrics.jsonl."""
    from jaxpt.rl import run_rl
    from tests.helpers.fault_run import has_one

    rows = [{"question": f"{i}+{i}=?", "answer": str(2 * i)} for i in range(12)]
    rows[2]["answer"], rows[5]["answer"] = "", None
    rows[7]["question"] = "9" * 40 + "+1=?"
    cfg = rl_cfg(tmp_path, total_steps=4, eval_every=0)
    cfg["data"] = {"rl": {"source": str(_write(tmp_path / "prompts.jsonl", rows)), "max_prompt_len": 16},
                   "cache_dir": str(tmp_path / "hf")}
    cfg["rl"]["optim"] = {"lr": 3e-3, "eps": 0.0}
    with pytest.raises(NonFiniteError, match=r"RL step \d+: non-finite train/(loss|grad_norm) = nan"):
        run_rl(cfg, reward_fn=has_one)
    assert not (tmp_path / "final_model").exists() and _checkpoints(tmp_path) == []  # the first was due at step 2
    first = read_metrics(tmp_path / "metrics.jsonl")[0]
    assert (first["data/rl/dropped_no_answer"], first["data/rl/dropped_too_long"], first["data/prompts"]) == (2, 1, 9)
