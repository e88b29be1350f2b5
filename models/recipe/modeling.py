"""A small Llama in the HuggingFace layout (parameter names as in transformers' LlamaModel):
rotate-half RoPE, grouped-query attention, SwiGLU MLP, RMSNorm. One forward serves causal-LM
decoding (to check the conversion), reward training (with training-only dropout) and ONNX export.

Padding-independent by construction: positions come from cumsum(attention_mask) - 1, attention
is causal AND restricted to real keys, and the reward is read at the last real token, so left-,
right- or un-padded inputs give the same reward.

`forward_with_past` runs the current tokens after earlier tokens' keys/values (a shared prompt
run once), and `RewardModelWithPast` exports that with Hugging Face Optimum's decoder-with-past
names (export.py); `forward` itself is unchanged.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# A finite fill keeps fully-masked rows (left padding) finite instead of NaN.
MASK_FILL = -1e9


class RMSNorm(nn.Module):
    """RMSNorm as in Llama: x / sqrt(mean(x^2) + eps) * weight."""

    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    """HF RoPE helper: (x1, x2) -> (-x2, x1) over the two halves of the head dimension."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    """Grouped-query self-attention with rotate-half RoPE."""

    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.n_heads = cfg["num_attention_heads"]
        self.n_kv = cfg["num_key_value_heads"]
        self.head_dim = d // self.n_heads
        self.q_proj = nn.Linear(d, self.n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(d, self.n_kv * self.head_dim, bias=False)
        self.v_proj = nn.Linear(d, self.n_kv * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, d, bias=False)

    def forward(self, x, cos, sin, allowed):
        return self.attend(x, cos, sin, allowed)[0]

    def attend(self, x, cos, sin, allowed, past=None):
        """(output, present): present = (k, v) [b, n_kv, past + t, head_dim], keys after RoPE and
        before the GQA repeat. `past` = (k, v) of earlier tokens, [1 or b, n_kv, past, head_dim]
        (a batch-1 past is broadcast over the batch); `allowed` then spans past + t keys."""
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k = torch.cat((past[0].expand(b, -1, -1, -1), k), dim=2)
            v = torch.cat((past[1].expand(b, -1, -1, -1), v), dim=2)
        present = (k, v)
        s = k.shape[2]
        rep = self.n_heads // self.n_kv
        # expand+reshape rather than repeat_interleave: exports to plain ONNX ops
        k = k.unsqueeze(2).expand(-1, -1, rep, -1, -1).reshape(b, self.n_heads, s, self.head_dim)
        v = v.unsqueeze(2).expand(-1, -1, rep, -1, -1).reshape(b, self.n_heads, s, self.head_dim)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        scores = torch.where(allowed, scores, torch.full_like(scores, MASK_FILL))
        att = torch.softmax(scores, dim=-1)
        out = torch.matmul(att, v).transpose(1, 2).reshape(b, t, -1)
        return self.o_proj(out), present


class MLP(nn.Module):
    """SwiGLU feed-forward: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg):
        super().__init__()
        d, h = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(d, h, bias=False)
        self.up_proj = nn.Linear(d, h, bias=False)
        self.down_proj = nn.Linear(h, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    """Pre-norm Llama block; dropout (training only) on each residual branch."""

    def __init__(self, cfg, dropout):
        super().__init__()
        eps = cfg["rms_norm_eps"]
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg["hidden_size"], eps)
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, cos, sin, allowed):
        return self.forward_with_past(x, cos, sin, allowed)[0]

    def forward_with_past(self, x, cos, sin, allowed, past=None):
        """(hidden states, present (k, v)) given this layer's past (k, v) or None."""
        a, present = self.self_attn.attend(self.input_layernorm(x), cos, sin, allowed, past)
        x = x + self.dropout(a)
        return x + self.dropout(self.mlp(self.post_attention_layernorm(x))), present


