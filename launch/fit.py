"""Fits plasticity-ceiling sigmoids to every RL branch of a curves CSV and writes the report.

  python -m launch.fit --curves=curves.csv [--settings=fit_settings.json] --out=DIR

Writes DIR/ceilings.json, DIR/ceilings.md, one PNG per branch, and DIR/selection.json when the SFT
rows carry val_loss (trajectory selection: ranking by min validation loss vs best A_post).
"""
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("curves", None, "curves CSV (file,phase,branch_sft_step,x_eflops,overall,<benchmarks>[,val_loss])")
flags.DEFINE_string("settings", None, "per-branch fit settings JSON (fit_settings.json format)")
flags.DEFINE_string("out", None, "output directory")
flags.DEFINE_enum("search", "auto", ["auto", "on", "off"],
                  "settings search for branches without given settings (auto: on when --settings is absent)")
flags.DEFINE_enum("interval", "profile", ["profile", "bootstrap"], "how the 95% interval of U is computed")
flags.DEFINE_integer("n_boot", 200, "bootstrap resamples (with --interval=bootstrap)")
flags.DEFINE_integer("seed", 0, "seed of random LTS starts and bootstrap draws")
flags.DEFINE_integer("lts_random_starts", 0, "FAST-LTS random elemental starts added to LTS's deterministic "
                     "trial curves (0: section 2 as docs/algorithms.md reads; see jaxpt.analysis.fitting)")
flags.DEFINE_list("bench_counts", None, "problem counts per benchmark column, e.g. gsm8k=1319,math500=500")
flags.DEFINE_list("eflops_per_step", None, "SFT EFLOPs per step for scenes beyond the authors' five, e.g. mine=0.1")
flags.DEFINE_list("branches", None, "restrict to these branches, e.g. general:14080,easy102K:360")
flags.DEFINE_bool("plots", True, "write one PNG per branch")
flags.mark_flags_as_required(["curves", "out"])


def _kv(items, cast=float):
    if not items:
        return None
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep:
            raise app.UsageError(f"expected NAME=VALUE, got {item!r}")
        out[k.strip()] = cast(v)
    return out


def main(argv):
    del argv
    from jaxpt.analysis.ceilings import fit_curves, min_val_losses, trajectory_selection
    from jaxpt.analysis.report import write_report

    t0 = time.time()
    branches = None
    if FLAGS.branches:
        branches = []
        for b in FLAGS.branches:
            scene, _, step = b.rpartition(":")
            branches.append((scene, int(step)))
    search = {"auto": None, "on": True, "off": False}[FLAGS.search]
    counts = _kv(FLAGS.bench_counts)
    results = fit_curves(FLAGS.curves, FLAGS.settings, search=search, interval=FLAGS.interval,
                         n_boot=FLAGS.n_boot, seed=FLAGS.seed, bench_counts=counts,
                         eflops_per_step=_kv(FLAGS.eflops_per_step), branches=branches, progress=True,
                         lts_random_starts=FLAGS.lts_random_starts)
    selection = trajectory_selection(results, min_val_losses(FLAGS.curves, counts))
    t_fit = time.time() - t0
    paths = write_report(results, FLAGS.out, selection=selection, plots=FLAGS.plots)
    n_id = sum(r["identified"] for r in results)
    kinds = {k: sum(r["headline"] == k for r in results) for k in ("sigmoid", "constrained", "peak")}
    print(f"{len(results)} branches fitted in {t_fit:.1f}s, report in {time.time() - t0 - t_fit:.1f}s "
          f"({n_id} identified; headlines: {kinds['sigmoid']} sigmoid, {kinds['constrained']} constrained, "
          f"{kinds['peak']} peak) -> {paths['json']}, {paths['md']}")


if __name__ == "__main__":
    app.run(main)
