#!/usr/bin/python3
"""PyTorch CPU side of the Llama step benchmark (SPEC 7): a Llama-family forward + backward, or a DPO step.

Plain PyTorch, no transformers package, with the math of Hugging Face's LlamaForCausalLM
(eager attention): token embedding; per block RMSNorm (in fp32, x * rsqrt(mean(x^2) + eps)
* weight) -> q/k/v projections without bias -> rotary positions in the rotate_half
convention (cos/sin of position * theta^(-2i/head_dim), the halves concatenated) ->
grouped-query attention (k and v repeated per query group, as repeat_kv does; causal mask,
softmax of the scaled scores) -> o_proj -> residual -> RMSNorm -> SwiGLU MLP
down(silu(gate(x)) * up(x)) -> residual; a final RMSNorm; the LM head tied to the
embedding (or its own lm_head with --untied). Module names follow HF's, so the state dict
keys are the safetensors names pref4j writes.

Modes, the same workload as io.pref4j.bench.LlamaStepMain:
  default  random tokens, all sequences full length, loss = -mean log-prob of the next token
           over the B*(T-1) positions that have one, computed the way PyTorch users do:
           full logits, log_softmax, gather; zero_grad + forward + backward, no optimiser.
  --dpo    one DPO step: --batch sequences = batch/2 pairs (chosen = even rows, rejected =
           odd rows), the first T/4 tokens a prompt without targets; per-sequence log-prob
           sums (full logits, log_softmax, gather, mask), the sigmoid DPO loss (beta 0.1)
           against given reference log-probs, backward, torch.optim.AdamW (lr 1e-5,
           betas (0.9, 0.95), eps 1e-8, no weight decay), zero_grad(set_to_none=True).
           Three input sets rotate, as in pref4j.

--weights DIR initialises the model from DIR/model.safetensors + DIR/config.json (written by
LlamaStepMain --save DIR) and takes the tokens (and reference log-probs) from
DIR/inputs.json, so both sides compute on the same numbers; the first step's loss and
gradient norm (loss0, gnorm0 on the RESULT line) then agree up to float rounding.

Usage: /usr/bin/python3 tools/bench/torch_llama_cpu.py [--threads 2] [--layers 30] [--hidden 576]
    [--heads 9] [--kv-heads 3] [--head-dim 64] [--intermediate 1536] [--vocab 49152] [--seq 256]
    [--batch 4] [--rope-theta 1e5] [--eps 1e-5] [--untied] [--dpo] [--warmup 2] [--runs 5]
    [--weights DIR] [--sdpa]
Prints the BLAS library actually loaded (from /proc/self/maps), the relevant lines of
torch.__config__, the thread settings, process CPU time / wall time over the timed steps
(flagged when above threads * 1.1), peak RSS, a human line and a RESULT line that
llama_side_by_side.sh parses.
"""
import argparse
import json
import math
import os
import resource
import statistics
import struct
import sys
import time


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layers", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=576)
    ap.add_argument("--heads", type=int, default=9)
    ap.add_argument("--kv-heads", type=int, default=3)
    ap.add_argument("--head-dim", type=int, default=0, help="default hidden / heads")
    ap.add_argument("--intermediate", type=int, default=1536)
    ap.add_argument("--vocab", type=int, default=49152)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4, help="sequences per step (--dpo: chosen + rejected, even)")
    ap.add_argument("--rope-theta", type=float, default=1e5)
    ap.add_argument("--eps", type=float, default=1e-5, help="rms_norm_eps")
    ap.add_argument("--untied", action="store_true", help="own lm_head instead of the tied embedding")
    ap.add_argument("--dpo", action="store_true", help="time a DPO step instead of forward + backward")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--weights", help="model folder written by LlamaStepMain --save (weights, config, inputs)")
    ap.add_argument("--sdpa", action="store_true", help="F.scaled_dot_product_attention (PyTorch >= 2.0)")
    a = ap.parse_args(argv)
    if a.weights:
        with open(os.path.join(a.weights, "config.json")) as f:
            c = json.load(f)
        a.layers, a.hidden, a.heads = c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"]
        a.kv_heads, a.head_dim, a.intermediate = c["num_key_value_heads"], c["head_dim"], c["intermediate_size"]
        a.vocab, a.rope_theta, a.eps = c["vocab_size"], c["rope_theta"], c["rms_norm_eps"]
        a.untied = not c.get("tie_word_embeddings", True)
    if a.head_dim == 0:
        if a.hidden % a.heads:
            ap.error("--hidden must be a multiple of --heads (or give --head-dim)")
        a.head_dim = a.hidden // a.heads
    if a.heads % a.kv_heads:
        ap.error("--kv-heads must divide --heads")
    if a.head_dim % 2:
        ap.error("head dim must be even")
    if a.dpo and a.batch % 2:
        ap.error("--dpo: --batch counts chosen + rejected sequences and must be even")
    if a.runs < 1 or a.warmup < 0:
        ap.error("--runs >= 1, --warmup >= 0")
    return a


