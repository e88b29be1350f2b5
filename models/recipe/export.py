"""Export an HF reward-model directory (config.json + model.safetensors) to model.onnx.

By default the graph is "with past key/values" (Hugging Face Optimum's decoder-with-past names),
so a server can run a shared prompt once and score many completions after it:

  inputs   input_ids                    int64   [batch, seq]
           attention_mask               int64   [batch, past_seq + seq]  (past columns are 1)
           past_key_values.{i}.key      float32 [past_batch, kv_heads, past_seq, head_dim]
           past_key_values.{i}.value    (same), for each layer i; past_batch 1 is broadcast over
                                        the batch; past_seq 0 (an empty past) is a plain pass
  outputs  logits                       float32 [batch, 1]
           present.{i}.key / .value     float32 [batch, kv_heads, past_seq + seq, head_dim]
                                        (the past, broadcast, then the new tokens; keys after RoPE,
                                        before the grouped-query repeat)

With --no-past: the plain graph, inputs `input_ids` and `attention_mask` (int64 [batch, seq]),
output `logits`.

With --fp16: the same graph in half precision, as GPU users export it: weights, past/present and
`logits` float16 (inputs still int64), computed in float16 except where Hugging Face's Llama keeps
float32 (the rotary cos/sin and the attention mask, built from integer positions; RMSNorm's
mean of squares and rsqrt; softmax). PyTorch 1.13 has no float16 CPU kernels for Linear, softmax,
SiLU or rsqrt, so the float32 graph is traced and then converted node by node (to_float16; needs
the `onnx` package: apt-get install python3-onnx); float constants beyond float16's range (the
-1e9 mask fill) are clamped to +-65504, so fully masked rows stay finite. The PyTorch checks run
on the float32 model; check_past.mjs then checks the float16 graph against PyTorch's float32
rewards within FP16_TOLERANCE. Either graph computes positions from the (full) mask, masks padded keys and
reads the reward at the last real token, so the reward does not depend on padding side or
amount. Before writing, this script checks in PyTorch: left/right padding vs single items; for
the past graph also prefix reuse (full sequences vs a batch-1 prefix's present as the past of
right- and left-padded suffixes) and an empty past vs the plain forward. After writing the past
graph it checks it with ONNX Runtime through Node (check_past.mjs) when `node` is on PATH.

Usage: python3 export.py MODEL_DIR [--out MODEL_DIR/model.onnx] [--no-past] [--fp16] [--against OLD.onnx]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modeling  # noqa: E402
import safetensors_io  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17
PADDING_TOLERANCE = 1e-5
PAST_TOLERANCE = 1e-5
ORT_TOLERANCE = 1e-4
AGAINST_TOLERANCE = 1e-5
# float16 graph vs PyTorch's float32 rewards (measured on the reference members: <= 3.2e-3)
FP16_TOLERANCE = 2e-2
# ops computed in float32 inside a float16 graph, as transformers' Llama does (see to_float16)
FLOAT32_OPS = {"Pow", "ReduceMean", "Sqrt", "Softmax", "Cos", "Sin"}
CHECK_SCRIPT = os.path.join(HERE, "check_past.mjs")


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


def with_past_mask(mask, past_len):
    """The full attention mask: `past_len` columns of ones, then the current tokens' mask."""
    return torch.cat((torch.ones(mask.shape[0], past_len, dtype=torch.int64), mask), dim=1)


def check_prefix_reuse(model, prefix, suffixes):
    """Max |diff| per padding side between the rewards of prefix + suffix (plain forward, single
    items) and the suffixes scored after the prefix's present as a batch-1 past."""
    with torch.no_grad():
        full = torch.cat([model(torch.tensor([prefix + s]), torch.ones(1, len(prefix) + len(s), dtype=torch.int64))
                          for s in suffixes])
        _, past = model.forward_with_past(torch.tensor([prefix]), torch.ones(1, len(prefix), dtype=torch.int64),
                                          model.empty_past(1))
        diffs = {}
        for side in ("right", "left"):
            ids, mask = pad_batch(suffixes, side)
            reused, _ = model.forward_with_past(ids, with_past_mask(mask, len(prefix)), past)
            diffs[side] = float((reused - full).abs().max())
    return diffs


