"""``attn-scaling export``: a run's exponents and values for a CI dashboard (report/dashboard.py)."""

from __future__ import annotations

import argparse
import json
import sys

from ..gate.shards import ShardError, load_run
from ..report.atomic import write_text_atomically
from ..report.dashboard import bencher_metric_format, custom_smaller_is_better
from .errors import CommandError, CommandFailed


def run_export(args: argparse.Namespace) -> int:
    if args.output is not None and args.output.is_dir():
        raise CommandError(f"--output must name a file, but {str(args.output)!r} is a directory")
    try:
        run = load_run(args.source)
    except ShardError as error:
        raise CommandError(str(error)) from None
    if args.format == "bencher":
        document: object = bencher_metric_format(run.results)
    else:
        document = custom_smaller_is_better(run.results)
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        write_text_atomically(args.output, text)
    except OSError as error:
        raise CommandFailed(f"could not write {args.output}: {error.strerror or error}") from None
    print(f"{len(run.results)} result(s) of {args.source} written to {args.output} ({args.format})", file=sys.stderr)
    return 0
