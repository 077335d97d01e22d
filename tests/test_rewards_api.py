"""The public API: verify / verify_batch / reward_fn / shared verifiers, and a cheap import."""
import os
import subprocess
import sys

import numpy as np

import jaxpt.rewards as rewards
from jaxpt.utils.runtime import REPO_ROOT


def test_import_is_cheap_and_the_fast_path_never_touches_sympy():
    code = (
        "import sys\n"
        "import jaxpt.rewards as R\n"
        "heavy = [m for m in ('jax', 'sympy', 'math_verify', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "v = R.Verifier(workers=1)\n"
        "outs = ['18', '\\\\frac{1}{2}', '0.5', '-3', '1,000', '2\\\\frac{1}{2}', '\\\\boxed{7}', '50\\\\%', '1e-7']\n"
        "golds = ['18', '1/2', '\\\\frac{1}{2}', '3', '1000', '2.5', '7', '0.5', '2e-7']\n"
        "assert v.verify_batch(outs, golds) == [True, True, True, False, True, True, True, True, False]\n"
        "assert v.stats['fast_path'] == 9 and v.stats['symbolic_calls'] == 0\n"
        "assert v._pool is None, 'no worker was started'\n"
        "assert 'sympy' not in sys.modules and 'jax' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=REPO_ROOT)


def test_module_level_functions():
    assert rewards.verify("so the answer is \\boxed{\\frac12}.", "0.5") is True
    assert rewards.verify("The answer is 3.", "4") is False
    out, stats = rewards.verify_batch(["(x+1)^2", "17"], ["x^2+2x+1", "17"], timeout_s=20, return_stats=True)
    assert out == [True, True]
    assert set(rewards.STAT_KEYS) <= set(stats)
    assert rewards.get_verifier() is rewards.get_verifier()


def test_reward_fn_is_strict_by_default():
    r = rewards.reward_fn(["The answer is 5.", "so \\boxed{5}", "\\boxed{6}"], ["5", "5", "5"])
    assert r.dtype == np.float32
    assert r.tolist() == [0.0, 1.0, 0.0]
    lenient = rewards.reward_fn(["The answer is 5."], ["5"], strict=False)
    assert lenient.tolist() == [1.0]


def test_non_string_inputs_score_false_not_raise():
    assert rewards.verify(None, "5") is False
    assert rewards.verify("5", None) is False
    assert rewards.verify(b"\\boxed{5}", "5") is True
    assert rewards.verify(5, 5.0) is True
    assert rewards.verify_batch([], []) == []


def test_shutdown_then_reuse():
    rewards.verify("(a+b)^2", "a^2+2ab+b^2")
    rewards.shutdown()
    assert rewards.verify("(a+b)^2", "a^2+2ab+b^2") is True


def test_workers_do_not_rerun_an_unguarded_main_script(tmp_path):
    """Workers run only importable code: a training script without a main guard (and its jax
    import) is not re-executed in every worker, and does not recurse."""
    marker = tmp_path / "runs.txt"
    script = tmp_path / "train.py"
    script.write_text(
        "import jaxpt.rewards as R\n"
        f"open({str(marker)!r}, 'a').write('ran\\n')\n"
        "assert R.verify_batch(['\\\\sqrt{8}', '\\\\sin^2 x+\\\\cos^2 x'], ['2\\\\sqrt{2}', '1'], workers=2) == [True, True]\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, str(script)], check=True, timeout=120, env=env)
    assert marker.read_text().splitlines() == ["ran"]
