"""How many positions the LM head and the loss handle at once.

With a 152K vocabulary, float32 logits for a whole micro-batch do not fit: 64 rows x 512 response positions x
151936 entries are 20 GB, and the update keeps their gradient too (an H100 ran out of memory on exactly that). A
`loss_chunk` of -1 (AUTO, the default) therefore picks the largest chunk that divides the length and keeps one
chunk's logits, per device, under `LOGITS_BUDGET_BYTES`; 0 = no chunking when everything fits. A positive
value is used as given. The logits are not the only large buffer: the activations of a big micro-batch need
micro-batching or rematerialisation (see bench/results/README.md for the H100 case).
"""
LOGITS_BUDGET_BYTES = 1 << 30


def resolve_loss_chunk(setting: int, rows: int, length: int, vocab: int, batch_shards: int = 1,
                       budget_bytes: int = LOGITS_BUDGET_BYTES) -> int:
    """setting >= 0 is returned unchanged; -1: 0 if [rows / batch_shards, length, vocab] float32 logits fit
    the budget, else the largest divisor of `length` whose chunk fits (at least 1)."""
    setting = int(setting)
    if setting >= 0:
        return setting
    if setting != -1:
        raise ValueError(f"loss_chunk must be -1 (auto), 0 (off) or a positive chunk length, got {setting}")
    per_position = max(1, -(-int(rows) // max(1, int(batch_shards)))) * int(vocab) * 4
    if per_position * int(length) <= budget_bytes:
        return 0
    fitting = [c for c in range(1, int(length) + 1) if length % c == 0 and per_position * c <= budget_bytes]
    return max(fitting, default=1)
