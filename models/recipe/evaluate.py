"""Pairwise accuracy of the members, their ensemble (ENS: mean of member rewards) and their
weight average (WARM: mean of the state dicts) on the validation and OOD splits of splits.json,
and a check of the recipe's targets:
  - WARM beats the mean member accuracy on validation and OOD;
  - WARM is within one point of ENS or better on both;
  - WARM's validation accuracy has a 95% confidence interval (Wilson) entirely above 50%.
Exit status 1 when a target fails.

Usage: python3 evaluate.py [MEMBERS_DIR] [--splits validation ood] [--json OUT.json]
"""
import argparse
import glob
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import llama2c  # noqa: E402
import modeling  # noqa: E402
import safetensors_io  # noqa: E402
from train import batch_hidden, cache_prefix  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def wilson(k, n, z=1.96):
    """95% Wilson score interval for k successes out of n."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def shared_prefix_layers(sds, n_layers):
    """How many leading decoder layers (with the embeddings) are identical in all state dicts:
    their output is computed once and shared, which is exact, not an approximation."""
    def same(prefix):
        keys = [k for k in sds[0] if k.startswith(prefix)]
        return all(torch.equal(sd[k], sds[0][k]) for sd in sds[1:] for k in keys)

    if not same("model.embed_tokens."):
        return None
    k = 0
    while k < n_layers and same(f"model.layers.{k}."):
        k += 1
    return k


@torch.no_grad()
def rewards(model, cache, start, batch=64):
    """Reward of every cached sequence (length-sorted batches; padding does not change rewards)."""
    model.eval()
    order = sorted(range(len(cache)), key=lambda i: cache[i].shape[0])
    out = torch.empty(len(cache))
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        hidden, mask = batch_hidden([cache[i] for i in idx])
        out[idx] = model.score(model.features_from(hidden, mask, start)).squeeze(-1)
    return out


def average_state_dicts(sds):
    """WARM: the uniform average of the members' weights."""
    return {k: torch.stack([sd[k] for sd in sds]).mean(0) for k in sds[0]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("members_dir", nargs="?", default=os.path.join(HERE, ".work", "members"))
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "..", "shared", "data"))
    ap.add_argument("--splits-file", default=os.path.join(HERE, "splits.json"))
    ap.add_argument("--splits", nargs="+", default=["validation", "ood"])
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    torch.set_num_threads(2)

    dirs = sorted(glob.glob(os.path.join(args.members_dir, "member-*")), key=lambda d: int(d.rsplit("-", 1)[1]))
    cfg = json.load(open(os.path.join(dirs[0], "config.json")))
    sds = [safetensors_io.load_file(os.path.join(d, "model.safetensors")) for d in dirs]
    models = {os.path.basename(d): sd for d, sd in zip(dirs, sds)}
    models["warm"] = average_state_dicts(sds)
    splits = json.load(open(args.splits_file))
    encoder = llama2c.Llama2cEncoder(llama2c.read_tokenizer(os.path.join(args.data, "pretrained", "tok512.bin")))

    shared = shared_prefix_layers(sds, cfg["num_hidden_layers"])
    if shared is None:
        raise SystemExit("[eval] members do not share their embeddings: not one WARM family")
    start = shared
    print(f"[eval] {len(dirs)} members; {start} leading layers shared (computed once)")
    results, ok = {}, True
    for split in args.splits:
        pairs = data.load_split(args.data, splits, split, encoder, args.max_length)
        seqs = [c for c, _ in pairs] + [r for _, r in pairs]
        n = len(pairs)
        base = modeling.LlamaForSequenceClassification(cfg)
        base.load_state_dict(sds[0])
        cache = cache_prefix(base, seqs, start)
        margins = {}
        for name, sd in models.items():
            t = time.time()
            model = modeling.LlamaForSequenceClassification(cfg)
            model.load_state_dict(sd)
            r = rewards(model, cache, start)
            margins[name] = r[:n] - r[n:]
            print(f"[eval] {split} {name}: {float((margins[name] > 0).float().mean()):.4f} ({time.time() - t:.0f}s)",
                  flush=True)
        member_names = [k for k in margins if k.startswith("member-")]
        margins["ens"] = torch.stack([margins[k] for k in member_names]).mean(0)
        acc = {k: float((m > 0).float().mean()) for k, m in margins.items()}
        mean_member = sum(acc[k] for k in member_names) / len(member_names)
        k_warm = int((margins["warm"] > 0).sum())
        lo, hi = wilson(k_warm, n)
        results[split] = {"pairs": n, "accuracy": acc, "mean_member": mean_member, "warm_ci95": [lo, hi]}
        print(f"[eval] {split} ({n} pairs): WARM {acc['warm']:.4f} [95% CI {lo:.4f}, {hi:.4f}], "
              f"ENS {acc['ens']:.4f}, mean member {mean_member:.4f}, "
              f"members {' '.join(f'{acc[k]:.4f}' for k in member_names)}")
        # compare correct-pair counts, exactly: WARM beats the mean member by at least a pair/M
        member_correct = sum(int((margins[k] > 0).sum()) for k in member_names)
        checks = {
            "WARM > mean member": k_warm * len(member_names) > member_correct,
            "WARM >= ENS - 1 point": acc["warm"] >= acc["ens"] - 0.01,
        }
        if split == "validation":
            checks["WARM CI95 above 50%"] = lo > 0.5
        for what, good in checks.items():
            print(f"[eval] {split}: {what}: {'PASS' if good else 'FAIL'}")
            ok = ok and good
        results[split]["checks"] = checks
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