A = parse_args()
# The BLAS and OpenMP pools read these when the libraries load, so set them before importing torch.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    if var not in os.environ:
        os.environ[var] = str(A.threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class RMSNorm(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dt)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    """[B, NKV, T, HS] -> [B, NKV * n_rep, T, HS], each kv head repeated for its query group."""
    if n_rep == 1:
        return x
    b, nkv, t, hs = x.shape
    return x[:, :, None, :, :].expand(b, nkv, n_rep, t, hs).reshape(b, nkv * n_rep, t, hs)


class Attention(nn.Module):
    def __init__(self, c, nh, nkv, hs, sdpa):
        super().__init__()
        self.nh, self.nkv, self.hs, self.sdpa = nh, nkv, hs, sdpa
        self.q_proj = nn.Linear(c, nh * hs, bias=False)
        self.k_proj = nn.Linear(c, nkv * hs, bias=False)
        self.v_proj = nn.Linear(c, nkv * hs, bias=False)
        self.o_proj = nn.Linear(nh * hs, c, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hs).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hs).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hs).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, self.nh // self.nkv), repeat_kv(v, self.nh // self.nkv)
        if self.sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(2, 3)) * (1.0 / math.sqrt(self.hs)) + mask
            att = F.softmax(att, dim=-1, dtype=torch.float32).to(q.dtype)
            y = att @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.nh * self.hs))


