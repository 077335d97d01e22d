"""Packing, padding, truncation and the resumable iterator on hand-made examples."""
import numpy as np
import pytest

from jaxpt.data.iterator import BatchIterator
from jaxpt.data.packing import build_batch, fixed_batches, truncate


def ex(ids, n_prompt):
    ids = np.asarray(ids, np.int32)
    mask = np.zeros(len(ids), bool)
    mask[n_prompt:] = True
    return ids, mask


A = ex([10, 11, 12, 13, 14], 2)  # prompt 10 11, response 12 13 14
B = ex([20, 21, 22], 1)  # prompt 20, response 21 22


def test_packed_row():
    b = build_batch([[A, B]], rows=1, seq_len=10)
    np.testing.assert_array_equal(b["tokens"][0], [10, 11, 12, 13, 14, 20, 21, 22, 0, 0])
    np.testing.assert_array_equal(b["positions"][0], [0, 1, 2, 3, 4, 0, 1, 2, 0, 0])
    np.testing.assert_array_equal(b["segment_ids"][0], [1, 1, 1, 1, 1, 2, 2, 2, 0, 0])
    # Position t predicts token t+1 of the same document; the last token of a document predicts nothing
    # (no target across the document boundary), prompt tokens carry no loss.
    np.testing.assert_array_equal(b["targets"][0], [11, 12, 13, 14, 0, 21, 22, 0, 0, 0])
    np.testing.assert_array_equal(b["weights"][0], [0, 1, 1, 1, 0, 1, 1, 0, 0, 0])
    assert b["tokens"].dtype == np.int32 and b["weights"].dtype == np.float32


def test_padding_fallback_and_fixed_batches():
    batches = fixed_batches([A, B, A], rows=2, seq_len=6, pack=False)
    assert len(batches) == 2
    b0, b1 = batches
    np.testing.assert_array_equal(b0["segment_ids"], [[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]])
    np.testing.assert_array_equal(b0["weights"][1], [1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(b1["segment_ids"][1], np.zeros(6))  # last batch padded with empty rows
    packed = fixed_batches([A, B, A], rows=2, seq_len=8, pack=True)
    assert len(packed) == 1
    np.testing.assert_array_equal(packed[0]["segment_ids"], [[1, 1, 1, 1, 1, 2, 2, 2], [1, 1, 1, 1, 1, 0, 0, 0]])
    # Each document's response tokens are counted exactly once.
    assert packed[0]["weights"].sum() == 3 + 2 + 3


def test_truncation_counts():
    long = ex(np.arange(1, 21), 5)
    prompt_only = ex(np.arange(1, 12), 11)  # truncated to 8: no response token left -> dropped
    out, counts = truncate([A, long, prompt_only], max_len=8)
    assert counts == {"truncated": 2, "truncated_tokens": 12 + 3, "dropped_no_response": 1, "kept": 2}
    np.testing.assert_array_equal(out[1][0], np.arange(1, 9))
    np.testing.assert_array_equal(out[1][1], [0, 0, 0, 0, 0, 1, 1, 1])


def _docs(n):
    return [ex(np.full(3 + i % 5, 100 + i), 1) for i in range(n)]


def test_iterator_deterministic_and_resumable():
    docs = _docs(23)
    it1 = BatchIterator(docs, rows=3, seq_len=12, seed=5)
    seq1 = [it1.next_batch()[0] for _ in range(10)]
    it2 = BatchIterator(docs, rows=3, seq_len=12, seed=5)
    for _ in range(4):
        it2.next_batch()
    state = it2.state_dict()
    it3 = BatchIterator(docs, rows=3, seq_len=12, seed=5)
    it3.load_state_dict(state)
    for want in seq1[4:]:
        got = it3.next_batch()[0]
        for k in want:
            np.testing.assert_array_equal(got[k], want[k])
    other = BatchIterator(docs, rows=3, seq_len=12, seed=6).next_batch()[0]
    assert not np.array_equal(other["tokens"], seq1[0]["tokens"])
    with pytest.raises(ValueError, match="does not match"):
        BatchIterator(docs[:-1], rows=3, seq_len=12, seed=5).load_state_dict(state)


def test_iterator_epochs_cover_every_document_once():
    docs = _docs(11)
    it = BatchIterator(docs, rows=2, seq_len=8, seed=0, pack=False)
    seen = []
    while it.epoch == 0:
        b, info = it.next_batch()
        assert info["sequences"] == 2
        seen += [int(b["tokens"][r, 0]) for r in range(2)]
    # 11 documents, 2 per batch: the 6th batch takes the last of epoch 0 and the first of epoch 1.
    assert sorted(seen[:11]) == list(range(100, 111))
    assert it.epoch == 1 and it.index == 1
