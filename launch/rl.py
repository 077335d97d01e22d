"""RL (GRPO / DAPO / LUFFY / SRFT / UPT) from an SFT checkpoint or a Hugging Face directory.

    python -m launch.rl --config=configs/rl_tiny.py --init=runs/sft/best_model
    python -m launch.rl --config=configs/rl_tiny.py --init=... --config.rl.algorithm=dapo_dc --config.rl.total_steps=20
    python -m launch.rl --config=configs/rl_qwen25_7b_dapo.py --init=/ckpt/qwen25-7b-sft --config.workdir=runs/dapo
Resume an interrupted run with --config.checkpoint.resume=True (same workdir).
"""
from absl import app, flags, logging
from ml_collections import config_flags

from launch import common

config_flags.DEFINE_config_file("config", None, "RL config file (get_config() -> ConfigDict).", lock_config=False)
flags.DEFINE_string("init", None, "Initial policy: a jaxpt model checkpoint (e.g. runs/sft/best_model) or an HF "
                    "directory; overrides config.model.init_from.")
flags.DEFINE_string("workdir", None, "Overrides config.workdir.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    common.start()
    from jaxpt.rl.rl_loop import run_rl

    cfg = FLAGS.config
    if FLAGS.init:
        cfg.model.init_from = FLAGS.init
    if FLAGS.workdir:
        cfg.workdir = FLAGS.workdir
    if not cfg.model.init_from:
        raise app.UsageError("give the initial policy with --init (or config.model.init_from)")
    result = run_rl(cfg)
    for step, rl_flops, acc in result.history:
        logging.info("eval step %d: accuracy %.4f at %.4g RL FLOPs", step, acc, rl_flops)
    print(f"RL done: {result.final_step} steps, {result.rl_flops:.4g} RL FLOPs; history (step, flops, accuracy): "
          f"{result.history}; final model: {result.final_model_dir}")


if __name__ == "__main__":
    flags.mark_flag_as_required("config")
    app.run(main)
