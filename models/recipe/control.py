"""The control ("gold") reward model for best-of-N (best_of_n.py), in the spirit of Gao et al.
(2023): a reward model the proxies did not produce, trained on more data and with more capacity.
It fine-tunes decoder layers 2-4 (the proxies tune only 3-4: half as much capacity again; all
five layers cost too much CPU time on the shared 2-core machine), the final norm and the head, for
2 epochs (494 steps; the proxies take 324), from its own linear probe, with its own seed, on the
training split PLUS one seeded half of the OOD file (helpful-rejection-sampled, "half A");
best-of-N runs on prompts of the other half ("half B"), whose labels no model saw.

Writes OUT/{config.json, model.safetensors, control.json (hyperparameters, accuracies)}.
Usage: python3 control.py [--out DIR] [--epochs 2] [--lr 1e-3]
"""
import argparse
import json
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
from evaluate import rewards, wilson  # noqa: E402
from train import cache_prefix, features, finetune, linear_probe  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HALF_SEED = 4  # issue 4
DATA = os.path.join(HERE, "..", "..", "..", "shared", "data")


def log(msg):
    """Progress line with a timestamp."""
    print(f"[control {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def ood_halves(n, seed=HALF_SEED):
    """Seeded split of the n OOD pair positions (load_split order) into (half A, half B), sorted:
    A trains the control model, B is held out for best-of-N."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return sorted(order[: n // 2]), sorted(order[n // 2 :])


@torch.no_grad()
def accuracy(model, pairs, start):
    """Pairwise accuracy of one model on (chosen ids, rejected ids) pairs."""
    n = len(pairs)
    cache = cache_prefix(model, [c for c, _ in pairs] + [r for _, r in pairs], start)
    r = rewards(model, cache, start)
    k = int(((r[:n] - r[n:]) > 0).sum())
    return {"pairs": n, "accuracy": k / n, "ci95": list(wilson(k, n))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--backbone", default=os.path.join(HERE, ".work", "backbone"))
    ap.add_argument("--out", default=os.path.join(HERE, ".work", "control"))
    ap.add_argument("--splits", default=os.path.join(HERE, "splits.json"))
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--frozen-layers", type=int, default=2, help="pretrained layers kept (and cached)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    t0 = time.time()

    cfg = json.load(open(os.path.join(args.backbone, "config.json")))
    backbone = safetensors_io.load_file(os.path.join(args.backbone, "model.safetensors"))
    splits = json.load(open(args.splits))
    encoder = llama2c.Llama2cEncoder(llama2c.read_tokenizer(os.path.join(args.data, "pretrained", "tok512.bin")))
    train = data.load_split(args.data, splits, "train", encoder, args.max_length)
    ood = data.load_split(args.data, splits, "ood", encoder, args.max_length)
    half_a, half_b = ood_halves(len(ood))
    pairs = train + [ood[i] for i in half_a]
    log(f"{len(train)} training-split pairs + {len(half_a)} OOD half-A pairs = {len(pairs)}; "
        f"{len(half_b)} OOD half-B pairs held out")

    frozen = modeling.LlamaForSequenceClassification(cfg)
    frozen.load_state_dict({**backbone, "score.weight": torch.zeros(1, cfg["hidden_size"])})
    cache = cache_prefix(frozen, [s for pair in pairs for s in pair], args.frozen_layers)
    fc, fr = features(frozen, cache, len(pairs), args.frozen_layers)
    head, loss, lp_acc = linear_probe(fc, fr, steps=500, lr=1e-2, weight_decay=1e-4)
    log(f"linear probe: loss {loss:.4f}, train accuracy {lp_acc:.3f} ({(time.time() - t0) / 60:.1f} min)")
    hp = {"seed": args.seed, "lr": args.lr, "dropout": args.dropout, "epochs": args.epochs, "batch_pairs": 16,
          "weight_decay": 0.0, "frozen_layers": args.frozen_layers}
    log(f"fine-tuning decoder layers {args.frozen_layers}+: {hp}")
    sd = finetune(cfg, {**backbone, "score.weight": head}, cache, len(pairs), hp, 50)
    train_s = time.time() - t0
    del cache

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")
    safetensors_io.save_file(sd, os.path.join(args.out, "model.safetensors"), {"format": "pt"})
    model = modeling.LlamaForSequenceClassification(cfg)
    model.load_state_dict(sd)
    validation = data.load_split(args.data, splits, "validation", encoder, args.max_length)
    fl = args.frozen_layers
    acc = {"validation": accuracy(model, validation, fl),
           "ood_half_a_trained": accuracy(model, [ood[i] for i in half_a], fl),
           "ood_half_b_held_out": accuracy(model, [ood[i] for i in half_b], fl)}
    for k, v in acc.items():
        log(f"{k}: {v['accuracy']:.4f} ({v['pairs']} pairs, 95% CI {v['ci95'][0]:.4f}-{v['ci95'][1]:.4f})")
    info = {**hp, "train_pairs": len(pairs), "ood_half_seed": HALF_SEED, "linear_probe_train_accuracy": lp_acc,
            "accuracy": acc, "train_wall_s": round(train_s, 1), "total_wall_s": round(time.time() - t0, 1)}
    with open(os.path.join(args.out, "control.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    log(f"wrote {args.out} in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
