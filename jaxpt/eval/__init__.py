"""Evaluation on the six math benchmarks or any {question, answer} records (see evaluate.py)."""
from jaxpt.eval.benchmarks import BENCHMARKS, load_benchmark, load_records  # noqa: F401
from jaxpt.eval.evaluate import EvalResult, evaluate, evaluate_benchmarks  # noqa: F401
from jaxpt.eval.metrics import benchmark_metrics, majority_correct, overall_metrics, pass_at_k  # noqa: F401
from jaxpt.eval.prompts import make_prompt_fn  # noqa: F401
from jaxpt.eval.report import markdown_table, write_results  # noqa: F401
