"""``attn-scaling merge``: the JSON of a suite's shards as one report (terminal, ``--json``, ``--html``) and one
baseline (``--save``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.comparison import Change
from ..core.document import results_document
from ..core.options import validate_name
from ..gate.gate import count_changes
from ..gate.shards import MergedRun, ShardError, describe_run, load_run, merge_runs
from ..gate.storage import baseline_document, save_baseline
from ..report.atomic import write_text_atomically
from ..report.files import draw_figures, figures_missing
from ..report.html import render_html
from ..report.json import write_json
from ..report.text import format_report
from .errors import CommandError, CommandFailed
from .storage import find_storage


def run_merge(args: argparse.Namespace) -> int:
    if args.save is not None:
        try:
            validate_name(args.save, "--save")
        except ValueError as error:
            raise CommandError(str(error)) from None
    for flag, path in (("--json", args.json), ("--html", args.html)):
        if path is not None and path.is_dir():
            raise CommandError(f"{flag} must name a file, but {str(path)!r} is a directory")
    if args.expect_shards is not None and len(args.shards) != args.expect_shards:
        # A shard whose job died before it uploaded its file must not make a partial run look whole.
        raise CommandError(f"--expect-shards={args.expect_shards}, but {len(args.shards)} file(s) were given")
    try:
        merged = merge_runs([load_run(path) for path in args.shards])
    except ShardError as error:
        raise CommandError(str(error)) from None
    lines = [f"merged {len(merged.shards)} shard(s), {len(merged.results)} result(s):"]
    lines += [f"  {describe_run(shard)}" for shard in merged.shards]
    lines += [f"  note: {note}" for note in merged.notes]
    if not merged.complete:
        unfinished = ", ".join(str(s.path) for s in merged.shards if not s.complete)
        lines.append(f"  did not finish (killed, interrupted or ended by an error, or still running): {unfinished}")
    if not args.quiet:
        lines += ["", *format_report(merged.results)]
    for line in lines:
        print(line)
    problems = []
    for target, what, write in ((args.json, "results", _write_json), (args.html, "HTML report", _write_html)):
        if target is not None:
            try:
                write(merged, target)
                print(f"merged {what} written to {target}")
            except Exception as error:  # as a session's report files: told, and the command fails, no traceback
                problems.append(f"could not write {target}: {type(error).__name__}: {error}")
    if args.save is not None:
        try:
            storage = args.storage if args.storage is not None else find_storage(Path.cwd())
            print(f"baseline saved to {_save(merged, args.save, storage)}")
        except (CommandFailed, OSError) as error:
            problems.append(f"no baseline saved: {error}")
    if problems:
        raise CommandFailed("; ".join(problems))
    return 0


def _write_json(merged: MergedRun, path: Path) -> None:
    document = results_document(
        merged.results,
        None if merged.machine_info is None else dict(merged.machine_info),
        outcomes=merged.outcomes,
        run=merged.run_document(),
        comparison=merged.comparison,
        environment=merged.environment,
        commit=merged.commit,
    )
    write_json(path, document)


def _write_html(merged: MergedRun, path: Path) -> None:
    figures: dict[str, str] = {}
    note = figures_missing("drawing the figures of the merged HTML report")
    if not note:
        draw_figures(merged.results, merged.outcomes, figures)
    page = render_html(merged.results, merged.outcomes, figures, plot_note=note, comparison=merged.comparison)
    write_text_atomically(path, page)


def _save(merged: MergedRun, name: str, storage: Path) -> Path:
    """As the plugin saves a run: never a run that did not finish, or that regressed against its baseline (it must
    not become the reference the next run passes against)."""
    if not merged.complete:
        raise CommandFailed("a shard did not finish (its JSON says so): a part of a run is no reference")
    if not merged.results:
        raise CommandFailed("the shards hold no result")
    regressed = count_changes(merged.results).get(Change.REGRESSED, 0)
    if regressed:
        raise CommandFailed(f"{regressed} change(s) regressed against the baseline the shards were compared with")
    document = baseline_document(merged.results, merged.outcomes, merged.environment, merged.commit)
    environment = dict(merged.environment)
    if merged.machine_info is not None:
        environment["machine"] = dict(merged.machine_info)
    document["environment"] = environment
    return save_baseline(storage, str(environment["key"]), name, document)
