"""The gate: saved baselines on disk (storage), a result judged against its baseline entry (compare), and a
session's comparison with the failure text of a regression (gate). No torch, no pytest."""
