"""ceilings.md: one paragraph per scene with each branch point's numbers, the best identified ceiling
and the SFT regime; the table keeps the unconstrained optimum in columns of its own."""
from jaxpt.analysis.report import markdown_table
from jaxpt.analysis.scenes import best_identified, scene_paragraphs


def _row(scene, step, p_sft, pl, headline="sigmoid", identified=True, regime=None, unconstrained=None):
    return {"scene": scene, "sft_step": step, "P_sft": p_sft, "PL_rl": pl, "A_post": round(p_sft + pl, 4),
            "headline": headline, "method": "peak" if headline == "peak" else "sigmoid", "identified": identified,
            "identification_reasons": [] if identified else ["C_mid_beyond_data"], "unstable_reasons": [],
            "regime": regime, "PL_rl_interval": [pl - 1, pl + 1], "A_post_interval": [p_sft + pl - 1, p_sft + pl + 1],
            "interval_open": [False, False], "U_unconstrained": unconstrained if unconstrained is not None else pl,
            "A_post_unconstrained": p_sft + (unconstrained if unconstrained is not None else pl),
            "observed_max": p_sft + pl - 0.5, "C_mid": 10.0, "B": 1.0, "c0": 0.0, "val_rmse": 0.3,
            "train_r2": 0.9, "n_outliers": 0, "n_trimmed": 0}


ROWS = [
    _row("a", 720, 72.0, 6.0, regime="stable"),         # A_post 78.0
    _row("a", 0, 46.71, 25.25),                          # Pure RL: not a branch point of scene a's data
    _row("a", 360, 70.0, 9.5, headline="constrained", identified=False, regime="adaptive",
         unconstrained=100.0),                           # 79.5, but not identified
    _row("a", 1080, 74.0, 4.5, regime="mild"),           # 78.5: the best identified
    _row("b", 100, 70.0, 3.0, headline="peak", identified=False),
]


def test_best_identified_skips_pure_rl_and_unidentified_branches():
    assert best_identified(ROWS[:4])["sft_step"] == 1080
    assert best_identified(ROWS[4:]) is None


def test_one_paragraph_per_scene_in_step_order():
    a, b = scene_paragraphs(ROWS)
    assert a.startswith("**a.** Pure RL from the base model: P_sft 46.71, PL_rl 25.25, A_post 71.96; "
                        "step 360, adaptive:")
    assert a.index("step 360") < a.index("step 720") < a.index("step 1080")
    assert "step 360, adaptive: P_sft 70.00, PL_rl 9.50, A_post 79.50, constrained fit, not identified" in a
    assert "step 720, stable: P_sft 72.00, PL_rl 6.00, A_post 78.00;" in a
    assert "Highest identified A_post: step 1080 (78.50)." in a
    assert "step 100: P_sft 70.00, PL_rl 3.00, A_post 73.00, best observed." in b
    assert "No SFT branch point has an identified ceiling." in b and "Regimes" not in b


def test_table_shows_headline_and_unconstrained_columns():
    table = markdown_table(ROWS[2:3]).splitlines()
    cells = [c.strip() for c in table[2].split("|")[1:-1]]
    head = [c.strip() for c in table[0].split("|")[1:-1]]
    row = dict(zip(head, cells))
    assert row["A_post"] == "79.50" and row["headline"] == "constrained"
    assert row["unconstrained U"] == "100.00" and row["unconstrained A_post"] == "170.00"
    assert row["A_post 95%"] == "[78.50, 80.50]"
