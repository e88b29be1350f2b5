"""Publish trained members as served model directories and write the ONNX parity fixture.

For each MEMBERS_DIR/member-i: models/reference/members/member-i/ with config.json,
model.safetensors, model.onnx (export.py, padding-invariance checked), tokenizer.json,
tokenizer_config.json and warm.json. Then test/fixtures/recipe/parity.json: token ids of a few
held-out texts and each member's PyTorch logits, for test/recipe-onnx-parity.test.ts. Also
writes models/reference/warm.json (the merge's manifest; `warm-serve merge` adds the members).

Usage: python3 publish.py [MEMBERS_DIR] [--backbone DIR] [--dest DIR] [--max-length 128]
"""
import argparse
import glob
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import export  # noqa: E402
import llama2c  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
PARITY_TEXTS_PER_FILE = 2


def member_manifest(name, max_length):
    """warm.json of one member (src/model/manifest.ts): template, truncation and padding rules."""
    return {
        "format": "warm-serve/v1",
        "name": name,
        "description": "WARM reference member: stories260K fine-tuned as a reward model (models/recipe).",
        "template": "{prompt}{completion}",
        "max_length": max_length,
        "padding_side": "right",
        "ensure_eos": True,
    }


def reference_manifest(max_length):
    """warm.json of models/reference (the merge): `warm-serve merge` keeps it and adds members."""
    return {
        "format": "warm-serve/v1",
        "name": "warm-stories260k-rm",
        "description": "WARM reference reward model: the weight average of 6 stories260K reward models "
                       "fine-tuned on TL;DR + HH-RLHF helpful-base preferences (models/recipe).",
        "template": "{prompt}{completion}",
        "max_length": max_length,
        "padding_side": "right",
        "ensure_eos": True,
    }


def parity_items(args):
    """Token ids of a few validation texts per training file and one OOD text (server rule)."""
    splits = json.load(open(os.path.join(HERE, "splits.json")))
    encoder = llama2c.Llama2cEncoder(llama2c.read_tokenizer(os.path.join(args.data, "pretrained", "tok512.bin")))
    items = []
    for rel, parts in splits.items():
        split = "validation" if "validation" in parts else "ood"
        rows = data.read_rows(args.data, rel)
        for i in parts[split][:PARITY_TEXTS_PER_FILE]:
            chosen, _ = data.to_pair(rel, rows[i])
            items.append({"source": f"{rel}#{i} chosen", "input_ids": data.tokenize(encoder, chosen, args.max_length)})
    items.append({"source": "short text 'Hello'", "input_ids": encoder.encode("Hello", bos=True, eos=True)})
    return items


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("members_dir", nargs="?", default=os.path.join(HERE, ".work", "members"))
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "..", "shared", "data"))
    ap.add_argument("--backbone", default=os.path.join(HERE, ".work", "backbone"))
    ap.add_argument("--dest", default=os.path.join(ROOT, "models", "reference", "members"))
    ap.add_argument("--parity", default=os.path.join(ROOT, "test", "fixtures", "recipe", "parity.json"))
    ap.add_argument("--max-length", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(2)

    dirs = sorted(glob.glob(os.path.join(args.members_dir, "member-*")), key=lambda d: int(d.rsplit("-", 1)[1]))
    items = parity_items(args)
    parity = {"tolerance": 1e-4, "items": items, "members": {}}
    for src in dirs:
        name = os.path.basename(src)
        dst = os.path.join(args.dest, name)
        os.makedirs(dst, exist_ok=True)
        for f in ("config.json", "model.safetensors"):
            shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(args.backbone, f), os.path.join(dst, f))
        with open(os.path.join(dst, "warm.json"), "w") as f:
            json.dump(member_manifest(name, args.max_length), f, indent=1)
            f.write("\n")
        model = export.load_reward_model(dst)
        worst = export.check_padding_invariance(model, [it["input_ids"] for it in items])
        if worst > export.PADDING_TOLERANCE:
            sys.exit(f"[publish] {name}: rewards depend on padding ({worst:.2e})")
        export.export_onnx(model, os.path.join(dst, "model.onnx"))
        with torch.no_grad():
            logits = [float(model(torch.tensor([it["input_ids"]]), torch.ones(1, len(it["input_ids"]), dtype=torch.int64)))
                      for it in items]
        parity["members"][name] = logits
        print(f"[publish] {name}: {dst} (padding invariance {worst:.1e})", flush=True)
    with open(os.path.join(args.dest, "..", "warm.json"), "w") as f:
        json.dump(reference_manifest(args.max_length), f, indent=1)
        f.write("\n")
    with open(args.parity, "w") as f:
        json.dump(parity, f)
        f.write("\n")
    print(f"[publish] wrote {args.parity}")


if __name__ == "__main__":
    main()
