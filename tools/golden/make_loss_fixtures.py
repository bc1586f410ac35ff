#!/usr/bin/env python3
"""Golden fixtures for pref4j's fused losses, computed by PyTorch autograd in float64.

Every loss variant of SPEC section 2 on small random batches: the inputs (float32 values,
so the Java side holds them exactly; ints stored as floats), the loss, its gradient with
respect to the per-sequence log-probs (PPO: per-token log-probs and values) and the
metrics, named as io.pref4j.loss reports them. Batches include sequences repeated across
pairs (all-pairs construction), prompt groups of different sizes (one of size 1), reward
ties (for the best, the worst and the top-k boundary), a zero-length response, advantages
beyond the +-10 clip, PPO rows of different response lengths (one with none), clipped
ratios and clipped values; GRPO over every loss_type, scale_rewards and importance level
(token and GSPO's sequence ratio, eps_high != eps, beta 0 with and without reference log-probs,
ratio exactly 1, a prompt group with zero reward spread, a row without completion tokens);
KTO with both labels, unequal weights and a clamped-to-0 KL reference point; SimPO (gamma,
label smoothing) and ORPO on pairs with lengths (no reference log-probs).

  /usr/bin/python3 tools/golden/make_loss_fixtures.py java/src/test/resources/golden

Writes losses.safetensors. Metadata: "cases" = comma-separated case names; per case
"<case>.type" (loss.type) and "<case>.params" ("key=value;..." loss.* config fields).
Tensors per case "<case>.<name>": inputs logp, ref_logp, rewards, lengths, groups, chosen,
rejected, state_in (reinforce moving average), PPO old_logp, values, old_values, scores,
mask, kl_coef, GRPO max_completion_length, KTO labels, kl_logp, kl_ref_logp; outputs loss,
dlogp, state_out, PPO/GRPO adv, returns, dvalue, KTO z_ref; metrics as "<case>.m.<metric>"
(PPO rollout and GRPO advantage metrics as "<case>.ma.<metric>").
Only torch is needed (Debian's python3-torch works).
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import write_safetensors  # noqa: E402  (the hand-written writer)

torch.set_default_dtype(torch.float64)

CASES = []  # (name, type, params, tensors)


def f32(x):
    """float32-representable float64 values (tensor or scalar)."""
    if isinstance(x, torch.Tensor):
        return x.to(torch.float32).to(torch.float64)
    return float(torch.tensor(x, dtype=torch.float32).item())


def randn(gen, *shape, std=1.0, mean=0.0):
    return f32(torch.randn(*shape, generator=gen) * std + mean)


def add(name, typ, params, tensors):
    params = {k: (repr(f32(v)) if isinstance(v, float) else str(v)) for k, v in params.items()}
    CASES.append((name, typ, params, tensors))


def fl(x):
    return torch.as_tensor(x, dtype=torch.float64).reshape(-1)


# ---------------------------------------------------------------- pairwise


def pairwise_loss(kind, logp, ref, rewards, ci, ri, p):
    lw = logp[ci] - ref[ci]
    ll = logp[ri] - ref[ri]
    h = lw - ll
    beta = p.get("beta", 0.1)
    if kind == "ipo":
        l = (h - 1 / (2 * p["ipo_tau"])) ** 2
    elif kind == "hinge":
        l = torch.relu(1 - beta * h)
    else:
        eps = p.get("label_smoothing", 0.0)
        l = -(1 - eps) * F.logsigmoid(beta * h) - eps * F.logsigmoid(-beta * h)
    w = torch.ones_like(h)
    if kind == "wdpo":
        z = p.get("beta2", 1.0) * (rewards[ci] - rewards[ri])
        mode = p.get("wdpo_mode", "exp")
        if mode == "exp":
            w = len(ci) * torch.softmax(z, 0)
        elif mode == "sigmoid":
            w = torch.sigmoid(z)
        elif mode == "linear":
            w = z
    loss = (w * l).mean()
    m = {"loss": loss, "h_mean": h.mean(), "reward_chosen": (beta * lw).mean(),
         "reward_rejected": (beta * ll).mean(), "margin": (beta * lw - beta * ll).mean(),
         "accuracy": (h > 0).double().mean(), "weight_mean": w.mean(), "pairs": torch.tensor(float(len(ci)))}
    return loss, m


def pair_batch(gen):
    # 7 sequences from 2 prompts (4 + 3); rewards with a tie in each prompt
    groups = [0, 0, 0, 0, 1, 1, 1]
    rewards = fl([0.5, 2.0, 0.5, -1.25, 3.0, 1.0, 3.0])
    pol = randn(gen, 7, std=8.0, mean=-30.0)
    ref = f32(pol + randn(gen, 7, std=6.0))
    ci, ri = [], []
    for i in range(7):
        for j in range(7):
            if groups[i] == groups[j] and rewards[i] - rewards[j] > 0.2:  # all pairs, |dr| > 0.2
                ci.append(i)
                ri.append(j)
    ci.append(4)  # a tie (dr = 0) for the weight modes
    ri.append(6)
    return pol, ref, rewards, torch.tensor(ci), torch.tensor(ri)


def pairwise_cases(gen):
    pol, ref, rewards, ci, ri = pair_batch(gen)
    variants = [
        ("dpo", "dpo", {"beta": 0.1}),
        ("dpo_ls", "dpo", {"beta": 0.5, "label_smoothing": 0.1}),
        ("ipo", "ipo", {"ipo_tau": 0.1}),
        ("hinge", "hinge", {"beta": 0.2}),
        ("wdpo_exp", "wdpo", {"beta": 0.1, "wdpo_mode": "exp", "beta2": 1.0}),
        ("wdpo_exp_ls", "wdpo", {"beta": 0.3, "label_smoothing": 0.2, "wdpo_mode": "exp", "beta2": 2.0}),
        ("wdpo_sigmoid", "wdpo", {"beta": 0.1, "wdpo_mode": "sigmoid", "beta2": 1.5}),
        ("wdpo_linear", "wdpo", {"beta": 0.1, "wdpo_mode": "linear", "beta2": 0.5}),
        ("wdpo_none", "wdpo", {"beta": 0.1, "wdpo_mode": "none"}),
    ]
    for name, kind, p in variants:
        p = {k: f32(v) if isinstance(v, float) else v for k, v in p.items()}
        logp = pol.clone().requires_grad_(True)
        loss, m = pairwise_loss(kind, logp, ref, rewards, ci, ri, p)
        loss.backward()
        t = {"logp": pol, "ref_logp": ref, "rewards": rewards, "chosen": ci.double(), "rejected": ri.double(),
             "loss": loss.reshape(1), "dlogp": logp.grad}
        t.update({"m." + k: fl(v.detach()) for k, v in m.items()})
        add(name, kind, p, t)


# ---------------------------------------------------------------- per-sample


def sample_batch(gen, sizes):
    """Sequences of prompt groups of the given sizes, interleaved; one zero-length response."""
    groups = []
    for g, n in enumerate(sizes):
        groups += [g] * n
    perm = torch.randperm(len(groups), generator=gen)
    groups = torch.tensor(groups)[perm]
    S = len(groups)
    lengths = torch.randint(1, 20, (S,), generator=gen)
    lengths[3] = 0
    pol = f32(-lengths.double() * (1.5 + torch.rand(S, generator=gen)))
    ref = f32(pol + randn(gen, S, std=2.0))
    # rewards on a coarse grid, so that groups have ties
    rewards = f32(torch.randint(-4, 5, (S,), generator=gen).double() * 0.5)
    return pol, ref, lengths, rewards, groups


def rank_in_group(rewards, groups, i):
    return sum(1 for j in range(len(groups)) if j != i and groups[j] == groups[i] and
               (rewards[j] > rewards[i] or (rewards[j] == rewards[i] and j < i)))


def per_sample_metrics(loss, w, count, logp, ref, rewards, wname="weight_mean"):
    return {"loss": loss, wname: w, "count": torch.tensor(float(count)), "reward": rewards.mean(),
            "kl": (logp - ref).mean()}


def sft_loss(logp, ref, lengths, rewards, p):
    valid = lengths > 0
    n = int(valid.sum())
    loss = (-logp[valid] / lengths[valid]).sum() / n
    return loss, per_sample_metrics(loss, torch.tensor(1.0), n, logp, ref, rewards)


def rwr_loss(logp, ref, lengths, rewards, groups, p):
    S = len(logp)
    if p.get("rwr_mode", "weight") == "filter":
        k = p["rwr_top_k"]
        w = torch.tensor([1.0 if rank_in_group(rewards, groups, i) < k else 0.0 for i in range(S)])
    else:
        w = torch.clamp(torch.exp(rewards / p["rwr_tau"]), max=p["rwr_w_max"])
    valid = lengths > 0
    terms = -w[valid] * logp[valid] / lengths[valid]
    norm = w[valid].sum() if p.get("rwr_mode", "weight") == "filter" else valid.sum().double()
    loss = terms.sum() / norm
    return loss, per_sample_metrics(loss, w[valid].mean(), int(valid.sum()), logp, ref, rewards)


def bon_loss(logp, ref, rewards, groups, p):
    mode = p.get("bon_negative", "none")
    bneg = p.get("bon_beta_neg", 0.1)
    S = len(logp)
    G = int(groups.max()) + 1
    total = 0
    coef = torch.zeros(S)
    used = 0
    for g in range(G):
        idx = [i for i in range(S) if groups[i] == g]
        if not idx:
            continue
        used += 1
        best = max(idx, key=lambda i: (rewards[i].item(), -i))
        worse = [i for i in idx if rewards[i] < rewards[best]]
        total = total - logp[best]
        coef[best] = 1
        if mode == "average_over_worse" and worse:
            total = total + bneg * torch.stack([logp[i] for i in worse]).mean()
            for i in worse:
                coef[i] = -bneg / len(worse)
        elif mode == "worst" and worse:
            worst = min(idx, key=lambda i: (rewards[i].item(), i))
            total = total + bneg * logp[worst]
            coef[worst] = -bneg
    loss = total / used
    return loss, per_sample_metrics(loss, coef.mean(), used, logp, ref, rewards)


def reinforce_loss(logp, ref, rewards, groups, p, state):
    c = p.get("kl_coef", 0.0)
    clip = p.get("adv_clip", 10.0)
    r = (rewards - c * (logp - ref)).detach()  # the KL penalty is a constant
    S = len(r)
    base = p["baseline"]
    new_state = state.clone()
    if base == "none":
        b = torch.zeros(S)
    elif base == "batch_mean":
        b = r.mean().expand(S)
    elif base == "moving_average":
        if state[1] == 0:
            b = r.mean().expand(S)
            new_state = fl([r.mean().item(), 1.0])
        else:
            b = state[0].expand(S)
            d = p["baseline_decay"]
            new_state = fl([d * state[0].item() + (1 - d) * r.mean().item(), 1.0])
    else:
        b = torch.zeros(S)
        for i in range(S):
            same = [j for j in range(S) if groups[j] == groups[i]]
            if base == "per_prompt_mean":
                b[i] = r[same].mean()
            else:  # rloo
                others = [j for j in same if j != i]
                assert others, "rloo needs >= 2 per group"
                b[i] = r[others].mean()
    a = torch.clamp(r - b, -clip, clip)
    loss = -(a * logp).mean()
    m = per_sample_metrics(loss, a.mean(), S, logp, ref, rewards, "advantage_mean")
    return loss, m, new_state


def sample_cases(gen):
    pol, ref, lengths, rewards, groups = sample_batch(gen, [4, 1, 3, 2])
    runs = [
        ("sft", "sft", {}),
        ("nll", "nll", {}),
        ("rwr_weight", "rwr", {"rwr_tau": 0.5, "rwr_w_max": 3.0}),
        ("rwr_default", "rwr", {"rwr_tau": 1.0, "rwr_w_max": 10.0}),
        ("rwr_filter", "rwr", {"rwr_mode": "filter", "rwr_top_k": 2}),
        ("bon", "bon", {}),
        ("bon_avg", "bon", {"bon_negative": "average_over_worse", "bon_beta_neg": 0.3}),
        ("bon_worst", "bon", {"bon_negative": "worst", "bon_beta_neg": 0.3}),
    ]
    for name, typ, p in runs:
        p = {k: f32(v) if isinstance(v, float) else v for k, v in p.items()}
        logp = pol.clone().requires_grad_(True)
        if typ in ("sft", "nll"):
            loss, m = sft_loss(logp, ref, lengths, rewards, p)
        elif typ == "rwr":
            loss, m = rwr_loss(logp, ref, lengths, rewards, groups, p)
        else:
            loss, m = bon_loss(logp, ref, rewards, groups, p)
        loss.backward()
        t = {"logp": pol, "ref_logp": ref, "lengths": lengths.double(), "rewards": rewards,
             "groups": groups.double(), "loss": loss.reshape(1), "dlogp": logp.grad}
        t.update({"m." + k: fl(v.detach()) for k, v in m.items()})
        add(name, typ, p, t)

    # reinforce: large rewards so that some advantages pass +-10; rloo on groups of >= 2
    pol2, ref2, _, rewards2, groups2 = sample_batch(gen, [3, 2, 4])
    rewards2 = f32(rewards2 * 8.0)
    runs = [
        ("reinforce_none", {"baseline": "none", "kl_coef": 0.0}, None),
        ("reinforce_batch_mean", {"baseline": "batch_mean", "kl_coef": 0.0}, None),
        ("reinforce_batch_mean_kl", {"baseline": "batch_mean", "kl_coef": 0.25}, None),
        ("reinforce_per_prompt", {"baseline": "per_prompt_mean", "kl_coef": 0.1}, None),
        ("reinforce_rloo", {"baseline": "rloo", "kl_coef": 0.0}, None),
        ("reinforce_rloo_kl", {"baseline": "rloo", "kl_coef": 0.5, "adv_clip": 5.0}, None),
        ("reinforce_ma_first", {"baseline": "moving_average", "kl_coef": 0.0, "baseline_decay": 0.9}, fl([0.0, 0.0])),
        ("reinforce_ma", {"baseline": "moving_average", "kl_coef": 0.1, "baseline_decay": 0.75}, fl([1.5, 1.0])),
    ]
    for name, p, state in runs:
        p = {k: f32(v) if isinstance(v, float) else v for k, v in p.items()}
        logp = pol2.clone().requires_grad_(True)
        st = state if state is not None else fl([0.0, 0.0])
        loss, m, new_state = reinforce_loss(logp, ref2, rewards2, groups2, p, st)
        loss.backward()
        t = {"logp": pol2, "ref_logp": ref2, "rewards": rewards2, "groups": groups2.double(),
             "loss": loss.reshape(1), "dlogp": logp.grad}
        if state is not None:
            t["state_in"] = state
            t["state_out"] = new_state
        t.update({"m." + k: fl(v.detach()) for k, v in m.items()})
        add(name, "reinforce", p, t)


# ---------------------------------------------------------------- PPO


def gae(old, ref, oldv, scores, mask, c, gamma, lam):
    """Advantages as the discounted sums A_t = sum_k (gamma lam)^k delta_{t+k} over each
    row's response tokens (a direct sum, not the backward recursion)."""
    B, T = old.shape
    adv = torch.zeros(B, T)
    for b in range(B):
        idx = [t for t in range(T) if mask[b, t]]
        n = len(idx)
        if n == 0:
            continue
        r = torch.stack([-c * (old[b, t] - ref[b, t]) for t in idx])
        r[-1] = r[-1] + scores[b]
        v = torch.stack([oldv[b, t] for t in idx])
        vnext = torch.cat([v[1:], torch.zeros(1)])
        delta = r + gamma * vnext - v
        for k, t in enumerate(idx):
            adv[b, t] = sum((gamma * lam) ** (j - k) * delta[j] for j in range(k, n))
    return adv


