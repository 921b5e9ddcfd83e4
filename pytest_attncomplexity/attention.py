"""Reference attention implementations and the built-in q, k, v factory.

Shapes follow ``torch.nn.functional.scaled_dot_product_attention``: (batch, heads, N, head_dim).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .core.config import DEFAULT_BATCH, DEFAULT_HEAD_DIM, DEFAULT_HEADS, DEFAULT_SEED


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
    kv_len: int | None = None,
    kv_heads: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random q of shape (batch, heads, n, head_dim) and k, v of shape (batch, kv_heads, kv_len, head_dim), drawn
    from a private generator (the global RNG is left alone). ``kv_len`` and ``kv_heads`` default to ``n`` and
    ``heads`` (self-attention); fewer ``kv_heads`` than ``heads`` are grouped-query inputs."""
    generator = torch.Generator(device="cpu").manual_seed(seed + n)
    kv_shape = (batch, heads if kv_heads is None else kv_heads, n if kv_len is None else kv_len, head_dim)
    tensors = []
    for shape in ((batch, heads, n, head_dim), kv_shape, kv_shape):
        t = torch.randn(*shape, generator=generator, dtype=torch.float32)
        tensors.append(t.to(device=device, dtype=dtype).requires_grad_(requires_grad))
    return tensors[0], tensors[1], tensors[2]


def make_mask(
    kind: str,
    n: int,
    kv_len: int | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """An explicit causal mask of shape (n, kv_len) in ``scaled_dot_product_attention``'s ``attn_mask`` form:
    ``"bool"``: True where a query may attend (the lower triangle, aligned top-left as ``is_causal`` is);
    ``"float"``: 0 there and -inf elsewhere, in ``dtype``, added to the scores. Every row attends at least one key."""
    allowed = torch.ones(n, n if kv_len is None else kv_len, dtype=torch.bool, device=device).tril()
    if kind == "bool":
        return allowed
    if kind == "float":
        return torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill(~allowed, float("-inf"))
    raise ValueError(f"kind must be 'bool' or 'float', got {kind!r}")


def _repeat_kv(q: torch.Tensor, kv: torch.Tensor, enable_gqa: bool) -> torch.Tensor:
    """k or v with each head repeated for the query heads that share it (grouped-query attention)."""
    heads, kv_heads = q.shape[-3], kv.shape[-3]
    if heads == kv_heads:
        return kv
    if not enable_gqa or heads % kv_heads:
        raise ValueError(
            f"q has {heads} heads and k, v have {kv_heads}: grouped-query attention needs enable_gqa=True and "
            "a number of query heads that is a multiple of the key/value heads"
        )
    return kv.repeat_interleave(heads // kv_heads, dim=-3)


def naive_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = False,
    *,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    enable_gqa: bool = False,
) -> torch.Tensor:
    """softmax(q kᵀ / √d + mask) v with the N×N score matrix materialized: O(N²) time and memory.

    The keywords are ``scaled_dot_product_attention``'s: ``attn_mask`` (bool: True attends; float: added to the
    scores), ``is_causal`` (``causal`` is its older name), ``enable_gqa`` (k and v heads repeated for the query
    heads that share them)."""
    k, v = _repeat_kv(q, k, enable_gqa), _repeat_kv(q, v, enable_gqa)
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if causal or is_causal:
        n, m = scores.shape[-2:]
        mask = torch.ones(n, m, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else scores + attn_mask
    return scores.softmax(dim=-1) @ v


def sdpa_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = False,
    *,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    enable_gqa: bool = False,
) -> torch.Tensor:
    """PyTorch's fused ``scaled_dot_product_attention``: O(N²) time, O(N) memory on its fused kernels. The keywords
    are passed through (``causal`` is the older name of ``is_causal``)."""
    # enable_gqa only when asked: torch before 2.5 has no such keyword.
    grouped = {"enable_gqa": True} if enable_gqa else {}
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=causal or is_causal, **grouped)


def linear_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, eps: float = 1e-6, *, enable_gqa: bool = False
) -> torch.Tensor:
    """Kernelized (non-causal) linear attention with the elu+1 feature map: O(N·d²) time, O(N·d) memory.

    φ(q) (φ(k)ᵀ v) / (φ(q) Σφ(k)): the d×d summary φ(k)ᵀ v replaces the N×N score matrix. ``enable_gqa`` repeats
    the k and v heads for grouped-query inputs; it takes no mask (an N×N mask is what it exists to avoid).
    """
    k, v = _repeat_kv(q, k, enable_gqa), _repeat_kv(q, v, enable_gqa)
    phi_q = F.elu(q) + 1.0
    phi_k = F.elu(k) + 1.0
    summary = phi_k.transpose(-2, -1) @ v  # (batch, heads, d, d_v)
    numerator = phi_q @ summary  # (batch, heads, N, d_v)
    denominator = phi_q @ phi_k.sum(dim=-2).unsqueeze(-1)  # (batch, heads, N, 1)
    return numerator / (denominator + eps)
