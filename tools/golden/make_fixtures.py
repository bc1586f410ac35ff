#!/usr/bin/env python3
"""Golden fixtures for pref4j's GPT-2, computed by PyTorch autograd in float64.

Builds small random GPT-2s in Hugging Face layout (Conv1D weights stored [in, out],
tied LM head), runs the forward pass and a loss, and writes weights, inputs, logits,
per-sequence log-probs, the loss and every parameter gradient as safetensors files that
the Java tests load. Weights are drawn as float32 values (so the Java side holds them
exactly) and all arithmetic is float64.

  /usr/bin/python3 tools/golden/make_fixtures.py java/src/test/resources/golden

Fixtures:
  gpt_dpo.safetensors  policy log-probs of chosen/rejected pairs and the DPO loss
                       -mean log sigmoid(beta * h), h = (pc - rc) - (pr - rr), with the
                       reference log-probs given as inputs
  gpt_rm.safetensors   a scalar head on the last real token (Bradley-Terry reward model
                       loss -mean log sigmoid(r_w - r_l) + center * mean(r^2))
Only torch is needed (Debian's python3-torch works); safetensors are written by hand.
"""
import json
import math
import os
import struct
import sys

import torch

torch.set_default_dtype(torch.float64)

L, NH, C, V, NPOS = 2, 4, 64, 97, 32
CENTER = 0.05


def rand(gen, shape, std):
    # float32-representable values, computed with in float64
    return (torch.randn(*shape, generator=gen, dtype=torch.float32) * std).to(torch.float64)


def make_params(gen, with_head):
    p = {}
    p["transformer.wte.weight"] = rand(gen, (V, C), 0.3)
    p["transformer.wpe.weight"] = rand(gen, (NPOS, C), 0.1)
    for l in range(L):
        q = f"transformer.h.{l}."
        p[q + "ln_1.weight"] = 1.0 + rand(gen, (C,), 0.1)
        p[q + "ln_1.bias"] = rand(gen, (C,), 0.1)
        p[q + "attn.c_attn.weight"] = rand(gen, (C, 3 * C), 0.15)
        p[q + "attn.c_attn.bias"] = rand(gen, (3 * C,), 0.05)
        p[q + "attn.c_proj.weight"] = rand(gen, (C, C), 0.1)
        p[q + "attn.c_proj.bias"] = rand(gen, (C,), 0.05)
        p[q + "ln_2.weight"] = 1.0 + rand(gen, (C,), 0.1)
        p[q + "ln_2.bias"] = rand(gen, (C,), 0.1)
        p[q + "mlp.c_fc.weight"] = rand(gen, (C, 4 * C), 0.15)
        p[q + "mlp.c_fc.bias"] = rand(gen, (4 * C,), 0.05)
        p[q + "mlp.c_proj.weight"] = rand(gen, (4 * C, C), 0.08)
        p[q + "mlp.c_proj.bias"] = rand(gen, (C,), 0.05)
    p["transformer.ln_f.weight"] = 1.0 + rand(gen, (C,), 0.1)
    p["transformer.ln_f.bias"] = rand(gen, (C,), 0.1)
    if with_head:
        p["head.weight"] = rand(gen, (1, C), 0.2)
        p["head.bias"] = rand(gen, (1,), 0.1)
    for t in p.values():
        t.requires_grad_(True)
    return p


def gpt_hidden(p, tokens, lengths):
    """HF GPT-2 forward up to ln_f. tokens [B,T] right-padded; a causal mask plus a key
    mask for padding (real queries never see padding under right padding anyway)."""
    B, T = tokens.shape
    HS = C // NH
    x = p["transformer.wte.weight"][tokens] + p["transformer.wpe.weight"][:T][None]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    keymask = torch.arange(T)[None, :] < lengths[:, None]  # [B,T]
    mask = causal[None, None] & keymask[:, None, None, :]
    for l in range(L):
        q = f"transformer.h.{l}."
        h = torch.nn.functional.layer_norm(x, (C,), p[q + "ln_1.weight"], p[q + "ln_1.bias"], 1e-5)
        qkv = h @ p[q + "attn.c_attn.weight"] + p[q + "attn.c_attn.bias"]
        qq, kk, vv = qkv.split(C, dim=2)
        qq = qq.view(B, T, NH, HS).transpose(1, 2)
        kk = kk.view(B, T, NH, HS).transpose(1, 2)
        vv = vv.view(B, T, NH, HS).transpose(1, 2)
        att = (qq @ kk.transpose(-2, -1)) / math.sqrt(HS)
        att = att.masked_fill(~mask, float("-inf"))
        att = torch.softmax(att, dim=-1)
        att = torch.nan_to_num(att, nan=0.0)  # fully masked padding rows
        y = (att @ vv).transpose(1, 2).contiguous().view(B, T, C)
        y = y @ p[q + "attn.c_proj.weight"] + p[q + "attn.c_proj.bias"]
        x = x + y
        h = torch.nn.functional.layer_norm(x, (C,), p[q + "ln_2.weight"], p[q + "ln_2.bias"], 1e-5)
        h = h @ p[q + "mlp.c_fc.weight"] + p[q + "mlp.c_fc.bias"]
        h = torch.nn.functional.gelu(h, approximate="tanh")
        h = h @ p[q + "mlp.c_proj.weight"] + p[q + "mlp.c_proj.bias"]
        x = x + h
    return torch.nn.functional.layer_norm(x, (C,), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], 1e-5)


