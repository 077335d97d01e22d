"""In-graph sampling: `sample` (pure, on a params pytree) and `generate` (on a Model, Python lists in)."""
from jaxpt.sample.core import decode, prefill, sample  # noqa: F401
from jaxpt.sample.sampler import SampleOutput, generate  # noqa: F401
from jaxpt.sample.settings import SampleSettings  # noqa: F401
from jaxpt.sample.state import SampleState  # noqa: F401
