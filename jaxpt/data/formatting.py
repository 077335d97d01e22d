"""Prompt/response formatting and tokenization with a loss mask on response tokens only.

One function family formats prompts for every stage (SFT here; the sampler, eval and RL call
`encode_prompt`), so a model always sees at inference exactly the prompt tokens it was trained on.

With a chat template (Qwen2.5 `<|im_start|>` turns, Llama 3 headers, the toy template): the prompt is the
template rendered with add_generation_prompt=True and the response is what the full conversation adds after
it. Prompt and response are tokenized *separately* and concatenated, which is what generation sees (the
model continues the prompt ids). Without a template: `plain_template.format(question=...)` then the solution.
The response ends at its last stop token (e.g. `<|im_end|>`, whose trailing newline is dropped); a response
without one gets the tokenizer's EOS appended, so the model always learns to stop.
"""
import dataclasses
import logging
from typing import List, Optional, Sequence, Tuple

import numpy as np

from jaxpt.data.tokenizer import stop_token_ids


@dataclasses.dataclass(frozen=True)
class PromptFormat:
    """How a question becomes a prompt, for every stage (the config's `prompt` section).

    template: the user turn, "{question}" replaced by the question (plain replacement: braces such as
    \\boxed{} need no escaping). With a chat template the user turn goes into the conversation (after the
    system prompt, if any); without one, into `plain_template`.
    """
    system_prompt: Optional[str] = None
    plain_template: str = "Question: {question}\nAnswer: "
    chat_template: str = "auto"  # "auto" (use it when the tokenizer has one), "always" or "never"
    template: str = "{question}"

    @classmethod
    def from_config(cls, cfg) -> "PromptFormat":
        """From a `prompt` section (or any mapping with those keys)."""
        get = cfg.get if hasattr(cfg, "get") else (lambda k, d=None: getattr(cfg, k, d))
        return cls(system_prompt=get("system_prompt", None) or None,
                   plain_template=get("plain_template", cls.plain_template),
                   chat_template=get("chat_template", "auto"), template=get("template", None) or "{question}")

    def user_turn(self, question: str) -> str:
        return self.template.replace("{question}", question)

    def describe(self, tokenizer=None) -> str:
        """One line for reports: which template and instruction the prompts were built with."""
        chat = "the tokenizer's chat template" if tokenizer is not None and uses_chat_template(tokenizer, self) \
            else f"plain template {self.plain_template!r}"
        system = f", system prompt {self.system_prompt!r}" if self.system_prompt else ""
        return f"{chat}{system}, user turn {self.template!r}"


def uses_chat_template(tokenizer, fmt: PromptFormat) -> bool:
    has = bool(getattr(tokenizer, "chat_template", None))
    if fmt.chat_template == "always" and not has:
        raise ValueError("chat_template='always' but the tokenizer has no chat template")
    if fmt.chat_template not in ("auto", "always", "never"):
        raise ValueError(f"chat_template must be auto, always or never, got {fmt.chat_template!r}")
    return has and fmt.chat_template != "never"


def _messages(question: str, fmt: PromptFormat) -> list:
    msgs = [{"role": "system", "content": fmt.system_prompt}] if fmt.system_prompt else []
    return msgs + [{"role": "user", "content": fmt.user_turn(question)}]


def prompt_text(tokenizer, question: str, fmt: PromptFormat = PromptFormat()) -> str:
    if uses_chat_template(tokenizer, fmt):
        return tokenizer.apply_chat_template(_messages(question, fmt), tokenize=False,
                                             add_generation_prompt=True)
    head = f"{fmt.system_prompt}\n" if fmt.system_prompt else ""
    return head + fmt.plain_template.replace("{question}", fmt.user_turn(question))


