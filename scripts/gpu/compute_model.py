"""The bench compute model for scripts/gpu/run.sh, as three directories under OUT:

  compute/       bench/make_compute_model.py's compute model (~21M parameters, seeded weights,
                 max_length 128): the float32 graph with past key/values, plus model.safetensors
                 of the very same weights (the HF layout transformers' LlamaForSequenceClassification
                 loads; the recipe's parameter names are transformers' own)
  compute-fp16/  the same weights as a float16 graph (models/recipe/export.py --fp16)

  python3 scripts/gpu/compute_model.py OUT [--no-fp16]

Reuses bench/make_compute_model.py (config, seeded weights, directory layout) by import. Skips a
directory that is already complete.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "models", "recipe"))
import make_compute_model as bench  # noqa: E402
import safetensors_io  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--no-fp16", action="store_true", help="skip the float16 graph")
    args = ap.parse_args()
    torch.set_num_threads(min(8, os.cpu_count() or 2))
    cfg = bench.compute_config(bench.MAX_LENGTH)
    path = os.path.join(args.out, "compute")
    if not os.path.exists(os.path.join(path, "model.safetensors")):
        model = bench.random_model(cfg, 0)
        params = sum(p.numel() for p in model.parameters())
        print(f"[compute_model] {params / 1e6:.1f}M parameters -> {path}", flush=True)
        bench.write_directory(path, cfg, model, bench.manifest(
            "bench-compute-21m", "benchmark only: compute-bound Llama reward model, seeded random weights"))
        # written last: its presence marks the directory complete
        safetensors_io.save_file(model.state_dict(), os.path.join(path, "model.safetensors"))
    half = os.path.join(args.out, "compute-fp16")
    if not args.no_fp16 and not os.path.exists(os.path.join(half, "model.onnx")):
        os.makedirs(half, exist_ok=True)
        for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(path, name), os.path.join(half, name))
        with open(os.path.join(path, "warm.json")) as f:
            warm = json.load(f)
        warm["name"] = "bench-compute-21m-fp16"
        with open(os.path.join(half, "warm.json"), "w") as f:
            json.dump(warm, f, indent=1)
        subprocess.run([sys.executable, os.path.join(ROOT, "models", "recipe", "export.py"), path, "--fp16",
                        "--out", os.path.join(half, "model.onnx")], check=True)
    print("[compute_model] done", flush=True)


if __name__ == "__main__":
    main()
