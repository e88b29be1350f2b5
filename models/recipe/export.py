"""Export an HF reward-model directory (config.json + model.safetensors) to model.onnx.

Inputs `input_ids`, `attention_mask` (int64 [batch, seq], dynamic axes); output `logits`
(float32 [batch, 1]). The graph computes positions from the mask, masks padded keys and reads
the reward at the last real token, so the reward does not depend on padding side or amount;
this script checks that in PyTorch before exporting (left/right padding vs single items).

Usage: python3 export.py MODEL_DIR [--out MODEL_DIR/model.onnx]
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modeling  # noqa: E402
import safetensors_io  # noqa: E402

OPSET = 17
PADDING_TOLERANCE = 1e-5


def load_reward_model(model_dir):
    """LlamaForSequenceClassification from an HF-style directory, in eval mode."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    model = modeling.LlamaForSequenceClassification(cfg)
    sd = safetensors_io.load_file(os.path.join(model_dir, "model.safetensors"))
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model


def pad_batch(seqs, side, pad_id=0):
    """(input_ids, attention_mask) for a list of id lists, padded on `side`."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.int64)
    mask = torch.zeros((len(seqs), width), dtype=torch.int64)
    for row, s in enumerate(seqs):
        start = 0 if side == "right" else width - len(s)
        ids[row, start : start + len(s)] = torch.tensor(s)
        mask[row, start : start + len(s)] = 1
    return ids, mask


def check_padding_invariance(model, seqs):
    """Max |reward difference| between single items and left/right-padded batches."""
    with torch.no_grad():
        single = torch.cat([model(torch.tensor([s]), torch.ones(1, len(s), dtype=torch.int64)) for s in seqs])
        worst = 0.0
        for side in ("left", "right"):
            ids, mask = pad_batch(seqs, side)
            worst = max(worst, float((model(ids, mask) - single).abs().max()))
    return worst


def export_onnx(model, path):
    """torch.onnx.export with dynamic batch/seq axes (no onnx package needed)."""
    ids = torch.tensor([[1, 300, 301, 302, 2], [1, 400, 2, 0, 0]], dtype=torch.int64)
    mask = (torch.arange(5) < torch.tensor([[5], [3]])).to(torch.int64)
    torch.onnx.export(
        model, (ids, mask), path,
        input_names=["input_ids", "attention_mask"], output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                      "logits": {0: "batch"}},
        opset_version=OPSET, do_constant_folding=True,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--out", help="output path (default MODEL_DIR/model.onnx)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = load_reward_model(args.model_dir)
    gen = torch.Generator().manual_seed(0)
    seqs = [[1] + torch.randint(3, 512, (n,), generator=gen).tolist() + [2] for n in (3, 17, 40, 9, 64)]
    worst = check_padding_invariance(model, seqs)
    print(f"[export] padding invariance: max |diff| = {worst:.2e}")
    if worst > PADDING_TOLERANCE:
        sys.exit(f"[export] FAILED: rewards depend on padding (>{PADDING_TOLERANCE})")
    out = args.out or os.path.join(args.model_dir, "model.onnx")
    export_onnx(model, out)
    print(f"[export] wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
