"""Measurers: one metric each (timing, memory, flops), with the CPU and CUDA paths side by side."""
