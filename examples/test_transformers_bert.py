"""A transformers model's attention, built through setup=: a 1-layer BertModel from a config (no download), with
the eager attention (the N×N scores in Python) and with SDPA. transformers is optional: without it, this skips.

Run it with the report:  pytest --attn-scaling examples/test_transformers_bert.py
"""

from __future__ import annotations

import pytest
import torch

from pytest_attncomplexity import geometric

transformers = pytest.importorskip("transformers", reason="this example needs transformers (pip install transformers)")

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
SIZES = geometric(2048, 16384) if DEVICE == "cuda" else geometric(256, 2048)


def bert(attn_implementation: str):
    config = transformers.BertConfig(
        hidden_size=128,
        num_attention_heads=2,
        intermediate_size=512,
        num_hidden_layers=1,
        max_position_embeddings=max(SIZES),
        attn_implementation=attn_implementation,
    )

    def setup(n):
        model = transformers.BertModel(config).to(DEVICE).eval()
        ids = torch.randint(0, config.vocab_size, (1, n), device=DEVICE)
        return lambda: model(input_ids=ids).last_hidden_state

    return setup


@pytest.mark.parametrize(("attn_implementation", "expected"), [("eager", 2), ("sdpa", 1)])
def test_bert_attention_memory(attn_scaling, attn_implementation, expected):
    result = attn_scaling(
        setup=bert(attn_implementation),
        sizes=SIZES,
        metrics=["memory"],
        device=DEVICE,
        label=f"BERT {attn_implementation}",
    )
    # eager: 1.80 here (local slopes 1.51, 1.85, 1.92: the linear parts fade behind the scores); sdpa: 1.00.
    result.assert_exponent("memory", expected, tol=0.3 if expected == 2 else 0.2)
