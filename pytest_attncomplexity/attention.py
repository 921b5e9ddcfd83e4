"""Reference attention implementations and the built-in q, k, v factory.

Shapes follow ``torch.nn.functional.scaled_dot_product_attention``: (batch, heads, N, head_dim).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import DEFAULT_BATCH, DEFAULT_HEAD_DIM, DEFAULT_HEADS, DEFAULT_SEED


def make_qkv(
    n: int,
    *,
    batch: int = DEFAULT_BATCH,
    heads: int = DEFAULT_HEADS,
    head_dim: int = DEFAULT_HEAD_DIM,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    requires_grad: bool = False,
    seed: int = DEFAULT_SEED,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random q, k, v of shape (batch, heads, n, head_dim), drawn from a private generator (the global RNG is
    left alone)."""
    generator = torch.Generator(device="cpu").manual_seed(seed + n)
    tensors = []
    for _ in range(3):
        t = torch.randn(batch, heads, n, head_dim, generator=generator, dtype=torch.float32)
        tensors.append(t.to(device=device, dtype=dtype).requires_grad_(requires_grad))
    return tensors[0], tensors[1], tensors[2]


def naive_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """softmax(q kᵀ / √d) v with the N×N score matrix materialized: O(N²) time and memory."""
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if causal:
        n, m = scores.shape[-2:]
        mask = torch.ones(n, m, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
    return scores.softmax(dim=-1) @ v


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
    """PyTorch's fused ``scaled_dot_product_attention``: O(N²) time, O(N) memory on its fused kernels."""
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Kernelized (non-causal) linear attention with the elu+1 feature map: O(N·d²) time, O(N·d) memory.

    φ(q) (φ(k)ᵀ v) / (φ(q) Σφ(k)): the d×d summary φ(k)ᵀ v replaces the N×N score matrix.
    """
    phi_q = F.elu(q) + 1.0
    phi_k = F.elu(k) + 1.0
    summary = phi_k.transpose(-2, -1) @ v  # (batch, heads, d, d_v)
    numerator = phi_q @ summary  # (batch, heads, N, d_v)
    denominator = phi_q @ phi_k.sum(dim=-2).unsqueeze(-1)  # (batch, heads, N, 1)
    return numerator / (denominator + eps)
