"""Label corruption in miniature (WARM paper, Figure 4): members fine-tuned with a fraction of
the training labels flipped (`train.py --flip-fraction 0.25 --out DIR`), evaluated as WARM
(uniform weight average), ENS (mean reward) and individual members on four sets: the corrupted
training pairs (accuracy against the *flipped* labels they were trained on: memorisation of
noise, lower is better), the clean training pairs, validation and OOD. The clean reference
members are evaluated beside them on the same pairs, for scale.

Writes docs/warm/corruption.json and docs/warm/corruption.svg.
Usage: python3 corruption.py [CORRUPTED_MEMBERS_DIR] [--reference DIR] [--json F] [--svg F]
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
import svgplot  # noqa: E402
from evaluate import average_state_dicts, rewards, shared_prefix_layers, wilson  # noqa: E402
from train import cache_prefix  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
SETS = ["train_corrupted", "train_clean", "validation", "ood"]
LABELS = {"train_corrupted": "train, flipped (vs flipped label)", "train_clean": "train, clean",
          "validation": "validation", "ood": "OOD"}


def log(msg):
    """Progress line with a timestamp."""
    print(f"[corruption {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def load_members(members_dir):
    """(config, [state dict per member], [names]) for MEMBERS_DIR/member-*, in index order."""
    dirs = sorted(glob.glob(os.path.join(members_dir, "member-*")), key=lambda d: int(d.rsplit("-", 1)[1]))
    if not dirs:
        raise SystemExit(f"[corruption] no member-* in {members_dir}")
    cfg = json.load(open(os.path.join(dirs[0], "config.json")))
    return cfg, [safetensors_io.load_file(os.path.join(d, "model.safetensors")) for d in dirs], \
        [os.path.basename(d) for d in dirs]


def mcnemar_p(right_a, right_b):
    """Exact two-sided McNemar test of two classifiers on the same pairs (boolean tensors)."""
    b = int((right_a & ~right_b).sum())
    c = int((~right_a & right_b).sum())
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def summarize(margins, member_names):
    """Accuracies (margin > 0) of members, their mean, ENS and WARM, with Wilson CIs and the
    McNemar p-value of WARM vs ENS."""
    right = {k: m > 0 for k, m in margins.items()}
    n = len(margins["warm"])
    acc = {k: float(r.float().mean()) for k, r in right.items()}
    return {
        "warm": acc["warm"], "ens": acc["ens"],
        "mean_member": sum(acc[k] for k in member_names) / len(member_names),
        "members": [acc[k] for k in member_names],
        "warm_ci95": list(wilson(int(right["warm"].sum()), n)),
        "ens_ci95": list(wilson(int(right["ens"].sum()), n)),
        "warm_vs_ens_mcnemar_p": mcnemar_p(right["warm"], right["ens"]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("members_dir", nargs="?", default=os.path.join(HERE, ".work", "corrupt-25"))
    ap.add_argument("--reference", default=os.path.join(ROOT, "models", "reference", "members"),
                    help="clean members evaluated beside the corrupted ones")
    ap.add_argument("--backbone", default=os.path.join(HERE, ".work", "backbone"),
                    help="with MEMBERS_DIR/linear-probe.safetensors: the shared init, evaluated too")
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--splits-file", default=os.path.join(HERE, "splits.json"))
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--json", default=os.path.join(ROOT, "docs", "warm", "corruption.json"))
    ap.add_argument("--svg", default=os.path.join(ROOT, "docs", "warm", "corruption.svg"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    t0 = time.time()

    flips = json.load(open(os.path.join(args.members_dir, "flips.json")))
    cfg, corrupt_sds, names = load_members(args.members_dir)
    _, ref_sds, ref_names = load_members(args.reference)
    init = safetensors_io.load_file(os.path.join(args.backbone, "model.safetensors"))
    init.update(safetensors_io.load_file(os.path.join(args.members_dir, "linear-probe.safetensors")))
    families = {"corrupted": (corrupt_sds, names), "reference": (ref_sds, ref_names), "init": ([init], ["init"])}
    start = shared_prefix_layers(corrupt_sds + ref_sds + [init], cfg["num_hidden_layers"])
    if start is None:
        raise SystemExit("[corruption] the two families do not share their embeddings")
    log(f"{len(names)} corrupted members ({args.members_dir}), {len(ref_names)} reference members; "
        f"{start} leading layers shared (computed once)")

    splits = json.load(open(args.splits_file))
    encoder = llama2c.Llama2cEncoder(llama2c.read_tokenizer(os.path.join(args.data, "pretrained", "tok512.bin")))
    flipped = torch.zeros(0, dtype=torch.bool)
    results = {k: {} for k in SETS}
    for split in ["train", "validation", "ood"]:
        pairs = data.load_split(args.data, splits, split, encoder, args.max_length)
        n = len(pairs)
        base = modeling.LlamaForSequenceClassification(cfg)
        base.load_state_dict(corrupt_sds[0])
        cache = cache_prefix(base, [c for c, _ in pairs] + [r for _, r in pairs], start)
        if split == "train":
            flipped = torch.zeros(n, dtype=torch.bool)
            flipped[flips["flipped_train_pairs"]] = True
        for family, (sds, member_names) in families.items():
            margins = {}
            with_warm = [("warm", average_state_dicts(sds))] if len(sds) > 1 else []
            for name, sd in list(zip(member_names, sds)) + with_warm:
                model = modeling.LlamaForSequenceClassification(cfg)
                model.load_state_dict(sd)
                r = rewards(model, cache, start)
                margins[name] = r[:n] - r[n:]  # against the original (clean) labels
                log(f"{split} {family} {name}: done ({(time.time() - t0) / 60:.1f} min)")
            if len(sds) == 1:  # the shared init alone: WARM = ENS = the model itself
                margins["warm"] = margins[member_names[0]]
            margins["ens"] = torch.stack([margins[k] for k in member_names]).mean(0)
            if split == "train":
                # flipped pairs: right = agrees with the flipped label the members were trained on
                results["train_corrupted"][family] = summarize({k: -m[flipped] for k, m in margins.items()}, member_names)
                results["train_clean"][family] = summarize({k: m[~flipped] for k, m in margins.items()}, member_names)
            else:
                results[split][family] = summarize(margins, member_names)
        for s in (["train_corrupted", "train_clean"] if split == "train" else [split]):
            results[s]["pairs"] = int(flipped.sum()) if s == "train_corrupted" else \
                int((~flipped).sum()) if s == "train_clean" else n
            for family in families:
                r = results[s][family]
                log(f"{s} ({results[s]['pairs']} pairs) {family}: WARM {r['warm']:.4f}, ENS {r['ens']:.4f}, "
                    f"mean member {r['mean_member']:.4f} (WARM vs ENS McNemar p {r['warm_vs_ens_mcnemar_p']:.3g})")
        del cache

    results["memorisation_gap"] = memorisation_gap(results, families)
    wall = time.time() - t0
    out = {
        "what": "pairwise accuracy; train_corrupted is measured against the flipped labels used in training",
        "corrupted_members_dir": os.path.relpath(args.members_dir, ROOT),
        "reference_members_dir": os.path.relpath(args.reference, ROOT),
        "flip": {k: v for k, v in flips.items() if k != "flipped_train_pairs"},
        "member_hparams": [json.load(open(os.path.join(args.members_dir, n, "train.json"))) for n in names],
        "sets": results,
        "eval_wall_s": round(wall, 1),
    }
    svgplot.write_json(args.json, out)
    plot(results, args.svg, len(names))
    print(markdown_table(results, len(names), len(ref_names)))
    log(f"wrote {args.json} and {args.svg} in {wall / 60:.1f} min")


def memorisation_gap(results, families):
    """Accuracy on the clean training pairs minus accuracy against the *original* labels of the
    flipped ones (points). Both subsets are random draws of one training set, so a model that
    did not learn the flips scores them alike (gap ~ 0, up to sampling noise); what it learned of
    the flipped labels shows as a positive gap."""
    return {f: {k: 100 * (results["train_clean"][f][k] - (1 - results["train_corrupted"][f][k]))
                for k in ("warm", "ens", "mean_member")} for f in families}


def markdown_table(results, m, m_ref):
    """The docs table: accuracies in %, WARM with its 95 % CI, and the clean-trained reference."""
    def pct(v):
        return f"{100 * v:.2f}"

    rows = [f"| set | pairs | WARM (M={m}) [95 % CI] | ENS | mean member | members | WARM vs ENS p (McNemar) "
            f"| clean-trained WARM (M={m_ref}) | its ENS | its mean member |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in SETS:
        c, r = results[s]["corrupted"], results[s]["reference"]
        rows.append(f"| {LABELS[s]} | {results[s]['pairs']} | **{pct(c['warm'])}** [{pct(c['warm_ci95'][0])}-"
                    f"{pct(c['warm_ci95'][1])}] | {pct(c['ens'])} | {pct(c['mean_member'])} | "
                    f"{' '.join(pct(v) for v in c['members'])} | {c['warm_vs_ens_mcnemar_p']:.2g} | "
                    f"{pct(r['warm'])} | {pct(r['ens'])} | {pct(r['mean_member'])} |")
    g = results["memorisation_gap"]
    rows += ["", "| memorisation gap (points) | WARM | ENS | mean member |", "| --- | --- | --- | --- |"]
    for f, label in (("corrupted", f"trained on flipped labels (M={m})"), ("init", "their shared init (linear probe)"),
                     ("reference", f"clean-trained reference (M={m_ref})")):
        rows.append(f"| {label} | {g[f]['warm']:+.2f} | {g[f]['ens']:+.2f} | {g[f]['mean_member']:+.2f} |")
    init = " / ".join(f"{100 * results[s]['init']['warm']:.2f}" for s in SETS)
    rows += ["", f"Shared init alone (flipped / clean train / validation / OOD): {init}"]
    return "\n".join(rows)


def plot(results, path, m):
    """Grouped bars: mean member, ENS and WARM of the corrupted run (+ reference WARM) per set."""
    series = [("corrupted", "mean_member", "mean member"), ("corrupted", "ens", f"ENS (M={m})"),
              ("corrupted", "warm", f"WARM (M={m})"), ("reference", "warm", "clean-trained WARM")]
    values = [[100 * results[s][f][k] for s in SETS] for f, k, _ in series]
    errors = [[[100 * v for v in results[s][f][k + "_ci95"]] if k != "mean_member" else None for s in SETS]
              for f, k, _ in series]
    flat = [v for row in values for v in row] + [v for row in errors for e in row if e for v in e]
    lo, hi = 10 * math.floor(min(flat) / 10 - 0.5), 10 * math.ceil(max(flat) / 10)  # bars start at lo, not 0
    svgplot.bars(path, "Label corruption: 25 % of training labels flipped", "pairwise accuracy (%)",
                 ["flipped train", "clean train", "validation", "OOD"], [label for _, _, label in series], values, errors, lo, hi, 10,
                 "flipped train: agreement with the flipped labels (memorised noise: lower is better); bars: 95 % CI")


if __name__ == "__main__":
    main()
