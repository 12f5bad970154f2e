"""``python -m sparsecomp.report WORKDIR [--reference FILE.json|paper[:EXPERIMENT] ...]
[--no-reference] [--threshold 0.1]``.

Reads a finished workdir (``sparsecomp.report.load``), aggregates its rows and
matches them with the reference (``sparsecomp.report.aggregate``), writes the
figures (``sparsecomp.report.plots``, ``sparsecomp.report.scaling``) to
``WORKDIR/figures/``, the markdown (``sparsecomp.report.render``) to
``WORKDIR/report.md`` and every comparison with the reference to
``WORKDIR/reference_comparison.csv``. Without ``--reference``, the paper's
published results for the workdir's experiment (``sparsecomp.report.reference``,
found by the workdir's directory name) are the reference when there are any.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sparsecomp.errors import ConfigError, WorkdirError
from sparsecomp.report.aggregate import (
    THRESHOLD,
    aggregate,
    differences,
    input_dim_notes,
    match_reference,
    reference_groups,
)
from sparsecomp.report.load import load_notes, load_reference, load_runs, load_workdir
from sparsecomp.report.plots import aggregate_curves, write_figures
from sparsecomp.report.reference import experiments, reference_sources
from sparsecomp.report.render import render_comparison_csv, render_report
from sparsecomp.report.scaling import has_scaling, write_scaling_figures
from sparsecomp.run.schema import COMPARISON_FILE, FIGURES_DIR, REPORT_FILE, RESULTS_FILE


def main(argv=None) -> int:
    """Writes ``report.md`` and ``figures/`` for a workdir; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m sparsecomp.report",
        description="Figures and a markdown report (with reference comparison) of a workdir.")
    parser.add_argument("workdir", type=Path)
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--reference", action="append", default=[],
                        metavar="FILE.json|paper[:EXPERIMENT]",
                        help="reference results: a JSON list of rows, or 'paper' for the "
                        "paper's published results packaged with sparsecomp (for the workdir's "
                        "experiment, or the one named: " + ", ".join(experiments()) + "); may be "
                        "repeated. Default: 'paper' when the workdir's directory name names "
                        "an experiment")
    choice.add_argument("--no-reference", action="store_true",
                        help="compare with no reference")
    parser.add_argument("--threshold", type=float, default=THRESHOLD,
                        help="mark |ours - reference| above this (default %(default)s)")
    args = parser.parse_args(argv)

    try:
        config, rows, curve_rows = load_workdir(args.workdir)
        runs = load_runs(args.workdir)
    except WorkdirError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not rows:
        print(f"error: no rows in {args.workdir / RESULTS_FILE}", file=sys.stderr)
        return 1
    groups = aggregate(rows)
    workdir_name = args.workdir.resolve().name
    try:
        sources, experiment = ([], None) if args.no_reference else reference_sources(
            args.reference, workdir_name)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        ref_rows, notes = load_reference(sources)
    except (OSError, ValueError) as error:  # JSONDecodeError is a ValueError
        print(f"error: reference: {error}", file=sys.stderr)
        return 2
    if not sources and not args.no_reference:
        notes.append(f"no reference: no published experiment matches the workdir name "
                     f"`{workdir_name}` (--reference paper:EXPERIMENT names one)")
    ref_groups = reference_groups(ref_rows)
    matches, match_notes = match_reference(groups, ref_groups)
    notes += match_notes
    notes += input_dim_notes(matches, ref_rows)
    diffs = differences(groups, ref_groups, matches, threshold=args.threshold)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)

    stems = write_figures(args.workdir / FIGURES_DIR, config, groups,
                          aggregate_curves(curve_rows), ref_groups, matches)
    if has_scaling(rows):
        stems += write_scaling_figures(args.workdir / FIGURES_DIR, rows)
    text = render_report(title=workdir_name, config=config, rows=rows,
                         runs=runs, workdir_notes=load_notes(args.workdir),
                         groups=groups, ref_groups=ref_groups, matches=matches, diffs=diffs,
                         reference_files=sources, reference_experiment=experiment,
                         figure_stems=stems, notes=notes,
                         threshold=args.threshold)
    (args.workdir / REPORT_FILE).write_text(text, encoding="utf-8")
    if sources:
        (args.workdir / COMPARISON_FILE).write_text(render_comparison_csv(diffs),
                                                    encoding="utf-8")
    else:  # a comparison from an earlier report would no longer be this report's
        (args.workdir / COMPARISON_FILE).unlink(missing_ok=True)
    marked = sum(d.marked for d in diffs)
    print(f"wrote {args.workdir / REPORT_FILE} and {len(stems)} figures (png+pdf) in "
          f"{args.workdir / FIGURES_DIR}; {len(matches)} groups matched the reference, "
          f"{marked} differences above {args.threshold:g}")
    return 0

