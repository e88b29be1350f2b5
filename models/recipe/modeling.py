"""A small Llama in the HuggingFace layout (parameter names as in transformers' LlamaModel):
rotate-half RoPE, grouped-query attention, SwiGLU MLP, RMSNorm. One forward serves causal-LM
decoding (to check the conversion), reward training (with training-only dropout) and ONNX export.

Padding-independent by construction: positions come from cumsum(attention_mask) - 1, attention
is causal AND restricted to real keys, and the reward is read at the last real token, so left-,
right- or un-padded inputs give the same reward.
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
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.n_heads // self.n_kv
        # expand+reshape rather than repeat_interleave: exports to plain ONNX ops
        k = k.unsqueeze(2).expand(-1, -1, rep, -1, -1).reshape(b, self.n_heads, t, self.head_dim)
        v = v.unsqueeze(2).expand(-1, -1, rep, -1, -1).reshape(b, self.n_heads, t, self.head_dim)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        scores = torch.where(allowed, scores, torch.full_like(scores, MASK_FILL))
        att = torch.softmax(scores, dim=-1)
        out = torch.matmul(att, v).transpose(1, 2).reshape(b, t, -1)
        return self.o_proj(out)


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
        x = x + self.dropout(self.self_attn(self.input_layernorm(x), cos, sin, allowed))
        return x + self.dropout(self.mlp(self.post_attention_layernorm(x)))


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

    def attention_inputs(self, attention_mask):
        """RoPE cos/sin from mask-derived positions and the causal AND key-padding mask."""
        mask = attention_mask.to(torch.int64)
        positions = torch.clamp(torch.cumsum(mask, dim=1) - 1, min=0)
        freqs = positions.unsqueeze(-1).to(torch.float32) * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)  # [b, 1, t, head_dim]
        idx = torch.arange(mask.shape[1], device=mask.device)
        causal = idx.unsqueeze(0) <= idx.unsqueeze(1)  # [t_query, t_key]
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
