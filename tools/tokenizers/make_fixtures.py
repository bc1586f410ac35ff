#!/usr/bin/env python3
"""Writes the small Hugging Face tokenizer folders the Java tests load
(java/src/test/resources/tokenizers/): the three tokenizer.json styles pref4j meets,
each with a tokenizer_config.json and a generation_config.json.

- bytelevel/   GPT-2 / Qwen2 style: ByteLevel pre-tokenizer with the GPT-2 regex, the
               byte-to-unicode alphabet as ids 0..255, five merges, ChatML added tokens.
- llama3/      Llama 3 style: Split(Llama 3 regex) + ByteLevel(use_regex=false) and a
               TemplateProcessing post-processor that adds <|begin_of_text|> (encode must not).
- bytefallback/ Llama 2 / Mistral style: Prepend("▁") + Replace(" ", "▁") normalizer, BPE
               with byte_fallback and <0xNN> tokens, <s> </s> <unk>.
- metaspace/   TinyLlama / newer Mistral style: the same model with a Metaspace pre-tokenizer.

Only the standard library is needed:  python3 tools/tokenizers/make_fixtures.py
The expected ids in HfTokenizerTest are worked out by hand from these vocabularies.
"""
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "java", "src", "test", "resources", "tokenizers")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def added(id_, content, special=True):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": not special, "special": special}


def bpe(vocab, merges, **kw):
    m = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
         "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
         "vocab": vocab, "merges": merges}
    m.update(kw)
    return m


def write(name, tokenizer, config, generation):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    for fname, obj in (("tokenizer.json", tokenizer), ("tokenizer_config.json", config),
                       ("generation_config.json", generation)):
        with open(os.path.join(d, fname), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1)
            f.write("\n")


def byte_level_vocab():
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    for i, tok in enumerate(["he", "ll", "Ġw", "hell", "hello"]):
        vocab[tok] = 256 + i
    return vocab, ["h e", "l l", "Ġ w", "he ll", "hell o"]


CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
          " + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def main():
    vocab, merges = byte_level_vocab()
    write("bytelevel", {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(261, "<|endoftext|>"), added(262, "<|im_start|>"), added(263, "<|im_end|>")],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": bpe(vocab, merges)},
        {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "chat_template": CHATML,
         "added_tokens_decoder": {"261": {"content": "<|endoftext|>", "special": True},
                                  "262": {"content": "<|im_start|>", "special": True},
                                  "263": {"content": "<|im_end|>", "special": True}},
         "model_max_length": 32, "tokenizer_class": "Qwen2Tokenizer"},
        {"eos_token_id": [263, 261], "pad_token_id": 261})

    llama3_regex = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
    write("llama3", {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(261, "<|begin_of_text|>"), added(262, "<|end_of_text|>"), added(263, "<|eot_id|>"),
                         added(264, "<|start_header_id|>"), added(265, "<|end_header_id|>")],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": llama3_regex}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [261],
                                                                     "tokens": ["<|begin_of_text|>"]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": bpe(vocab, merges, ignore_merges=True)},
        {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
         "chat_template": ("{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + "
                           "'<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}{% endfor %}"
                           "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")},
        {"bos_token_id": 261, "eos_token_id": [262, 263]})

    sp = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        sp["<0x%02X>" % b] = 3 + b
    for tok in ["▁", "h", "i", "▁h", "▁hi", "e", "l", "o"]:
        sp[tok] = len(sp)
    sp_merges = ["▁ h", "▁h i"]
    specials = [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")]
    sp_decoder = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    bos_post = {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    mistral = ("{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
               "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
               "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
               "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
               "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}")
    sp_config = {"bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": False, "normalized": False,
                               "rstrip": False, "single_word": False},
                 "eos_token": {"__type": "AddedToken", "content": "</s>", "lstrip": False, "normalized": False,
                               "rstrip": False, "single_word": False},
                 "unk_token": "<unk>", "pad_token": None, "chat_template": mistral, "legacy": False}
    write("bytefallback", {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": specials,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None, "post_processor": bos_post, "decoder": sp_decoder,
        "model": bpe(sp, sp_merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True)},
        sp_config, {"bos_token_id": 1, "eos_token_id": 2})
    write("metaspace", {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": specials,
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False},
        "post_processor": bos_post,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": bpe(sp, sp_merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True)},
        dict(sp_config, chat_template=None), {"bos_token_id": 1, "eos_token_id": 2})
    print("wrote", OUT)


if __name__ == "__main__":
    main()
