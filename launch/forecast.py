"""Backtests the online ceiling forecast on finished curves (issue 18, part 2).

  python -m launch.forecast --curves=curves.csv [--settings=fit_settings.json] --out=DIR

For every RL branch and fraction f, forecasts A_post from the points with x <= f * (largest x of the
branch) and compares it with the full-window fit (`launch.fit`'s, with the settings file when given).
Each branch's prior comes from the other branches' full-window fits (leave-one-out).
Writes DIR/backtest.json, DIR/backtest.md and DIR/backtest_error.png.
"""
import dataclasses
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("curves", None, "curves CSV (file,phase,branch_sft_step,x_eflops,overall,<benchmarks>)")
flags.DEFINE_string("settings", None, "per-branch fit settings JSON for the full-window reference fits")
flags.DEFINE_string("out", None, "output directory")
flags.DEFINE_list("fractions", ["0.25", "0.5", "0.75"], "fractions of each branch's RL compute")
flags.DEFINE_float("level", 0.95, "interval level")
flags.DEFINE_bool("baseline", True, "also refit launch.fit's robust fit on each prefix (the baseline)")
flags.DEFINE_list("branches", None, "forecast only these branches, e.g. general:14080 (priors still use all)")
flags.DEFINE_bool("plots", True, "write the error plot")
flags.mark_flags_as_required(["curves", "out"])


def prefix_refit_baseline(curves, settings_json):
    """The baseline of issue 18: today's full-window fitter (authors' settings) run on the prefix."""
    from jaxpt.analysis.ceilings import analyze_branch
    from jaxpt.analysis.curves import build_branch, read_curves
    from jaxpt.analysis.settings import FitSettings, load_fit_settings

    table = read_curves(curves)
    given = load_fit_settings(settings_json) if settings_json else {}

    def run(fit, mask):
        try:
            br = build_branch(table, fit["scene"], fit["sft_step"], fit.get("sft_scene"))
            br = dataclasses.replace(br, x=br.x[mask], y=br.y[mask])
            res = analyze_branch(br, given.get((fit["scene"], fit["sft_step"]), FitSettings()))
        except Exception as err:  # noqa: BLE001 - a failed baseline fit is a result, not a crash
            return {"baseline_A_post": None, "baseline_error_message": f"{type(err).__name__}: {err}"}
        a, iv, ref = res["A_post"], res.get("A_post_interval"), fit["A_post"]
        return {"baseline_A_post": a, "baseline_A_post_interval": iv, "baseline_identified": res["identified"],
                "baseline_error": None if a is None or ref is None else round(a - ref, 4),
                "baseline_covered": None if not iv or ref is None or iv[0] is None else bool(iv[0] <= ref <= iv[1])}
    return run


def main(argv):
    del argv
    from jaxpt.analysis.ceilings import fit_curves
    from jaxpt.analysis.forecast_backtest import backtest
    from jaxpt.analysis.forecast_report import write_backtest

    t0 = time.time()
    fits = fit_curves(FLAGS.curves, FLAGS.settings)
    targets = None
    if FLAGS.branches:
        want = {(s, int(k)) for s, _, k in (b.rpartition(":") for b in FLAGS.branches)}
        targets = [r for r in fits if (r["scene"], r["sft_step"]) in want]
    baseline = prefix_refit_baseline(FLAGS.curves, FLAGS.settings) if FLAGS.baseline else None
    fractions = tuple(float(f) for f in FLAGS.fractions)
    rows = backtest(fits, fractions, FLAGS.level, baseline_fn=baseline, progress=True, targets=targets)
    seconds = time.time() - t0
    command = "python -m launch.forecast " + " ".join(sys.argv[1:])
    paths = write_backtest(rows, FLAGS.out, command=command, seconds=seconds, plot=FLAGS.plots)
    print(f"{len(rows)} forecasts in {seconds:.1f}s -> {paths['json']}, {paths['md']}")


if __name__ == "__main__":
    app.run(main)
