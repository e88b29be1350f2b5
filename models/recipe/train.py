"""Fine-tune M reward models the WARM way (Ramé et al. 2024, LP-FT from one shared init).

1. Linear probe: one `score` head (hidden -> 1, no bias) trained with the Bradley-Terry loss on
   features of the frozen converted backbone (the reward is read at the last real token).
2. Members: each starts from backbone + that same head and fine-tunes the top decoder layers,
   the final norm and the head with the Bradley-Terry loss; diversity comes from the seed, the
   data order, the learning rate and (training-only) dropout. The embeddings and the lowest
   `--frozen-layers` layers stay at the pretrained weights (shared by all members, so averaging
   leaves them unchanged); their outputs are computed once and cached, which is what makes six
   members fit the 2-core CPU budget.

Writes MEMBERS_DIR/member-{i}/{config.json, model.safetensors, train.json}.
Usage: python3 train.py [--data DIR] [--backbone DIR] [--out DIR] [--members 6]
       [--flip-fraction 0.25 --flip-seed S]  (label corruption: see flip_labels; writes flips.json)
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import export  # noqa: E402
import llama2c  # noqa: E402
import modeling  # noqa: E402
import safetensors_io  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    """Progress line with a timestamp, flushed so long runs show where they are."""
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def batch_hidden(states):
    """Right-padded (hidden [b, t, d], attention_mask) for a list of cached [len, d] states."""
    width = max(h.shape[0] for h in states)
    hidden = torch.zeros((len(states), width, states[0].shape[1]))
    mask = torch.zeros((len(states), width), dtype=torch.int64)
    for row, h in enumerate(states):
        hidden[row, : h.shape[0]] = h
        mask[row, : h.shape[0]] = 1
    return hidden, mask


@torch.no_grad()
def cache_prefix(model, seqs, frozen_layers, batch=64):
    """Hidden states entering layer `frozen_layers`, one [len, d] tensor per sequence. Right
    padding leaves real positions unchanged (causal attention over real keys only)."""
    model.eval()
    out = [None] * len(seqs)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        ids, mask = export.pad_batch([seqs[i] for i in idx], "right")
        h = model.model.run_layers(model.model.embed(ids), mask, 0, frozen_layers, final_norm=False)
        for row, i in enumerate(idx):
            out[i] = h[row, : len(seqs[i])].clone()
    return out


def pair_rewards(model, cache, idx, frozen_layers):
    """Rewards of the chosen (first half) and rejected (second half) sequences of pairs idx;
    cache holds chosen states at 2i and rejected states at 2i+1."""
    states = [cache[2 * i] for i in idx] + [cache[2 * i + 1] for i in idx]
    hidden, mask = batch_hidden(states)
    return model.score(model.features_from(hidden, mask, frozen_layers)).squeeze(-1)


def bt_loss(rewards, n):
    """Bradley-Terry loss: -log sigmoid(r_chosen - r_rejected), averaged over the n pairs."""
    return -F.logsigmoid(rewards[:n] - rewards[n:]).mean()


@torch.no_grad()
def features(model, cache, n_pairs, frozen_layers, batch_pairs=32):
    """Frozen-model features at the last real token: (chosen [n, d], rejected [n, d])."""
    model.eval()
    chosen, rejected = [], []
    for start in range(0, n_pairs, batch_pairs):
        idx = list(range(start, min(n_pairs, start + batch_pairs)))
        states = [cache[2 * i] for i in idx] + [cache[2 * i + 1] for i in idx]
        f = model.features_from(*batch_hidden(states), frozen_layers)
        chosen.append(f[: len(idx)])
        rejected.append(f[len(idx) :])
    return torch.cat(chosen), torch.cat(rejected)


def linear_probe(fc, fr, steps, lr, weight_decay):
    """Train the score head alone (full batch Adam, zero init) on frozen features."""
    w = torch.zeros(fc.shape[1], requires_grad=True)
    opt = torch.optim.Adam([w], lr=lr)
    diff = fc - fr
    for _ in range(steps):
        opt.zero_grad()
        loss = -F.logsigmoid(diff @ w).mean() + weight_decay * w.pow(2).sum()
        loss.backward()
        opt.step()
    acc = float(((diff @ w) > 0).float().mean())
    return w.detach().view(1, -1), float(loss), acc


def trainable(name, frozen_layers):
    """Fine-tuned parameters: decoder layers >= frozen_layers, the final norm and the head."""
    if name.startswith("model.layers."):
        return int(name.split(".")[2]) >= frozen_layers
    return name in ("model.norm.weight", "score.weight")


def finetune(cfg, init_sd, cache, n_pairs, hp, log_every):
    """Fine-tuning of one member from the shared init; returns its full state dict."""
    torch.manual_seed(hp["seed"])
    model = modeling.LlamaForSequenceClassification(cfg, dropout=hp["dropout"])
    model.load_state_dict(init_sd)
    model.train()
    params = []
    for name, p in model.named_parameters():
        p.requires_grad_(trainable(name, hp["frozen_layers"]))
        if p.requires_grad:
            params.append(p)
    batches = [b for epoch in range(hp["epochs"]) for b in epoch_batches(n_pairs, hp, epoch)]
    total = len(batches)
    warmup = max(1, total // 20)
    opt = torch.optim.AdamW(params, lr=hp["lr"], weight_decay=hp["weight_decay"])
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    running, seen, start = 0.0, 0, time.time()
    for step, idx in enumerate(batches, 1):
        loss = bt_loss(pair_rewards(model, cache, idx, hp["frozen_layers"]), len(idx))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        running += float(loss) * len(idx)
        seen += len(idx)
        if step % log_every == 0 or step == total:
            rate = (time.time() - start) / step
            log(f"  step {step}/{total} loss {running / seen:.4f} ({rate:.2f}s/step, "
                f"~{rate * (total - step) / 60:.1f} min left)")
            running, seen = 0.0, 0
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def epoch_batches(n, hp, epoch):
    """Pair-index batches of one epoch; the order depends on the member's seed and the epoch."""
    order = list(range(n))
    random.Random(hp["seed"] * 1000 + epoch).shuffle(order)
    return [order[i : i + hp["batch_pairs"]] for i in range(0, n, hp["batch_pairs"])]


