"""Pure functions from results to output: terminal text and JSON."""
