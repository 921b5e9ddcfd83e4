"""The sweep: one ``attn_scaling(...)`` call measured over its sizes through the measurers, returned as records.

``runner`` (ScalingRunner, the fixture's callable) and ``progress`` import no torch, so that pytest can load the
plugin cheaply; ``run`` (run_sweep) and the modules it drives import torch when a sweep first runs.
"""
