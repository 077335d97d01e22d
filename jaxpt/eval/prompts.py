"""Evaluation prompts: question -> prompt token ids.

Default: the question followed by the step-by-step instruction asking for a \\boxed{} answer, rendered through
the tokenizer's chat template when it has one (via jaxpt.data.formatting, the same code SFT and RL use, so
a model sees the prompt format it was trained on). Callers with their own format pass any
`prompt_fn(question) -> list[int]` to `evaluate`.
"""
from typing import Callable, List, Optional

DEFAULT_TEMPLATE = "{question}\nPlease reason step by step, and put your final answer within \\boxed{{}}."

PromptFn = Callable[[str], List[int]]


def make_prompt_fn(tokenizer, template: Optional[str] = DEFAULT_TEMPLATE, system_prompt: Optional[str] = None,
                   chat_template: str = "auto", plain_template: Optional[str] = None) -> PromptFn:
    """`template` wraps the question ("{question}" placeholder; None = the bare question). chat_template is
    "auto" (use the tokenizer's when present), "always" or "never"; without one the text goes through
    `plain_template` (default jaxpt.data.formatting's "Question: ...\\nAnswer: ")."""
    from jaxpt.data.formatting import PromptFormat, encode_prompts

    kw = {"plain_template": plain_template} if plain_template is not None else {}
    fmt = PromptFormat(system_prompt=system_prompt, chat_template=chat_template, **kw)

    def prompt_fn(question: str) -> List[int]:
        text = template.format(question=question) if template else question
        return list(encode_prompts(tokenizer, [text], fmt)[0])

    return prompt_fn
