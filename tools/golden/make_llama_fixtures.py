#!/usr/bin/env python3
"""Golden fixtures for pref4j's Llama family, computed by PyTorch autograd in float64.

An independent implementation of the Hugging Face math of LlamaForCausalLM,
MistralForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM, written from the HF model
definitions (not from pref4j's Java): RMSNorm (weight * x / sqrt(mean(x^2) + eps)),
rotary positions in the rotate_half convention with "linear" and "llama3" rope scaling,
grouped-query attention by repeat_kv, q/k/v biases (qwen2; llama/qwen3 attention_bias,
which also puts a bias on o_proj), Qwen3's per-head q/k RMSNorm before the rotation,
SwiGLU MLP down(silu(gate(x)) * up(x)), a causal mask plus a key mask for right padding,
tied or untied LM head. Weights are float32 values (the Java side holds them exactly);
all arithmetic is float64.

  /usr/bin/python3 tools/golden/make_llama_fixtures.py java/src/test/resources/golden

Writes, under the output folder:
  llama_<case>.safetensors  per case: metadata "config" = the case's config.json text;
      tensors param.<hf name>, in.tokens/in.lengths/in.targets [B*T] (ints as floats),
      in.ref_logp [B], in.beta, out.logits [B,T,V], out.token_logp [B,T], out.seq_logp [B],
      out.loss (DPO over 2 pairs: rows 0,1 chosen, rows 2,3 rejected, -mean log
      sigmoid(beta*h), h = (pc - rc) - (pr - rr)) and grad.<hf name> of that loss.
  llama_score/        an HF folder (config.json, model.safetensors F32) and pairs.jsonl:
      pre-tokenized pairs with the expected float64 log-probs in expect_chosen_logp and
      expect_rejected_logp (sum of log p(response token | prefix) over the response).
  qwen2_sharded/      an HF folder with weights in two shards (BF16 and F16) plus
      model.safetensors.index.json, a rotary_emb.inv_freq buffer, a tied lm_head.weight
      copy; expected.json holds sequences and their float64 log-probs computed from the
      BF16/F16-rounded weights.
Only torch is needed; safetensors files are written by tools/make_random_llama.py's writer.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from make_random_llama import write_safetensors  # noqa: E402  (hand-written writer)

torch.set_default_dtype(torch.float64)

BETA = 0.1


# ---------------------------------------------------------------- the HF model, in float64

class Cfg:
    """The fields the HF modules read from config.json, with transformers' defaults."""

    def __init__(self, c):
        self.model_type = c["model_type"]
        self.C = c["hidden_size"]
        self.I = c["intermediate_size"]
        self.L = c["num_hidden_layers"]
        self.NH = c["num_attention_heads"]
        self.NKV = c.get("num_key_value_heads") or self.NH
        self.HS = c.get("head_dim") or self.C // self.NH
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.theta = c.get("rope_theta", 10000.0)
        self.rope_scaling = c.get("rope_scaling")
        self.V = c["vocab_size"]
        self.tie = c.get("tie_word_embeddings", False)
        mt = self.model_type
        # q/k/v biases: qwen2 always; llama and qwen3 with attention_bias (then o_proj too)
        self.qkv_bias = mt == "qwen2" or (mt in ("llama", "qwen3") and c.get("attention_bias", False))
        self.o_bias = mt in ("llama", "qwen3") and c.get("attention_bias", False)
        self.qk_norm = mt == "qwen3"


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def inv_freq(cfg):
    d = cfg.HS
    inv = 1.0 / (cfg.theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    rs = cfg.rope_scaling
    if rs is None:
        return inv
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":
        return inv / rs["factor"]
    if kind == "llama3":
        # transformers' _compute_llama3_parameters
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / lo, old / hi
        wavelen = 2 * math.pi / inv
        out = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        return torch.where(medium, smoothed, out)
    raise ValueError(kind)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope(x, cos, sin):
    # x [B, H, T, HS]; cos, sin [T, HS]
    return x * cos + rotate_half(x) * sin


def repeat_kv(x, n_rep):
    B, H, T, D = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(B, H, n_rep, T, D).reshape(B, H * n_rep, T, D)


def linear(x, p, name, bias):
    y = x @ p[name + ".weight"].T
    return y + p[name + ".bias"] if bias else y


def hidden_states(cfg, p, tokens, lengths):
    """The model's final normalised hidden states [B, T, C] for right-padded tokens [B, T]."""
    B, T = tokens.shape
    NH, NKV, HS = cfg.NH, cfg.NKV, cfg.HS
    pos = torch.arange(T, dtype=torch.float64)
    freqs = pos[:, None] * inv_freq(cfg)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    keymask = torch.arange(T)[None, :] < lengths[:, None]
    mask = causal[None, None] & keymask[:, None, None, :]
    x = p["model.embed_tokens.weight"][tokens]
    for l in range(cfg.L):
        q_ = f"model.layers.{l}."
        h = rms_norm(x, p[q_ + "input_layernorm.weight"], cfg.eps)
        q = linear(h, p, q_ + "self_attn.q_proj", cfg.qkv_bias).view(B, T, NH, HS)
        k = linear(h, p, q_ + "self_attn.k_proj", cfg.qkv_bias).view(B, T, NKV, HS)
        v = linear(h, p, q_ + "self_attn.v_proj", cfg.qkv_bias).view(B, T, NKV, HS)
        if cfg.qk_norm:
            q = rms_norm(q, p[q_ + "self_attn.q_norm.weight"], cfg.eps)
            k = rms_norm(k, p[q_ + "self_attn.k_norm.weight"], cfg.eps)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        k, v = repeat_kv(k, NH // NKV), repeat_kv(v, NH // NKV)
        att = (q @ k.transpose(-2, -1)) * HS ** -0.5
        att = att.masked_fill(~mask, float("-inf"))
        att = torch.nan_to_num(torch.softmax(att, dim=-1), nan=0.0)
        y = (att @ v).transpose(1, 2).reshape(B, T, NH * HS)
        x = x + linear(y, p, q_ + "self_attn.o_proj", cfg.o_bias)
        h = rms_norm(x, p[q_ + "post_attention_layernorm.weight"], cfg.eps)
        g = F.silu(h @ p[q_ + "mlp.gate_proj.weight"].T) * (h @ p[q_ + "mlp.up_proj.weight"].T)
        x = x + g @ p[q_ + "mlp.down_proj.weight"].T
    return rms_norm(x, p["model.norm.weight"], cfg.eps)


def logits_of(cfg, p, tokens, lengths):
    head = p["model.embed_tokens.weight"] if cfg.tie else p["lm_head.weight"]
    return hidden_states(cfg, p, tokens, lengths) @ head.T


# ---------------------------------------------------------------- cases

def base_config(model_type, **kw):
    c = {"architectures": [{"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                            "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[model_type]],
         "model_type": model_type, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_act": "silu",
         "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": None,
         "vocab_size": 128, "tie_word_embeddings": False, "torch_dtype": "float32"}
    if model_type in ("llama", "qwen3"):
        c["attention_bias"] = False
    if model_type == "mistral":
        c["sliding_window"] = None
    if model_type in ("qwen2", "qwen3"):
        c["use_sliding_window"] = False
        c["sliding_window"] = None
    c.update(kw)
    return c


CASES = [
    ("gqa", base_config("llama", rms_norm_eps=1e-5)),
    ("mha_llama3rope", base_config("llama", num_key_value_heads=4, tie_word_embeddings=True, vocab_size=101,
                                   intermediate_size=80, max_position_embeddings=256, rope_theta=10000.0,
                                   rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                 "high_freq_factor": 4.0,
                                                 "original_max_position_embeddings": 64})),
    ("qwen2", base_config("qwen2", tie_word_embeddings=True, rope_theta=1000000.0, vocab_size=120,
                          intermediate_size=88)),
    ("qwen3", base_config("qwen3", head_dim=32, rope_theta=1000000.0, vocab_size=96, intermediate_size=80)),
    ("mqa_bias", base_config("llama", num_key_value_heads=1, attention_bias=True, vocab_size=112,
                             rope_scaling={"type": "linear", "factor": 2.0})),
    ("mistral", base_config("mistral", rope_theta=1000000.0, vocab_size=100, intermediate_size=72)),
]


def tensor_specs(cfg):
    """[(name, shape, kind)] in HF naming; kind: matrix, embed, norm, bias."""
    C, I, V, NH, NKV, HS = cfg.C, cfg.I, cfg.V, cfg.NH, cfg.NKV, cfg.HS
    out = [("model.embed_tokens.weight", (V, C), "embed")]
    for l in range(cfg.L):
        q = f"model.layers.{l}."
        out += [(q + "input_layernorm.weight", (C,), "norm"),
                (q + "self_attn.q_proj.weight", (NH * HS, C), "matrix"),
                (q + "self_attn.k_proj.weight", (NKV * HS, C), "matrix"),
                (q + "self_attn.v_proj.weight", (NKV * HS, C), "matrix")]
        if cfg.qkv_bias:
            out += [(q + "self_attn.q_proj.bias", (NH * HS,), "bias"),
                    (q + "self_attn.k_proj.bias", (NKV * HS,), "bias"),
                    (q + "self_attn.v_proj.bias", (NKV * HS,), "bias")]
        if cfg.qk_norm:
            out += [(q + "self_attn.q_norm.weight", (HS,), "norm"), (q + "self_attn.k_norm.weight", (HS,), "norm")]
        out.append((q + "self_attn.o_proj.weight", (C, NH * HS), "matrix"))
        if cfg.o_bias:
            out.append((q + "self_attn.o_proj.bias", (C,), "bias"))
        out += [(q + "post_attention_layernorm.weight", (C,), "norm"),
                (q + "mlp.gate_proj.weight", (I, C), "matrix"),
                (q + "mlp.up_proj.weight", (I, C), "matrix"),
                (q + "mlp.down_proj.weight", (C, I), "matrix")]
    out.append(("model.norm.weight", (C,), "norm"))
    if not cfg.tie:
        out.append(("lm_head.weight", (V, C), "embed"))
    return out


def make_params(gen, cfg):
    p = {}
    for name, shape, kind in tensor_specs(cfg):
        if kind == "norm":
            t = 1.0 + torch.randn(*shape, generator=gen, dtype=torch.float32) * 0.1
        elif kind == "bias":
            t = torch.randn(*shape, generator=gen, dtype=torch.float32) * 0.05
        elif kind == "embed":
            t = torch.randn(*shape, generator=gen, dtype=torch.float32) * 0.3
        else:
            t = torch.randn(*shape, generator=gen, dtype=torch.float32) * (1.2 / math.sqrt(shape[1]))
        p[name] = t.to(torch.float64).requires_grad_(True)
    return p


def batch(gen, V, B, T):
    lengths = torch.randint(T // 2, T + 1, (B,), generator=gen)
    lengths[0] = T
    prompt_lens = torch.stack([torch.randint(1, int(n) - 1, (1,), generator=gen)[0] for n in lengths])
    tokens = torch.randint(0, V, (B, T), generator=gen)
    for b in range(B):
        tokens[b, lengths[b]:] = 0
    targets = torch.full((B, T), -1, dtype=torch.long)
    for b in range(B):
        for t in range(int(lengths[b]) - 1):
            if t + 1 >= prompt_lens[b]:
                targets[b, t] = tokens[b, t + 1]
    return tokens, lengths, targets


def seq_logp(logits, targets):
    lp = torch.log_softmax(logits, dim=-1)
    mask = targets >= 0
    tok = lp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
    return tok, tok.sum(dim=1)


def f32(t):
    return (t.detach().to(torch.float32), "F32")


def case_fixture(out, name, config, seed):
    cfg = Cfg(config)
    gen = torch.Generator().manual_seed(seed)
    p = make_params(gen, cfg)
    B, T, P = 4, 16, 2
    tokens, lengths, targets = batch(gen, cfg.V, B, T)
    ref = (torch.randn(B, generator=gen, dtype=torch.float32) * 2 - 25).to(torch.float64)
    logits = logits_of(cfg, p, tokens, lengths)
    tok_logp, logp = seq_logp(logits, targets)
    h = (logp[:P] - ref[:P]) - (logp[P:] - ref[P:])
    loss = -F.logsigmoid(BETA * h).mean()
    loss.backward()
    t = {"in.tokens": f32(tokens.reshape(-1).double()), "in.lengths": f32(lengths.double()),
         "in.targets": f32(targets.reshape(-1).double()), "in.ref_logp": f32(ref),
         "in.beta": f32(torch.tensor([BETA])), "out.logits": f32(logits), "out.token_logp": f32(tok_logp),
         "out.seq_logp": f32(logp), "out.loss": f32(loss.reshape(1))}
    for n, w in p.items():
        assert w.grad is not None and w.grad.abs().max() > 0, n
        t["param." + n] = f32(w)
        t["grad." + n] = f32(w.grad)
    write_safetensors(os.path.join(out, f"llama_{name}.safetensors"), t,
                      {"config": json.dumps(config, sort_keys=True)})


def single_logp(cfg, p, prompt, response):
    toks = torch.tensor([prompt + response])
    lg = logits_of(cfg, p, toks, torch.tensor([len(prompt) + len(response)]))[0]
    lp = torch.log_softmax(lg, dim=-1)
    return sum(float(lp[len(prompt) - 1 + i, r]) for i, r in enumerate(response))


def write_config(folder, config):
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def score_folder(out):
    """A random llama folder and pre-tokenized pairs (ids < 258, the byte tokenizer's range)."""
    folder = os.path.join(out, "llama_score")
    os.makedirs(folder, exist_ok=True)
    config = base_config("llama", vocab_size=300, max_position_embeddings=48, rms_norm_eps=1e-5,
                         bos_token_id=256, eos_token_id=257)
    cfg = Cfg(config)
    gen = torch.Generator().manual_seed(4242)
    with torch.no_grad():
        p = make_params(gen, cfg)
        write_safetensors(os.path.join(folder, "model.safetensors"), {n: f32(w) for n, w in p.items()},
                          {"format": "pt"})
        write_config(folder, config)
        lines = []
        for i, (np_, nc, nr) in enumerate([(5, 7, 3), (1, 4, 9), (12, 2, 2), (3, 15, 11)]):
            ids = lambda n: torch.randint(0, 256, (n,), generator=gen).tolist()  # noqa: E731
            pr, ch, rj = ids(np_), ids(nc), ids(nr)
            lines.append({"id": i, "prompt_ids": pr, "chosen_ids": ch, "rejected_ids": rj,
                          "expect_chosen_logp": single_logp(cfg, p, pr, ch),
                          "expect_rejected_logp": single_logp(cfg, p, pr, rj)})
    with open(os.path.join(out, "llama_score_pairs.jsonl"), "w") as f:
        for l in lines:
            f.write(json.dumps(l) + "\n")


def sharded_folder(out):
    """qwen2 (tied, biases) in two shards: BF16 and F16, plus an inv_freq buffer and a tied lm_head copy."""
    folder = os.path.join(out, "qwen2_sharded")
    os.makedirs(folder, exist_ok=True)
    config = base_config("qwen2", tie_word_embeddings=True, rope_theta=1000000.0, vocab_size=90,
                         intermediate_size=72, torch_dtype="bfloat16")
    cfg = Cfg(config)
    gen = torch.Generator().manual_seed(777)
    with torch.no_grad():
        p = make_params(gen, cfg)
        shard1, shard2 = {}, {}
        for n, w in p.items():
            if n.startswith("model.embed_tokens") or n.startswith("model.layers.0."):
                w.copy_(w.to(torch.bfloat16).to(torch.float64))
                shard1[n] = (w, "BF16")
            else:
                w.copy_(w.to(torch.float16).to(torch.float64))
                shard2[n] = (w, "F16")
        shard1["lm_head.weight"] = (p["model.embed_tokens.weight"], "BF16")
        shard1["model.layers.0.self_attn.rotary_emb.inv_freq"] = (inv_freq(cfg), "F32")
        names = {"model-00001-of-00002.safetensors": shard1, "model-00002-of-00002.safetensors": shard2}
        weight_map, total = {}, 0
        for fname, tensors in names.items():
            total += write_safetensors(os.path.join(folder, fname), tensors, {"format": "pt"})
            for n in tensors:
                weight_map[n] = fname
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f,
                      indent=2)
            f.write("\n")
        write_config(folder, config)
        seqs = []
        for n_prompt, n_resp in [(4, 6), (1, 10), (9, 3)]:
            toks = torch.randint(0, cfg.V, (n_prompt + n_resp,), generator=gen).tolist()
            seqs.append({"prompt": toks[:n_prompt], "response": toks[n_prompt:],
                         "logp": single_logp(cfg, p, toks[:n_prompt], toks[n_prompt:])})
    with open(os.path.join(out, "qwen2_sharded_expected.json"), "w") as f:
        json.dump({"sequences": seqs}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "java/src/test/resources/golden"
    os.makedirs(out, exist_ok=True)
    for i, (name, config) in enumerate(CASES):
        case_fixture(out, name, config, 1000 + i)
    score_folder(out)
    sharded_folder(out)
    print("wrote", out)
