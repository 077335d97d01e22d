"""Writes the forecast backtest: backtest.json (one row per branch and fraction), backtest.md, a PNG."""
import json
import pathlib
from typing import Dict, Optional, Sequence

import numpy as np

from jaxpt.analysis.forecast_backtest import FAR_OFF, summarize, summarize_unidentified
from jaxpt.utils.plotting import pyplot, save


def _f(v, nd=2):
    return "-" if v is None else f"{v:.{nd}f}"


def _summary_table(rows, subset, has_baseline) -> list:
    fc = summarize(rows, subset)
    base = summarize(rows, subset, key="baseline_") if has_baseline else {}
    lines = ["| fraction | n | method | median abs error | mean abs error | interval coverage "
             f"| off by > {FAR_OFF:g} | identified at the prefix |",
             "|---|---|---|---|---|---|---|---|"]
    for f, s in fc.items():
        for name, t in (("forecast", s), ("prefix refit (baseline)", base.get(f))):
            if t is None:
                continue
            lines.append(f"| {f:g} | {t['n']} | {name} | {_f(t['median_abs_error'])} | {_f(t['mean_abs_error'])} "
                         f"| {t['n_covered']}/{t['n_with_interval']} ({_f(100 * (t['coverage'] or 0), 0)}%) | {t['n_far_off']} "
                         f"| {t['n_identified']} |")
    return lines


def _unidentified_table(rows) -> list:
    lines = ["| fraction | n | forecast says not identified | median interval width "
             "| constrained alternative inside the interval |", "|---|---|---|---|---|"]
    for f, s in summarize_unidentified(rows).items():
        lines.append(f"| {f:g} | {s['n']} | {s['n_not_identified']} | {_f(s['median_width'])} "
                     f"| {s['n_constrained_covered']}/{s['n_constrained']} |")
    return lines


def _branch_table(rows, fraction, has_baseline) -> list:
    head = "| scene | SFT step | A_post full window | forecast | interval | identified | error | covered |"
    sep = "|---|---|---|---|---|---|---|---|"
    if has_baseline:
        head += " baseline | baseline interval |"
        sep += "---|---|"
    lines = [head, sep]
    for r in rows:
        if r["fraction"] != fraction:
            continue
        if r["full_identified"]:
            full, err, cov = _f(r["A_post_full"]), _f(r["error"]), ("yes" if r["covered"] else "no")
        else:  # no reference ceiling: show the constrained alternative, no error
            alt = r.get("A_post_full_constrained")
            full = f"not identified{'' if alt is None else '; constrained ' + _f(alt)}"
            err = cov = "-"
        iv = r["A_post_interval"]
        line = (f"| {r['scene']} | {r['sft_step']} | {full} | {_f(r['A_post_forecast'])} | [{_f(iv[0])}, {_f(iv[1])}] "
                f"| {'yes' if r['identified'] else 'no: ' + ', '.join(r['identification_reasons'])} "
                f"| {err} | {cov} |")
        if has_baseline:
            biv = r.get("baseline_A_post_interval")
            line += (f" {_f(r.get('baseline_A_post'))} | "
                     f"{'-' if not biv else '[' + _f(biv[0]) + ', ' + _f(biv[1]) + ']'} |")
        lines.append(line)
    return lines


def plot_errors(rows, path, has_baseline: bool):
    """|error| against fraction: one grey line per branch, the median in bold (forecast and baseline)."""
    plt = pyplot()

    rows = [r for r in rows if r["full_identified"] and r["error"] is not None]
    fracs = sorted({r["fraction"] for r in rows})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    keys = sorted({(r["scene"], r["sft_step"]) for r in rows})
    for k in keys:
        pts = sorted((r["fraction"], abs(r["error"])) for r in rows if (r["scene"], r["sft_step"]) == k)
        ax.plot(*zip(*pts), color="0.8", lw=0.8, marker=".", ms=3)
    med = [np.median([abs(r["error"]) for r in rows if r["fraction"] == f]) for f in fracs]
    ax.plot(fracs, med, color="C0", lw=2.5, marker="o", label="forecast: median |error|")
    if has_baseline:
        b = [np.median([abs(r["baseline_error"]) for r in rows if r["fraction"] == f
                        and r.get("baseline_error") is not None]) for f in fracs]
        ax.plot(fracs, b, color="C3", lw=2, ls="--", marker="s", label="prefix refit: median |error|")
    ax.axhline(FAR_OFF, color="C1", ls=":", lw=1, label=f"{FAR_OFF:g} points")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel("fraction of the branch's RL compute seen")
    ax.set_ylabel("|A_post forecast - full-window fit| (points)")
    ax.set_title(f"Forecast error on {len(keys)} identified branches (grey: one branch)")
    ax.legend(fontsize=8)
    save(fig, path)


def write_backtest(rows: Sequence[dict], out_dir, *, command: str = "", seconds: Optional[float] = None,
                   notes: Sequence[str] = (), plot: bool = True) -> Dict[str, str]:
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "backtest.json").write_text(json.dumps(list(rows), indent=1))
    has_baseline = any("baseline_A_post" in r for r in rows)
    md = ["# Ceiling forecast backtest", ""]
    if command:
        md += [f"Command: `{command}`", ""]
    if seconds is not None:
        t = [r["seconds"] for r in rows]
        md += [f"{len(rows)} forecasts; whole run {seconds:.1f} s (reference fits and baseline included), "
               f"forecasts alone {sum(t):.1f} s: median {np.median(t):.3f} s, max {max(t):.3f} s per call.", ""]
    md += ["Error = forecast A_post minus the full-window fit's A_post; covered = the full-window A_post lies "
           "in the forecast interval. Baseline = launch.fit's robust fit (the given settings) refitted on "
           "the prefix.", "",
           "## Branches whose full-window fit is identified", ""] + _summary_table(rows, "identified", has_baseline)
    md += ["", "## Branches the full window does not identify", "",
           "No reference ceiling exists here (the full window's constrained fit, C_mid capped at the data, "
           "is a labelled alternative, not a ceiling), so there is no error to report; what matters is "
           "that the forecast says so.", ""]
    md += _unidentified_table(rows) + [""]
    if plot:
        plot_errors(rows, out / "backtest_error.png", has_baseline)
        md += ["![|error| against fraction](backtest_error.png)", ""]
    for f in sorted({r["fraction"] for r in rows}):
        md += [f"## Per branch at f = {f:g}", ""] + _branch_table(rows, f, has_baseline) + [""]
    md += list(notes)
    (out / "backtest.md").write_text("\n".join(md) + "\n")
    return {"json": str(out / "backtest.json"), "md": str(out / "backtest.md")}
