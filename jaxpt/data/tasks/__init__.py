"""Data sets generated in code (no downloads). `toy`: the embedded arithmetic task of `make run`."""
