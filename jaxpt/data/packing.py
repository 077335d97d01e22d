"""Truncation, sequence packing with segment ids (and a padding fallback) into fixed-shape batches.

A batch is a dict of [rows, seq_len] numpy arrays, already shifted for next-token prediction:
    tokens      int32  model inputs (0 in padding)
    positions   int32  RoPE positions, restarting at 0 for each packed document
    segment_ids int32  1, 2, ... per document within a row, 0 = padding; attention never crosses segments
    targets     int32  tokens[t + 1] when it belongs to the same document, else 0
    weights     float32 1 where targets[t] is a response token of the same document (the loss mask)
Shapes never change between batches, so the jitted step compiles once.
"""
from typing import List, Sequence, Tuple

import numpy as np

Example = Tuple[np.ndarray, np.ndarray]  # (ids int32 [L], response mask bool [L])


def truncate(examples: Sequence[Example], max_len: int) -> Tuple[List[Example], dict]:
    """Right truncation to max_len tokens. Returns (examples, counts) with counts of truncated examples,
    dropped tokens and examples left with no response token (dropped: they would train nothing)."""
    out, n_trunc, n_tok, n_empty = [], 0, 0, 0
    for ids, mask in examples:
        if len(ids) > max_len:
            n_trunc += 1
            n_tok += len(ids) - max_len
            ids, mask = ids[:max_len], mask[:max_len]
        # The first token is never a target, so a response that starts at position 0 still needs one more.
        if not mask[1:].any():
            n_empty += 1
            continue
        out.append((ids, mask))
    return out, {"truncated": n_trunc, "truncated_tokens": n_tok, "dropped_no_response": n_empty,
                 "kept": len(out)}


def empty_batch(rows: int, seq_len: int) -> dict:
    z = lambda dt: np.zeros((rows, seq_len), dt)  # noqa: E731
    return {"tokens": z(np.int32), "positions": z(np.int32), "segment_ids": z(np.int32),
            "targets": z(np.int32), "weights": z(np.float32)}


def place(batch: dict, row: int, start: int, segment: int, ids: np.ndarray, mask: np.ndarray) -> None:
    """Writes one document at batch[row, start:start + len(ids)] as segment `segment`."""
    n = len(ids)
    sl = slice(start, start + n)
    batch["tokens"][row, sl] = ids
    batch["positions"][row, sl] = np.arange(n)
    batch["segment_ids"][row, sl] = segment
    # Predicting ids[i + 1] from position i: only inside the document, weighted by the response mask.
    batch["targets"][row, start:start + n - 1] = ids[1:]
    batch["weights"][row, start:start + n - 1] = mask[1:]


def build_batch(row_docs: Sequence[Sequence[Example]], rows: int, seq_len: int) -> dict:
    """row_docs[r] = the documents of row r, laid out left to right."""
    batch = empty_batch(rows, seq_len)
    for r, docs in enumerate(row_docs):
        start = 0
        for seg, (ids, mask) in enumerate(docs, 1):
            if start + len(ids) > seq_len:
                raise ValueError(f"documents of row {r} need {start + len(ids)} > seq_len={seq_len} slots")
            place(batch, r, start, seg, ids, mask)
            start += len(ids)
    return batch


def assign_rows(lengths: Sequence[int], rows: int, seq_len: int, pack: bool,
                start: int = 0) -> Tuple[List[List[int]], int]:
    """Greedy sequential packing: documents fill row 0 until the next one does not fit, then row 1, ...

    Starts at lengths[start]; returns (per-row lists of indices into `lengths`, index of the first document
    not consumed). Order is preserved, so a stream resumed at the same position yields the same batches.
    pack=False puts one document per row.
    """
    out: List[List[int]] = [[] for _ in range(rows)]
    r, used, i = 0, 0, start
    while i < len(lengths) and r < rows:
        n = lengths[i]
        if n > seq_len:
            raise ValueError(f"document of {n} tokens exceeds seq_len={seq_len}; truncate first")
        if out[r] and (not pack or used + n > seq_len):
            r, used = r + 1, 0
            continue
        out[r].append(i)
        used += n
        i += 1
    return out, i


def fixed_batches(examples: Sequence[Example], rows: int, seq_len: int, pack: bool) -> List[dict]:
    """All examples once, in order (for validation): the last batch is padded with empty rows."""
    lengths = [len(e[0]) for e in examples]
    batches, i = [], 0
    while i < len(examples):
        assignment, i = assign_rows(lengths, rows, seq_len, pack, start=i)
        batches.append(build_batch([[examples[j] for j in row] for row in assignment], rows, seq_len))
    return batches
