"""jaxpt: a JAX post-training stack (SFT then RL) for LLM math reasoning."""
import pathlib

from setuptools import find_packages, setup

here = pathlib.Path(__file__).parent
reqs = [
    line.strip()
    for line in (here / "requirements.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]

setup(
    name="jaxpt",
    version="0.1.0",
    description="JAX post-training (SFT then RL) for math reasoning: the plasticity-ceiling framework",
    packages=find_packages(include=["jaxpt", "jaxpt.*", "launch", "configs", "bench"]),
    python_requires=">=3.10",
    install_requires=reqs,
    extras_require={"test": ["pytest", "torch==2.13.0", "accelerate", "gguf"]},
)
