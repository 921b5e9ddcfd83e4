"""pytest-benchmark tests fitted as a group across a size parameter, and pytest-benchmark's hooks: which items form
a group (groups.py), pytest-benchmark's samples and timer (timer.py), the verdict on a group (verdict.py) and the
hooks that tie them to a session (hooks.py).

``@pytest.mark.attn_scaling(param="n", time=2, tol=0.5)`` on a pytest-benchmark test parametrized over ``n`` makes
its items, one per size, a group. pytest-benchmark times each member as usual; after the group's last member that
runs in this session, the raw per-call times of every member (``benchmark.stats.stats.data``) are fitted against n
and recorded as one result under the group's node id (the members' id without the size), and the marker's claims
are checked on that fit: a miss fails the member that completed the group. Membership comes from the final list of
items, so deselected sizes do not count. Where CUDA is in use, pytest-benchmark's timer is made to synchronize.

Through pytest-benchmark's own hooks, its machine info gets torch's version and the GPU, and its JSON files
(``--benchmark-json``, ``--benchmark-save``) get the groups' fits.
"""