def check_empty_past(model, seqs):
    """Max |diff| between the plain forward and an empty past (batch 1 and batch b), both sides."""
    worst = 0.0
    with torch.no_grad():
        for side in ("right", "left"):
            ids, mask = pad_batch(seqs, side)
            plain = model(ids, mask)
            for past_batch in (1, len(seqs)):
                got, presents = model.forward_with_past(ids, mask, model.empty_past(past_batch))
                worst = max(worst, float((got - plain).abs().max()))
                assert presents[0][0].shape[2] == ids.shape[1]
    return worst


def past_names(num_layers):
    """(past input names, present output names) in graph order: layer by layer, key then value."""
    inputs = [f"past_key_values.{i}.{kv}" for i in range(num_layers) for kv in ("key", "value")]
    outputs = [f"present.{i}.{kv}" for i in range(num_layers) for kv in ("key", "value")]
    return inputs, outputs


def legacy_exporter():
    """torch.onnx.export's keyword for the TorchScript exporter: PyTorch 2.9+ defaults to the
    dynamo exporter (other names and shapes), so ask for the legacy one where the flag exists."""
    import inspect
    return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def to_float16(src, dst):
    """Convert a float32 graph to float16 (see the module doc). Walks the nodes in order with the
    set of tensors that are float16: float initializers (the weights) and float graph inputs (the
    past) start it; a node with a float16 float input computes in float16 (its other float inputs
    are cast, or a constant copied as float16 with values clamped to +-65504) and its float
    outputs are float16; FLOAT32_OPS and nodes fed only by integer-derived floats (positions,
    the mask fill) stay float32, their float16 inputs cast up. Writes `dst`."""
    try:
        import numpy as np
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        sys.exit("[export] --fp16 needs the onnx package (Debian: apt-get install python3-onnx)")
    model = onnx.shape_inference.infer_shapes(onnx.load(src))
    g = model.graph
    F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16
    elem = {v.name: v.type.tensor_type.elem_type for v in list(g.input) + list(g.value_info) + list(g.output)}
    elem.update({i.name: i.data_type for i in g.initializer})
    producer = {}
    for n in g.node:
        for o in n.output:
            producer[o] = n
        if n.op_type == "Constant":
            elem[n.output[0]] = n.attribute[0].t.data_type

    def half_array(a):
        return np.clip(a, -65504, 65504).astype(np.float16)

    for init in g.initializer:
        if init.data_type == F32:
            init.CopyFrom(numpy_helper.from_array(half_array(numpy_helper.to_array(init)), init.name))
    half = {i.name for i in g.initializer if i.data_type == F16}
    half.update(v.name for v in g.input if v.type.tensor_type.elem_type == F32)
    for v in g.input:
        if v.type.tensor_type.elem_type == F32:
            v.type.tensor_type.elem_type = F16

    nodes, made = [], {}

    def as_half(name):
        """A float16 version of float32 tensor `name`: a float16 copy of a constant, else a Cast."""
        if name in made:
            return made[name]
        source = producer.get(name)
        out = name + "_fp16"
        if source is not None and source.op_type in ("Constant", "ConstantOfShape") and source.attribute:
            tensor = source.attribute[0].t
            value = numpy_helper.from_array(half_array(numpy_helper.to_array(tensor)))
            node = helper.make_node(source.op_type, list(source.input), [out], name=source.name + "_fp16", value=value)
        else:
            node = helper.make_node("Cast", [name], [out], name=name + "_to_fp16", to=F16)
        nodes.append(node)
        made[name] = out
        return out

    def as_float(name):
        out = name + "_fp32"
        if out not in made:
            nodes.append(helper.make_node("Cast", [name], [out], name=name + "_to_fp32", to=F32))
            made[out] = out
        return out

    for n in g.node:
        floats = [k for k, i in enumerate(n.input) if i and elem.get(i) in (F32, F16)]
        if n.op_type in FLOAT32_OPS:
            for k in floats:
                if n.input[k] in half:
                    n.input[k] = as_float(n.input[k])
        elif n.op_type == "If":
            # the reward's squeeze: float16 when the outer tensor its branches read is
            outer = {i for a in n.attribute for x in a.g.node for i in x.input}
            if outer & half:
                for a in n.attribute:
                    for o in a.g.output:
                        o.type.tensor_type.elem_type = F16
                half.update(n.output)
        elif any(n.input[k] in half for k in floats):
            for k in floats:
                if n.input[k] not in half:
                    n.input[k] = as_half(n.input[k])
            if n.op_type == "Cast":
                raise SystemExit(f"[export] to_float16: unexpected Cast of a float16 tensor ({n.name})")
            half.update(o for o in n.output if elem.get(o) == F32)
        nodes.append(n)
    used = {i for n in nodes for i in n.input} | {o.name for o in g.output}
    used |= {i for n in nodes for a in n.attribute for x in a.g.node for i in x.input}
    del g.node[:]
    g.node.extend(n for n in nodes if n.op_type != "Constant" or n.output[0] in used)
    for o in g.output:
        if o.name in half:
            o.type.tensor_type.elem_type = F16
    del g.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, dst)


