"""SFT launcher: python -m launch.sft --config=configs/sft_tiny.py [--config.sft.total_steps=300 ...] [--resume]

Multi-host (jax.distributed): --coordinator_address=HOST:PORT --num_processes=N --process_id=I on every
process (or --coordinator_address=auto on TPU pods / SLURM).
"""
from absl import app, logging
from ml_collections import config_flags

from launch import common

_CONFIG = config_flags.DEFINE_config_file("config", None, "Python file whose get_config() returns the SFT "
                                          "config (jaxpt.config.sft_config).", lock_config=False)


def main(argv):
    del argv
    common.start()
    from jaxpt.train.sft_loop import run_sft

    result = run_sft(common.config(_CONFIG.value, "sft"))
    logging.info("done: step %d, best val loss %.4f at step %s, best model %s", result.final_step,
                 result.best_val_loss, result.best_step, result.best_model_dir)
    print(f"final step {result.final_step}; best val loss {result.best_val_loss:.4f} at step {result.best_step}; "
          f"best model: {result.best_model_dir}")


if __name__ == "__main__":
    common.add_config_help("sft")
    app.run(main, flags_parser=common.parse_flags)
