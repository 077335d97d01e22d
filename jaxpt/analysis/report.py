"""Writes the ceilings report: ceilings.json, ceilings.md and one PNG per branch.

Result fields (one dict per branch, from jaxpt.analysis.ceilings):
  scene, sft_scene, sft_step, sft_eflops, P_sft        the branch point and its SFT score
  method                 'sigmoid', or 'peak' for runs that do not follow a sigmoid (unstable_reasons)
  PL_rl, A_post          headline plasticity and ceiling (A_post = P_sft + PL_rl); for 'peak' the best
                         observed gain; for 'sigmoid' the fitted U even when not identified (see below)
  U, C_mid, B, c0        the robust sigmoid fit in gain space
  identified, identification_reasons
                         whether the data bound U (reasons: U_at_bound, above_100, C_mid_beyond_data,
                         interval_open)
  U_interval, interval_method, interval_open
                         95% interval for the sigmoid's U (profile or bootstrap) within the physical range
                         (A_post <= 100); an open side reached its search limit
  PL_rl_interval, A_post_interval
                         the headline's interval (U_interval, and P_sft + it); None for 'peak' rows
  constrained            for unidentified branches: the fit with C_mid capped at the max fitted x
  observed_max, observed_max_gain, observed_max_x   best observed score on the branch
  val_rmse, val_r2, train_r2, n_points, n_train, n_val, n_outliers, n_trimmed
  regime                 SFT regime of the branch point (from validation loss), or None
  settings, settings_source ('file', 'default' or 'search'), selection_score, points
                         what was fitted and how (points: x, y and role of every branch point)
"""
import json
import math
import pathlib
from typing import List, Optional

import numpy as np


def _fmt(v, nd=2):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{nd}f}"


def _interval_text(r, key):
    if r.get(key) is None:
        return "-"
    lo, hi = r[key]
    lo_open, hi_open = r.get("interval_open", [False, False])
    return f"[{'≤' if lo_open else ''}{_fmt(lo)}, {'≥' if hi_open else ''}{_fmt(hi)}]"


def plot_name(r) -> str:
    return f"{r['scene']}_ckpt{r['sft_step']}.png"


def markdown_table(results: List[dict]) -> str:
    head = ("| scene | SFT step | regime | P_sft | PL_rl | PL_rl 95% | A_post | A_post 95% | observed max | "
            "C_mid | B | c0 | method | identified | constrained A_post | val RMSE | train R² | outliers | trimmed |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        ident = "yes" if r["identified"] else "no: " + ", ".join(r["identification_reasons"])
        con = r.get("constrained") or {}
        pl = _fmt(r["PL_rl"]) + ("" if r["identified"] or r["method"] == "peak" else "†")
        ap = _fmt(r["A_post"]) + ("" if r["identified"] or r["method"] == "peak" else "†")
        method = r["method"] + (f" ({', '.join(r['unstable_reasons'])})" if r["unstable_reasons"] else "")
        lines.append(
            f"| {r['scene']} | {r['sft_step']} | {r.get('regime') or '-'} | {_fmt(r['P_sft'])} | {pl} | "
            f"{_interval_text(r, 'PL_rl_interval')} | {ap} | {_interval_text(r, 'A_post_interval')} | "
            f"{_fmt(r['observed_max'])} | {_fmt(r['C_mid'])} | {_fmt(r['B'])} | {_fmt(r['c0'])} | {method} | "
            f"{ident} | {_fmt(con.get('A_post'))} | {_fmt(r['val_rmse'], 3)} | {_fmt(r['train_r2'], 3)} | "
            f"{r['n_outliers']} | {r['n_trimmed']} |")
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
    """Points by role, the fitted curve, its asymptote and interval, and the constrained alternative."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxpt.analysis.sigmoid import sigmoid

    pts = r["points"]
    x = np.array(pts["x"])
    y = np.array(pts["y"])
    role = np.array(pts["role"])
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
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
    ax.plot(xs, sigmoid(xs, r["U"], r["C_mid"], r["B"], r["c0"]), c="tab:blue", lw=1.5, label="sigmoid fit")
    lo, hi = r["U_interval"]
    if lo is not None and hi is not None:
        ax.axhspan(max(lo, ylim[0]), min(hi, ylim[1]), color="tab:blue", alpha=0.12, label="U 95% interval")
    if ylim[0] <= r["U"] <= ylim[1]:
        ax.axhline(r["U"], c="tab:blue", ls=":", lw=1, label=f"U = {r['U']:.2f}")
    else:
        ax.text(0.02, 0.95, f"U = {r['U']:.2f} (off scale)", transform=ax.transAxes, va="top")
    con = r.get("constrained")
    if con:
        ax.plot(xs, sigmoid(xs, con["PL_rl"], con["C_mid"], con["B"], con["c0"]), c="tab:purple", ls="--",
                lw=1.2, label=f"constrained (U = {con['PL_rl']:.2f})")
    if r["method"] == "peak":
        ax.axhline(r["observed_max_gain"], c="k", ls="-.", lw=1, label="peak (headline)")
    ax.set_ylim(*ylim)
    ax.set_xlabel("RL compute from branch point (EFLOPs)")
    ax.set_ylabel(f"gain over P_sft = {r['P_sft']:.2f}")
    status = "identified" if r["identified"] else "NOT identified: " + ", ".join(r["identification_reasons"])
    ax.set_title(f"{r['scene']} ckpt {r['sft_step']}: A_post {r['A_post']:.2f} ({r['method']})\n{status}",
                 fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
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
          f"{len(results)} branches, {n_id} with an identified asymptote. A_post = P_sft + PL_rl; "
          "† marks a fitted ceiling the data do not identify (see the constrained alternative and the "
          "interval; ≥ / ≤ mark an interval side left open by the data). 'peak' rows use the best observed "
          "score instead of a sigmoid.", "", markdown_table(results)]
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
