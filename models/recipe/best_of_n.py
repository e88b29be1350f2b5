"""Best-of-N against a held-out control reward (Gao et al. 2023; WARM paper, Figure 5 in spirit).

Proxies: each reference member (models/reference/members/member-i), ENS (mean of the six
members' rewards) and WARM (models/reference/model.safetensors). Control: the reward model of
control.py (layers 2-4 fine-tuned on the training split + OOD half A, its own seed and probe).

Candidates: the data has two answers per prompt, so for each of P prompts drawn from OOD half B
(helpful-rejection-sampled, labels seen by no model) the pool is its 2 real answers + 62 answers
to *other* half-B prompts, each rendered after this prompt (server text and truncation rule).
For N in {1, 2, ..., 64}: R random size-N subsets of each pool; each proxy picks its argmax; the
score is the control reward of the pick, in units of the control's standard deviation over all
candidates (centred on their mean, so random picking scores ~0). Mean over prompts and draws;
the 95 % CI treats prompts as the independent unit (draws are averaged within a prompt first).
Every proxy sees the same random subsets, so differences between proxies are paired.

Writes docs/warm/best-of-n.json and docs/warm/best-of-n.svg; caches the scores in
.work/best-of-n/scores.pt (--rescore to recompute).
Usage: python3 best_of_n.py [--prompts 256] [--draws 200] [--control DIR]
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import llama2c  # noqa: E402
import modeling  # noqa: E402
import safetensors_io  # noqa: E402
import svgplot  # noqa: E402
from control import ood_halves  # noqa: E402
from evaluate import rewards, shared_prefix_layers  # noqa: E402
from train import cache_prefix  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
POOL = 64
NS = [1, 2, 4, 8, 16, 32, 64]


def log(msg):
    """Progress line with a timestamp."""
    print(f"[best-of-n {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def candidate_pools(data_dir, splits, n_prompts, seed):
    """[(prompt, [64 answers])]: each drawn half-B prompt's chosen, rejected, then 62 answers to
    other half-B prompts (seeded). Rows whose chosen and rejected prompts differ are skipped."""
    rel = data.OOD_FILES[0]
    rows = data.read_rows(data_dir, rel)
    ood = [rows[i] for i in splits[rel]["ood"]]
    _, half_b = ood_halves(len(ood))
    items = []
    for j in half_b:
        (pc, ac), (pr, ar) = data.hh_split(ood[j]["chosen"]), data.hh_split(ood[j]["rejected"])
        if pc == pr:
            items.append((pc, ac, ar))
    answers = [(k, a) for k, (_, ac, ar) in enumerate(items) for a in (ac, ar)]
    rng = random.Random(seed)
    pools = []
    for k in sorted(rng.sample(range(len(items)), n_prompts)):
        prompt, ac, ar = items[k]
        others = [a for owner, a in rng.sample(answers, POOL + 8) if owner != k][: POOL - 2]
        pools.append((prompt, [ac, ar] + others))
    return pools, len(half_b), len(items)


@torch.no_grad()
def score_all(cfg, named_sds, seqs, start):
    """{name: rewards [len(seqs)]} for models sharing their first `start` layers (cached once)."""
    base = modeling.LlamaForSequenceClassification(cfg)
    base.load_state_dict(named_sds[0][1])
    t = time.time()
    cache = cache_prefix(base, seqs, start)
    log(f"  prefix ({start} layers) of {len(seqs)} sequences: {time.time() - t:.0f}s")
    out = {}
    for name, sd in named_sds:
        t = time.time()
        model = modeling.LlamaForSequenceClassification(cfg)
        model.load_state_dict(sd)
        out[name] = rewards(model, cache, start)
        log(f"  {name}: {time.time() - t:.0f}s")
    return out


def load_proxies(args):
    """[(name, state dict)]: the members, then WARM."""
    members = [(f"member-{i}", safetensors_io.load_file(os.path.join(args.members, f"member-{i}", "model.safetensors")))
               for i in range(args.n_members)]
    return members + [("warm", safetensors_io.load_file(args.warm))]


def half_b_accuracy(args, cfg):
    """Pairwise accuracy of each proxy (members, ENS, WARM) on all OOD half-B pairs, whose labels
    no model saw: the proxies' counterpart of the control's held-out accuracy (control.json)."""
    splits = json.load(open(args.splits_file))
    encoder = llama2c.Llama2cEncoder(llama2c.read_tokenizer(os.path.join(args.data, "pretrained", "tok512.bin")))
    ood = data.load_split(args.data, splits, "ood", encoder, args.max_length)
    pairs = [ood[i] for i in ood_halves(len(ood))[1]]
    n = len(pairs)
    proxies = load_proxies(args)
    log(f"proxies' accuracy on the {n} OOD half-B pairs")
    r = score_all(cfg, proxies, [c for c, _ in pairs] + [b for _, b in pairs],
                  shared_prefix_layers([sd for _, sd in proxies], cfg["num_hidden_layers"]))
    margins = {k: v[:n] - v[n:] for k, v in r.items()}
    margins["ens"] = torch.stack([margins[f"member-{i}"] for i in range(args.n_members)]).mean(0)
    return {"pairs": n, "accuracy": {k: float((m > 0).float().mean()) for k, m in margins.items()}}


def pool_lengths(args):
    """Token length of every candidate answer (without the prompt), [P, 64]."""
    splits = json.load(open(args.splits_file))
    encoder = llama2c.Llama2cEncoder(llama2c.read_tokenizer(os.path.join(args.data, "pretrained", "tok512.bin")))
    pools, _, _ = candidate_pools(args.data, splits, args.prompts, args.seed)
    return torch.tensor([[float(len(encoder.encode(a, bos=False, eos=False))) for a in answers]
                         for _, answers in pools])


def compute_scores(args, cfg):
    """Score every candidate of every pool with the proxies and the control: {name: [P, 64]}."""
    splits = json.load(open(args.splits_file))
    encoder = llama2c.Llama2cEncoder(llama2c.read_tokenizer(os.path.join(args.data, "pretrained", "tok512.bin")))
    pools, n_b, n_b_usable = candidate_pools(args.data, splits, args.prompts, args.seed)
    log(f"{len(pools)} prompts from OOD half B ({n_b} pairs, {n_b_usable} with one shared prompt), pool {POOL}")
    seqs = [data.tokenize(encoder, prompt + a, args.max_length) for prompt, answers in pools for a in answers]
    proxies = load_proxies(args)
    start = shared_prefix_layers([sd for _, sd in proxies], cfg["num_hidden_layers"])
    log(f"scoring the proxies ({start} shared layers)")
    scores = score_all(cfg, proxies, seqs, start)
    log("scoring the control")
    control = safetensors_io.load_file(os.path.join(args.control, "model.safetensors"))
    start = json.load(open(os.path.join(args.control, "control.json")))["frozen_layers"]
    scores.update(score_all(cfg, [("control", control)], seqs, start))
    return {k: v.view(len(pools), POOL) for k, v in scores.items()}


def best_of_n(proxy, control, n, draws, gen):
    """Control reward of the proxy's pick among n random candidates, [P, draws]; and whether the
    pick is one of the prompt's own two answers, [P, draws]."""
    p = proxy.shape[0]
    idx = torch.rand(p, draws, POOL, generator=gen).argsort(-1)[..., :n]
    sub = torch.gather(proxy.unsqueeze(1).expand(-1, draws, -1), 2, idx)
    pick = torch.gather(idx, 2, sub.argmax(-1, keepdim=True)).squeeze(-1)
    return torch.gather(control.unsqueeze(1).expand(-1, draws, -1), 2, pick.unsqueeze(-1)).squeeze(-1), pick < 2


