"""Rollouts: generate G responses per prompt, score them, and collect groups until the training batch is full.

    rollout = Rollout(setup)
    col = rollout.collect(params, step, prompt_iterator, pool)   # rounds, kept groups, timings, verifier stats

Generation uses the in-graph sampler (jaxpt.sample.core.sample, compiled once per shape). Scoring (decode,
verify, shape the reward) runs in a background thread, so under dynamic sampling the next round generates while
this one is scored: when it is certainly needed ("safe"), or always ("always"; an unneeded round is dropped and
counted). Randomness is a function of (seed, step, round).
"""
import concurrent.futures
import inspect
import time
from typing import Callable, List, Tuple

import jax
import numpy as np

from jaxpt.rewards.shaping import shaped_rewards
from jaxpt.rl.batch import Round, select_groups
from jaxpt.rl.transfer import to_device, to_host
from jaxpt.sample.core import sample
from jaxpt.sample.sampler import left_pad

# reward_fn(response texts, gold answers[, truncated bool [n]]) -> (correct bool [n], stats dict)
RewardFn = Callable[[List[str], List[str]], Tuple[np.ndarray, dict]]


def verifier_reward_fn(grading: str = "strict", timeout_s: float = 0.0, workers: int = 0) -> RewardFn:
    """The verifier as a reward: `grading` is a jaxpt.rewards mode; an output the sampler cut off at the length
    limit (truncated) scores only through an explicit, complete final answer."""
    from jaxpt.rewards import verify_batch

    def fn(texts, golds, truncated=None):
        ok, stats = verify_batch(list(texts), list(golds), timeout_s=timeout_s or None, workers=workers or None,
                                 grading=grading, truncated=None if truncated is None else list(truncated),
                                 return_stats=True)
        return np.asarray(ok, bool), dict(stats)

    return fn


def _takes_truncated(fn) -> bool:
    try:
        return len(inspect.signature(fn).parameters) >= 3
    except (TypeError, ValueError):
        return False