class Mlp(nn.Module):
    def __init__(self, c, i):
        super().__init__()
        self.gate_proj = nn.Linear(c, i, bias=False)
        self.up_proj = nn.Linear(c, i, bias=False)
        self.down_proj = nn.Linear(i, c, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.input_layernorm = RMSNorm(a.hidden, a.eps)
        self.self_attn = Attention(a.hidden, a.heads, a.kv_heads, a.head_dim, a.sdpa)
        self.post_attention_layernorm = RMSNorm(a.hidden, a.eps)
        self.mlp = Mlp(a.hidden, a.intermediate)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Trunk(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.embed_tokens = nn.Embedding(a.vocab, a.hidden)
        self.layers = nn.ModuleList(Layer(a) for _ in range(a.layers))
        self.norm = RMSNorm(a.hidden, a.eps)


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.model = Trunk(a)
        self.lm_head = nn.Linear(a.hidden, a.vocab, bias=False) if a.untied else None
        # rotary tables [T, HS] (angles in float64, rounded once), as buffers outside the state dict
        inv = 1.0 / (a.rope_theta ** (torch.arange(0, a.head_dim, 2, dtype=torch.float64) / a.head_dim))
        ang = torch.outer(torch.arange(a.seq, dtype=torch.float64), inv)
        emb = torch.cat((ang, ang), dim=-1)
        self.register_buffer("cos", emb.cos().float(), persistent=False)
        self.register_buffer("sin", emb.sin().float(), persistent=False)
        mask = torch.full((a.seq, a.seq), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)
        # HF's initialisation (initializer_range 0.02): matrices N(0, 0.02), norm weights 1
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.model.embed_tokens(idx)
        cos, sin, mask = self.cos[:T], self.sin[:T], self.mask[:T, :T]
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        x = self.model.norm(x)
        w = self.lm_head.weight if self.lm_head is not None else self.model.embed_tokens.weight
        return x @ w.t()  # full logits [B, T, V]


# ---------------------------------------------------------------- files written by pref4j

def read_safetensors(path):
    """name -> float32 tensor, for the F32 tensors of a safetensors file (no safetensors package needed)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {info['dtype']}, expected F32")
        s, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[s:e]), dtype=torch.float32) if e > s else torch.zeros(0)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def load_weights(model, folder):
    sd = read_safetensors(os.path.join(folder, "model.safetensors"))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise SystemExit(f"{folder}: weights do not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")


# ---------------------------------------------------------------- harness

def loaded_blas():
    """The BLAS shared libraries this process mapped (fp32 matmuls of Debian's torch go through them)."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    with open("/proc/self/maps") as f:
        libs = sorted({line.split()[-1] for line in f
                       if ".so" in line and ("libblas" in line or "libopenblas" in line or "libmkl" in line)})
    return libs


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def make_inputs(a):
    """Token sets (and reference log-probs for --dpo): from --weights DIR/inputs.json or random."""
    S, T, V = a.batch, a.seq, a.vocab
    prompt = max(1, T // 4)
    if a.weights:
        with open(os.path.join(a.weights, "inputs.json")) as f:
            inp = json.load(f)
        if inp["batch"] != S or inp["seq"] != T or bool(inp["dpo"]) != a.dpo:
            raise SystemExit(f"{a.weights}/inputs.json: written for batch {inp['batch']}, seq {inp['seq']}, "
                             f"dpo {inp['dpo']}; this run has batch {S}, seq {T}, dpo {a.dpo}")
        toks = [torch.tensor(t, dtype=torch.long).view(S, T) for t in inp["tokens"]]
        refs = [torch.tensor(r, dtype=torch.float32) for r in inp.get("ref", [])]
        prompt = inp.get("prompt", prompt)
    else:
        sets = 3 if a.dpo else 1
        toks = [torch.randint(0, V, (S, T)) for _ in range(sets)]
        refs = [(-(T - prompt) * math.log(V) + torch.randn(S)).float() for _ in range(sets)] if a.dpo else []
    mask = torch.zeros(S, T - 1)
    mask[:, prompt - 1:] = 1  # position t predicts token t+1; the prompt's positions have no target
    return toks, refs, mask


def main():
    a = A
    if a.sdpa and not hasattr(F, "scaled_dot_product_attention"):
        print(f"SKIP pytorch {torch.__version__} has no F.scaled_dot_product_attention (PyTorch >= 2.0)")
        return
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    blas = loaded_blas()
    print(f"blas: {', '.join(blas) if blas else 'none found in /proc/self/maps (built in?)'}")
    if any("/blas/libblas.so" in b for b in blas):
        print("WARNING: PyTorch is using the reference (netlib) BLAS, about 20x slower than OpenBLAS; "
              "point LD_LIBRARY_PATH at an OpenBLAS libblas.so.3 (llama_side_by_side.sh: TORCH_BLAS_DIR)")
    cfg = torch.__config__.show()
    keep = [ln.strip(" -") for ln in cfg.splitlines()
            if "Build settings" not in ln and any(w in ln for w in ("OpenMP", "CPU capability", "MKL", "BLAS"))]
    keep += [p for p in cfg.replace(",", " ").split()
             if p.split("=", 1)[0] in ("BLAS_INFO", "LAPACK_INFO", "USE_OPENMP", "USE_MKLDNN", "TORCH_VERSION")]
    print("torch config: " + "; ".join(keep))
    print(f"threads: torch.get_num_threads()={torch.get_num_threads()} OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} LD_LIBRARY_PATH={os.environ.get('LD_LIBRARY_PATH', '')}")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        if os.environ.get(var) != str(a.threads):
            print(f"WARNING: {var}={os.environ.get(var)} differs from --threads {a.threads}")

    model = Llama(a)
    if a.weights:
        load_weights(model, a.weights)
    toks, refs, mask = make_inputs(a)
    params = [p for p in model.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-5, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0) if a.dpo else None
    beta = 0.1
    S, T = a.batch, a.seq
    count = S * (T - 1)

    def grad_norm():
        return math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in params if p.grad is not None))

    def step(i, want_gnorm=False):
        x = toks[i % len(toks)]
        if a.dpo:
            logits = model(x)[:, :-1]
            lp = torch.log_softmax(logits, dim=-1).gather(-1, x[:, 1:].unsqueeze(-1)).squeeze(-1)
            seq = (lp * mask).sum(-1)
            ref = refs[i % len(refs)]
            h = (seq[0::2] - ref[0::2]) - (seq[1::2] - ref[1::2])
            loss = -F.logsigmoid(beta * h).mean()
            loss.backward()
            g = grad_norm() if want_gnorm else None
            opt.step()
            opt.zero_grad(set_to_none=True)
        else:
            model.zero_grad(set_to_none=False)
            logits = model(x)[:, :-1]
            lp = torch.log_softmax(logits, dim=-1).gather(-1, x[:, 1:].unsqueeze(-1)).squeeze(-1)
            loss = -lp.mean()  # over the B*(T-1) positions
            loss.backward()
            g = grad_norm() if want_gnorm else None
        return loss.item(), g

    loss0, gnorm0 = step(0, want_gnorm=True)  # first step (counts as warm-up); its loss is on the initial weights
    loss = loss0
    for i in range(1, a.warmup):
        loss, _ = step(i)
    times = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(a.runs):
        t0 = time.perf_counter()
        loss, _ = step(max(1, a.warmup) + i)
        times.append((time.perf_counter() - t0) * 1e3)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    ratio = cpu / wall
    flagged = ratio > a.threads * 1.1
    med = statistics.median(times)
    tps = S * T / (med * 1e-3)
    rss = peak_rss_mib()
    what = "dpo step" if a.dpo else "fwd+bwd"
    print(f"cpu/wall: {ratio:.2f} over the timed steps (threads {a.threads})"
          + (f"  FLAGGED: above threads x 1.1 = {a.threads * 1.1:.2f}" if flagged else ""))
    print(f"pytorch {torch.__version__} cpu ({a.threads} threads{', sdpa' if a.sdpa else ''}): {what}, "
          f"llama L{a.layers} d{a.hidden} h{a.heads}/kv{a.kv_heads} hs{a.head_dim} i{a.intermediate} V{a.vocab}"
          f"{' untied' if a.untied else ''}, B{S} T{T}: {med:.1f} ms/step (median of {a.runs}, min {min(times):.1f}), "
          f"{tps:.0f} tokens/s, peak RSS {rss:.0f} MiB, first loss {loss0:.6f}, last loss {loss:.6f}")
    print(f"RESULT impl=pytorch{'-sdpa' if a.sdpa else ''} mode={'dpo' if a.dpo else 'step'} threads={a.threads} "
          f"ms={med:.3f} min_ms={min(times):.3f} times_ms={','.join(f'{t:.3f}' for t in times)} "
          f"tokens_per_s={tps:.1f} cpu_wall={ratio:.3f} flagged={int(flagged)} rss_mib={rss:.1f} "
          f"loss0={loss0:.9g} gnorm0={gnorm0:.9g} loss={loss:.9g}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
