#!/usr/bin/env python3
"""Reference renderings of the chat-template fixtures, the way transformers does it.

transformers' apply_chat_template compiles the template in a jinja2
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, loopcontrols), with
raise_exception() as a global and its own tojson filter, and renders it with the messages,
tools=None, documents=None, add_generation_prompt and the special tokens (bos_token, ...).
This script does the same for every template in templates.json and every case in
cases.json, with add_generation_prompt false and true, and writes expected.json, which
ChatTemplateTest compares Jinjava's renderings with.

Needs only python3 and jinja2 (Debian: apt-get install python3-jinja2). Run from the repo:
    python3 tools/chat_templates/render.py [java/src/test/resources/chat_templates]
"""
import json
import os
import sys

import jinja2
import jinja2.ext
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def main():
    here = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "java", "src", "test", "resources", "chat_templates")
    with open(os.path.join(here, "templates.json"), encoding="utf-8") as f:
        templates = json.load(f)
    with open(os.path.join(here, "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)
    env = environment()
    out = []
    for name, spec in templates.items():
        with open(os.path.join(here, spec["file"]), encoding="utf-8") as f:
            template = env.from_string(f.read())
        tokens = {k: v for k, v in spec.items() if k.endswith("_token")}
        for case in cases:
            for gen in (False, True):
                row = {"template": name, "case": case["name"], "add_generation_prompt": gen}
                try:
                    row["output"] = template.render(messages=case["messages"], tools=None, documents=None,
                                                    add_generation_prompt=gen, **tokens, **case.get("vars", {}))
                except TemplateError as e:
                    row["error"] = str(e)
                out.append(row)
    with open(os.path.join(here, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/chat_templates/render.py", "jinja2": jinja2.__version__, "renderings": out},
                  f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(out)} renderings -> {os.path.join(here, 'expected.json')}")


if __name__ == "__main__":
    main()