def batch(gen, B, T):
    lengths = torch.randint(T // 2, T + 1, (B,), generator=gen)
    lengths[0] = T
    prompt_lens = torch.stack([torch.randint(1, int(n) - 1, (1,), generator=gen)[0] for n in lengths])
    tokens = torch.randint(0, V, (B, T), generator=gen)
    for b in range(B):
        tokens[b, lengths[b]:] = 0  # padding id
    # targets: position t predicts token t+1; only response tokens (t+1 >= prompt_len) count
    targets = torch.full((B, T), -1, dtype=torch.long)
    for b in range(B):
        for t in range(int(lengths[b]) - 1):
            if t + 1 >= prompt_lens[b]:
                targets[b, t] = tokens[b, t + 1]
    return tokens, lengths, prompt_lens, targets


def seq_logp(logits, targets):
    lp = torch.log_softmax(logits, dim=-1)
    mask = targets >= 0
    tok = lp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
    return tok, tok.sum(dim=1)


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        data = t.numpy().tobytes() if hasattr(t, "numpy") else bytes(t.untyped_storage())
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def config_meta():
    return {"n_layer": str(L), "n_head": str(NH), "n_embd": str(C), "vocab_size": str(V), "n_positions": str(NPOS)}


def dpo_fixture(out):
    gen = torch.Generator().manual_seed(1234)
    p = make_params(gen, False)
    P, T, beta = 3, 12, 0.1
    tokens, lengths, prompt_lens, targets = batch(gen, 2 * P, T)  # rows 0..P-1 chosen, P.. rejected
    ref = (torch.randn(2 * P, generator=gen, dtype=torch.float32) * 2 - 30).to(torch.float64)
    hidden = gpt_hidden(p, tokens, lengths)
    logits = hidden @ p["transformer.wte.weight"].T
    tok_logp, logp = seq_logp(logits, targets)
    h = (logp[:P] - ref[:P]) - (logp[P:] - ref[P:])
    loss = -torch.nn.functional.logsigmoid(beta * h).mean()
    loss.backward()
    t = {"in.tokens": tokens.double(), "in.lengths": lengths.double(), "in.targets": targets.double(),
         "in.ref_logp": ref, "in.beta": torch.tensor([beta]),
         "out.logits": logits, "out.token_logp": tok_logp, "out.seq_logp": logp, "out.loss": loss.reshape(1)}
    for n, w in p.items():
        t["param." + n] = w
        t["grad." + n] = w.grad
    write_safetensors(os.path.join(out, "gpt_dpo.safetensors"), t, config_meta())


def rm_fixture(out):
    gen = torch.Generator().manual_seed(99)
    p = make_params(gen, True)
    P, T = 3, 10
    tokens, lengths, _, _ = batch(gen, 2 * P, T)
    hidden = gpt_hidden(p, tokens, lengths)
    values = (hidden @ p["head.weight"].T).squeeze(-1) + p["head.bias"]
    r = values[torch.arange(2 * P), lengths - 1]
    # Bradley-Terry loss plus a small reward-centring term, so that no gradient is
    # structurally zero (with the pure BT loss the biases' gradients cancel exactly)
    loss = -torch.nn.functional.logsigmoid(r[:P] - r[P:]).mean() + CENTER * (r * r).mean()
    loss.backward()
    t = {"in.tokens": tokens.double(), "in.lengths": lengths.double(), "in.center": torch.tensor([CENTER]),
         "out.rewards": r, "out.loss": loss.reshape(1)}
    for n, w in p.items():
        t["param." + n] = w
        t["grad." + n] = w.grad
    write_safetensors(os.path.join(out, "gpt_rm.safetensors"), t, config_meta())


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "java/src/test/resources/golden"
    os.makedirs(out, exist_ok=True)
    dpo_fixture(out)
    rm_fixture(out)
    print("wrote", out)
