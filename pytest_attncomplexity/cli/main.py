"""``attn-scaling``: the command line, one subcommand per job (history, merge, export), each in its own module.

Exit status: 0 done, 1 an output could not be written or was refused (a baseline of a run that regressed), 2 bad
input (an option, a file that is not what it must be), as pytest's own usage errors are.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..core.options import DEFAULT_STORAGE
from ..core.rules import Rule, parse_rules
from ..core.units import METRICS
from .errors import CommandError, CommandFailed

USAGE_ERROR = 2
FAILED = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attn-scaling",
        description="Read the results pytest-attncomplexity saved, without running a test: the history of the "
        "saved baselines, merging the JSON of a suite split across CI jobs, and the formats CI dashboards read.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    history = commands.add_parser(
        "history",
        help="exponents and values of every saved baseline, run after run, with the changes past the rules",
        description="The saved baselines of each machine and device, oldest first: for each result and metric the "
        "exponent with its 95% interval and the value at the largest N, and how each run changed against the run "
        "before it, judged by the rules of --attn-scaling-compare-fail.",
    )
    history.add_argument(
        "storage",
        nargs="?",
        type=Path,
        help=f"the storage folder (default: the nearest {DEFAULT_STORAGE} in this folder or above it, as "
        "--attn-scaling-storage keeps it relative to the rootdir)",
    )
    history.add_argument("--html", type=Path, metavar="PATH", help="also write a self-contained HTML page here")
    history.add_argument(
        "--rules",
        type=_rules,
        metavar="EXPR[,EXPR...]",
        help="what counts as a change between two runs, as --attn-scaling-compare-fail reads it (default "
        "exponent:0.3); e.g. memory:0.2,time-value:20%%",
    )
    history.add_argument("--machine", default="", metavar="TEXT", help="only the machines whose key contains TEXT")
    history.add_argument("--test", default="", metavar="TEXT", help="only the results whose test or label contains it")
    history.add_argument("--metric", default="", choices=METRICS, help="only this metric")
    history.add_argument("--last", type=_positive_int, metavar="K", help="only the K newest runs of each machine")
    history.add_argument(
        "--changed", action="store_true", help="in the terminal, only the results that changed past a rule"
    )

    merge = commands.add_parser(
        "merge",
        help="merge the JSON of shards (CI jobs, machines) into one report and one baseline",
        description="Merge the --attn-scaling-json files (or saved baselines) of a suite split across CI jobs or "
        "machines into one report and one baseline. Refuses files of another schema, shards measured elsewhere or "
        "at another commit, and tests measured in two shards.",
    )
    merge.add_argument("shards", nargs="+", type=Path, metavar="SHARD", help="a shard's JSON file")
    merge.add_argument("--json", type=Path, metavar="PATH", help="write the merged results, as --attn-scaling-json")
    merge.add_argument("--html", type=Path, metavar="PATH", help="write the merged report as an HTML page")
    merge.add_argument("--save", metavar="NAME", help="save the merged results as a baseline named NAME")
    merge.add_argument(
        "--storage",
        type=Path,
        metavar="DIR",
        help=f"where --save keeps baselines (default: the nearest {DEFAULT_STORAGE} in this folder or above it, "
        "else one here)",
    )
    merge.add_argument(
        "--expect-shards",
        type=_positive_int,
        metavar="K",
        help="refuse to merge unless exactly K files are given (a shard that never uploaded its file)",
    )
    merge.add_argument("--quiet", action="store_true", help="do not print the merged report")

    export = commands.add_parser(
        "export",
        help="a run's exponents and values in a format CI dashboards read",
        description="Write the exponents and values of a run (an --attn-scaling-json file, a merged one or a saved "
        "baseline) for a CI dashboard: github-action-benchmark's customSmallerIsBetter, or the Bencher Metric "
        "Format.",
    )
    export.add_argument("source", type=Path, metavar="FILE", help="an --attn-scaling-json file or a saved baseline")
    export.add_argument(
        "--format",
        choices=("customSmallerIsBetter", "bencher"),
        default="customSmallerIsBetter",
        help="customSmallerIsBetter (github-action-benchmark, the default) or bencher (Bencher Metric Format)",
    )
    export.add_argument("-o", "--output", type=Path, metavar="PATH", help="write here (default: standard output)")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-attncomplexity")
    except PackageNotFoundError:  # run from a source tree that was not installed
        return "(not installed)"


def _rules(text: str) -> tuple[Rule, ...]:
    try:
        return parse_rules(text, "--rules")
    except ValueError as error:  # argparse shows an ArgumentTypeError's own words
        raise argparse.ArgumentTypeError(str(error).removeprefix("--rules: ")) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "history":
            from .history import run_history

            return run_history(args)
        if args.command == "merge":
            from .merge import run_merge

            return run_merge(args)
        from .export import run_export

        return run_export(args)
    except CommandError as error:
        print(f"attn-scaling {args.command}: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except CommandFailed as error:
        print(f"attn-scaling {args.command}: {error}", file=sys.stderr)
        return FAILED
    except BrokenPipeError:
        # The reader went away (`attn-scaling history | head`): nothing more to say, and no traceback at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILED
