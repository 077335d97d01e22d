"""Flags and start-up shared by every launch script: multi-host set-up, compile cache, logging."""
from absl import flags, logging

flags.DEFINE_string("coordinator_address", None,
                    "host:port of process 0 for jax.distributed (multi-host); 'auto' on TPU pods / SLURM.")
flags.DEFINE_integer("num_processes", None, "Total number of processes (jax.distributed).")
flags.DEFINE_integer("process_id", None, "Index of this process (jax.distributed).")

FLAGS = flags.FLAGS


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