def response_text(tokenizer, question: str, solution: str, fmt: PromptFormat = PromptFormat()) -> str:
    """What the formatted conversation adds after the prompt (the text the model is trained to produce)."""
    if not uses_chat_template(tokenizer, fmt):
        return solution
    prompt = prompt_text(tokenizer, question, fmt)
    full = tokenizer.apply_chat_template(_messages(question, fmt) + [{"role": "assistant", "content": solution}],
                                         tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("the chat template does not render the generation prompt as a prefix of the "
                         "conversation; cannot separate prompt and response")
    return full[len(prompt):]


def _encode_many(tokenizer, texts: Sequence[str], special: bool) -> List[List[int]]:
    if not texts:
        return []
    return list(tokenizer(list(texts), add_special_tokens=special)["input_ids"])


def encode_prompts(tokenizer, questions: Sequence[str], fmt: PromptFormat = PromptFormat()) -> List[List[int]]:
    """Prompt token ids for generation (sampler, eval, RL)."""
    chat = uses_chat_template(tokenizer, fmt)
    # Chat templates write BOS-like tokens themselves; a plain prompt gets the tokenizer's own specials.
    return _encode_many(tokenizer, [prompt_text(tokenizer, q, fmt) for q in questions], special=not chat)


def encode_prompt(tokenizer, question: str, fmt: PromptFormat = PromptFormat()) -> List[int]:
    return encode_prompts(tokenizer, [question], fmt)[0]


def _finish_response(ids: List[int], stops: set, eos_id: Optional[int]) -> List[int]:
    last = max((i for i, t in enumerate(ids) if t in stops), default=-1)
    if last >= 0:
        return ids[:last + 1]  # drop template text after the end-of-turn token (e.g. "\n")
    if eos_id is None:
        raise ValueError("the response has no stop token and the tokenizer has no eos_token")
    return ids + [eos_id]


def encode_examples(tokenizer, questions: Sequence[str], solutions: Sequence[str],
                    fmt: PromptFormat = PromptFormat(), extra_stop_ids=()) -> List[Tuple[np.ndarray, np.ndarray]]:
    """[(ids int32 [L], loss_mask bool [L])]: mask is True on response tokens (loss on those only)."""
    prompts = encode_prompts(tokenizer, questions, fmt)
    responses = _encode_many(tokenizer, [response_text(tokenizer, q, s, fmt)
                                         for q, s in zip(questions, solutions)], special=False)
    stops = set(stop_token_ids(tokenizer, extra_stop_ids))
    eos = tokenizer.eos_token_id
    out = []
    for p, r in zip(prompts, responses):
        r = _finish_response(list(r), stops, eos)
        ids = np.asarray(list(p) + r, np.int32)
        mask = np.zeros(len(ids), bool)
        mask[len(p):] = True
        out.append((ids, mask))
    return out


def encode_example(tokenizer, question: str, solution: str, fmt: PromptFormat = PromptFormat(),
                   extra_stop_ids=()) -> Tuple[np.ndarray, np.ndarray]:
    return encode_examples(tokenizer, [question], [solution], fmt, extra_stop_ids)[0]


def check_prompt_format(tokenizer, fmt: PromptFormat, example: str = "1+2=?") -> None:
    """Fails when the prompt format itself has text the tokenizer cannot encode (it would become <unk> in
    every prompt), e.g. an English instruction with the toy task's character tokenizer."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:
        return
    ids = encode_prompt(tokenizer, example, fmt)
    if unk in ids:
        bad = sorted({ch for ch in prompt_text(tokenizer, example, fmt) if tokenizer.convert_tokens_to_ids(ch) == unk})
        raise ValueError(f"prompt.template / system_prompt: the tokenizer cannot encode {''.join(bad)[:40]!r} (they "
                         f"become {tokenizer.unk_token}); with the toy task use prompt.template='{{question}}'")


def unknown_token_report(tokenizer, ids_list, texts: Sequence[str], what: str, where=None) -> int:
    """Number of tokenized examples holding the tokenizer's <unk> (text it cannot encode, e.g. letters outside
    the toy task's alphabet), with a warning naming the characters and the first places (`where(i)` -> a
    "file:line" or None); 0 for tokenizers without <unk>."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:
        return 0
    hits = [i for i, ids in enumerate(ids_list) if np.any(np.asarray(ids) == unk)]
    if hits:
        chars = sorted({ch for i in hits[:100] for ch in texts[i] if tokenizer.convert_tokens_to_ids(ch) == unk})
        shown = f" ({''.join(chars)[:40]!r})" if chars else ""
        places = [p for p in ((where(i) if where else None) for i in hits[:3]) if p]
        logging.warning("%s: %d of %d examples hold characters the tokenizer cannot encode%s; they become %s%s",
                        what, len(hits), len(ids_list), shown, tokenizer.unk_token,
                        f"; first at {', '.join(places)}" if places else "")
    return len(hits)
