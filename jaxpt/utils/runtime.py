"""Process-level JAX set-up shared by launch scripts, tests and benches.

Kept free of a top-level `import jax` so callers can set XLA_FLAGS first.
"""
import os
import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def cache_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("JAXPT_CACHE_DIR", REPO_ROOT / ".cache"))


def shared_dir() -> pathlib.Path:
    """Where the benchmark/training data and docs live (`../shared` beside the checkout by default)."""
    return pathlib.Path(os.environ.get("JAXPT_SHARED_DIR", REPO_ROOT.parent / "shared"))


def enable_compile_cache(path=None) -> None:
    """Turns on XLA's persistent compile cache: a second process reuses compiled programs."""
    import jax

    path = pathlib.Path(path or cache_dir() / "xla")
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def force_host_devices(n: int) -> None:
    """Asks XLA for `n` CPU devices. Only effective before jax is first imported."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()