def ppo_case(gen, name, p, B=4, T=9):
    p = {k: f32(v) if isinstance(v, float) else v for k, v in p.items()}
    c = p["kl_coef"]
    mask = torch.zeros(B, T, dtype=torch.bool)
    starts = [2, 3, 1, 4]
    ends = [9, 7, 6, 4]  # row 3 has no response tokens
    for b in range(B):
        mask[b, starts[b]:ends[b]] = True
    old = randn(gen, B, T, std=1.0, mean=-2.0) * mask
    ref = f32(old + randn(gen, B, T, std=0.3)) * mask
    new = f32(old + randn(gen, B, T, std=0.25)) * mask  # some ratios beyond 1 +- 0.2
    oldv = randn(gen, B, T, std=1.0) * mask
    newv = f32(oldv + randn(gen, B, T, std=0.3)) * mask  # some values beyond old +- 0.2
    scores = randn(gen, B, std=2.0)
    gamma, lam = p.get("gamma", 1.0), p.get("lambda", 0.95)
    adv = gae(old, ref, oldv, scores, mask, c, gamma, lam)
    ret = (adv + oldv) * mask
    n = mask.sum()
    if p.get("whiten", "true") == "true":
        mean = adv[mask].mean()
        var = ((adv[mask] - mean) ** 2).sum() / (n - 1)
        adv = (adv - mean) * torch.rsqrt(var + 1e-8) * mask
    rows = [b for b in range(B) if mask[b].any()]
    ma = {"reward": scores[rows].mean(), "kl": torch.stack([((old - ref) * mask)[b].sum() for b in rows]).mean(),
          "return_mean": ret[mask].mean(), "tokens": n.double(), "kl_coef": torch.tensor(c)}

    eps, epsv, vf = p.get("ppo_clip", 0.2), p.get("ppo_value_clip", 0.2), p.get("vf_coef", 0.1)
    logp = new.clone().requires_grad_(True)
    v = newv.clone().requires_grad_(True)
    ratio = torch.exp(logp - old)
    pg1 = -adv * ratio
    pg2 = -adv * torch.clamp(ratio, 1 - eps, 1 + eps)
    pg = torch.max(pg1, pg2)[mask].mean()
    vc = oldv + torch.clamp(v - oldv, -epsv, epsv)
    vl = 0.5 * torch.max((v - ret) ** 2, (vc - ret) ** 2)[mask].mean()
    loss = pg + vf * vl
    loss.backward()
    m = {"loss": loss, "policy_loss": pg, "value_loss": vl, "clip_frac": (pg2 > pg1)[mask].double().mean(),
         "approx_kl": (0.5 * (logp - old) ** 2)[mask].mean(), "tokens": n.double()}
    t = {"logp": new, "old_logp": old, "ref_logp": ref, "values": newv, "old_values": oldv, "scores": scores,
         "mask": mask.double(), "kl_coef": fl([c]), "adv": adv, "returns": ret, "loss": loss.reshape(1),
         "dlogp": logp.grad, "dvalue": v.grad}
    t.update({"m." + k: fl(x.detach()) for k, x in m.items()})
    t.update({"ma." + k: fl(x.detach()) for k, x in ma.items()})
    add(name, "ppo", p, t)


