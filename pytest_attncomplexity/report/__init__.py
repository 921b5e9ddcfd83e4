"""The reports: pure functions from result records to terminal text, JSON, figures, HTML and the Markdown of a CI
step summary, and the files a session keeps up to date with them. It reads the records and the gate's comparison;
nothing below it imports it, and it imports neither the sweep nor pytest (import-linter checks it)."""
