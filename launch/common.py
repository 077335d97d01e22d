"""Flags and start-up shared by every launch script: multi-host set-up, compile cache, logging, the config
(merged over the stage's defaults, validated, --resume applied) and a --help that lists the main keys."""
import sys

from absl import flags, logging

flags.DEFINE_string("coordinator_address", None,
                    "host:port of process 0 for jax.distributed (multi-host); 'auto' on TPU pods / SLURM.")
flags.DEFINE_integer("num_processes", None, "Total number of processes (jax.distributed).")
flags.DEFINE_integer("process_id", None, "Index of this process (jax.distributed).")
flags.DEFINE_bool("resume", False, "Continue from the latest checkpoints in the work directory "
                  "(= --config.checkpoint.resume=True).")

FLAGS = flags.FLAGS

MAIN_SECTIONS = {"sft": ("model", "tokenizer", "data", "prompt", "optim", "sft", "eval", "mesh", "guard", "workdir"),
                 "rl": ("model", "tokenizer", "data", "prompt", "optim", "rl", "eval", "mesh", "guard", "workdir"),
                 "pipeline": ("name", "out_dir", "model", "tokenizer", "data", "prompt", "schedule", "eval", "optim",
                              "sft", "rl", "mesh", "guard")}


def add_config_help(kind: str) -> None:
    """Appends the main config keys, their defaults and meanings to the launch script's --help."""
    from jaxpt.config import pipeline_config, rl_config, sft_config
    from jaxpt.config.schema import help_text

    tree = {"sft": sft_config, "rl": rl_config, "pipeline": pipeline_config}[kind]()
    main = sys.modules["__main__"]
    main.__doc__ = (main.__doc__ or "") + (
        "\nConfig keys (--config.<key>=<value>; defaults shown, a config file may change them):\n"
        + help_text(tree, MAIN_SECTIONS[kind]) + "\n")


def parse_flags(argv):
    """absl's flag parsing, except that a --config.<key>=... naming no key fails with its dotted path and the
    nearest known key (ml_collections would raise a bare AttributeError from deep inside)."""
    try:
        return FLAGS(argv)
    except (AttributeError, KeyError, TypeError, ValueError, flags.Error):
        message = _bad_override(argv)
        if message is None:
            raise
        sys.stderr.write(f"FATAL Flags parsing error: {message}\n")
        sys.exit(1)


def _bad_override(argv):
    """The message for the first --config.<path> override that names no key of the config file's tree."""
    import importlib.util

    from jaxpt.config.merge import unknown_key_message

    path = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    if path is None:
        return None
    spec = importlib.util.spec_from_file_location("_launched_config", path.split(":")[0])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    tree = mod.get_config()
    for arg in argv:
        if not arg.startswith("--config."):
            continue
        key = arg[len("--config."):].split("=", 1)[0]
        node = tree
        for part in key.split("."):
            if not hasattr(node, "keys") or part not in node:
                return unknown_key_message(key, tree)
            node = node[part]
    return None


def start() -> None:
    """Call first in main(): jax.distributed (when asked), then the persistent compile cache."""
    from jaxpt.parallel.mesh import initialize_distributed
    from jaxpt.utils.runtime import enable_compile_cache

    initialize_distributed(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
    enable_compile_cache()
    # absl's default verbosity is INFO, and orbax logs every save at INFO: keep the console to the progress
    # bars and stage lines (printed) unless --verbosity is given (--verbosity=0 shows everything).
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)


def config(value, kind: str):
    """The --config tree of a `kind` ("sft", "rl" or "pipeline") script: merged over that tree's defaults
    (unknown keys fail with the nearest known one), validated, with --resume applied."""
    from absl import app

    from jaxpt.config import merge, pipeline_config, rl_config, sft_config, validate

    if value is None:
        raise app.UsageError("--config=configs/<name>.py is required")
    base = {"sft": sft_config, "rl": rl_config, "pipeline": pipeline_config}[kind]()
    cfg = merge(base, value, f"{kind} config")
    if FLAGS.resume:
        cfg.checkpoint.resume = True
    return validate(cfg, kind)
