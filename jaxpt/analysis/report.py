"""Writes the ceilings report: ceilings.json, ceilings.md and one PNG per branch.

Result fields (one dict per branch, from jaxpt.analysis.ceilings):
  scene, sft_scene, sft_step, sft_eflops, P_sft        the branch point and its SFT score
  headline, headline_label
                         which fit is the headline: 'sigmoid' (identified robust fit), 'constrained'
                         (not identified: C_mid <= max fitted x, U <= 100 - P_sft) or 'peak' (the run
                         does not follow a sigmoid: best observed score; see unstable_reasons)
  PL_rl, A_post          the headline plasticity and ceiling, A_post = P_sft + PL_rl <= 100
  PL_rl_interval, A_post_interval, interval_method, interval_open
                         95% interval of the headline (profile or bootstrap), always containing it;
                         an open side reached its search limit; None for 'peak'
  identified, identification_reasons
                         whether the data bound the unconstrained asymptote (reasons: U_at_bound,
                         above_100, C_mid_beyond_data, interval_open)
  method                 'sigmoid' or 'peak' (kept for older readers; 'peak' iff headline is 'peak')
  U, C_mid, B, c0, train_r2
                         the headline curve in gain space (for 'peak': the sigmoid the run did not follow)
  U_unconstrained, A_post_unconstrained, C_mid_unconstrained, B_unconstrained, c0_unconstrained,
  train_r2_unconstrained, val_r2_unconstrained
                         the unconstrained optimum of section 2, whatever the headline (may exceed 100)
  observed_max, observed_max_gain, observed_max_x   best observed score on the branch
  val_rmse, val_r2, n_points, n_train, n_val, n_outliers, n_trimmed   (of the section-2 fit)
  regime                 SFT regime of the branch point (from validation loss), or None
  settings, settings_source ('file', 'default' or 'search'), selection_score, points
                         what was fitted and how (points: x, y and role of every branch point)
"""
import json
import math
import pathlib
from typing import List, Optional

import numpy as np

from jaxpt.analysis.scenes import scene_paragraphs


def _fmt(v, nd=2):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{nd}f}"


def _interval_text(r, key):
    if r.get(key) is None:
        return "-"
    lo, hi = r[key]
    lo_open, hi_open = r.get("interval_open") or [False, False]
    return f"[{'≤' if lo_open else ''}{_fmt(lo)}, {'≥' if hi_open else ''}{_fmt(hi)}]"


def plot_name(r) -> str:
    return f"{r['scene']}_ckpt{r['sft_step']}.png"


