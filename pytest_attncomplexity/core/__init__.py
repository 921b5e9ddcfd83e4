"""The core: sizes, units, axes, settings and options, fits, verdicts, claims, budgets, extrapolation, the result
records with their JSON form, the comparison records and the words failures are explained in.

It imports neither torch nor pytest (import-linter checks it), so everything here is tested on its own, on
synthetic points where the logic is the fit or the verdict.
"""