def ppo_cases(gen):
    ppo_case(gen, "ppo", {"kl_coef": 0.1})
    ppo_case(gen, "ppo_nowhiten", {"kl_coef": 0.3, "whiten": "false", "gamma": 0.99, "lambda": 0.9,
                                   "ppo_clip": 0.1, "ppo_value_clip": 0.5, "vf_coef": 0.5})


# ---------------------------------------------------------------- GRPO (and DAPO, Dr. GRPO, GSPO)


def grpo_advantages(rewards, groups, scale):
    """TRL's group-relative advantages, per row: r - group mean, divided by (std + 1e-4) with the
    group's (scale group) or the batch's (scale batch) unbiased std, or not at all (none)."""
    B = len(rewards)
    gmean = torch.zeros(B)
    gstd = torch.zeros(B)
    for i in range(B):
        idx = [j for j in range(B) if groups[j] == groups[i]]
        gmean[i] = rewards[idx].mean()
        gstd[i] = rewards[idx].std()  # unbiased, as torch.std and TRL
    bstd = rewards.std().expand(B)
    std = bstd if scale == "batch" else gstd
    adv = rewards - gmean
    if scale != "none":
        adv = adv / (std + 1e-4)
    firsts = [i for i in range(B) if all(groups[j] != groups[i] for j in range(i))]
    zero = sum(1 for i in firsts if gstd[i] == 0)
    ma = {"reward": rewards.mean(), "reward_std": std.mean(), "frac_reward_zero_std": torch.tensor(zero / len(firsts)),
          "groups": torch.tensor(float(len(firsts)))}
    return adv, ma