def export_onnx(model, path, past=True):
    """torch.onnx.export (legacy TorchScript exporter, opset 17, no onnx package needed).

    past=True: the graph with past key/values (see the module doc); past=False: the plain graph
    (input_ids, attention_mask -> logits) with dynamic batch/seq axes."""
    ids = torch.tensor([[1, 300, 301, 302, 2], [1, 400, 2, 0, 0]], dtype=torch.int64)
    mask = (torch.arange(5) < torch.tensor([[5], [3]])).to(torch.int64)
    if not past:
        torch.onnx.export(
            model, (ids, mask), path,
            input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "logits": {0: "batch"}},
            opset_version=OPSET, do_constant_folding=True, **legacy_exporter(),
        )
        return
    wrapper = modeling.RewardModelWithPast(model).eval()
    attn = model.model.layers[0].self_attn
    past_len = 3
    # a batch-1 past of 3 tokens (so batch, past_batch, seq and past_seq all differ while tracing)
    gen = torch.Generator().manual_seed(0)
    flat_past = tuple(torch.randn(1, attn.n_kv, past_len, attn.head_dim, generator=gen)
                      for _ in range(2 * wrapper.num_layers))
    in_names, out_names = past_names(wrapper.num_layers)
    dynamic = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "total_seq"},
               "logits": {0: "batch"}}
    dynamic.update({n: {0: "past_batch", 2: "past_seq"} for n in in_names})
    dynamic.update({n: {0: "batch", 2: "total_seq"} for n in out_names})
    torch.onnx.export(
        wrapper, (ids, with_past_mask(mask, past_len)) + flat_past, path,
        input_names=["input_ids", "attention_mask"] + in_names, output_names=["logits"] + out_names,
        dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True, **legacy_exporter(),
    )


def ort_check_data(model, prefix, suffixes):
    """What check_past.mjs needs: the shapes, the token ids and PyTorch's full-sequence rewards."""
    attn = model.model.layers[0].self_attn
    with torch.no_grad():
        full = [float(model(torch.tensor([prefix + s]), torch.ones(1, len(prefix) + len(s), dtype=torch.int64)))
                for s in suffixes]
    return {"layers": len(model.model.layers), "kv_heads": attn.n_kv, "head_dim": attn.head_dim,
            "prefix": prefix, "suffixes": suffixes, "full_rewards": full, "tolerance": ORT_TOLERANCE}


def check_with_node(onnx_path, data, against=None):
    """Runs check_past.mjs on the graph (and against another graph's rewards if given);
    returns False if it failed, None if node is missing."""
    node = shutil.which("node")
    if node is None:
        print("[export] note: node is not on PATH; skipped the ONNX Runtime check (check_past.mjs)")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        check = os.path.join(tmp, "check.json")
        with open(check, "w") as f:
            json.dump(data, f)
        extra = ["--against", against, "--against-tolerance", str(AGAINST_TOLERANCE)] if against else []
        return subprocess.run([node, CHECK_SCRIPT, onnx_path, check] + extra).returncode == 0


