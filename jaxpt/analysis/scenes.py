"""One short paragraph per scene for ceilings.md: each branch point's P_sft, PL_rl and A_post, the best
identified ceiling, and the SFT regime of each branch point when the validation loss is known."""
from collections import OrderedDict
from typing import Dict, List, Optional

HEADLINE_NOTE = {"sigmoid": "", "constrained": ", constrained fit", "peak": ", best observed"}


def _branch_text(r: dict) -> str:
    where = "Pure RL from the base model" if r["sft_step"] == 0 else f"step {r['sft_step']}"
    regime = f", {r['regime']}" if r.get("regime") else ""
    note = HEADLINE_NOTE.get(r.get("headline", "sigmoid"), "")
    ident = "" if r["identified"] or r.get("headline") == "peak" else ", not identified"
    return (f"{where}{regime}: P_sft {r['P_sft']:.2f}, PL_rl {r['PL_rl']:.2f}, "
            f"A_post {r['A_post']:.2f}{note}{ident}")


def best_identified(results: List[dict]) -> Optional[dict]:
    """The SFT branch point (step > 0) with the highest identified sigmoid A_post; ties: the earlier step.

    Pure RL (step 0) starts from the base model, not from the scene's data, so it is left out.
    """
    cands = [r for r in results if r["sft_step"] > 0 and r["identified"] and r.get("headline") == "sigmoid"]
    if not cands:
        return None
    return max(sorted(cands, key=lambda r: r["sft_step"]), key=lambda r: r["A_post"])


def scene_paragraphs(results: List[dict]) -> List[str]:
    """Markdown paragraphs, one per scene in order of first appearance, branch points by SFT step."""
    by_scene: Dict[str, List[dict]] = OrderedDict()
    for r in results:
        by_scene.setdefault(r["scene"], []).append(r)
    out = []
    for scene, rows in by_scene.items():
        rows = sorted(rows, key=lambda r: r["sft_step"])
        best = best_identified(rows)
        text = f"**{scene}.** " + "; ".join(_branch_text(r) for r in rows) + ". "
        if best is None:
            text += "No SFT branch point has an identified ceiling."
        else:
            text += f"Highest identified A_post: step {best['sft_step']} ({best['A_post']:.2f})."
        if any(r.get("regime") for r in rows):
            text += " Regimes from the SFT validation loss (paper Eqs. 5-9)."
        out.append(text)
    return out