def grpo_loss(logp, old, ref, adv, mask, p, max_len):
    """The GRPO objective as TRL's GRPOTrainer._compute_loss, from the formulas."""
    B, T = logp.shape
    eps = p.get("epsilon", f32(0.2))  # defaults as the float32 values the kernels receive
    eh = p.get("epsilon_high", 0.0) or eps
    beta = p.get("beta", f32(0.1))
    m = mask.double()
    d = logp - old
    if p.get("importance_sampling_level", "token") == "sequence":
        logw = ((d * m).sum(-1) / m.sum(-1).clamp(min=1.0)).unsqueeze(-1)  # GSPO
    else:
        logw = d
    coef1 = torch.exp(logw)
    coef2 = torch.clamp(coef1, 1 - eps, 1 + eh)
    a = adv.unsqueeze(-1)
    ptl = -torch.min(coef1 * a, coef2 * a)
    ptl = ptl.expand(B, T)
    k3 = None
    if ref is not None:
        k3 = torch.exp(ref - logp) - (ref - logp) - 1
    if beta != 0:
        ptl = ptl + beta * k3
    lt = p.get("loss_type", "grpo")
    if lt == "grpo":
        loss = ((ptl * m).sum(-1) / m.sum(-1).clamp(min=1.0)).mean()
    elif lt in ("bnpo", "dapo"):
        loss = (ptl * m).sum() / m.sum().clamp(min=1.0)
    else:  # dr_grpo
        loss = (ptl * m).sum() / (B * max_len)
    low = (coef1 < 1 - eps) & (a < 0)
    high = (coef1 > 1 + eh) & (a > 0)

    def frac(x):  # TRL's masked_batch_mean: over tokens, or over rows for sequence-level ratios
        x = x.double()
        return x.mean() if x.shape[1] == 1 else (x * m).sum() / m.sum()

    met = {"loss": loss}
    if ref is not None:
        met["kl"] = (k3 * m).sum() / m.sum()
    met.update({"clip_ratio_low": frac(low), "clip_ratio_high": frac(high), "clip_ratio": frac(low | high),
                "tokens": m.sum()})
    return loss, met