def test_sequences(gen):
    """Seeded token-id lists (BOS ... EOS) of mixed lengths."""
    return [[1] + torch.randint(3, 512, (n,), generator=gen).tolist() + [2] for n in (3, 17, 40, 9, 64)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("--out", help="output path (default MODEL_DIR/model.onnx)")
    ap.add_argument("--no-past", action="store_true", help="the plain graph (input_ids, attention_mask -> logits)")
    ap.add_argument("--fp16", action="store_true",
                    help="a float16 graph (weights, past/present and logits float16; float32 where transformers' "
                         "Llama keeps it); needs the onnx package")
    ap.add_argument("--against", metavar="ONNX",
                    help="also require the new graph's rewards to equal this graph's (plain or past; e.g. the "
                         f"model.onnx being replaced) within {AGAINST_TOLERANCE} in ONNX Runtime")
    args = ap.parse_args()
    if args.against and args.no_past:
        ap.error("--against checks the past graph (not with --no-past)")
    if args.against and args.fp16:
        ap.error("--against compares within float32 rounding (not with --fp16)")
    torch.set_num_threads(2)
    torch.manual_seed(0)
    start = time.time()
    model = load_reward_model(args.model_dir)
    gen = torch.Generator().manual_seed(0)
    seqs = test_sequences(gen)
    worst = check_padding_invariance(model, seqs)
    print(f"[export] padding invariance: max |diff| = {worst:.2e}")
    if worst > PADDING_TOLERANCE:
        sys.exit(f"[export] FAILED: rewards depend on padding (>{PADDING_TOLERANCE})")
    out = args.out or os.path.join(args.model_dir, "model.onnx")
    precision = ", float16" if args.fp16 else ""
    if args.no_past:
        export_onnx(model, out, past=False)
        if args.fp16:
            to_float16(out, out)
        print(f"[export] wrote {out} ({os.path.getsize(out)} bytes, plain graph{precision}) in {time.time() - start:.1f} s")
        return
    # shared prefix: BOS + 20 tokens; suffixes of 1 to 30 tokens, the last ones ending in EOS
    prefix = [1] + torch.randint(3, 512, (20,), generator=gen).tolist()
    suffixes = [torch.randint(3, 512, (n,), generator=gen).tolist() + [2] for n in (0, 7, 29, 3, 12)]
    diffs = check_prefix_reuse(model, prefix, suffixes)
    print(f"[export] prefix reuse (prefix {len(prefix)} tokens, {len(suffixes)} suffixes, batch-1 past): "
          f"max |diff| = {diffs['right']:.2e} right-padded, {diffs['left']:.2e} left-padded")
    if max(diffs.values()) > PAST_TOLERANCE:
        sys.exit(f"[export] FAILED: rewards after a reused prefix differ from full passes (>{PAST_TOLERANCE})")
    worst = check_empty_past(model, seqs)
    print(f"[export] empty past (past_seq 0) vs plain forward: max |diff| = {worst:.2e}")
    if worst > PAST_TOLERANCE:
        sys.exit(f"[export] FAILED: an empty past changes the rewards (>{PAST_TOLERANCE})")
    # written next to the destination, checked, then moved into place: a graph that fails the
    # ONNX Runtime check never replaces the old one
    partial = out + ".partial"
    try:
        export_onnx(model, partial, past=True)
        data = ort_check_data(model, prefix, suffixes)
        if args.fp16:
            to_float16(partial, partial)
            data["tolerance"] = FP16_TOLERANCE
        print(f"[export] exported with past key/values ({len(model.model.layers)} layers{precision}) in {time.time() - start:.1f} s")
        ok = check_with_node(partial, data, args.against)
        if ok is None and args.against:
            sys.exit("[export] FAILED: --against needs node on PATH")
        if ok is False:
            sys.exit(f"[export] FAILED: the ONNX Runtime check of the graph failed ({out} not written)")
        os.replace(partial, out)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    print(f"[export] wrote {out} ({os.path.getsize(out)} bytes{precision}) in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
