"""Imported once by the fork server (see ``pool.py``): loads sympy and math-verify and warms the
LaTeX parser, so each worker forked from it starts ready in milliseconds."""
from jaxpt.rewards import symbolic

symbolic.warm_up()