def grpo_case(gen, name, p, with_ref, mu1=False, B=8, T=7, max_len=10):
    p = {k: f32(v) if isinstance(v, float) else v for k, v in p.items()}
    # 3 prompt groups (3, 3, 2 rows) interleaved; group 2's rewards are all equal (zero spread)
    groups = torch.tensor([0, 1, 2, 0, 1, 0, 2, 1])
    rewards = f32(torch.randint(-3, 4, (B,), generator=gen).double() * 0.75)
    rewards[0], rewards[3] = f32(1.5), f32(-0.75)  # group 0 has spread
    rewards[2] = rewards[6] = f32(0.5)
    mask = torch.zeros(B, T, dtype=torch.bool)
    lens = [7, 5, 3, 6, 1, 4, 0, 7]  # row 6 has no completion tokens
    starts = [0, 1, 2, 0, 3, 2, 0, 0]
    for b in range(B):
        mask[b, starts[b]:starts[b] + lens[b]] = True
    old = randn(gen, B, T, std=1.0, mean=-2.0) * mask
    new = old.clone() if mu1 else f32(old + randn(gen, B, T, std=0.3)) * mask  # some ratios beyond 1 -+ eps
    ref = f32(new + randn(gen, B, T, std=0.4)) * mask
    adv, ma = grpo_advantages(rewards, groups, p.get("scale_rewards", "group"))
    adv = f32(adv)  # the loss kernel reads the float32 advantages the advantage kernel writes
    logp = new.clone().requires_grad_(True)
    loss, m = grpo_loss(logp, old, ref if with_ref else None, adv, mask, p, max_len)
    loss.backward()
    t = {"logp": new, "old_logp": old, "mask": mask.double(), "rewards": rewards, "groups": groups.double(),
         "adv": adv, "max_completion_length": fl([max_len]), "loss": loss.reshape(1), "dlogp": logp.grad}
    if with_ref:
        t["ref_logp"] = ref
    t.update({"m." + k: fl(x.detach()) for k, x in m.items()})
    t.update({"ma." + k: fl(x.detach()) for k, x in ma.items()})
    add(name, "grpo", p, t)


