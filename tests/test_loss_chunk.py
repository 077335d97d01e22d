"""AUTO loss_chunk: hand-computed choices for the sizes that matter."""
import pytest

from jaxpt.train.loss_chunk import LOGITS_BUDGET_BYTES, resolve_loss_chunk


def test_explicit_settings_pass_through():
    assert resolve_loss_chunk(0, 64, 512, 151936) == 0
    assert resolve_loss_chunk(256, 64, 512, 151936) == 256


def test_auto_no_chunking_when_logits_fit():
    # toy task: 128 rows x 64 positions x 64 entries x 4 B = 2 MiB
    assert resolve_loss_chunk(-1, 128, 64, 64) == 0


def test_auto_qwen_vocab_on_one_device():
    # one position of 64 rows: 64 * 151936 * 4 = 38,895,616 B; 1 GiB / that = 27.6 -> largest divisor of 512 is 16
    assert LOGITS_BUDGET_BYTES == 1 << 30
    assert resolve_loss_chunk(-1, 64, 512, 151936) == 16


def test_auto_counts_rows_per_batch_shard():
    # 8 rows per device: 4,861,952 B per position -> 220.8 -> 128
    assert resolve_loss_chunk(-1, 64, 512, 151936, batch_shards=8) == 128
    # a length with few divisors: 600 = 2^3 3 5^2 -> divisors <= 220: 200
    assert resolve_loss_chunk(-1, 64, 600, 151936, batch_shards=8) == 200


def test_auto_never_below_one_and_bad_values():
    assert resolve_loss_chunk(-1, 4096, 512, 151936) == 1
    with pytest.raises(ValueError, match="loss_chunk"):
        resolve_loss_chunk(-2, 8, 8, 8)
