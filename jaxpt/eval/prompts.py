"""Evaluation prompts: question -> prompt token ids, built by the one prompt format every stage uses
(jaxpt.data.formatting.PromptFormat), so a model is evaluated on the prompts it was trained on.

Default: the question followed by the step-by-step instruction asking for a \\boxed{} answer (the `prompt`
section's default), rendered through the tokenizer's chat template when it has one.
"""
from typing import Callable, List, Optional

from jaxpt.config.sections import STEP_BY_STEP

DEFAULT_TEMPLATE = STEP_BY_STEP

PromptFn = Callable[[str], List[int]]


def make_prompt_fn(tokenizer, template: Optional[str] = DEFAULT_TEMPLATE, system_prompt: Optional[str] = None,
                   chat_template: str = "auto", plain_template: Optional[str] = None, fmt=None) -> PromptFn:
    """`fmt` (a PromptFormat) wins over the other arguments. `template` is the user turn ("{question}" is
    replaced; None = the bare question); chat_template is "auto", "always" or "never"."""
    from jaxpt.data.formatting import PromptFormat, encode_prompts

    if fmt is None:
        kw = {"plain_template": plain_template} if plain_template is not None else {}
        fmt = PromptFormat(system_prompt=system_prompt, chat_template=chat_template, template=template or "{question}",
                           **kw)

    def prompt_fn(question: str) -> List[int]:
        return list(encode_prompts(tokenizer, [question], fmt)[0])

    return prompt_fn