def mean_ci(per_prompt):
    """Mean and 95 % CI half-width (normal, prompts as units) of per-prompt values [P]."""
    return float(per_prompt.mean()), float(1.96 * per_prompt.std() / math.sqrt(per_prompt.numel()))


def within_prompt_corr(a, b):
    """Mean over prompts of the Pearson correlation of two scorers over one pool."""
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return float(((a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--splits-file", default=os.path.join(HERE, "splits.json"))
    ap.add_argument("--members", default=os.path.join(ROOT, "models", "reference", "members"))
    ap.add_argument("--n-members", type=int, default=6)
    ap.add_argument("--warm", default=os.path.join(ROOT, "models", "reference", "model.safetensors"))
    ap.add_argument("--control", default=os.path.join(HERE, ".work", "control"))
    ap.add_argument("--prompts", type=int, default=256)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--cache", default=os.path.join(HERE, ".work", "best-of-n", "scores.pt"))
    ap.add_argument("--rescore", action="store_true", help="recompute the cached scores")
    ap.add_argument("--json", default=os.path.join(ROOT, "docs", "warm", "best-of-n.json"))
    ap.add_argument("--svg", default=os.path.join(ROOT, "docs", "warm", "best-of-n.svg"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.time()
    cfg = json.load(open(os.path.join(args.members, "member-0", "config.json")))

    key = {"prompts": args.prompts, "seed": args.seed, "max_length": args.max_length, "control": args.control}
    cached = torch.load(args.cache) if os.path.exists(args.cache) and not args.rescore else None
    if cached and cached["key"] == key:
        scores, score_s = cached["scores"], cached["score_s"]
        log(f"scores from {args.cache}")
    else:
        scores = compute_scores(args, cfg)
        score_s = time.time() - t0
        os.makedirs(os.path.dirname(args.cache), exist_ok=True)
        torch.save({"key": key, "scores": scores, "score_s": score_s}, args.cache)
    if "length" not in scores:  # answer length in tokens, to see how much of the agreement it explains
        scores["length"] = pool_lengths(args)
        torch.save({"key": key, "scores": scores, "score_s": score_s}, args.cache)
    member_names = [f"member-{i}" for i in range(args.n_members)]
    scores["ens"] = torch.stack([scores[k] for k in member_names]).mean(0)
    control = scores["control"]
    z = (control - control.mean()) / control.std()  # control reward in its own std units

    proxies = member_names + ["ens", "warm", "control"]
    per_prompt, own_rate = {}, {}  # name -> [len(NS), P] control z of the pick; own-answer rate
    for name in proxies:
        gen = torch.Generator().manual_seed(args.seed)  # the same random subsets for every proxy (paired)
        runs = [best_of_n(scores[name], z, n, args.draws, gen) for n in NS]
        per_prompt[name] = torch.stack([picked.mean(1) for picked, _ in runs])
        own_rate[name] = [float(own.float().mean()) for _, own in runs]
    # one member: the six single-member results averaged per prompt (CI over prompts as for the others)
    per_prompt["single_member_mean"] = torch.stack([per_prompt[k] for k in member_names]).mean(0)
    own_rate["single_member_mean"] = [sum(own_rate[k][j] for k in member_names) / len(member_names)
                                      for j in range(len(NS))]
    curves = {}
    for name, pp in per_prompt.items():
        stats = [mean_ci(row) for row in pp]
        curves[name] = {"control_z": [m for m, _ in stats], "ci95": [c for _, c in stats],
                        "own_answer_rate": own_rate[name]}
        log(f"{name}: " + " ".join(f"N={n} {m:+.3f}" for n, (m, _) in zip(NS, stats)))
    # paired over prompts: is WARM's pick better or worse than ENS's / one member's?
    paired = {f"warm_minus_{k}": [list(mean_ci(a - b)) for a, b in zip(per_prompt["warm"], per_prompt[k])]
              for k in ("ens", "single_member_mean")}
    half_b_path = os.path.join(os.path.dirname(args.cache), "half-b-accuracy.json")
    if not os.path.exists(half_b_path) or args.rescore:
        svgplot.write_json(half_b_path, half_b_accuracy(args, cfg))
    half_b = json.load(open(half_b_path))
    real_pair = {k: float((scores[k][:, 0] > scores[k][:, 1]).float().mean()) for k in proxies}
    corr = {k: within_prompt_corr(scores[k], control) for k in proxies if k != "control"}
    control_info = json.load(open(os.path.join(args.control, "control.json")))
    out = {
        "what": "control reward (z: centred, in units of its std over all candidates) of the best-of-N pick, "
                "mean over prompts and draws, 95% CI over prompts",
        "ns": NS, "prompts": args.prompts, "pool": POOL, "draws": args.draws, "seed": args.seed,
        "candidates": "per prompt of OOD half B: its 2 real answers + 62 answers to other half-B prompts",
        "control": {k: control_info[k] for k in ("accuracy", "epochs", "lr", "dropout", "seed", "frozen_layers",
                                                  "train_pairs", "train_wall_s")},
        "control_std_raw": float(control.std()), "control_mean_raw": float(control.mean()),
        "proxy_accuracy_ood_half_b": half_b,
        "real_pair_accuracy_on_these_prompts": real_pair,
        "within_prompt_correlation_with_control": corr,
        "within_prompt_correlation_with_answer_length": {k: within_prompt_corr(scores[k], scores["length"])
                                                          for k in proxies},
        "curves": curves,
        "paired_differences_mean_ci95": paired,
        "score_wall_s": round(score_s, 1),
    }
    svgplot.write_json(args.json, out)
    plot(curves, args.svg, len(member_names), f"{args.prompts} OOD half-B prompts; pool {POOL}: 2 own answers + "
         f"{POOL - 2} answers to other prompts; 95 % CI over prompts")
    print(markdown_table(out))
    log(f"wrote {args.json} and {args.svg} ({(time.time() - t0) / 60:.1f} min)")


def markdown_table(out):
    """The docs table: control reward of the pick per N and proxy (mean ± 95 % CI half-width),
    the paired WARM differences, and how often the pick is one of the prompt's own answers."""
    c, d = out["curves"], out["paired_differences_mean_ci95"]

    def cell(mean, ci):
        return f"{mean:+.3f} ± {ci:.3f}"

    rows = ["| N | one member (mean of 6) | ENS | WARM | WARM − ENS (paired) | WARM − one member (paired) "
            f"| control itself (oracle) | own answer picked: member / ENS / WARM (random: {100 * 2 / POOL:.0f} %) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for j, n in enumerate(out["ns"]):
        own = " / ".join(f"{100 * c[k]['own_answer_rate'][j]:.0f} %" for k in ("single_member_mean", "ens", "warm"))
        rows.append(f"| {n} | " + " | ".join(cell(c[k]["control_z"][j], c[k]["ci95"][j])
                                            for k in ("single_member_mean", "ens", "warm")) +
                    f" | {cell(*d['warm_minus_ens'][j])} | {cell(*d['warm_minus_single_member_mean'][j])} | "
                    f"{cell(c['control']['control_z'][j], c['control']['ci95'][j])} | {own} |")
    return "\n".join(rows)


def plot(curves, path, m, subtitle):
    """Control reward of the pick against N, one line per proxy, and the oracle (dashed)."""
    series = [("single_member_mean", "one member (mean of 6)"), ("ens", f"ENS (M={m})"), ("warm", f"WARM (M={m})"),
              ("control", "control itself (oracle)")]
    values = [curves[k]["control_z"] for k, _ in series]
    errors = [curves[k]["ci95"] for k, _ in series]
    top = max(v + e for vs, es in zip(values, errors) for v, e in zip(vs, es))
    bottom = min(v - e for vs, es in zip(values, errors) for v, e in zip(vs, es))
    step = 0.2
    lo, hi = math.floor(bottom / step) * step, math.ceil(top / step) * step
    svgplot.lines(path, "Best-of-N: control reward of the proxy's pick", "N (candidates, log scale)",
                  "control reward (std units, random pick = 0)", NS, [label for _, label in series], values, errors,
                  lo, hi, step, dashed=("control itself (oracle)",), subtitle=subtitle)


if __name__ == "__main__":
    main()
