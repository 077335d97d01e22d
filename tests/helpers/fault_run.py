"""A training run in its own process for the fault tests (tests/test_faults.py), which kill it with SIGKILL.

    python -m tests.helpers.fault_run sft|rl CONFIG_JSON [--slow S] [--kill-in-save STEP]

Runs `run_sft(config)` or `run_rl(config)` through their public APIs. RL gets the synthetic reward of the
fault tests ('1' in the response) and a deterministic evaluation (a function of the parameters), so no
verifier processes start. --slow S sleeps S seconds per step (SFT: per batch drawn; RL: per reward call) to
give the killer a window inside every step; it changes no number. --kill-in-save STEP kills this process
with SIGKILL right after the checkpoint save of STEP was issued, while the asynchronous write is in flight.
"""
import json
import os
import signal
import sys
import time

from jaxpt.utils import runtime

runtime.force_host_devices(8)  # as tests/conftest.py: the same devices, so the same compiled programs
runtime.enable_compile_cache()


def has_one(texts, golds):
    del golds
    import numpy as np

    return np.array(["1" in t for t in texts]), {"checked": len(texts)}


def param_score(model) -> float:
    """A deterministic 'accuracy' that moves with the parameters (the evaluation rows to compare)."""
    import jax
    import numpy as np

    return float(np.mean([np.abs(np.asarray(x, np.float64)).mean() for x in jax.tree.leaves(model.params)]))


def main(argv) -> None:
    kind, config = argv[0], json.loads(argv[1])
    slow = float(argv[argv.index("--slow") + 1]) if "--slow" in argv else 0.0
    kill_step = int(argv[argv.index("--kill-in-save") + 1]) if "--kill-in-save" in argv else None
    if kill_step is not None:
        from jaxpt.train.checkpointing import TrainCheckpointer

        save = TrainCheckpointer.save

        def save_then_die(self, step, state, meta):
            out = save(self, step, state, meta)
            if step == kill_step:
                os.kill(os.getpid(), signal.SIGKILL)
            return out

        TrainCheckpointer.save = save_then_die
    if kind == "sft":
        from jaxpt.data.iterator import BatchIterator
        from jaxpt.train.sft_loop import run_sft

        if slow:
            draw = BatchIterator.next_batch

            def slow_draw(self):
                time.sleep(slow)
                return draw(self)

            BatchIterator.next_batch = slow_draw
        res = run_sft(config)
        print(f"done {res.final_step}")
    else:
        from jaxpt.rl import run_rl

        def reward(texts, golds):
            time.sleep(slow)
            return has_one(texts, golds)

        res = run_rl(config, reward_fn=reward, eval_fn=param_score)
        print(f"done {res.final_step}")


if __name__ == "__main__":
    main(sys.argv[1:])
