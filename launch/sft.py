"""SFT launcher: python -m launch.sft --config=configs/sft_tiny.py [--config.train.total_steps=300 ...]

Multi-host (jax.distributed): --coordinator_address=HOST:PORT --num_processes=N --process_id=I on every
process (or --coordinator_address=auto on TPU pods / SLURM).
"""
from absl import app, flags, logging
from ml_collections import config_flags

from launch import common

config_flags.DEFINE_config_file("config", None, "Python file whose get_config() returns the SFT ConfigDict.",
                                lock_config=False)
flags.DEFINE_bool("resume", False, "Continue from the latest checkpoint in the workdir (= checkpoint.resume).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    common.start()
    from jaxpt.train.sft_loop import run_sft

    config = FLAGS.config
    if config is None:
        raise app.UsageError("--config=configs/<name>.py is required")
    if FLAGS.resume:
        config.checkpoint.resume = True
    result = run_sft(config)
    logging.info("done: step %d, best val loss %.4f at step %s, best model %s", result.final_step,
                 result.best_val_loss, result.best_step, result.best_model_dir)
    print(f"final step {result.final_step}; best val loss {result.best_val_loss:.4f} at step {result.best_step}; "
          f"best model: {result.best_model_dir}")


if __name__ == "__main__":
    app.run(main)
