"""``results.md``: mean ± std over seeds per sweep point and method, as markdown tables.

The trainer rewrites it after every point and the command line prints it at
the end of a run; it is public as ``sparsecomp.summarise``.
"""

from __future__ import annotations

import numpy as np

from sparsecomp.run.schema import (
    SUMMARY_METRICS,
    check_unique_rows,
    missing_seeds,
    point_label,
    point_of,
    variant_label,
    variant_of,
)


def summarise(rows: list[dict], metrics=SUMMARY_METRICS, seeds=None) -> str:
    """One markdown table per sweep point, methods in first-seen order.

    Points are told apart by every point tag (``sparsecomp.run.schema``), so a
    sweep over ``noise`` or ``n_eval`` gives a table per value. Rows of a
    method with variants get one line per value, labelled e.g.
    ``frozen_relu (lam=0.1)``.

    A seed with ``nonfinite`` set is left out of the means and counted in the
    ``seeds`` column as, e.g., ``2 (+1 non-finite)``. Given the config's
    ``seeds``, a group that lacks some (an unfinished run) says which, e.g.
    ``1 (missing seeds 1, 2)``.

    Args:
      rows: result rows (``results.jsonl``).
      metrics: the metric columns, ``SUMMARY_METRICS`` by default.
      seeds: the seeds every group should have (the config's), or ``None``.

    Returns:
      The markdown text, tables separated by blank lines.

    Raises:
      WorkdirError: when two rows are the same (point, method, variant, seed).
    """
    check_unique_rows(rows)
    points: dict = {}
    for row in rows:
        variant = variant_label(variant_of(row))
        label = f"{row['method']} ({variant})" if variant else row["method"]
        points.setdefault(point_of(row), {}).setdefault(label, []).append(row)
    sections = []
    for point, by_method in points.items():
        lines = [
            f"### {point_label(point)}",
            "",
            "| method | seeds | " + " | ".join(metrics) + " |",
            "|---|---|" + "---|" * len(metrics),
        ]
        for method, group in by_method.items():
            finite = [row for row in group if not row.get("nonfinite")]
            cells = [_mean_std([row.get(metric) for row in finite]) for metric in metrics]
            lines.append(f"| {method} | {_seeds_cell(group, finite, seeds)} | "
                         + " | ".join(cells) + " |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def _seeds_cell(group: list[dict], finite: list[dict], seeds) -> str:
    """``"2"``, or with what is off: ``"1 (+1 non-finite; missing seed 2)"``."""
    notes = [f"+{len(group) - len(finite)} non-finite"] if len(finite) < len(group) else []
    missing = missing_seeds((row.get("seed") for row in group), seeds or ())
    if missing:
        notes.append(f"missing seed{'s' if len(missing) > 1 else ''} "
                     + ", ".join(map(str, missing)))
    return str(len(finite)) + (f" ({'; '.join(notes)})" if notes else "")


def _mean_std(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"
