"""Gradient accumulation shared by every stage: sum a gradient function over micro-batches.

`grad_fn(params, micro_batch) -> (grads, aux)` returns *unnormalised* sums (a loss sum and its counts, or a loss
already divided by the whole batch's normalisers), so the accumulated result equals the one of the whole batch at
once; the caller normalises or applies it. Micro-batches come stacked on a leading axis and are visited by one
lax.scan, so the compiled body is one micro-batch's forward and backward whatever their number.
"""
import jax
import jax.numpy as jnp


def accumulate(grad_fn, params, batch):
    """(sum of grads, sum of aux) of grad_fn(params, mb) over the leading axis of every leaf of `batch`.

    Gradients accumulate in float32 whatever the parameter dtype (the caller casts back once). A single
    micro-batch is called directly, without a scan.
    """
    if jax.tree.leaves(batch)[0].shape[0] == 1:
        grads, aux = grad_fn(params, jax.tree.map(lambda x: x[0], batch))
        return jax.tree.map(lambda g: g.astype(jnp.float32), grads), aux

    first = jax.tree.map(lambda x: x[0], batch)
    shapes = jax.eval_shape(grad_fn, params, first)
    zero = (jax.tree.map(lambda s: jnp.zeros(s.shape, jnp.float32), shapes[0]),
            jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes[1]))

    def body(acc, mb):
        grads, aux = grad_fn(params, mb)
        return (jax.tree.map(lambda a, g: a + g.astype(jnp.float32), acc[0], grads),
                jax.tree.map(jnp.add, acc[1], aux)), None

    return jax.lax.scan(body, zero, batch)[0]