def markdown_table(results: List[dict]) -> str:
    head = ("| scene | SFT step | regime | P_sft | PL_rl | PL_rl 95% | A_post | A_post 95% | headline | identified | "
            "unconstrained U | unconstrained A_post | observed max | C_mid | B | c0 | val RMSE | train R² | "
            "outliers | trimmed |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        ident = "yes" if r["identified"] else "no: " + ", ".join(r["identification_reasons"])
        kind = r.get("headline", r["method"])
        if r["unstable_reasons"]:
            kind += f" ({', '.join(r['unstable_reasons'])})"
        lines.append(
            f"| {r['scene']} | {r['sft_step']} | {r.get('regime') or '-'} | {_fmt(r['P_sft'])} | {_fmt(r['PL_rl'])} | "
            f"{_interval_text(r, 'PL_rl_interval')} | {_fmt(r['A_post'])} | {_interval_text(r, 'A_post_interval')} | "
            f"{kind} | {ident} | {_fmt(r.get('U_unconstrained'))} | {_fmt(r.get('A_post_unconstrained'))} | "
            f"{_fmt(r['observed_max'])} | {_fmt(r['C_mid'])} | {_fmt(r['B'])} | {_fmt(r['c0'])} | "
            f"{_fmt(r['val_rmse'], 3)} | {_fmt(r['train_r2'], 3)} | {r['n_outliers']} | {r['n_trimmed']} |")
    return "\n".join(lines)


def _selection_md(sel: dict) -> str:
    out = ["", "## Trajectory selection", "",
           "SFT data sets ranked by minimum validation loss (lower first):", ""]
    for i, (name, loss) in enumerate(sel["ranking"], 1):
        best = sel["best_ceilings"].get(name)
        out.append(f"{i}. {name}: min val loss {loss:.4f}, best A_post {_fmt(best)}")
    c = sel["correlation"]
    out += ["", f"Min val loss vs best A_post over {c['n']} data sets: Pearson r = {_fmt(c['pearson_r'], 3)} "
                f"(p = {_fmt(c['pearson_p'], 3)}), Spearman rho = {_fmt(c['spearman_rho'], 3)} "
                f"(p = {_fmt(c['spearman_p'], 3)})."]
    return "\n".join(out)


def plot_branch(r: dict, path) -> None:
    """Points by role, the headline curve with its interval, and the unconstrained optimum beside it."""
    from jaxpt.analysis.sigmoid import sigmoid
    from jaxpt.utils.plotting import pyplot

    plt = pyplot()

    pts = r["points"]
    x = np.array(pts["x"])
    y = np.array(pts["y"])
    role = np.array(pts["role"])
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=90)
    # Fixed margins instead of tight_layout: same look here, and a third less time per plot.
    fig.subplots_adjust(left=0.11, right=0.98, bottom=0.12, top=0.88)
    styles = {"train": dict(c="tab:blue", marker="o", label="fitted"),
              "val": dict(c="tab:green", marker="s", label="validation"),
              "unused": dict(c="0.6", marker=".", label="unused"),
              "outlier": dict(c="tab:red", marker="x", label="removed: Z-score"),
              "trimmed": dict(c="tab:orange", marker="x", label="removed: LTS")}
    for name, st in styles.items():
        m = role == name
        if m.any():
            ax.scatter(x[m], y[m], s=18, **st, zorder=3)
    lo_data, hi_data = float(y.min()), float(y.max())
    span = max(hi_data - lo_data, 1.0)
    ylim = (lo_data - 0.15 * span, hi_data + 0.6 * span)
    xs = np.linspace(0, max(float(x.max()), 1e-6) * 1.05, 300)
    kind = r.get("headline", r["method"])
    curve_label = {"sigmoid": "sigmoid fit (headline)", "constrained": "constrained fit (headline)"}.get(
        kind, "sigmoid fit (not followed)")
    ax.plot(xs, sigmoid(xs, r["U"], r["C_mid"], r["B"], r["c0"]), c="tab:blue", lw=1.5, label=curve_label)
    if r.get("PL_rl_interval"):
        lo, hi = r["PL_rl_interval"]
        ax.axhspan(max(lo, ylim[0]), min(hi, ylim[1]), color="tab:blue", alpha=0.12, label="PL_rl 95% interval")
    ax.axhline(r["PL_rl"], c="k" if kind == "peak" else "tab:blue", ls="-." if kind == "peak" else ":", lw=1,
               label=f"PL_rl = {r['PL_rl']:.2f} ({'best observed' if kind == 'peak' else kind})")
    u_free = r.get("U_unconstrained")
    same = (u_free, r.get("C_mid_unconstrained"), r.get("B_unconstrained")) == (r["U"], r["C_mid"], r["B"])
    if u_free is not None and kind != "sigmoid" and not same:
        ax.plot(xs, sigmoid(xs, u_free, r["C_mid_unconstrained"], r["B_unconstrained"], r["c0_unconstrained"]),
                c="tab:purple", ls="--", lw=1.0, label=f"unconstrained optimum (U = {u_free:.2f})")
    ax.set_ylim(*ylim)
    ax.set_xlabel("RL compute from branch point (EFLOPs)")
    ax.set_ylabel(f"gain over P_sft = {r['P_sft']:.2f}")
    status = "identified" if r["identified"] else "NOT identified: " + ", ".join(r["identification_reasons"])
    ax.set_title(f"{r['scene']} ckpt {r['sft_step']}: A_post {r['A_post']:.2f} ({kind})\n{status}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.savefig(path)
    plt.close(fig)


def write_report(results: List[dict], out_dir, selection: Optional[dict] = None, plots: bool = True) -> dict:
    """Writes ceilings.json, ceilings.md (and selection.json when given) and the per-branch PNGs.

    Returns {'json': path, 'md': path, 'plots': [paths]}.
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "ceilings.json"
    with open(json_path, "w") as fh:
        json.dump(results, fh, indent=1, allow_nan=False, default=float)
    n_id = sum(r["identified"] for r in results)
    md = ["# Plasticity-ceiling fits", "",
          f"{len(results)} branches, {n_id} with an identified asymptote. A_post = P_sft + PL_rl, never above "
          "100, and inside its own 95% interval. The headline is the robust sigmoid fit when the data identify "
          "its asymptote; otherwise the constrained fit (C_mid within the fitted x, U <= 100 - P_sft), with "
          "the unconstrained optimum in columns of its own; 'peak' rows (runs that do not follow a sigmoid) "
          "report the best observed score. ≥ / ≤ mark an interval side left open by the data.", "",
          "## Scenes", ""]
    for para in scene_paragraphs(results):
        md += [para, ""]
    md += ["## Branches", "", markdown_table(results)]
    if selection:
        md.append(_selection_md(selection))
        with open(out / "selection.json", "w") as fh:
            json.dump(selection, fh, indent=1, default=float)
    md_path = out / "ceilings.md"
    md_path.write_text("\n".join(md) + "\n")
    paths = []
    if plots:
        for r in results:
            p = out / plot_name(r)
            plot_branch(r, p)
            paths.append(str(p))
    return {"json": str(json_path), "md": str(md_path), "plots": paths}
