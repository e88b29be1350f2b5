"""Convert llama2.c stories260K + tok512 into an HF Llama-style directory and prove it:
(a) the HF-layout model greedy-decodes the reference story from BOS;
(b) (the tokenizer half is proven by test/recipe-tokenizer.test.ts, which compares tokenizer.json
    through the `tokenizers` binding with the llama2.c encoding on all preference texts; here we
    check our fast llama2.c encoder against the literal O(n^2) transcription).

Usage: python3 convert.py --data ../../../shared/data --out .work/backbone [--max-length 128]
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_tokenizer  # noqa: E402
import llama2c  # noqa: E402
import modeling  # noqa: E402
import safetensors_io  # noqa: E402

EXPECTED_STORY = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."


def permute_rope(w, n_heads):
    """llama2.c rotates interleaved pairs (0,1),(2,3)..; HF rotates halves: move the even rows of
    each head first and the odd rows second, so both layouts compute the same attention."""
    out_dim, in_dim = w.shape
    return w.view(n_heads, out_dim // n_heads // 2, 2, in_dim).transpose(1, 2).reshape(out_dim, in_dim)


def hf_config(c):
    """HF LlamaConfig keys for the llama2.c header (reward-model flavour: 1 label, pad = <unk>)."""
    return {
        "architectures": ["LlamaForSequenceClassification"],
        "model_type": "llama",
        "hidden_size": c["dim"],
        "intermediate_size": c["hidden_dim"],
        "num_hidden_layers": c["n_layers"],
        "num_attention_heads": c["n_heads"],
        "num_key_value_heads": c["n_kv_heads"],
        "head_dim": c["dim"] // c["n_heads"],
        "vocab_size": c["vocab_size"],
        "max_position_embeddings": c["seq_len"],
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "tie_word_embeddings": True,
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": llama2c.BOS_ID,
        "eos_token_id": llama2c.EOS_ID,
        "pad_token_id": 0,
        "num_labels": 1,
        "id2label": {"0": "LABEL_0"},
        "label2id": {"LABEL_0": 0},
        "torch_dtype": "float32",
        "initializer_range": 0.02,
    }


def hf_state_dict(c, w):
    """Map llama2.c arrays to HF parameter names (q/k rows permuted for rotate-half RoPE)."""
    sd = {"model.embed_tokens.weight": w["token_embedding"], "model.norm.weight": w["rms_final"]}
    for i in range(c["n_layers"]):
        p = f"model.layers.{i}."
        sd[p + "self_attn.q_proj.weight"] = permute_rope(w["wq"][i], c["n_heads"])
        sd[p + "self_attn.k_proj.weight"] = permute_rope(w["wk"][i], c["n_kv_heads"])
        sd[p + "self_attn.v_proj.weight"] = w["wv"][i]
        sd[p + "self_attn.o_proj.weight"] = w["wo"][i]
        sd[p + "mlp.gate_proj.weight"] = w["w1"][i]
        sd[p + "mlp.down_proj.weight"] = w["w2"][i]
        sd[p + "mlp.up_proj.weight"] = w["w3"][i]
        sd[p + "input_layernorm.weight"] = w["rms_att"][i]
        sd[p + "post_attention_layernorm.weight"] = w["rms_ffn"][i]
    return {k: v.contiguous().clone() for k, v in sd.items()}


def greedy_decode(cfg, sd, vocab, steps=200):
    """Greedy decoding from BOS with the HF-layout model; returns the text (llama2.c decode rules)."""
    lm = modeling.LlamaForCausalLM(cfg)
    lm.load_state_dict(sd)
    lm.eval()
    ids = [llama2c.BOS_ID]
    with torch.no_grad():
        for _ in range(steps - 1):
            x = torch.tensor([ids])
            logits = lm(x, torch.ones_like(x))
            ids.append(int(logits[0, -1].argmax()))
    pieces = []
    for prev, tok in zip(ids, ids[1:]):
        piece = vocab[tok][0]
        if prev == llama2c.BOS_ID and piece.startswith(b" "):
            piece = piece[1:]
        pieces.append(piece)
    return b"".join(pieces).decode("utf-8", errors="replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(here, ".work", "backbone"))
    ap.add_argument("--max-length", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)

    c, w = llama2c.read_checkpoint(os.path.join(args.data, "pretrained", "stories260K.bin"))
    vocab = llama2c.read_tokenizer(os.path.join(args.data, "pretrained", "tok512.bin"))
    cfg = hf_config(c)
    sd = hf_state_dict(c, w)

    text = greedy_decode(cfg, sd, vocab)
    print(f"[convert] greedy decode from BOS: {text[:160]!r}...")
    if not text.startswith(EXPECTED_STORY):
        sys.exit("[convert] FAILED: the HF-layout model does not reproduce the reference story")
    print("[convert] OK: HF-layout model reproduces the reference story")

    enc = llama2c.Llama2cEncoder(vocab)
    for sample in ["Hello world", "TL;DR: I'm 15M, she’s 14F…  naïve ☃ 日本", "aaaa   bb\n\nHuman: x"]:
        if enc.encode(sample) != llama2c.encode_naive(vocab, sample):
            sys.exit(f"[convert] FAILED: heap encoder differs from llama2.c on {sample!r}")
    print("[convert] OK: fast encoder matches llama2.c's merge loop")

    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")
    safetensors_io.save_file(sd, os.path.join(args.out, "model.safetensors"), {"format": "pt"})
    hf_tokenizer.write_json(hf_tokenizer.build_tokenizer_json(vocab), os.path.join(args.out, "tokenizer.json"))
    hf_tokenizer.write_json(hf_tokenizer.build_tokenizer_config(args.max_length),
                            os.path.join(args.out, "tokenizer_config.json"))
    print(f"[convert] wrote {args.out}")


if __name__ == "__main__":
    main()
