"""Two more axes of the built-in inputs: head_dim at a fixed N (axis="head_dim"), and grouped-query attention
(kv_heads=: fewer key/value heads than query heads; the function gets enable_gqa=True).

Run it with the report:  pytest --attn-scaling examples/test_head_dim_and_gqa.py
"""

from __future__ import annotations

import torch

from pytest_attncomplexity import geometric, naive_attention, sdpa_attention

GPU = torch.cuda.is_available()
SIZES = geometric(2048, 16384) if GPU else geometric(256, 2048)
SEQ_LEN = 4096 if GPU else 1024
DTYPE = torch.float16 if GPU else torch.float32  # on CUDA the flash kernel, which takes GQA, needs half precision


def test_head_dim_axis(attn_scaling):
    # At a fixed N, FLOPs grow as head_dim (4·batch·heads·N²·head_dim), but naive attention's peak is its N×N
    # scores whatever head_dim is (0.06 here), while SDPA's is its output, which grows with it (0.88 here).
    dims = [32, 64, 128, 256]
    naive = attn_scaling(naive_attention, axis="head_dim", sizes=dims, seq_len=SEQ_LEN, metrics=["memory", "flops"])
    naive.assert_exponent("flops", 1, tol=0.05)
    naive.assert_exponent("memory", 0, tol=0.2)
    sdpa = attn_scaling(sdpa_attention, axis="head_dim", sizes=dims, seq_len=SEQ_LEN, metrics=["memory"], dtype=DTYPE)
    sdpa.assert_exponent("memory", 1, tol=0.2)


def test_grouped_query_attention_computes_what_multi_head_attention_does(attn_scaling):
    # GQA shrinks k and v (the KV cache), not the attention's work: every query head still attends over N keys.
    mha = attn_scaling(sdpa_attention, sizes=SIZES, metrics=["flops"], dtype=DTYPE, label="sdpa 8 heads")
    gqa = attn_scaling(
        sdpa_attention, sizes=SIZES, metrics=["memory", "flops"], kv_heads=2, dtype=DTYPE, label="sdpa 8/2 heads (GQA)"
    )
    gqa.assert_exponent("memory", 1, tol=0.2)
    assert gqa.values("flops") == mha.values("flops")