def grpo_cases(gen):
    grpo_case(gen, "grpo", {"beta": 0.04}, True)
    grpo_case(gen, "grpo_bnpo_batch", {"beta": 0.0, "loss_type": "bnpo", "scale_rewards": "batch"}, True)
    grpo_case(gen, "grpo_dr_none", {"beta": 0.1, "loss_type": "dr_grpo", "scale_rewards": "none"}, True)
    grpo_case(gen, "grpo_dapo_clip_high", {"beta": 0.0, "loss_type": "dapo", "epsilon": 0.2, "epsilon_high": 0.28},
              False)
    grpo_case(gen, "grpo_mu1", {"beta": 0.04, "loss_type": "bnpo"}, True, mu1=True)
    grpo_case(gen, "gspo", {"beta": 0.02, "importance_sampling_level": "sequence", "epsilon": 0.05,
                            "epsilon_high": 0.08}, True)
    grpo_case(gen, "gspo_bnpo", {"beta": 0.0, "importance_sampling_level": "sequence", "loss_type": "bnpo",
                                 "epsilon": 0.1, "scale_rewards": "batch"}, False)


# ---------------------------------------------------------------- KTO


def kto_case(gen, name, p, kl_mean):
    p = {k: f32(v) if isinstance(v, float) else v for k, v in p.items()}
    S = 10
    labels = torch.tensor([1, 0, 1, 1, 0, 1, 0, 1, 1, 0])
    pol = randn(gen, S, std=8.0, mean=-40.0)
    ref = f32(pol + randn(gen, S, std=5.0))
    # mismatched prompt-completion pairs: TRL's z_ref = max(0, mean(logp_kl - ref_kl)), detached
    K = 6
    kl_ref = randn(gen, K, std=6.0, mean=-50.0)
    kl_logp = f32(kl_ref + randn(gen, K, std=2.0, mean=kl_mean))
    z = f32(torch.clamp((kl_logp - kl_ref).mean(), min=0).item())
    beta, wd, wu = p.get("beta", f32(0.1)), p.get("desirable_weight", 1.0), p.get("undesirable_weight", 1.0)
    logp = pol.clone().requires_grad_(True)
    x = logp - ref
    ch = labels == 1
    losses = torch.cat([wd * (1 - torch.sigmoid(beta * (x[ch] - z))), wu * (1 - torch.sigmoid(beta * (z - x[~ch])))])
    loss = losses.mean()
    loss.backward()
    w = torch.where(ch, torch.tensor(wd), torch.tensor(wu))
    m = {"loss": loss, "reward_chosen": (beta * x[ch]).mean(), "reward_rejected": (beta * x[~ch]).mean(),
         "kl": torch.tensor(z), "weight_mean": w.mean(), "count": torch.tensor(float(S))}
    t = {"logp": pol, "ref_logp": ref, "labels": labels.double(), "kl_logp": kl_logp, "kl_ref_logp": kl_ref,
         "z_ref": fl([z]), "loss": loss.reshape(1), "dlogp": logp.grad}
    t.update({"m." + k: fl(v.detach()) for k, v in m.items()})
    add(name, "kto", p, t)


