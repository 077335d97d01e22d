"""Two CPU processes on localhost run one computation sharded across both through jax.distributed."""
import json
import os
import pathlib
import socket
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_share_one_sharded_computation():
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    procs = [subprocess.Popen([sys.executable, "-m", "tests.helpers.dist_worker", str(port), str(i)],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=240)
            assert p.returncode == 0, err[-3000:]
            outs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert {o["process"] for o in outs} == {0, 1}
    assert all(o["devices"] == 4 for o in outs)
    # Both processes see the same global value, and it equals the single-device computation.
    assert abs(outs[0]["loss"] - outs[1]["loss"]) == 0.0
    for o in outs:
        assert abs(o["loss"] - o["ref"]) <= 1e-5
