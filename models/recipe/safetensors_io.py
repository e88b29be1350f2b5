"""Minimal safetensors reader/writer (u64 LE header length, JSON header, raw little-endian data).

Hand-written because the `safetensors` Python package is not installed on the build machines;
the format is small and fully specified at https://github.com/huggingface/safetensors.
"""
import json
import struct

import numpy as np
import torch

_DTYPES = {torch.float32: ("F32", np.float32), torch.int64: ("I64", np.int64)}
_BY_NAME = {name: (dt, np_dt) for dt, (name, np_dt) in _DTYPES.items()}


def save_file(tensors, path, metadata=None):
    """Write a dict name -> tensor as a .safetensors file (names sorted, data 8-byte aligned)."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        dtype_name, np_dtype = _DTYPES[t.dtype]
        data = t.numpy().astype(np_dtype, copy=False).tobytes()
        header[name] = {"dtype": dtype_name, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def load_file(path):
    """Read a .safetensors file into a dict name -> torch tensor."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack_from("<Q", buf, 0)
    header = json.loads(buf[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        _, np_dtype = _BY_NAME[info["dtype"]]
        start, end = info["data_offsets"]
        arr = np.frombuffer(buf, dtype=np_dtype, count=(end - start) // np.dtype(np_dtype).itemsize, offset=base + start)
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out
