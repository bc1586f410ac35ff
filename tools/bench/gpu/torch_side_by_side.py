#!/usr/bin/env python3
"""PyTorch side of pref4j's GPU benchmarks (SPEC 7), on CUDA, same sizes as `pref4j bench`.

Measures, with CUDA events, warm-up runs first, median of --steps, fresh random inputs
rotated among several sets:
  ceilings   device-to-device copy GB/s (bytes read + written) and a large bf16 matmul TFLOP/s
  dpo        one DPO step of an HF-layout GPT-2 in plain PyTorch (learned positions, pre-LN,
             tanh-GELU, tied head, SDPA attention, bf16 autocast, fp32 master weights, AdamW):
             policy forward+backward on chosen and rejected, reference log-probs given;
             eager and torch.compile
  generate   batched sampling with a static KV cache (preallocated, in-place writes), prefill +
             one decode step per new token, multinomial sampling at temperature 1
  attention  SDPA causal forward+backward, head dim 64, bf16, flash and cuDNN backends
FLOP conventions are those of `pref4j bench` (see docs/benchmarks.md), so ratios of rates are
ratios of times. Writes JSON (--json) and prints a table.

Usage: python3 tools/bench/gpu/torch_side_by_side.py [--what ceilings,dpo,generate,attention]
    [--batch 8] [--seq 512] [--gen-batch 64] [--prompt-len 64] [--new-tokens 256]
    [--attn-seqs 512,1024,2048] [--steps 10] [--warmup 3] [--no-compile] [--json FILE] [--cpu]
The JSON is rewritten after every measurement (a run stopped at a deadline keeps what it
measured; "complete": true once all ran). --cpu rehearses the script on the CPU at a tiny shape.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- model (HF GPT-2 layout)

def sdpa(q, k, v, is_causal=False):
    """F.scaled_dot_product_attention (torch >= 2.0); a written-out fallback only so the model imports and runs on old CPU builds."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    att = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
    if is_causal:
        T, S = q.size(-2), k.size(-2)
        att = att.masked_fill(~torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T), float("-inf"))
    return F.softmax(att, dim=-1) @ v