def kto_cases(gen):
    kto_case(gen, "kto", {"beta": 0.1}, 1.5)
    kto_case(gen, "kto_weighted", {"beta": 0.5, "desirable_weight": 1.33, "undesirable_weight": 0.75}, 3.0)
    kto_case(gen, "kto_zero_kl", {"beta": 0.2, "undesirable_weight": 2.0}, -4.0)  # the mean is < 0: z = 0


# ---------------------------------------------------------------- SimPO, ORPO


def norm_pair_batch(gen):
    """7 sequences (as pair_batch) with lengths; sequence 7 is in no pair and empty."""
    _, _, rewards, ci, ri = pair_batch(gen)
    lengths = torch.randint(3, 30, (8,), generator=gen)
    lengths[7] = 0
    pol = f32(-lengths.double() * (0.3 + 1.5 * torch.rand(8, generator=gen)))
    return pol, lengths, ci, ri


def norm_pair_loss(kind, logp, lengths, ci, ri, p):
    lp = logp / lengths.clamp(min=1)
    lw, ll = lp[ci], lp[ri]
    if kind == "simpo":
        beta, gamma, eps = p.get("beta", f32(0.1)), p.get("simpo_gamma", 0.5), p.get("label_smoothing", 0.0)
        mm = beta * (lw - ll) - gamma
        l = -(1 - eps) * F.logsigmoid(mm) - eps * F.logsigmoid(-mm)
        scale = beta
    else:
        lam = p.get("orpo_lambda", f32(0.1))
        mm = (lw - torch.log1p(-torch.exp(lw))) - (ll - torch.log1p(-torch.exp(ll)))
        l = -lw - lam * F.logsigmoid(mm)
        scale = lam
    loss = l.mean()
    m = {"loss": loss, "h_mean": mm.mean(), "reward_chosen": (scale * lw).mean(), "reward_rejected": (scale * ll).mean(),
         "margin": (scale * lw - scale * ll).mean(), "accuracy": (lw > ll).double().mean(),
         "weight_mean": torch.tensor(1.0), "pairs": torch.tensor(float(len(ci)))}
    if kind == "orpo":
        m["nll"] = (-lw).mean()
    return loss, m


