#!/usr/bin/env python3
"""A random-weight Llama-family model folder in Hugging Face layout.

Writes config.json (the keys transformers reads for the model_type) and the weights as
model.safetensors, or as N shards model-0000i-of-0000N.safetensors with
model.safetensors.index.json, in F32, BF16 or F16. Tensor names are those of
LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM
(model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight, ..., lm_head.weight
when the head is untied). Weights follow HF's initialisation (matrices N(0, 0.02), norm
weights 1, biases 0) unless --std is given. For shape checks and timing, not for quality.

Needs only torch (no transformers, no safetensors package: the writer is below).

  /usr/bin/python3 tools/make_random_llama.py --preset smollm2-135m --dtype bf16 --out /tmp/smol
  /usr/bin/python3 tools/make_random_llama.py --model-type qwen2 --hidden 896 --layers 24 \\
      --heads 14 --kv-heads 2 --intermediate 4864 --vocab 151936 --tie --shards 2 --out /tmp/q
"""
import argparse
import json
import os
import struct
import sys

import torch

ARCHS = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
         "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}

PRESETS = {
    # HuggingFaceTB/SmolLM2-135M
    "smollm2-135m": dict(model_type="llama", hidden=576, layers=30, heads=9, kv_heads=3, intermediate=1536,
                         vocab=49152, tie=True, rope_theta=100000.0, max_pos=8192, rms_norm_eps=1e-5),
    # HuggingFaceTB/SmolLM2-360M
    "smollm2-360m": dict(model_type="llama", hidden=960, layers=32, heads=15, kv_heads=5, intermediate=2560,
                         vocab=49152, tie=True, rope_theta=100000.0, max_pos=8192, rms_norm_eps=1e-5),
    # TinyLlama/TinyLlama-1.1B
    "tinyllama-1.1b": dict(model_type="llama", hidden=2048, layers=22, heads=32, kv_heads=4, intermediate=5632,
                           vocab=32000, tie=False, rope_theta=10000.0, max_pos=2048, rms_norm_eps=1e-5),
    # Qwen/Qwen2.5-0.5B
    "qwen2.5-0.5b": dict(model_type="qwen2", hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864,
                         vocab=151936, tie=True, rope_theta=1000000.0, max_pos=32768, rms_norm_eps=1e-6),
    # Qwen/Qwen3-0.6B
    "qwen3-0.6b": dict(model_type="qwen3", hidden=1024, layers=28, heads=16, kv_heads=8, intermediate=3072,
                       vocab=151936, tie=True, rope_theta=1000000.0, max_pos=40960, rms_norm_eps=1e-6,
                       head_dim=128),
}

DTYPES = {"f32": ("F32", torch.float32), "bf16": ("BF16", torch.bfloat16), "f16": ("F16", torch.float16)}


# ---------------------------------------------------------------- safetensors writer

