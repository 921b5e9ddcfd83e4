"""The ``attn-scaling`` command: what reads saved results without running a test (the history of the baselines,
merging the JSON of shards, the formats CI dashboards read). Imports neither torch nor pytest, so it starts at once."""
