"""Build the benchmark's model directories (seeded random weights; never committed).

  /usr/bin/python3 bench/make_compute_model.py [--out bench/.work] [--members 6] [--max-length 128]

compute/   a compute-bound Llama-style reward model (~21M parameters: hidden 512, 6 layers,
           SwiGLU 1536, 8 heads) with the reference tokenizer, max_length 128, plus M members
           (the same architecture, each its own seeded weights) listed in its warm.json, so
           `serve --ensemble` measures the ensemble's cost against WARM's one forward pass.
compute-N/ with --max-length N other than 128: the same model and members (same weights) with
           max_length N and max_position_embeddings max(512, N), e.g. compute-1024/ for long
           GRPO prompts; only this directory is built then (not tiny/).
tiny/      the reference model (models/reference, copied) with M members made from its weights
           plus seeded noise, for the same comparison on the overhead-bound model.

The ONNX graphs are export.export_onnx's default: the graph with past key/values
(models/recipe/README.md); tiny/ copies models/reference/model.onnx, which is one too.

Reuses the recipe's model code (models/recipe/modeling.py) and ONNX export (export.py) by
import. Skips a directory whose files already exist unless --force.
"""
import argparse
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "models", "recipe"))
import export  # noqa: E402
import modeling  # noqa: E402
import safetensors_io  # noqa: E402

REFERENCE = os.path.join(ROOT, "models", "reference")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
MAX_LENGTH = 128
# Noise added to the reference weights for the tiny ensemble's members (relative to each tensor's std).
MEMBER_NOISE = 0.05

COMPUTE_CONFIG = {
    "architectures": ["LlamaForSequenceClassification"],
    "model_type": "llama",
    "hidden_size": 512,
    "intermediate_size": 1536,
    "num_hidden_layers": 6,
    "num_attention_heads": 8,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "vocab_size": 512,
    "max_position_embeddings": 512,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 0,
    "num_labels": 1,
    "torch_dtype": "float32",
    "initializer_range": 0.02,
}


def manifest(name, description, members=(), max_length=MAX_LENGTH):
    """warm.json (src/model/manifest.ts) with the reference model's text rules."""
    return {
        "format": "warm-serve/v1",
        "name": name,
        "description": description,
        "template": "{prompt}{completion}",
        "max_length": max_length,
        "padding_side": "right",
        "ensure_eos": True,
        "members": [{"name": m, "path": f"members/{m}"} for m in members],
    }


def write_directory(path, cfg, model, warm):
    """config.json, model.onnx, the reference tokenizer files and warm.json."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    for name in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(REFERENCE, name), os.path.join(path, name))
    export.export_onnx(model, os.path.join(path, "model.onnx"))
    with open(os.path.join(path, "warm.json"), "w") as f:
        json.dump(warm, f, indent=1)


def random_model(cfg, seed):
    """LlamaForSequenceClassification with HF-style N(0, 0.02) weights from `seed`."""
    torch.manual_seed(seed)
    model = modeling.LlamaForSequenceClassification(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" not in name:
                p.normal_(0.0, cfg["initializer_range"])
    return model.eval()


def perturbed_reference(cfg, seed):
    """The reference reward model with seeded noise on every weight (a stand-in ensemble member)."""
    model = modeling.LlamaForSequenceClassification(cfg)
    model.load_state_dict(safetensors_io.load_file(os.path.join(REFERENCE, "model.safetensors")), strict=True)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * (MEMBER_NOISE * float(p.std()) if p.numel() > 1 else 0.0))
    return model.eval()


def compute_config(max_length):
    """COMPUTE_CONFIG with room for max_length positions (max_position_embeddings >= 512)."""
    return {**COMPUTE_CONFIG, "max_position_embeddings": max(COMPUTE_CONFIG["max_position_embeddings"], max_length)}


def compute_dir_name(max_length):
    """compute/ for the default max_length, compute-N/ otherwise."""
    return "compute" if max_length == MAX_LENGTH else f"compute-{max_length}"


def build_compute(out, members, force, max_length=MAX_LENGTH):
    """compute/ (or compute-N/) and its members; returns the parameter count."""
    path = os.path.join(out, compute_dir_name(max_length))
    cfg = compute_config(max_length)
    names = [f"member-{i}" for i in range(members)]
    model = random_model(cfg, 0)
    params = sum(p.numel() for p in model.parameters())
    if force or not os.path.exists(os.path.join(path, "warm.json")):
        print(f"[make] compute: {params / 1e6:.1f}M parameters, max_length {max_length} -> {path}", flush=True)
        write_directory(path, cfg, model, manifest(
            "bench-compute-21m", "benchmark only: compute-bound Llama reward model, seeded random weights", names,
            max_length))
    for i, name in enumerate(names):
        member = os.path.join(path, "members", name)
        if force or not os.path.exists(os.path.join(member, "warm.json")):
            print(f"[make] compute member {i + 1}/{members}", flush=True)
            write_directory(member, cfg, random_model(cfg, 1 + i), manifest(name, "benchmark member", (), max_length))
    return params


def build_tiny(out, members, force):
    """tiny/: the reference model and perturbed copies of it as members."""
    path = os.path.join(out, "tiny")
    names = [f"member-{i}" for i in range(members)]
    with open(os.path.join(REFERENCE, "config.json")) as f:
        cfg = json.load(f)
    if force or not os.path.exists(os.path.join(path, "warm.json")):
        print(f"[make] tiny: models/reference + {members} perturbed members -> {path}", flush=True)
        os.makedirs(path, exist_ok=True)
        for name in ("config.json", "model.onnx") + TOKENIZER_FILES:
            shutil.copyfile(os.path.join(REFERENCE, name), os.path.join(path, name))
        with open(os.path.join(REFERENCE, "warm.json")) as f:
            warm = json.load(f)
        warm["members"] = [{"name": m, "path": f"members/{m}"} for m in names]
        with open(os.path.join(path, "warm.json"), "w") as f:
            json.dump(warm, f, indent=1)
    for i, name in enumerate(names):
        member = os.path.join(path, "members", name)
        if force or not os.path.exists(os.path.join(member, "warm.json")):
            write_directory(member, cfg, perturbed_reference(cfg, 100 + i), manifest(name, "benchmark member"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, ".work"))
    ap.add_argument("--members", type=int, default=6)
    ap.add_argument("--force", action="store_true", help="rebuild directories that already exist")
    ap.add_argument("--max-length", type=int, default=MAX_LENGTH,
                    help=f"the compute model's max_length (default {MAX_LENGTH}); another value builds only "
                         "compute-N/, with max_position_embeddings max(512, N)")
    args = ap.parse_args()
    if args.max_length < 1:
        ap.error("--max-length must be positive")
    torch.set_num_threads(2)
    params = build_compute(args.out, args.members, args.force, args.max_length)
    if args.max_length == MAX_LENGTH:
        build_tiny(args.out, args.members, args.force)
    print(f"[make] done: compute model {params / 1e6:.1f}M parameters, {args.members} members each", flush=True)


if __name__ == "__main__":
    main()