class Rollout:
    """Generation, scoring and dynamic sampling of one run (the settings come from jaxpt.rl.setup.RLSetup)."""

    def __init__(self, setup):
        s = setup
        self.c, self.algo, self.cfg, self.sharder = s.c, s.algo, s.cfg, s.sharder
        self.B_gen, self.B_train, self.G, self.N = s.B_gen, s.B_train, s.G, s.N
        self.prompts, self.tok, self.settings, self.reward_fn = s.prompts, s.tok, s.settings, s.reward_fn
        self.prompt_len, self.pad_id, self.gen_chunk = s.prompt_len, s.pad_id, s.gen_chunk
        self.train_temp, self.rows_sh = s.train_temp, s.rows_sh
        self.gen_streams = s.gen_streams
        self._gen_pool = None

    def _key(self, step: int, rnd: int):
        return jax.random.fold_in(jax.random.fold_in(jax.random.key(int(self.c.seed)), step), rnd)

    def generate(self, params, idx: np.ndarray, key) -> Round:
        """Samples G responses for each prompt of `idx` (in chunks of rl.gen_batch_prompts prompts, up to
        rl.gen_streams chunks at once)."""
        ids = [self.prompts.prompt_ids[i] for i in idx]
        tokens, mask = left_pad(ids, self.prompt_len, len(ids), self.pad_id)
        chunk = self.gen_chunk
        prompts = to_device([(tokens[c0:c0 + chunk], mask[c0:c0 + chunk]) for c0 in range(0, len(ids), chunk)],
                            self.rows_sh)

        def call(i, t, m):  # a chunk's key depends on its position only, so streams do not change the samples
            st = sample(params, self.cfg, t, m, jax.random.fold_in(key, i * chunk), self.settings, self.sharder)
            return {"tokens": st.tokens, "logprobs": st.logprobs, "slp": st.sampling_logprobs,
                    "lengths": st.lengths, "done": st.done}

        if self.gen_streams > 1 and len(prompts) > 1:
            # Each thread runs (and waits for) its own sampler calls: executions dispatched from one thread run
            # one after another, and a single decode step leaves a CPU core idle much of the time.
            if self._gen_pool is None:
                self._gen_pool = concurrent.futures.ThreadPoolExecutor(self.gen_streams, "jaxpt-sampler")
            futures = [self._gen_pool.submit(lambda *x: jax.block_until_ready(call(*x)), i, t, m)
                       for i, (t, m) in enumerate(prompts)]
            parts = [f.result() for f in futures]
        else:
            parts = [call(i, t, m) for i, (t, m) in enumerate(prompts)]
        parts = to_host(parts)
        host = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        # The sampler's logprob at the training temperature: tempered (sampling) or plain (temperature 1).
        tempered = self.train_temp != 1.0 and self.train_temp == self.settings.temperature
        old = np.asarray(host["slp"] if tempered else host["logprobs"], np.float32)
        return Round(prompt_ids=np.asarray(idx), prompt_tokens=tokens, prompt_mask=mask, tokens=host["tokens"],
                     old_logp=old, sampler_logp=old, lengths=host["lengths"], truncated=~host["done"], group=self.G)

    def score(self, rnd: Round) -> dict:
        """Decodes and verifies one round; fills rnd.correct / rnd.reward / rnd.texts. Runs in a thread."""
        t0 = time.perf_counter()
        resp = [row[:n].tolist() for row, n in zip(rnd.tokens, rnd.lengths)]
        texts = self.tok.batch_decode(resp, skip_special_tokens=True)
        golds = [self.prompts.answers[i] for i in np.repeat(rnd.prompt_ids, self.G)]
        if _takes_truncated(self.reward_fn):
            correct, stats = self.reward_fn(texts, golds, rnd.truncated)
        else:
            correct, stats = self.reward_fn(texts, golds)
        r = self.c.rl
        reward = shaped_rewards(correct, rnd.lengths, float(r.reward_correct), float(r.reward_wrong),
                                self.algo.overlong_shaping, int(r.overlong_max_len or self.N),
                                int(r.overlong_cache_len), float(r.overlong_penalty))
        rnd.correct, rnd.reward, rnd.texts = np.asarray(correct, bool), reward, texts
        return {"seconds": time.perf_counter() - t0, **{k: v for k, v in stats.items()
                                                         if isinstance(v, (int, float))}}

    def collect(self, params, step: int, it, pool) -> dict:
        """Generation rounds until the batch is full (dynamic sampling) or one round (otherwise)."""
        r = self.c.rl
        dynamic = self.algo.dynamic_sampling
        max_rounds = max(1, int(r.max_gen_rounds)) if dynamic else 1
        speculate = str(r.speculate)
        rounds: List[Round] = []
        gen_s, score_s, wait_s = 0.0, 0.0, 0.0
        next_round, score_stats = None, []
        kept: list = []
        informative = 0
        while True:
            t0 = time.perf_counter()
            if next_round is None:
                next_round = self.generate(params, it.take(self.B_gen), self._key(step, len(rounds)))
            gen_s += time.perf_counter() - t0
            rnd, next_round = next_round, None
            rounds.append(rnd)
            fut = pool.submit(self.score, rnd)
            if dynamic and len(rounds) < max_rounds and speculate != "off":
                # Generate the next round while this one is scored: "safe" only when it is needed even if
                # every group of this round is kept, "always" regardless (an unneeded round is dropped).
                kept_before, _ = select_groups(rounds[:-1], self.B_train, True, r.ds_metric)
                if speculate == "always" or len(kept_before) + rnd.num_prompts < self.B_train:
                    t0 = time.perf_counter()
                    next_round = self.generate(params, it.take(self.B_gen), self._key(step, len(rounds)))
                    gen_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            score_stats.append(fut.result())
            wait_s += time.perf_counter() - t0
            score_s += score_stats[-1]["seconds"]
            kept, informative = select_groups(rounds, self.B_train, dynamic, r.ds_metric)
            if not dynamic or len(kept) >= self.B_train or len(rounds) >= max_rounds:
                break
        stats = {}
        for s in score_stats:
            for k, v in s.items():
                if k != "seconds":
                    stats[k] = stats.get(k, 0) + v
        return {"rounds": rounds, "kept": kept, "informative": informative, "gen_s": gen_s, "score_s": score_s,
                "score_wait_s": wait_s, "wasted_rounds": 1 if next_round is not None else 0, "verifier": stats}
