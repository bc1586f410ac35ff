#!/usr/bin/python3
"""PyTorch CPU side of the GPT step benchmark (SPEC 7): forward + backward of a small GPT-2.

Plain PyTorch, no transformers package, with GPT-2's (Hugging Face layout) semantics:
learned position embeddings, pre-LayerNorm blocks (eps 1e-5), tanh-GELU MLP of width 4C,
causal multi-head attention with one fused qkv projection, final LayerNorm, LM head tied to
the token embedding. The same workload as pref4j's GptStep: random tokens, all sequences
full length, loss = -mean log-prob of the next token over the B*(T-1) positions that have
one, computed the way PyTorch users do it: full logits, log_softmax, gather. No optimiser
step. Attention is written out (softmax of masked scores) by default, as GPT-2 in
transformers' eager mode does; --sdpa uses F.scaled_dot_product_attention instead.

Usage: /usr/bin/python3 tools/bench/torch_gpt_cpu.py [--threads 2] [--vocab 50257]
    [--layers 4] [--channels 256] [--heads 4] [--seq 128] [--batch 8] [--warmup 3] [--runs 5]
Prints the BLAS library PyTorch loaded (Debian's python3-torch calls whatever libblas.so.3
the system provides; the netlib reference BLAS makes PyTorch ~20x slower than OpenBLAS, and
the script warns about it), a human line and a RESULT line that side_by_side.sh parses.
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, nh, sdpa):
        super().__init__()
        self.nh, self.sdpa = nh, sdpa
        self.ln_1 = nn.LayerNorm(c, eps=1e-5)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c, eps=1e-5)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def attn(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.nh, C // self.nh).transpose(1, 2) for t in (q, k, v))
        if self.sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            att = att.masked_fill(~mask, float("-inf"))
            y = F.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab, max_seq, layers, c, nh, sdpa):
        super().__init__()
        self.wte = nn.Embedding(vocab, c)
        self.wpe = nn.Embedding(max_seq, c)
        self.h = nn.ModuleList(Block(c, nh, sdpa) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c, eps=1e-5)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for blk in self.h:
            x = blk(x)
        return self.ln_f(x) @ self.wte.weight.t()  # tied LM head: full logits [B, T, V]


def blas_library():
    """The BLAS shared library this process loaded (PyTorch's fp32 matmuls go through it)."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    with open("/proc/self/maps") as f:
        libs = sorted({line.split()[-1] for line in f if "blas" in line.lower() and ".so" in line})
    return libs[0] if libs else "built in"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--channels", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-seq", type=int, default=1024)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sdpa", action="store_true", help="use F.scaled_dot_product_attention")
    a = ap.parse_args()

    if a.sdpa and not hasattr(F, "scaled_dot_product_attention"):
        print(f"SKIP pytorch {torch.__version__} has no F.scaled_dot_product_attention (PyTorch >= 2.0)")
        return
    torch.set_num_threads(a.threads)
    torch.manual_seed(1234)
    blas = blas_library()
    print(f"blas: {blas}")
    if "/blas/libblas.so" in blas:
        print("WARNING: PyTorch is using the reference (netlib) BLAS, about 20x slower than OpenBLAS; "
              "install libopenblas0-openmp or point LD_LIBRARY_PATH at an OpenBLAS libblas.so.3 "
              "(side_by_side.sh: TORCH_BLAS_DIR)")
    model = GPT(a.vocab, max(a.max_seq, a.seq), a.layers, a.channels, a.heads, a.sdpa)
    tokens = torch.randint(0, a.vocab, (a.batch, a.seq))
    inputs, targets = tokens, tokens[:, 1:]

    def step():
        model.zero_grad(set_to_none=False)
        logits = model(inputs)[:, :-1]
        logp = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        loss = -logp.mean()
        loss.backward()
        return loss.item()

    loss = 0.0
    for _ in range(a.warmup):
        loss = step()
    times = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        loss = step()
        times.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(times)
    tps = a.batch * a.seq / (med * 1e-3)
    print(f"pytorch {torch.__version__} cpu ({a.threads} threads{', sdpa' if a.sdpa else ''}): "
          f"GPT L{a.layers} d{a.channels} h{a.heads} V{a.vocab}, B{a.batch} T{a.seq}: {med:.1f} ms/step "
          f"(median of {a.runs}, min {min(times):.1f}), {tps:.0f} tokens/s, loss {loss:.4f}")
    print(f"RESULT impl=pytorch{'-sdpa' if a.sdpa else ''} threads={a.threads} ms={med:.3f} min_ms={min(times):.3f} "
          f"tokens_per_s={tps:.1f} loss={loss:.6f}")


if __name__ == "__main__":
    main()