class Block(nn.Module):
    def __init__(self, c, nh):
        super().__init__()
        self.nh = nh
        self.ln_1 = nn.LayerNorm(c, eps=1e-5)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c, eps=1e-5)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def forward(self, x, cache=None, pos=None):
        B, T, C = x.shape
        hs = C // self.nh
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.nh, hs).transpose(1, 2) for t in (q, k, v))
        if cache is None:
            y = sdpa(q, k, v, is_causal=True)
        else:
            kc, vc = cache  # [B, NH, maxT, HS], written in place
            kc[:, :, pos:pos + T] = k
            vc[:, :, pos:pos + T] = v
            if T > 1:  # prefill from position 0
                y = sdpa(q, k, v, is_causal=True)
            else:
                y = sdpa(q, kc[:, :, :pos + 1], vc[:, :, :pos + 1])
        x = x + self.c_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab=50257, max_seq=1024, layers=12, c=768, nh=12):
        super().__init__()
        self.wte = nn.Embedding(vocab, c)
        self.wpe = nn.Embedding(max_seq, c)
        self.h = nn.ModuleList(Block(c, nh) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c, eps=1e-5)
        for n, p in self.named_parameters():
            if n.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() == 2:
                std = 0.02 / math.sqrt(2 * layers) if n.endswith("c_proj.weight") or n.endswith("mlp_proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def hidden(self, idx, caches=None, pos=0):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(pos, pos + T, device=idx.device))
        for i, b in enumerate(self.h):
            x = b(x, None if caches is None else caches[i], pos)
        return self.ln_f(x)

    def logits(self, idx, caches=None, pos=0):
        return self.hidden(idx, caches, pos) @ self.wte.weight.t()  # tied head


def dpo_loss_fn(model, toks, targets, mask, ref, beta=0.1):
    """Sequence log-probs over response tokens (full logits, log_softmax, gather: what users write), DPO loss."""
    logits = model.logits(toks).float()
    lp = torch.gather(F.log_softmax(logits, dim=-1), 2, targets.unsqueeze(-1)).squeeze(-1)
    seq = (lp * mask).sum(-1)
    h = (seq[0::2] - ref[0::2]) - (seq[1::2] - ref[1::2])
    return -F.logsigmoid(beta * h).mean()


# ---------------------------------------------------------------- timing

DEV = "cuda"  # "cpu" with --cpu (the dry run's tiny shapes)


def empty_cache():
    if DEV == "cuda":
        torch.cuda.empty_cache()


def cuda_time(fn, warmup, steps):
    """Per-run seconds (CUDA events around each run, after warm-up; a host clock on the CPU)."""
    for i in range(warmup):
        fn(i)
    if DEV != "cuda":
        out = []
        for i in range(steps):
            t0 = time.perf_counter()
            fn(warmup + i)
            out.append(time.perf_counter() - t0)
        return out
    torch.cuda.synchronize()
    out = []
    for i in range(steps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn(warmup + i)
        e.record()
        e.synchronize()
        out.append(s.elapsed_time(e) / 1e3)
    return out


def summary(times):
    return {"median_s": statistics.median(times), "min_s": min(times), "times_s": times}


def params_count(cfg):
    v, p, L, c = cfg["vocab"], cfg["max_seq"], cfg["layers"], cfg["channels"]
    return v * c + p * c + L * (12 * c * c + 13 * c) + 2 * c


# ---------------------------------------------------------------- parts

def bench_ceilings(a):
    dev = DEV
    n = 1 << 28 if DEV == "cuda" else 1 << 20  # 256 Mi floats = 1 GiB each way
    src = torch.randn(n, device=dev)
    dst = torch.empty_like(src)
    t = cuda_time(lambda i: dst.copy_(src), a.warmup, a.steps)
    copy = summary(t)
    copy["bytes"] = 2 * n * 4
    copy["gbps"] = copy["bytes"] / copy["median_s"] / 1e9
    del src, dst
    m = 8192 if DEV == "cuda" else 256
    xs = [torch.randn(m, m, device=dev, dtype=torch.bfloat16) for _ in range(3)]
    ys = [torch.randn(m, m, device=dev, dtype=torch.bfloat16) for _ in range(3)]
    t = cuda_time(lambda i: xs[i % 3] @ ys[(i + 1) % 3], a.warmup, a.steps)
    mm = summary(t)
    mm["shape"] = [m, m, m]
    mm["tflops"] = 2.0 * m ** 3 / mm["median_s"] / 1e12
    return {"copy": copy, "copy_gbps": copy["gbps"], "matmul": mm, "matmul_tflops": mm["tflops"]}


def make_model(a, max_seq):
    cfg = dict(vocab=a.vocab, max_seq=max(1024, max_seq), layers=a.layers, channels=a.channels, heads=a.heads)
    torch.manual_seed(a.seed)
    model = GPT(cfg["vocab"], cfg["max_seq"], cfg["layers"], cfg["channels"], cfg["heads"]).to(DEV)
    return model, cfg


def bench_dpo(a, compiled):
    model, cfg = make_model(a, a.seq)
    P, S, T, V = a.batch, 2 * a.batch, a.seq, a.vocab
    prompt = max(1, T // 4)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0, fused=DEV == "cuda")
    sets = []
    for _ in range(3):
        toks = torch.randint(0, V, (S, T), device=DEV)
        targets = torch.roll(toks, -1, dims=1)
        mask = torch.zeros(S, T, device=DEV)
        mask[:, prompt - 1:T - 1] = 1
        ref = -(T - prompt) * math.log(V) + torch.randn(S, device=DEV)
        sets.append((toks, targets, mask, ref))
    fn = torch.compile(dpo_loss_fn) if compiled else dpo_loss_fn

    def step(i):
        toks, targets, mask, ref = sets[i % 3]
        with torch.autocast(DEV, dtype=torch.bfloat16):
            loss = fn(model, toks, targets, mask, ref)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    r = summary(cuda_time(step, a.warmup + (3 if compiled else 0), a.steps))
    tokens = S * T
    flops = 6.0 * params_count(cfg) * tokens + 12.0 * cfg["layers"] * cfg["channels"] * T * tokens
    r.update(pairs=P, sequences=S, seq=T, tokens_per_step=tokens, tokens_per_s=tokens / r["median_s"],
             flops_per_step=flops, tflops=flops / r["median_s"] / 1e12)
    if a.peak_tflops:
        r["mfu"] = flops / r["median_s"] / (a.peak_tflops * 1e12)
    del model, opt
    empty_cache()
    return r


@torch.no_grad()
def bench_generate(a):
    maxT = a.prompt_len + a.new_tokens
    model, cfg = make_model(a, maxT)
    model = model.to(torch.bfloat16).eval()
    B, L, NH, C = a.gen_batch, cfg["layers"], cfg["heads"], cfg["channels"]
    caches = [(torch.empty(B, NH, maxT, C // NH, device=DEV, dtype=torch.bfloat16),
               torch.empty(B, NH, maxT, C // NH, device=DEV, dtype=torch.bfloat16)) for _ in range(L)]
    prompts = [torch.randint(0, a.vocab, (B, a.prompt_len), device=DEV) for _ in range(2)]

    def gen(i):
        logits = model.logits(prompts[i % 2], caches, 0)[:, -1]
        for s in range(a.new_tokens):
            nxt = torch.multinomial(F.softmax(logits.float(), dim=-1), 1)
            if s == a.new_tokens - 1:
                break
            logits = model.logits(nxt, caches, a.prompt_len + s)[:, -1]

    r = summary(cuda_time(gen, a.warmup, a.steps))
    tokens = B * a.new_tokens
    weights = params_count(cfg) * 2
    bytes_ = sum(weights + 2.0 * L * B * (a.prompt_len + s) * C * 2 for s in range(a.new_tokens))
    r.update(batch=B, prompt_len=a.prompt_len, new_tokens=a.new_tokens, tokens_per_s=tokens / r["median_s"],
             floor_bytes=bytes_, achieved_gbps=bytes_ / r["median_s"] / 1e9)
    if a.peak_gbps:
        r["floor_s"] = bytes_ / (a.peak_gbps * 1e9)
        r["floor_fraction"] = r["floor_s"] / r["median_s"]
    del model, caches
    empty_cache()
    return r


def bench_attention(a, out, save=lambda: None):
    from torch.nn.attention import SDPBackend, sdpa_kernel  # torch >= 2.3
    backends = {"flash": SDPBackend.FLASH_ATTENTION} if DEV == "cuda" else {"math": SDPBackend.MATH}
    if hasattr(SDPBackend, "CUDNN_ATTENTION"):
        backends["cudnn"] = SDPBackend.CUDNN_ATTENTION
    NH, HS = a.heads, 64
    for T in a.attn_seqs:
        B = a.attn_batch or max(1, 16384 // T)
        sets = []
        for _ in range(2):
            q, k, v = (torch.randn(B, NH, T, HS, device=DEV, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
            sets.append((q, k, v, torch.randn(B, NH, T, HS, device=DEV, dtype=torch.bfloat16)))
        flops = 3.5 * 4.0 * B * NH * T * T * HS / 2
        for name, be in backends.items():
            def run(i):
                q, k, v, do = sets[i % 2]
                with sdpa_kernel(be):
                    o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                torch.autograd.grad(o, (q, k, v), do)
            try:
                r = summary(cuda_time(run, a.warmup, a.steps))
            except Exception as e:  # a backend this build or GPU lacks
                out.append({"T": T, "B": B, "NH": NH, "HS": HS, "backend": name, "error": str(e).splitlines()[0][:200]})
                save()
                continue
            r.update(T=T, B=B, NH=NH, HS=HS, backend=name, flops=flops, tflops=flops / r["median_s"] / 1e12)
            out.append(r)
            save()
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--what", default="ceilings,dpo,generate,attention")
    p.add_argument("--batch", type=int, default=8, help="DPO pairs per step")
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--gen-batch", type=int, default=64)
    p.add_argument("--prompt-len", type=int, default=64)
    p.add_argument("--new-tokens", type=int, default=256)
    p.add_argument("--attn-seqs", default="512,1024,2048")
    p.add_argument("--attn-batch", type=int, default=0, help="0 = 16384 / T")
    p.add_argument("--vocab", type=int, default=50257)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--channels", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--peak-tflops", type=float, default=None, help="for MFU (default: the measured matmul ceiling)")
    p.add_argument("--peak-gbps", type=float, default=None, help="for the floor (default: the measured copy ceiling)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile DPO step")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--json", default=None, help="written after each measurement, not only at the end")
    p.add_argument("--cpu", action="store_true",
                   help="rehearsal without a GPU: run on the CPU at a tiny shape (2 layers, C 64, V 512, T 32, 2 steps)")
    a = p.parse_args(argv)
    global DEV
    if a.cpu:
        DEV = "cpu"
        a.batch, a.seq, a.gen_batch, a.prompt_len, a.new_tokens = 2, 32, 2, 4, 4
        a.attn_seqs, a.attn_batch, a.vocab, a.layers, a.channels, a.heads = "64", 1, 512, 2, 64, 4
        a.steps, a.warmup = 2, 1
    a.attn_seqs = [int(x) for x in a.attn_seqs.split(",") if x]
    what = set(a.what.split(","))
    if DEV == "cuda" and not torch.cuda.is_available():
        print("torch_side_by_side: no CUDA device (torch %s); nothing to measure" % torch.__version__, file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    res = {"device": torch.cuda.get_device_name(0) if DEV == "cuda" else "cpu (rehearsal, tiny shapes)", "torch": torch.__version__, "cuda": torch.version.cuda,
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "argv": sys.argv[1:]}
    rows = []

    def save():  # after each measurement: a run killed at its deadline still leaves what it measured
        if a.json:
            tmp = a.json + ".tmp"
            with open(tmp, "w") as f:
                json.dump(res, f, indent=2)
            os.replace(tmp, a.json)

    save()
    if "ceilings" in what:
        c = bench_ceilings(a)
        res["ceilings"] = c
        a.peak_gbps = a.peak_gbps or c["copy_gbps"]
        rows.append(("copy d2d", "1 GiB", c["copy"]["median_s"], "%.0f GB/s" % c["copy_gbps"]))
        save()
        rows.append(("matmul bf16", "8192^3", c["matmul"]["median_s"], "%.1f TFLOP/s" % c["matmul_tflops"]))
    res["peak_tflops"], res["peak_gbps"] = a.peak_tflops, a.peak_gbps
    if "dpo" in what:
        res["dpo"] = {}
        if not a.compile_only:
            res["dpo"]["eager"] = bench_dpo(a, False)
            rows.append(("dpo eager", "%d pairs x T %d" % (a.batch, a.seq), res["dpo"]["eager"]["median_s"],
                         "%.0f tok/s" % res["dpo"]["eager"]["tokens_per_s"]))
            save()
            print("torch_side_by_side: dpo eager %.3f ms" % (res["dpo"]["eager"]["median_s"] * 1e3))
        if not a.no_compile:
            try:
                res["dpo"]["compile"] = bench_dpo(a, True)
                rows.append(("dpo compile", "%d pairs x T %d" % (a.batch, a.seq), res["dpo"]["compile"]["median_s"],
                             "%.0f tok/s" % res["dpo"]["compile"]["tokens_per_s"]))
            except Exception as e:
                res["dpo"]["compile"] = {"error": str(e).splitlines()[0][:300] if str(e) else repr(e)}
            save()
    if "generate" in what:
        g = bench_generate(a)
        res["generate"] = g
        save()
        rows.append(("generate static-kv", "%d x %d" % (a.gen_batch, a.new_tokens), g["median_s"], "%.0f tok/s" % g["tokens_per_s"]))
    if "attention" in what:
        res["attention"] = []
        bench_attention(a, res["attention"], save)
        for r in res["attention"]:
            if "error" not in r:
                rows.append(("sdpa %s f+b" % r["backend"], "B %d NH %d T %d" % (r["B"], r["NH"], r["T"]), r["median_s"],
                             "%.1f TFLOP/s" % r["tflops"]))
    print("torch %s on %s" % (torch.__version__, res["device"]))
    for name, shape, med, rate in rows:
        print("%-20s %-22s %10.3f ms  %s" % (name, shape, med * 1e3, rate))
    res["complete"] = True
    save()
    if a.json:
        print("torch_side_by_side: wrote " + a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
