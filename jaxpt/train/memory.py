"""Memory of a stage's training step per device, from the compiler, before any weight is loaded.

    report = step_memory(cfg, "sft", model_config, sharder)   # bytes per device: arguments, temp, peak

The step is lowered and compiled (AOT) on abstract arrays with the run's shardings, exactly as the loop
builds it; nothing is allocated. Real-size presets are checked this way on a CPU host with fake devices.
"""
import jax
import jax.numpy as jnp

from jaxpt.models.config import ModelConfig
from jaxpt.train import sft_step
from jaxpt.train.checkpointing import with_shardings
from jaxpt.train.loss_chunk import resolve_loss_chunk
from jaxpt.train.optimizer import optimizer_for
from jaxpt.train.state import abstract_state, state_shardings


def _abstract(shape, dtype, sharding):
    return jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)


def _analysis(compiled) -> dict:
    m = compiled.memory_analysis()
    out = {"argument": int(m.argument_size_in_bytes), "output": int(m.output_size_in_bytes),
           "alias": int(m.alias_size_in_bytes), "temp": int(m.temp_size_in_bytes)}
    # Donated arguments alias the outputs: live at once are the arguments, the non-aliased outputs and temps.
    out["peak"] = out["argument"] + out["output"] - out["alias"] + out["temp"]
    return out


def step_memory(cfg, stage: str, mcfg: ModelConfig, sharder) -> dict:
    """Per-device bytes of the SFT train step or the RL update of a config tree (model config given)."""
    from jaxpt.parallel.rules import batch_divisor

    shards = batch_divisor(sharder)
    if stage == "sft":
        s = cfg.sft
        tx, schedule = optimizer_for(cfg, "sft", int(s.total_steps))
        rows, accum = int(s.batch_rows), int(s.grad_accum)
        seq = int(cfg.data.sft.seq_len or cfg.data.sft.max_len)
        chunk = resolve_loss_chunk(s.loss_chunk, rows // accum, seq, mcfg.vocab_size, shards)
        step = sft_step.make_train_step(mcfg, tx, schedule, sharder, chunk)
        sh = sft_step.batch_sharding(sharder, micro=True)
        shape = (accum, rows // accum, seq)
        batch = {k: _abstract(shape, jnp.float32 if k == "weights" else jnp.int32, sh) for k in sft_step.BATCH_KEYS}
    else:
        from jaxpt.rl import step as rl_step
        from jaxpt.rl.algorithms import resolve

        r = cfg.rl
        algo = resolve(r)
        rows = int(r.train_prompts or r.gen_prompts) * algo.group_width // int(r.num_minibatches)
        micro = int(r.micro_batch_rows or rows)
        n, lp = int(r.max_new_tokens), int(cfg.data.rl.max_prompt_len)
        tx, schedule = optimizer_for(cfg, "rl", int(r.total_steps) * int(r.ppo_epochs) * int(r.num_minibatches))
        chunk = resolve_loss_chunk(r.loss_chunk, micro, n, mcfg.vocab_size, shards)
        temp = float(r.train_temperature or r.temperature or 1.0)
        update = rl_step.make_update_fn(mcfg, algo.loss, tx, schedule, sharder, temp, bool(r.compute_entropy), chunk)
        sh = rl_step.batch_sharding(sharder, True)
        a = rows // micro
        batch = {"tokens": _abstract((a, micro, lp + n), jnp.int32, sh), "attn": _abstract((a, micro, lp + n),
                                                                                           jnp.int32, sh)}
        batch.update({k: _abstract((a, micro, n), jnp.float32, sh) for k in rl_step.TOKEN_KEYS})
        batch.update({k: _abstract((a, micro), jnp.float32, sh) for k in rl_step.ROW_KEYS})
        if mcfg.remat == "none":  # the shared-prompt forward (jaxpt.rl.microbatch): each group's prompt once
            from jaxpt.sample.settings import batch_bucket

            prompts = min(micro, batch_bucket(max(1, micro // algo.group_width), shards))
            batch.update(prompt_rows=_abstract((a, prompts), jnp.int32, sh),
                         prompt_of=_abstract((a, micro), jnp.int32, sh))
        # The update is two programs: the gradients (the train state's optimizer moments stay alive beside
        # them), then the optimizer step on the state and the gradients.
        st_sh = state_shardings(mcfg, tx, sharder)
        state = with_shardings(abstract_state(mcfg, tx), st_sh)
        grads = update.grads_fn(micro, n).lower(state["params"], batch, None).compile()
        g = _analysis(grads)
        shapes = jax.eval_shape(update.grads_fn(micro, n), state["params"], batch, None)
        if sharder is not None:
            shapes = (with_shardings(shapes[0], st_sh["params"]),) + tuple(
                jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharder.sharding(())) for x in shapes[1:2]) + (
                jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharder.sharding(())),
                             shapes[2]),)
        a_ = _analysis(update.apply_fn.lower(state, *shapes).compile())
        opt_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state["opt_state"])) // max(
            1, jax.device_count() if sharder is not None else 1)
        out = dict(a_)
        out["peak"] = max(g["peak"] + opt_bytes, a_["peak"])
        out["temp"] = max(g["temp"], a_["temp"])
        return out
    state = with_shardings(abstract_state(mcfg, tx), state_shardings(mcfg, tx, sharder))
    return _analysis(step.lower(state, batch).compile())
