"""FLOPs accounting (docs/algorithms.md section 4): the paper's check values and paradigm relations."""
import types

import pytest

from jaxpt.analysis import flops
from jaxpt.analysis.flops import QWEN25_7B


def test_sft_check_values_qwen25_7b():
    # SFT889K: S = 3771, B = 512 -> 34.92 EFLOPs per 360 steps; S1K: S = 10011, B = 16 -> 0.57 per 62.
    assert flops.to_eflops(360 * flops.sft_step_flops(QWEN25_7B, 512, 3771)) == pytest.approx(34.92, abs=0.005)
    assert flops.to_eflops(62 * flops.sft_step_flops(QWEN25_7B, 16, 10011)) == pytest.approx(0.57, abs=0.005)


def test_forward_flops_by_hand():
    d = flops.ModelDims(num_layers=2, hidden_size=8, intermediate_size=16, vocab_size=10, num_heads=2,
                        num_kv_heads=1)  # head_dim None -> H / n_h = 4, D_kv = 4
    p_mlp, p_attn, p_vocab = 3 * 8 * 16, 8 * (8 + 2 * 4 + 8), 2 * 10 * 8
    assert flops.forward_flops_per_token(d, 5) == 2 * (2 * (p_mlp + p_attn) + p_vocab) + 4 * 5 * 2 * 8


def test_duck_typed_config_and_explicit_head_dim():
    cfg = types.SimpleNamespace(**vars(QWEN25_7B))  # any object with the attribute names works
    assert flops.forward_flops_per_token(cfg, 1000) == flops.forward_flops_per_token(QWEN25_7B, 1000)
    no_hd = types.SimpleNamespace(**{**vars(QWEN25_7B), "head_dim": None})
    assert flops.forward_flops_per_token(no_hd, 1000) == flops.forward_flops_per_token(QWEN25_7B, 1000)


def test_paradigm_relations():
    f = lambda s: flops.forward_flops_per_token(QWEN25_7B, s)  # noqa: E731
    B, G, S = 64, 8, 2000
    grpo = flops.grpo_step_flops(QWEN25_7B, B, G, S)
    assert grpo == pytest.approx(4 * B * G * S * f(S))
    # DAPO with one generation round over the training batch costs what GRPO costs.
    assert flops.dapo_step_flops(QWEN25_7B, B, B, G, S, gen_rounds=1) == pytest.approx(grpo)
    dapo = flops.dapo_step_flops(QWEN25_7B, 128, 64, G, S, gen_rounds=3)
    assert dapo == pytest.approx((3 * 128 + 3 * 64) * G * S * f(S))
    # LUFFY: 4 [B G S_on + B N S_off] F_fwd when both lengths are equal.
    assert flops.luffy_step_flops(QWEN25_7B, B, 7, S, 1, S) == pytest.approx(4 * (B * 7 * S + B * S) * f(S))
    assert flops.srft_step_flops is flops.luffy_step_flops
    # UPT: all rollouts generated; trained sequences cost 3 F_fwd per token.
    upt = flops.upt_step_flops(QWEN25_7B, B, G, S, n_on=100, n_off=10, seq_off=3000)
    assert upt == pytest.approx(B * G * S * f(S) + 3 * (100 * S * f(S) + 10 * 3000 * f(3000)))
