"""Readers for the llama2.c checkpoint (stories260K.bin) and tokenizer (tok512.bin), and the
llama2.c BPE encoding, which is the reference the converted HF tokenizer must reproduce."""
import heapq
import struct

import numpy as np
import torch

BOS_ID, EOS_ID = 1, 2
BYTE_FALLBACK_OFFSET = 3


def read_checkpoint(path):
    """Return (config dict, dict of llama2.c-layout float32 tensors) from a legacy llama2.c export."""
    with open(path, "rb") as f:
        buf = f.read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack_from("<7i", buf, 0)
    cfg = dict(dim=dim, hidden_dim=hidden, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv,
               vocab_size=abs(vocab), seq_len=seq_len, shared_classifier=vocab > 0)
    head = dim // n_heads
    shapes = [
        ("token_embedding", (abs(vocab), dim)), ("rms_att", (n_layers, dim)),
        ("wq", (n_layers, dim, dim)), ("wk", (n_layers, n_kv * head, dim)),
        ("wv", (n_layers, n_kv * head, dim)), ("wo", (n_layers, dim, dim)),
        ("rms_ffn", (n_layers, dim)), ("w1", (n_layers, hidden, dim)),
        ("w2", (n_layers, dim, hidden)), ("w3", (n_layers, hidden, dim)),
        ("rms_final", (dim,)), ("freq_cis_real", (seq_len, head // 2)), ("freq_cis_imag", (seq_len, head // 2)),
    ]
    offset = 28
    weights = {}
    for name, shape in shapes:
        count = int(np.prod(shape))
        arr = np.frombuffer(buf, dtype="<f4", count=count, offset=offset)
        weights[name] = torch.from_numpy(arr.reshape(shape).copy())
        offset += 4 * count
    if not cfg["shared_classifier"]:
        raise ValueError("unshared classifier checkpoints are not supported")
    return cfg, weights


def read_tokenizer(path):
    """Return a list of (piece bytes, score) from a llama2.c tokenizer.bin."""
    with open(path, "rb") as f:
        buf = f.read()
    offset = 4  # max_token_length, not needed
    vocab = []
    while offset < len(buf):
        score, length = struct.unpack_from("<fi", buf, offset)
        offset += 8
        vocab.append((buf[offset : offset + length], score))
        offset += length
    return vocab


class Llama2cEncoder:
    """llama2.c `encode`: dummy-prefix space, code points to pieces or byte fallback, then merge
    the adjacent pair whose merged piece has the highest score (leftmost on ties), until none.
    Implemented with a heap keyed by (-score, position), which picks the same pair each step."""

    def __init__(self, vocab):
        self.ids = {piece: i for i, (piece, _) in enumerate(vocab)}
        self.scores = [s for _, s in vocab]

    def _pair(self, left, right, syms):
        tid = self.ids.get(syms[left] + syms[right])
        if tid is None:
            return None
        return (-self.scores[tid], left, right, tid)

    def encode(self, text, bos=False, eos=False):
        """Token ids of `text`, with optional BOS/EOS (the llama2.c encode flags)."""
        out = [BOS_ID] if bos else []
        if text:
            syms, ids = [], []
            for ch in " " + text:
                piece = ch.encode("utf-8")
                tid = self.ids.get(piece)
                if tid is not None:
                    syms.append(piece)
                    ids.append(tid)
                else:
                    for b in piece:
                        syms.append(None)  # byte-fallback pieces never merge
                        ids.append(b + BYTE_FALLBACK_OFFSET)
            n = len(syms)
            nxt = list(range(1, n + 1))
            prv = list(range(-1, n - 1))
            alive = [True] * n
            heap = []
            for i in range(n - 1):
                if syms[i] is not None and syms[i + 1] is not None:
                    p = self._pair(i, i + 1, syms)
                    if p:
                        heap.append(p)
            heapq.heapify(heap)
            while heap:
                _, left, right, tid = heapq.heappop(heap)
                # stale entry: one side was merged away or changed since it was pushed
                if not (alive[left] and alive[right] and nxt[left] == right):
                    continue
                if self.ids.get(syms[left] + syms[right]) != tid:
                    continue
                syms[left] = syms[left] + syms[right]
                ids[left] = tid
                alive[right] = False
                nxt[left] = nxt[right]
                if nxt[left] < n:
                    prv[nxt[left]] = left
                if prv[left] >= 0 and syms[prv[left]] is not None:
                    p = self._pair(prv[left], left, syms)
                    if p:
                        heapq.heappush(heap, p)
                if nxt[left] < n and syms[nxt[left]] is not None:
                    p = self._pair(left, nxt[left], syms)
                    if p:
                        heapq.heappush(heap, p)
            out.extend(ids[i] for i in range(n) if alive[i])
        if eos:
            out.append(EOS_ID)
        return out


def encode_naive(vocab, text):
    """Literal transcription of llama2.c's O(n^2) merge loop, used to test the heap version."""
    ids_of = {piece: i for i, (piece, _) in enumerate(vocab)}
    toks = []
    for ch in " " + text:
        piece = ch.encode("utf-8")
        if piece in ids_of:
            toks.append(ids_of[piece])
        else:
            toks.extend(b + BYTE_FALLBACK_OFFSET for b in piece)
    while True:
        best, best_i, best_id = -1e10, -1, -1
        for i in range(len(toks) - 1):
            merged = vocab[toks[i]][0] + vocab[toks[i + 1]][0]
            tid = ids_of.get(merged)
            if tid is not None and vocab[tid][1] > best:
                best, best_i, best_id = vocab[tid][1], i, tid
        if best_i < 0:
            return toks
        toks[best_i : best_i + 2] = [best_id]