def norm_pair_cases(gen):
    pol, lengths, ci, ri = norm_pair_batch(gen)
    variants = [
        ("simpo", "simpo", {"beta": 2.0, "simpo_gamma": 0.5}),
        ("simpo_ls", "simpo", {"beta": 2.5, "simpo_gamma": 1.2, "label_smoothing": 0.15}),
        ("simpo_default", "simpo", {}),
        ("orpo", "orpo", {"orpo_lambda": 0.1}),
        ("orpo_lambda", "orpo", {"orpo_lambda": 0.75}),
    ]
    for name, kind, p in variants:
        p = {k: f32(v) if isinstance(v, float) else v for k, v in p.items()}
        logp = pol.clone().requires_grad_(True)
        loss, m = norm_pair_loss(kind, logp, lengths.double(), ci, ri, p)
        loss.backward()
        t = {"logp": pol, "lengths": lengths.double(), "chosen": ci.double(), "rejected": ri.double(),
             "loss": loss.reshape(1), "dlogp": logp.grad}
        t.update({"m." + k: fl(v.detach()) for k, v in m.items()})
        add(name, kind, p, t)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "java/src/test/resources/golden"
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(2024)
    pairwise_cases(gen)
    sample_cases(gen)
    ppo_cases(gen)
    gen2 = torch.Generator().manual_seed(2025)  # the later losses: a second stream, so the cases above stay as they were
    grpo_cases(gen2)
    kto_cases(gen2)
    norm_pair_cases(gen2)
    tensors, meta = {}, {"cases": ",".join(c[0] for c in CASES)}
    for name, typ, params, t in CASES:
        meta[name + ".type"] = typ
        meta[name + ".params"] = ";".join(f"{k}={v}" for k, v in params.items())
        for k, v in t.items():
            tensors[name + "." + k] = v.detach().reshape(-1) if v.dim() > 0 else v.detach().reshape(1)
    write_safetensors(os.path.join(out, "losses.safetensors"), tensors, meta)
    print("wrote", len(CASES), "cases to", os.path.join(out, "losses.safetensors"))