class LlamaModel(nn.Module):
    """The backbone: embeddings, decoder layers, final norm (HF `model.*`)."""

    def __init__(self, cfg, dropout=0.0):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList(DecoderLayer(cfg, dropout) for _ in range(cfg["num_hidden_layers"]))
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]
        inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def embed(self, input_ids):
        """Token embeddings (the input of layer 0)."""
        return self.embed_tokens(input_ids)

    def attention_inputs(self, attention_mask, past_len=None):
        """RoPE cos/sin from mask-derived positions and the causal AND key-padding mask.

        With `past_len` (P, an int or a traced size) the mask covers P past tokens then the
        current ones: positions are those of the last (mask width - P) columns, and query q
        (absolute position P + q) may attend key k iff k <= P + q and mask[b, k] > 0."""
        mask = attention_mask.to(torch.int64)
        positions = torch.clamp(torch.cumsum(mask, dim=1) - 1, min=0)
        idx = torch.arange(mask.shape[1], device=mask.device)
        query = idx
        if past_len is not None:
            positions = positions[:, past_len:]
            query = idx[past_len:]
        freqs = positions.unsqueeze(-1).to(torch.float32) * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)  # [b, 1, t, head_dim]
        causal = idx.unsqueeze(0) <= query.unsqueeze(1)  # [t_query, t_key]
        allowed = causal.unsqueeze(0) & (mask.unsqueeze(1) > 0)  # [b, t_query, t_key]
        return cos, sin, allowed.unsqueeze(1)

    def run_layers(self, x, attention_mask, start=0, stop=None, final_norm=True):
        """Decoder layers [start, stop) over hidden states x [b, t, d], then the final norm.
        Split runs let a frozen prefix shared by several models be computed only once."""
        cos, sin, allowed = self.attention_inputs(attention_mask)
        for layer in self.layers[start:stop]:
            x = layer(x, cos, sin, allowed)
        return self.norm(x) if final_norm else x

    def forward(self, input_ids, attention_mask):
        return self.run_layers(self.embed(input_ids), attention_mask)

    def forward_with_past(self, input_ids, attention_mask, past):
        """(final-normed hidden states of the current tokens, presents) for input_ids [b, t]
        after a past: one (k, v) per layer, [1 or b, n_kv, P, head_dim] (P may be 0);
        attention_mask [b, P + t] covers past and current tokens (past columns 1)."""
        cos, sin, allowed = self.attention_inputs(attention_mask, past[0][0].shape[2])
        x = self.embed(input_ids)
        presents = []
        for layer, layer_past in zip(self.layers, past):
            x, present = layer.forward_with_past(x, cos, sin, allowed, layer_past)
            presents.append(present)
        return self.norm(x), presents


def last_token_index(attention_mask):
    """Index of the last real token per row: argmax of mask * arange(seq) (any padding side)."""
    t = attention_mask.shape[1]
    ar = torch.arange(t, device=attention_mask.device, dtype=torch.int64)
    return torch.argmax(attention_mask.to(torch.int64) * ar, dim=1)


class LlamaForCausalLM(nn.Module):
    """Backbone + LM head tied to the embedding (used to check the converted weights)."""

    def __init__(self, cfg):
        super().__init__()
        self.model = LlamaModel(cfg)

    def forward(self, input_ids, attention_mask):
        h = self.model(input_ids, attention_mask)
        return h @ self.model.embed_tokens.weight.t()


class LlamaForSequenceClassification(nn.Module):
    """Reward model: backbone + `score` (hidden -> 1, no bias) read at the last real token."""

    def __init__(self, cfg, dropout=0.0):
        super().__init__()
        self.model = LlamaModel(cfg, dropout)
        self.score = nn.Linear(cfg["hidden_size"], 1, bias=False)

    def features(self, input_ids, attention_mask):
        """Final hidden state at the last real token, [batch, hidden]."""
        return self.features_from(self.model.embed(input_ids), attention_mask, 0)

    def features_from(self, hidden, attention_mask, start):
        """Features from hidden states entering layer `start` (a cached frozen prefix)."""
        h = self.model.run_layers(hidden, attention_mask, start)
        idx = last_token_index(attention_mask)
        return torch.gather(h, 1, idx.view(-1, 1, 1).expand(-1, 1, h.shape[2])).squeeze(1)

    def forward(self, input_ids, attention_mask):
        return self.score(self.features(input_ids, attention_mask))

    def forward_with_past(self, input_ids, attention_mask, past):
        """(logits [b, 1], presents) of the current tokens after `past` (see LlamaModel): the
        reward is read at the last real token of the full mask, minus P (clamped at 0 so a row
        without a real current token reads a finite value instead of failing)."""
        h, presents = self.model.forward_with_past(input_ids, attention_mask, past)
        idx = torch.clamp(last_token_index(attention_mask) - past[0][0].shape[2], min=0)
        feats = torch.gather(h, 1, idx.view(-1, 1, 1).expand(-1, 1, h.shape[2])).squeeze(1)
        return self.score(feats), presents

    def empty_past(self, batch=1):
        """A zero-length past: per layer (k, v) of shape [batch, n_kv, 0, head_dim]."""
        attn = self.model.layers[0].self_attn
        shape = (batch, attn.n_kv, 0, attn.head_dim)
        return [(torch.zeros(shape), torch.zeros(shape)) for _ in self.model.layers]


class RewardModelWithPast(nn.Module):
    """Export wrapper with Hugging Face Optimum's decoder-with-past layout:
    forward(input_ids, attention_mask, past.0.key, past.0.value, past.1.key, ...) ->
    (logits, present.0.key, present.0.value, present.1.key, ...)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.num_layers = len(model.model.layers)

    def forward(self, input_ids, attention_mask, *flat_past):
        assert len(flat_past) == 2 * self.num_layers, f"expected {2 * self.num_layers} past tensors"
        past = [(flat_past[2 * i], flat_past[2 * i + 1]) for i in range(self.num_layers)]
        logits, presents = self.model.forward_with_past(input_ids, attention_mask, past)
        return (logits,) + tuple(t for kv in presents for t in kv)
