"""The peer a user would otherwise run: transformers' LlamaForSequenceClassification in float16 on
the GPU, on the same weights as warm-serve's compute model (compute/model.safetensors, written by
scripts/gpu/compute_model.py). Prints one JSON object.

  python3 scripts/gpu/torch_peer.py MODEL_DIR --lengths LENGTHS.json [--batch-sizes 1,2,...,64]
                                    [--seconds 5] [--impl transformers|recipe] [--device cuda]

Checks first that the float32 peer and the recipe's model (the one exported to model.onnx, which
export.py checks against ONNX Runtime) give the same logits on the same token ids, so the two
sides are one model. Then, per batch size B, it runs forward passes over batches of B items for
--seconds: token ids are random (ids >= 3), lengths are the load's (LENGTHS.json: the token
counts warm-serve reported for the items it was sent), right-padded to the longest in each
batch. It measures forward passes only: no HTTP, no tokenization, no queue (an in-process
reward model's cost); items/s = items / wall seconds after a warm-up, with torch.cuda.synchronize
before each clock read.

--impl recipe runs models/recipe/modeling.py instead of transformers (for machines without
transformers; not the peer the comparison is about).
"""
import argparse
import json
import os
import random
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models", "recipe"))
import modeling  # noqa: E402
import safetensors_io  # noqa: E402


def load(model_dir, impl):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    weights = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
    recipe = modeling.LlamaForSequenceClassification(cfg)
    recipe.load_state_dict(weights, strict=True)
    recipe.eval()
    if impl == "recipe":
        return recipe, recipe, "models/recipe/modeling.py"
    import transformers
    config = transformers.LlamaConfig(**{k: v for k, v in cfg.items() if k not in ("architectures", "model_type")})
    config.pad_token_id = cfg["pad_token_id"]
    peer = transformers.LlamaForSequenceClassification(config)
    missing, unexpected = peer.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not k.endswith("rotary_emb.inv_freq")]
    if missing or unexpected:
        sys.exit(f"[torch_peer] weights do not fit transformers' model: missing {missing}, unexpected {unexpected}")
    peer.eval()
    return peer, recipe, f"transformers {transformers.__version__} LlamaForSequenceClassification"


def logits(model, ids, mask):
    out = model(input_ids=ids, attention_mask=mask) if not isinstance(model, modeling.LlamaForSequenceClassification) else model(ids, mask)
    return (out.logits if hasattr(out, "logits") else out).float()


def batch_of(lengths, vocab, gen, device):
    width = max(lengths)
    ids = torch.zeros((len(lengths), width), dtype=torch.int64)
    mask = torch.zeros((len(lengths), width), dtype=torch.int64)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(3, vocab, (n,), generator=gen)
        mask[row, :n] = 1
    return ids.to(device), mask.to(device)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--lengths", required=True)
    ap.add_argument("--batch-sizes", default="1,2,4,8,16,32,64")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--impl", choices=("transformers", "recipe"), default="transformers")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    with open(args.lengths) as f:
        lengths = json.load(f)
    peer, recipe, name = load(args.model_dir, args.impl)
    vocab = recipe.model.embed_tokens.weight.shape[0]
    gen = torch.Generator().manual_seed(0)

    # one model: the float32 peer equals the recipe's model on the same ids (right padding)
    ids, mask = batch_of(lengths[:8], vocab, gen, "cpu")
    with torch.no_grad():
        same = float((logits(peer, ids, mask) - logits(recipe, ids, mask)).abs().max())
    result = {"peer": name, "torch": torch.__version__, "float32_vs_recipe_max_abs_diff": same}
    if same > 1e-4:
        sys.exit(f"[torch_peer] the peer's float32 logits differ from the recipe model's by {same:.2e}: not the same model")

    if args.device == "cuda" and not torch.cuda.is_available():
        result["skipped"] = "no CUDA device"
        print(json.dumps(result))
        return
    dtype = torch.float16 if args.device == "cuda" else torch.float32
    model = peer.to(args.device, dtype)
    result.update({"device": torch.cuda.get_device_name() if args.device == "cuda" else args.device, "dtype": str(dtype).replace("torch.", "")})
    rng = random.Random(0)
    rows = []
    for b in [int(x) for x in args.batch_sizes.split(",")]:
        batches = [batch_of(rng.sample(lengths, b) if b <= len(lengths) else rng.choices(lengths, k=b), vocab, gen, args.device) for _ in range(16)]
        with torch.no_grad():
            for ids, mask in batches[:3]:
                logits(model, ids, mask)
            if args.device == "cuda":
                torch.cuda.synchronize()
            items, k, start = 0, 0, time.perf_counter()
            while time.perf_counter() - start < args.seconds:
                ids, mask = batches[k % len(batches)]
                logits(model, ids, mask)
                items += b
                k += 1
                if args.device == "cuda" and k % 8 == 0:
                    torch.cuda.synchronize()
            if args.device == "cuda":
                torch.cuda.synchronize()
            wall = time.perf_counter() - start
        rows.append({"batch_size": b, "items_per_s": items / wall, "passes": k})
        print(f"[torch_peer] batch {b}: {items / wall:.0f} items/s", file=sys.stderr, flush=True)
    result["rows"] = rows
    print(json.dumps(result))


if __name__ == "__main__":
    main()