def flip_labels(pairs, fraction, seed):
    """Label corruption (WARM paper, Figure 4): swap chosen and rejected in one seeded subset of
    round(fraction * n) training pairs, shared by all members. Uses its own RNG, so the rest of
    training draws exactly the same random numbers as without corruption. Returns
    (corrupted pairs, sorted flipped indexes)."""
    flipped = sorted(random.Random(seed).sample(range(len(pairs)), round(fraction * len(pairs))))
    out = list(pairs)
    for i in flipped:
        out[i] = (pairs[i][1], pairs[i][0])
    return out, flipped


def member_hparams(i, args):
    """The i-th member's hyperparameters: seeds, order, learning rate and dropout all vary."""
    return {
        "seed": args.seed + 1 + i,
        "lr": args.lrs[i % len(args.lrs)],
        "dropout": args.dropouts[i % len(args.dropouts)],
        "epochs": args.epochs,
        "batch_pairs": args.batch_pairs,
        "weight_decay": args.weight_decay,
        "frozen_layers": args.frozen_layers,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "..", "shared", "data"))
    ap.add_argument("--backbone", default=os.path.join(HERE, ".work", "backbone"))
    ap.add_argument("--out", default=os.path.join(HERE, ".work", "members"))
    ap.add_argument("--splits", default=os.path.join(HERE, "splits.json"))
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--members", type=int, default=6)
    ap.add_argument("--only", type=int, nargs="*", help="train only these member indexes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lrs", type=float, nargs="+", default=[5e-4, 1e-3, 1.5e-3])
    ap.add_argument("--dropouts", type=float, nargs="+", default=[0.0, 0.1])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-pairs", type=int, default=16)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--frozen-layers", type=int, default=3)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--flip-fraction", type=float, default=0.0,
                    help="flip the labels of this fraction of training pairs (0: no corruption)")
    ap.add_argument("--flip-seed", type=int, default=0, help="seed of the flipped subset")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    t0 = time.time()

    with open(os.path.join(args.backbone, "config.json")) as f:
        cfg = json.load(f)
    backbone = safetensors_io.load_file(os.path.join(args.backbone, "model.safetensors"))
    with open(args.splits) as f:
        splits = json.load(f)
    encoder = llama2c.Llama2cEncoder(llama2c.read_tokenizer(os.path.join(args.data, "pretrained", "tok512.bin")))
    train_pairs = data.load_split(args.data, splits, "train", encoder, args.max_length)
    log(f"{len(train_pairs)} training pairs, max_length {args.max_length}")

    os.makedirs(args.out, exist_ok=True)
    corruption = {}
    if args.flip_fraction > 0:
        train_pairs, flipped = flip_labels(train_pairs, args.flip_fraction, args.flip_seed)
        corruption = {"flip_fraction": args.flip_fraction, "flip_seed": args.flip_seed, "flipped": len(flipped)}
        with open(os.path.join(args.out, "flips.json"), "w") as f:
            json.dump({**corruption, "flipped_train_pairs": flipped}, f)
            f.write("\n")
        log(f"label corruption: flipped {len(flipped)} of {len(train_pairs)} training pairs (seed {args.flip_seed})")
    frozen = modeling.LlamaForSequenceClassification(cfg)
    frozen.load_state_dict({**backbone, "score.weight": torch.zeros(1, cfg["hidden_size"])})
    log(f"caching the frozen prefix (embeddings + {args.frozen_layers} layers)")
    cache = cache_prefix(frozen, [s for pair in train_pairs for s in pair], args.frozen_layers)
    log("linear probe: frozen-backbone features")
    fc, fr = features(frozen, cache, len(train_pairs), args.frozen_layers)
    head, loss, acc = linear_probe(fc, fr, steps=500, lr=1e-2, weight_decay=1e-4)
    safetensors_io.save_file({"score.weight": head}, os.path.join(args.out, "linear-probe.safetensors"))
    log(f"linear probe: loss {loss:.4f}, train accuracy {acc:.3f}")
    init_sd = {**backbone, "score.weight": head}

    for i in (args.only if args.only is not None else range(args.members)):
        hp = member_hparams(i, args)
        log(f"member {i}: {hp}")
        sd = finetune(cfg, init_sd, cache, len(train_pairs), hp, args.log_every)
        out = os.path.join(args.out, f"member-{i}")
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
            f.write("\n")
        safetensors_io.save_file(sd, os.path.join(out, "model.safetensors"), {"format": "pt"})
        with open(os.path.join(out, "train.json"), "w") as f:
            json.dump({**hp, "max_length": args.max_length, "train_pairs": len(train_pairs), **corruption}, f, indent=1)
            f.write("\n")
        log(f"member {i}: wrote {out}")
    log(f"done in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
