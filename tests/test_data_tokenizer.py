"""Tokenizers: the offline Qwen2.5 rebuild (known ids, chat template) and the toy character tokenizer."""
from transformers import AutoTokenizer

from jaxpt.data.tasks import toy as toy_task
from jaxpt.data.formatting import encode_example, prompt_text
from jaxpt.data.tokenizer import load_tokenizer, qwen25_tokenizer_dir, stop_token_ids, toy_tokenizer_dir


def test_qwen25_known_ids():
    tok = load_tokenizer(qwen25_tokenizer_dir())
    text = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    assert tok.encode(text, add_special_tokens=False) == [151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13,
                                                          151645, 198]
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_end|>", "<|file_sep|>"]) == [151643, 151645, 151664]
    assert len(tok) == 151665
    assert tok.decode(tok.encode("Hello, world! 12345 \\boxed{x}", add_special_tokens=False)) == \
        "Hello, world! 12345 \\boxed{x}"
    assert 151645 in stop_token_ids(tok)


def test_qwen25_chat_template():
    tok = load_tokenizer("qwen2.5")
    p = prompt_text(tok, "What is 1+1?")
    assert p == ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
                 "<|im_end|>\n<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n")
    ids, mask = encode_example(tok, "What is 1+1?", "It is \\boxed{2}.")
    assert ids[-1] == 151645  # ends at <|im_end|>; the template's trailing newline is not trained
    assert tok.decode(ids[mask]) == "It is \\boxed{2}.<|im_end|>"


def test_toy_tokenizer_is_hf_loadable():
    d = toy_tokenizer_dir()
    tok = AutoTokenizer.from_pretrained(str(d))
    text = "19+17-9-19=?19+17=36,36-9=27;27-19=8,\\boxed{8}"
    ids = tok.encode(text, add_special_tokens=False)
    assert len(ids) == len(text)  # one token per character
    assert tok.decode(ids) == text
    assert tok.unk_token_id not in ids
    assert set(toy_task.CHARSET) <= set(tok.get_vocab())
    assert len(tok) < 40 and tok.pad_token_id == 0 and tok.eos_token_id == 1
    rendered = tok.apply_chat_template([{"role": "user", "content": "1+2=?"},
                                        {"role": "assistant", "content": "1+2=3,\\boxed{3}"}], tokenize=False)
    assert rendered == "1+2=?1+2=3,\\boxed{3}<eos>"


def test_llama3_style_headers():
    """Llama 3 header turns (template written here; no Llama tokenizer offline): the response is what the
    assistant turn adds, ending at <|eot_id|>, and the prompt ends with the assistant header."""
    tok = load_tokenizer("qwen2.5")
    tok.add_special_tokens({"additional_special_tokens": ["<|begin_of_text|>", "<|start_header_id|>",
                                                         "<|end_header_id|>", "<|eot_id|>"]})
    tok.chat_template = (
        "<|begin_of_text|>{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
        "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
    ids, mask = encode_example(tok, "What is 2+3?", "2+3=5, so \\boxed{5}.")
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    assert eot in stop_token_ids(tok) and ids[-1] == eot
    assert tok.decode(ids[mask]) == "2+3=5, so \\boxed{5}.<|eot_id|>"
    assert tok.decode(ids[~mask]).endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert ids[0] == tok.convert_tokens_to_ids("<|begin_of_text|>") and (ids == ids[0]).sum() == 1
