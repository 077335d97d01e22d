"""Test set-up: 8 host devices for sharding tests (set before jax is imported) and the compile cache."""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "jax" in sys.modules:  # pragma: no cover - would silently give 1 device
    raise RuntimeError("jax was imported before tests/conftest.py could set XLA_FLAGS")

from jaxpt.utils import runtime  # noqa: E402  (no jax import inside)

runtime.force_host_devices(8)
runtime.enable_compile_cache()

import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running end-to-end test")


@pytest.fixture(scope="session")
def shared_dir():
    path = runtime.shared_dir()
    if not (path / "data").is_dir():
        pytest.fail(f"shared data not found at {path} (set JAXPT_SHARED_DIR)")
    return path
