"""FlexAttention eager and torch.compile'd: how the plugin finds what a kernel allocates.

Eager flex_attention materializes the N×N scores, as its own warning says: memory 1.94 here. Compiled, it runs a
generated kernel: on a GPU that is O(N) in memory; on the CPU (torch 2.13) it read 1.46 here, local slopes 1.30,
1.46, 1.62: the generated kernel's scratch grows faster than N, and the rising slopes say it is not settling at 1.
The compiled case needs a C++ compiler on the CPU and compiles for each N (about 10 to 30 s on a 2-core machine),
so it runs only when ATTN_EXAMPLES_COMPILE=1 is set:

    ATTN_EXAMPLES_COMPILE=1 pytest --attn-scaling examples/test_flex_attention.py
"""

from __future__ import annotations

import os

import pytest
import torch

from pytest_attncomplexity import geometric

flex = pytest.importorskip("torch.nn.attention.flex_attention", reason="FlexAttention needs torch 2.5 or later")

GPU = torch.cuda.is_available()
SIZES = geometric(2048, 16384) if GPU else geometric(256, 2048)


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")  # what this test shows
def test_eager_flex_attention_materializes_the_scores(attn_scaling):
    result = attn_scaling(flex.flex_attention, sizes=SIZES, metrics=["memory"], label="flex_attention eager")
    result.assert_exponent("memory", 2, tol=0.2)


@pytest.mark.skipif(
    not os.environ.get("ATTN_EXAMPLES_COMPILE"), reason="compiles for each N: set ATTN_EXAMPLES_COMPILE=1"
)
# torch.compile imports modules that warn of their own deprecation (torch 2.13): not this test's business.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compiled_flex_attention_memory(attn_scaling):
    # Memory only: FlopCounterMode cannot count FLOPs through the compiled call (torch 2.13 raises a TypeError).
    compiled = torch.compile(flex.flex_attention)
    result = attn_scaling(compiled, sizes=SIZES, metrics=["memory"], label="flex_attention compiled")
    if GPU:
        result.assert_exponent("memory", 1, tol=0.2)
    else:  # what the CPU's generated kernel does today: between linear and quadratic, below eager's 2
        result.assert_exponent("memory", 1.5, tol=0.2)
