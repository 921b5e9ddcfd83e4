"""The measurers: everything that touches torch to measure, one small interface per metric, with the CPU and CUDA
paths side by side behind it.

- time: ``timing.time_calls(calls, device, first_calls=..., budget=...)``, raw samples per N in shuffled rounds
  that a callback may stop early; turns with other processes on a lock (``timing_lock``);
- memory: ``memory.peak_memory(call, device)``, the peak bytes above what was allocated before the call;
- FLOPs: ``flops.count_flops(call)``;
- which SDPA kernel ran, and a backend pinned: ``kernels``; the device, its name and threads: ``device``; a
  device's peak FLOP/s: ``peak``;
- the host's memory (``host``, ``cgroup``), a first size worked out on fake tensors (``estimate``) and the RAM
  guard built on them (``guard``).
"""
