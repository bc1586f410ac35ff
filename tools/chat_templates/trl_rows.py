#!/usr/bin/env python3
"""Reference conversions of the conversational / implicit-prompt dataset fixtures, the way
TRL prepares them for its trainers (trl.data_utils.maybe_extract_prompt, then
maybe_apply_chat_template with the prefix check), with the chat templates of
java/src/test/resources/chat_templates rendered as transformers renders them (render.py).

For SFT "messages" rows TRL trains on the whole rendering; pref4j's SftExample has a prompt
and a completion, so pref4j splits before the final assistant message: prompt = template(
messages[:-1], add_generation_prompt=True), completion = template(messages) minus it. This
script computes that split the same way.

Writes java/src/test/resources/datasets/expected_rows.json, which JsonlConversationalTest
compares Jsonl's readers with.  Run:  python3 tools/chat_templates/trl_rows.py
"""
import json
import os

from render import environment

HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.join(HERE, "..", "..", "java", "src", "test", "resources")
TEMPLATES = ["smollm2", "llama3", "qwen2_5", "zephyr"]
FILES = {
    "pairs_conversational.jsonl": "pairs",
    "pairs_implicit_conversational.jsonl": "pairs",
    "pairs_implicit_strings.jsonl": "pairs",
    "sft_messages.jsonl": "sft",
    "sft_conversational.jsonl": "sft",
    "prompts_conversational.jsonl": "prompts",
}


def is_conversational(example):
    for key in ("prompt", "chosen", "rejected", "completion", "messages"):
        if key in example:
            v = example[key]
            return isinstance(v, list) and len(v) > 0 and isinstance(v[0], dict) and "role" in v[0]
    return False


def extract_prompt(example):  # trl.data_utils.extract_prompt
    for idx in range(min(len(example["chosen"]), len(example["rejected"]))):
        if example["chosen"][idx] != example["rejected"][idx]:
            if example["chosen"][idx - 1] == " ":
                idx -= 1
            break
    return {"prompt": example["chosen"][:idx], "chosen": example["chosen"][idx:], "rejected": example["rejected"][idx:]}


def renderer(template, tokens):
    def render(messages, add_generation_prompt=False, continue_final_message=False):
        out = template.render(messages=messages, tools=None, documents=None,
                              add_generation_prompt=add_generation_prompt, **tokens)
        if continue_final_message:  # transformers' apply_chat_template
            final = messages[-1]["content"]
            loc = out.rindex(final.strip())
            if out[loc:loc + len(final.lstrip())] == final:
                out = out[:loc + len(final.lstrip())]
            else:
                out = out[:loc + len(final.strip())]
        return out
    return render


def render_prompt(render, prompt):
    last = prompt[-1]["role"]
    if last == "assistant":
        return render(prompt, False, True)
    return render(prompt, True, False)


def response(render, prompt, prompt_text, reply):
    full = render(prompt + reply)
    assert full.startswith(prompt_text), (full, prompt_text)
    return full[len(prompt_text):]


def convert(kind, example, render):
    if kind == "pairs":
        if "prompt" not in example:
            example = dict(example, **extract_prompt(example))
        if not is_conversational(example):
            return {"prompt": example["prompt"], "chosen": example["chosen"], "rejected": example["rejected"]}
        p = render_prompt(render, example["prompt"])
        return {"prompt": p, "chosen": response(render, example["prompt"], p, example["chosen"]),
                "rejected": response(render, example["prompt"], p, example["rejected"])}
    if kind == "sft":
        if "messages" in example:
            prompt, completion = example["messages"][:-1], example["messages"][-1:]
        else:
            prompt, completion = example["prompt"], example["completion"]
        p = render_prompt(render, prompt)
        return {"prompt": p, "completion": response(render, prompt, p, completion)}
    return {"prompt": render_prompt(render, example["prompt"])}


def main():
    env = environment()
    with open(os.path.join(RES, "chat_templates", "templates.json"), encoding="utf-8") as f:
        specs = json.load(f)
    rows = []
    for name in TEMPLATES:
        spec = specs[name]
        with open(os.path.join(RES, "chat_templates", spec["file"]), encoding="utf-8") as f:
            template = env.from_string(f.read())
        render = renderer(template, {k: v for k, v in spec.items() if k.endswith("_token")})
        for fname, kind in FILES.items():
            with open(os.path.join(RES, "datasets", fname), encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    if line.strip():
                        rows.append(dict({"template": name, "file": fname, "kind": kind, "line": lineno},
                                         **convert(kind, json.loads(line), render)))
    out = os.path.join(RES, "datasets", "expected_rows.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/chat_templates/trl_rows.py", "rows": rows}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(rows)} rows -> {out}")


if __name__ == "__main__":
    main()
