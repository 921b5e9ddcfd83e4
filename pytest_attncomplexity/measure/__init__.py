"""Measurers: one metric each (timing, memory, flops), with the CPU and CUDA paths side by side; and for the RAM
guard, the host's memory (host) and a first size worked out on fake tensors (estimate)."""
