"""Converts a Hugging Face model directory to a jaxpt (orbax) checkpoint, or back.

    python -m launch.convert --src=path/to/hf_dir --dst=ckpt/ --to=jaxpt
    python -m launch.convert --src=ckpt/ --dst=hf_out/ --to=hf [--dtype=bfloat16]
"""
from absl import app, flags, logging

from launch import common

flags.DEFINE_string("src", None, "Source: an HF directory or a jaxpt checkpoint directory.", required=True)
flags.DEFINE_string("dst", None, "Destination directory.", required=True)
flags.DEFINE_enum("to", "jaxpt", ["jaxpt", "hf"], "Output format.")
flags.DEFINE_string("dtype", None, "Parameter dtype of the output (float32, bfloat16); default: the source's.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    common.start()
    from jaxpt.models.checkpoint import load_model, save_model

    model = load_model(FLAGS.src, dtype=FLAGS.dtype)
    logging.info("loaded %s: %s, %d parameters", FLAGS.src, model.config.family, model.num_params)
    if FLAGS.to == "jaxpt":
        out = save_model(model, FLAGS.dst)
    else:
        out = model.save_pretrained(FLAGS.dst, dtype=FLAGS.dtype)
    print(f"wrote {FLAGS.to} checkpoint to {out}")


if __name__ == "__main__":
    app.run(main)
