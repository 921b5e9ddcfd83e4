"""scaled_dot_product_attention pinned to each backend with sdpa_backend=: the math path materializes the N×N
scores (memory 2), the fused kernels do not (memory 1), at the same FLOPs; the report gives each one's FLOP/s.
On the CPU only math and flash exist: the memory-efficient and cuDNN cases skip there, saying so.

Run it with the report:  pytest --attn-scaling examples/test_sdpa_backends.py
"""

from __future__ import annotations

import pytest
import torch

from pytest_attncomplexity import geometric, sdpa_attention

GPU = torch.cuda.is_available()
SIZES = geometric(2048, 16384) if GPU else geometric(256, 2048)
DTYPE = torch.float16 if GPU else torch.float32  # the CUDA flash kernel takes half precision only


@pytest.mark.parametrize(
    ("backend", "memory"),
    [("math", 2), ("flash", 1), ("efficient", 1), ("cudnn", 1)],
    ids=["math", "flash", "efficient", "cudnn"],
)
def test_each_backend_memory(attn_scaling, backend, memory):
    result = attn_scaling(
        sdpa_attention,
        sizes=SIZES,
        metrics=["time", "memory", "flops"],
        dtype=DTYPE,
        sdpa_backend=backend,
        label=f"sdpa {backend}",
    )
    result.assert_exponent("memory", memory, tol=0.2)
    result.assert_exponent("flops", 2, tol=0.05)
