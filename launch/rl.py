"""RL (GRPO / DAPO / LUFFY / SRFT / UPT) from an SFT checkpoint, a Hugging Face directory or a preset.

    python -m launch.rl --config=configs/rl_tiny.py --init=runs/sft/best_model
    python -m launch.rl --config=configs/rl_tiny.py --init=... --config.rl.algorithm=dapo_dc --config.rl.total_steps=20
    python -m launch.rl --config=configs/rl_qwen25_7b_dapo.py --init=/ckpt/qwen25-7b-sft --config.workdir=runs/dapo
Resume an interrupted run with --resume (same workdir).
"""
from absl import app, flags, logging
from ml_collections import config_flags

from launch import common

_CONFIG = config_flags.DEFINE_config_file("config", None, "RL config file (get_config() -> jaxpt.config.rl_config "
                                          "tree).", lock_config=False)
flags.DEFINE_string("init", None, "Initial policy: a jaxpt model checkpoint (e.g. runs/sft/best_model), an HF "
                    "directory or a preset; = --config.model.init_from.")
flags.DEFINE_string("workdir", None, "= --config.workdir.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    common.start()
    from jaxpt.rl.learner import run_rl

    value = _CONFIG.value
    if value is not None and FLAGS.init:
        value.model.init_from = FLAGS.init
    if value is not None and FLAGS.workdir:
        value.workdir = FLAGS.workdir
    result = run_rl(common.config(value, "rl"))
    for step, rl_flops, acc in result.history:
        logging.info("eval step %d: accuracy %.4f at %.4g RL FLOPs", step, acc, rl_flops)
    print(f"RL done: {result.final_step} steps, {result.rl_flops:.4g} RL FLOPs; history (step, flops, accuracy): "
          f"{result.history}; final model: {result.final_model_dir}")


if __name__ == "__main__":
    common.add_config_help("rl")
    app.run(main, flags_parser=common.parse_flags)