def tensor_bytes(t, dtype_name):
    """Little-endian bytes of t stored as dtype_name (F32, BF16 or F16)."""
    torch_dtype = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}[dtype_name]
    t = t.detach().to(torch_dtype).contiguous()
    if torch_dtype == torch.float32:
        return t.numpy().astype("<f4").tobytes()
    # numpy has no bfloat16: reinterpret the 16-bit patterns as int16
    return t.view(torch.int16).numpy().astype("<i2").tobytes()


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, tensor, dtype_name) or dict name -> (tensor, dtype_name).
    Sorted by name, header padded with spaces to a multiple of 8 (as the reference does)."""
    items = sorted(tensors.items()) if isinstance(tensors, dict) else sorted(tensors, key=lambda x: x[0])
    items = [(n, v[0], v[1]) for n, v in items] if isinstance(tensors, dict) else items
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    off = 0
    blobs = []
    for name, t, dt in items:
        data = tensor_bytes(t, dt)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
    return off


def write_weights(out, tensors, shards, metadata=None):
    """Writes {name: (tensor, dtype)} as model.safetensors, or as `shards` files plus
    model.safetensors.index.json (tensors split in name order into shards of about equal size)."""
    if shards <= 1:
        write_safetensors(os.path.join(out, "model.safetensors"), tensors, metadata or {"format": "pt"})
        return
    names = sorted(tensors)
    sizes = [tensors[n][0].numel() for n in names]
    total, target = sum(sizes), sum(sizes) / shards
    groups, cur, acc = [], [], 0
    for n, s in zip(names, sizes):
        cur.append(n)
        acc += s
        if acc >= target * (len(groups) + 1) and len(groups) < shards - 1:
            groups.append(cur)
            cur = []
    groups.append(cur)
    groups = [g for g in groups if g]
    weight_map, total_bytes = {}, 0
    for i, g in enumerate(groups):
        fname = f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        total_bytes += write_safetensors(os.path.join(out, fname), {n: tensors[n] for n in g}, {"format": "pt"})
        for n in g:
            weight_map[n] = fname
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total_bytes}, "weight_map": weight_map}, f, indent=2)
        f.write("\n")


# ---------------------------------------------------------------- config and tensors

def hf_config(a):
    """config.json as transformers writes it for this model_type (legacy rope keys)."""
    mt = a["model_type"]
    hd = a.get("head_dim") or a["hidden"] // a["heads"]
    c = {
        "architectures": [ARCHS[mt]],
        "model_type": mt,
        "hidden_size": a["hidden"],
        "intermediate_size": a["intermediate"],
        "num_hidden_layers": a["layers"],
        "num_attention_heads": a["heads"],
        "num_key_value_heads": a["kv_heads"],
        "head_dim": hd,
        "hidden_act": "silu",
        "max_position_embeddings": a["max_pos"],
        "rms_norm_eps": a["rms_norm_eps"],
        "rope_theta": a["rope_theta"],
        "rope_scaling": a.get("rope_scaling"),
        "vocab_size": a["vocab"],
        "tie_word_embeddings": bool(a["tie"]),
        "initializer_range": 0.02,
        "attention_dropout": 0.0,
        "use_cache": True,
        "torch_dtype": {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[a.get("dtype", "f32")],
    }
    if mt == "llama":
        c["attention_bias"] = bool(a.get("attention_bias", False))
        c["mlp_bias"] = False
        c["pretraining_tp"] = 1
    elif mt == "qwen3":
        c["attention_bias"] = bool(a.get("attention_bias", False))
        c["use_sliding_window"] = False
        c["sliding_window"] = None
        c["max_window_layers"] = a["layers"]
    elif mt == "qwen2":
        c["use_sliding_window"] = False
        c["sliding_window"] = None
        c["max_window_layers"] = a["layers"]
    elif mt == "mistral":
        c["sliding_window"] = None
    for k in ("bos_token_id", "eos_token_id"):
        if a.get(k) is not None:
            c[k] = a[k]
    return c


def tensor_shapes(a):
    """[(name, shape, kind)] of the model's tensors; kind is matrix, norm or bias."""
    mt = a["model_type"]
    C, I, V, NH, NKV = a["hidden"], a["intermediate"], a["vocab"], a["heads"], a["kv_heads"]
    HS = a.get("head_dim") or C // NH
    qkv_bias = mt == "qwen2" or (mt in ("llama", "qwen3") and a.get("attention_bias", False))
    o_bias = mt in ("llama", "qwen3") and a.get("attention_bias", False)
    out = [("model.embed_tokens.weight", (V, C), "matrix")]
    for l in range(a["layers"]):
        p = f"model.layers.{l}."
        out.append((p + "input_layernorm.weight", (C,), "norm"))
        out.append((p + "self_attn.q_proj.weight", (NH * HS, C), "matrix"))
        out.append((p + "self_attn.k_proj.weight", (NKV * HS, C), "matrix"))
        out.append((p + "self_attn.v_proj.weight", (NKV * HS, C), "matrix"))
        if qkv_bias:
            out.append((p + "self_attn.q_proj.bias", (NH * HS,), "bias"))
            out.append((p + "self_attn.k_proj.bias", (NKV * HS,), "bias"))
            out.append((p + "self_attn.v_proj.bias", (NKV * HS,), "bias"))
        if mt == "qwen3":
            out.append((p + "self_attn.q_norm.weight", (HS,), "norm"))
            out.append((p + "self_attn.k_norm.weight", (HS,), "norm"))
        out.append((p + "self_attn.o_proj.weight", (C, NH * HS), "matrix"))
        if o_bias:
            out.append((p + "self_attn.o_proj.bias", (C,), "bias"))
        out.append((p + "post_attention_layernorm.weight", (C,), "norm"))
        out.append((p + "mlp.gate_proj.weight", (I, C), "matrix"))
        out.append((p + "mlp.up_proj.weight", (I, C), "matrix"))
        out.append((p + "mlp.down_proj.weight", (C, I), "matrix"))
    out.append(("model.norm.weight", (C,), "norm"))
    if not a["tie"]:
        out.append(("lm_head.weight", (V, C), "matrix"))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder to write (created)")
    ap.add_argument("--preset", choices=sorted(PRESETS), help="a known model's shape")
    ap.add_argument("--model-type", choices=sorted(ARCHS))
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--layers", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--kv-heads", type=int)
    ap.add_argument("--head-dim", type=int)
    ap.add_argument("--intermediate", type=int)
    ap.add_argument("--vocab", type=int)
    ap.add_argument("--max-pos", type=int)
    ap.add_argument("--rope-theta", type=float)
    ap.add_argument("--rms-norm-eps", type=float)
    ap.add_argument("--tie", dest="tie", action="store_true", default=None)
    ap.add_argument("--no-tie", dest="tie", action="store_false")
    ap.add_argument("--attention-bias", action="store_true", default=None)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--std", type=float, default=0.02, help="std of the matrices (HF: initializer_range 0.02)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    a = dict(model_type="llama", hidden=None, layers=None, heads=None, kv_heads=None, intermediate=None,
             vocab=None, tie=False, rope_theta=10000.0, max_pos=2048, rms_norm_eps=1e-6, head_dim=None,
             attention_bias=False)
    if args.preset:
        a.update(PRESETS[args.preset])
    for k_arg, k in [("model_type", "model_type"), ("hidden", "hidden"), ("layers", "layers"), ("heads", "heads"),
                     ("kv_heads", "kv_heads"), ("head_dim", "head_dim"), ("intermediate", "intermediate"),
                     ("vocab", "vocab"), ("max_pos", "max_pos"), ("rope_theta", "rope_theta"),
                     ("rms_norm_eps", "rms_norm_eps"), ("tie", "tie"), ("attention_bias", "attention_bias")]:
        v = getattr(args, k_arg)
        if v is not None:
            a[k] = v
    if a["kv_heads"] is None:
        a["kv_heads"] = a["heads"]
    missing = [k for k in ("hidden", "layers", "heads", "intermediate", "vocab") if a[k] is None]
    if missing:
        ap.error("give --preset or all of --hidden --layers --heads --intermediate --vocab (missing: "
                 + ", ".join(missing) + ")")
    if a["heads"] % a["kv_heads"]:
        ap.error("--kv-heads must divide --heads")
    if a["model_type"] == "mistral" and a["attention_bias"]:
        ap.error("mistral has no attention biases")
    a["dtype"] = args.dtype

    os.makedirs(args.out, exist_ok=True)
    gen = torch.Generator().manual_seed(args.seed)
    dt = DTYPES[args.dtype][0]
    tensors = {}
    n_params = 0
    for name, shape, kind in tensor_shapes(a):
        if kind == "norm":
            t = torch.ones(shape)
        elif kind == "bias":
            t = torch.zeros(shape)
        else:
            t = torch.randn(*shape, generator=gen) * args.std
        tensors[name] = (t, dt)
        n_params += t.numel()
    write_weights(args.out, tensors, args.shards)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(hf_config(a), f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}: {a['model_type']}, {n_params:,} parameters, {args.dtype}, "
          f"{max(1, args.shards)} file(s)", file=sys.stderr)


if __name__ == "__main__":
    main()
