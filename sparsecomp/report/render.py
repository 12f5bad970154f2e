"""Markdown of the report: the per-point tables and the whole ``report.md``.

``report.md`` holds the sweep, seeds, methods, total wall time, the
researcher's ``notes.md`` if there is one (provenance, caveats), the
non-finite seeds, the incomplete groups (the config's seeds a group lacks:
an unfinished run, or a group kept from another run), the differences from
the reference above the threshold (every metric both have), how many
comparisons agree within ``AGREEMENT`` per method family and per metric (all
of them in ``COMPARISON_FILE``, a CSV), the figures, the sample-complexity
section when the rows have one (``sparsecomp.report.scaling``), then per
sweep point a table of the headline metrics
(``sparsecomp.run.schema.HEADLINE_METRICS``) with the reference mean and the
difference, and notes on what the reference matching skipped.
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

from sparsecomp.errors import ConfigError
from sparsecomp.methods.registry import method_info
from sparsecomp.report.aggregate import (
    AGREEMENT,
    THRESHOLD,
    Difference,
    GroupKey,
    Stats,
    agreement,
    order_key,
    sweep_fields,
    total_timings,
)
from sparsecomp.report.scaling import has_scaling, render_scaling
from sparsecomp.report.styles import method_order, method_sort_key
from sparsecomp.run.schema import (
    COMPARISON_FILE,
    FIGURES_DIR,
    HEADLINE_METRICS,
    NOTES_FILE,
    POINT_TAGS,
    VARIANT_TAGS,
    missing_seeds,
    point_label,
    variant_label,
)


def _cell(stats: Stats | None, metric: str) -> str:
    if stats is None or metric not in stats.mean:
        return "—"
    return f"{stats.mean[metric]:.3f} ± {stats.std[metric]:.3f}"


def _diff_cell(diff: Difference | None) -> str:
    if diff is None:
        return "—"
    text = f"{diff.diff:+.3f}"
    return f"**{text} ⚠**" if diff.marked else text


def _variant_cell(variant: tuple) -> str:
    return variant_label(variant) or "—"


def _ordered_keys(keys) -> list[GroupKey]:
    return sorted(keys, key=lambda k: (order_key(k.point), method_sort_key(k.method),
                                       order_key(k.variant)))


def _group_label(key: GroupKey) -> str:
    """```method`` at num_latents=..., ... (lam=0.1)`` of a group."""
    return (f"`{key.method}` at {point_label(key.point)}"
            + (f" ({variant_label(key.variant)})" if key.variant else ""))


def _seeds_cell(stats: Stats, seeds) -> str:
    """Finite seeds, and those of ``seeds`` the group lacks: ``"1 (missing 1, 2)"``."""
    missing = missing_seeds(stats.seeds, seeds or ())
    return str(stats.n) + (f" (missing {', '.join(map(str, missing))})" if missing else "")


def render_tables(groups: dict, ref_groups: dict | None = None, matches: dict | None = None,
                  diffs: list[Difference] | None = None, with_reference: bool = True,
                  seeds=None) -> str:
    """One markdown table per sweep point: seeds, ours ± std, reference, difference.

    Given the config's ``seeds``, the seeds column names those a group lacks.
    """
    ref_groups, matches = ref_groups or {}, matches or {}
    by_key = {(d.key, d.metric): d for d in diffs or []}
    metrics = [m for m in HEADLINE_METRICS if any(m in s.mean for s in groups.values())]
    # Reference columns only for metrics the reference has (it has no dict_*).
    compared = {m for s in ref_groups.values() for m in s.mean} if with_reference else set()
    sections = []
    for point, keys in itertools.groupby(_ordered_keys(groups), key=lambda k: k.point):
        keys = list(keys)
        has_variant = any(k.variant for k in keys)
        header = ["method"] + (["variant"] if has_variant else []) + ["seeds", "non-finite"]
        for metric in metrics:
            header += [metric] + (["ref", "diff"] if metric in compared else [])
        lines = [f"### {point_label(point)}", "", "| " + " | ".join(header) + " |",
                 "|" + "---|" * len(header)]
        for key in keys:
            stats = groups[key]
            ref = ref_groups.get(matches[key]) if key in matches else None
            bad = str(len(stats.nonfinite_seeds))
            if stats.nonfinite_seeds:
                bad += f" (seeds {', '.join(map(str, stats.nonfinite_seeds))})"
            cells = [key.method] + ([_variant_cell(key.variant)] if has_variant else [])
            cells += [_seeds_cell(stats, seeds), bad]
            for metric in metrics:
                cells.append(_cell(stats, metric))
                if metric in compared:
                    cells += [_cell(ref, metric), _diff_cell(by_key.get((key, metric)))]
            lines.append("| " + " | ".join(cells) + " |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def method_family(method: str) -> str:
    """The registered family of ``method`` (``sae``, ``fista_dict``, ...); else its name."""
    try:
        return method_info(method).family
    except ConfigError:
        return method


def _agreement_table(title: str, classes: dict, threshold: float) -> list[str]:
    lines = [f"| {title} | comparisons | within {AGREEMENT:g} | above {threshold:g} | "
             "largest difference |", "|---|---|---|---|---|"]
    for name, agreed in classes.items():
        d = agreed.largest
        lines.append(f"| {name} | {agreed.comparisons} | {agreed.within} | {agreed.marked} | "
                     f"{d.diff:+.3f} (`{d.key.method}`, `{d.metric}`, {point_label(d.key.point)}"
                     + (f", {variant_label(d.key.variant)}" if d.key.variant else "") + ") |")
    return lines


def render_agreement(diffs: list[Difference], threshold: float = THRESHOLD) -> str:
    """The report's comparison section: agreement per method family and per metric."""
    out = ["## Agreement with the reference, every metric", ""]
    if not diffs:
        return "\n".join(out + ["no comparisons"]) + "\n"
    metrics = list(dict.fromkeys(d.metric for d in diffs))
    out += [f"{len(diffs)} comparisons of group means over {', '.join(f'`{m}`' for m in metrics)}"
            f" (every metric both have); each one in [`{COMPARISON_FILE}`]({COMPARISON_FILE}).",
            ""]
    by_family = agreement(sorted(diffs, key=lambda d: method_sort_key(d.key.method)),
                          lambda d: method_family(d.key.method))
    out += _agreement_table("method family", by_family, threshold) + [""]
    out += _agreement_table("metric", agreement(diffs, lambda d: d.metric), threshold)
    return "\n".join(out) + "\n"


def render_comparison_csv(diffs: list[Difference]) -> str:
    """``COMPARISON_FILE``: one line per (group, metric) compared with the reference.

    Columns: the point tags, ``variant`` (``lam=0.1``; empty: none), ``method``,
    ``family``, ``metric``, ``ours`` and ``reference`` (means over seeds),
    ``diff`` (ours - reference) and ``marked`` (|diff| above the threshold).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*POINT_TAGS, "variant", "method", "family", "metric", "ours",
                     "reference", "diff", "marked"])
    for d in diffs:
        point = dict(d.key.point)
        writer.writerow([*(point.get(tag, "") for tag in POINT_TAGS),
                         variant_label(d.key.variant), d.key.method, method_family(d.key.method),
                         d.metric, f"{d.ours:.6g}", f"{d.reference:.6g}", f"{d.diff:.6g}",
                         int(d.marked)])
    return buffer.getvalue()


def wall_time_line(timings: dict[str, float], groups: dict[str, int]) -> str:
    """The report's total wall time of the groups, split where the rows allow."""
    n_groups, n_split = groups.get("wall_s", 0), groups.get("eval_s", 0)
    text = (f"total wall time {timings.get('wall_s', 0.0):.1f} s over {n_groups} "
            "(point, method) groups")
    if n_split == 0:  # rows from before the split: wall_s was the compiled call alone
        return text + " (one compiled call per group, all seeds, compilation included)"
    split = ", ".join(f"{field.removesuffix('_s')} {timings.get(field, 0.0):.1f} s"
                      for field in ("compile_s", "run_s", "eval_s", "restore_s"))
    text += f" (each from preparing to evaluated, all seeds: {split}"
    if n_split < n_groups:
        text += f"; {n_groups - n_split} groups written earlier count their compiled call only"
    return text + ")"


def render_report(*, title: str, config: dict, rows: list[dict], groups: dict, runs=(),
                  ref_groups: dict | None = None, matches: dict | None = None,
                  diffs: list[Difference] | None = None, reference_files=(),
                  reference_experiment: str | None = None, figure_stems=(), notes=(),
                  workdir_notes: str = "",
                  threshold: float = THRESHOLD) -> str:
    """The whole ``report.md``: header, workdir notes, marked differences, agreement,
    figures, tables, reference notes.

    Args:
      reference_files: the reference files read (paths or packaged files).
      reference_experiment: the experiment whose packaged paper results are
        among them (``sparsecomp.report.reference``), ``None`` if none are.
    """
    seeds = config.get("seeds") or sorted({row.get("seed") for row in rows})
    methods = method_order({row["method"] for row in rows})
    timings, timed_groups = total_timings(rows)
    sweep = config.get("sweep") or {}
    out = [f"# Report: {title}", ""]
    if sweep:
        out.append("- sweep: " + "; ".join(
            f"`{f}` ∈ {{{', '.join(map(str, sweep[f]))}}}" for f in sweep)
            + f" (x axis: `{sweep_fields(config)[0]}`)")
    else:
        out.append("- sweep: none (one point)")
    out += [f"- seeds: {', '.join(map(str, seeds))}",
            f"- methods: {', '.join(f'`{m}`' for m in methods)}",
            f"- rows: {len(rows)}; " + wall_time_line(timings, timed_groups)]
    if runs:
        setups = sorted({f"{r['backend']}, {r['devices']} device(s), {r['concurrent_methods']} "
                         "method(s) at a time" for r in runs})
        out.append(f"- run time: {sum(r['wall_s'] for r in runs):.1f} s of wall clock over "
                   f"{len(runs)} trainer invocation(s) ({'; '.join(setups)})")
    if reference_files:
        out.append("- reference: " + ", ".join(f"`{Path(str(f)).name}`" for f in reference_files)
                   + (f" (the paper's published results for `{reference_experiment}`, "
                      "packaged in `sparsecomp/report/reference/`)"
                      if reference_experiment else ""))
    if workdir_notes:
        out += ["", f"## Notes on this workdir (`{NOTES_FILE}`)", "", workdir_notes]
    bad = [(k, s) for k, s in groups.items() if s.nonfinite_seeds]
    out += ["", "## Non-finite seeds", ""]
    out += ([f"- {_group_label(k)}: seeds {', '.join(map(str, s.nonfinite_seeds))} "
             "(excluded from means)" for k, s in bad] or ["none"])
    incomplete = [(k, missing_seeds(groups[k].seeds, seeds)) for k in _ordered_keys(groups)]
    out += ["", "## Incomplete groups", ""]
    out += ([f"- {_group_label(k)}: seeds {', '.join(map(str, missing))} missing (of "
             f"{', '.join(map(str, seeds))}); its means are over the others"
             for k, missing in incomplete if missing] or ["none"])
    if reference_files:
        order = {key: i for i, key in enumerate(_ordered_keys(groups))}
        marked = sorted((d for d in diffs or [] if d.marked), key=lambda d: order[d.key])
        out += ["", f"## Differences from the reference above {threshold:g}", ""]
        out += [f"- **`{d.key.method}`** at {point_label(d.key.point)}"
                + (f" ({variant_label(d.key.variant)})" if d.key.variant else "")
                + f", `{d.metric}`: ours {d.ours:.3f} vs reference {d.reference:.3f} "
                f"(**{d.diff:+.3f}** ⚠)" for d in marked] or ["none"]
        n_matched = len(matches or {})
        out += ["", f"{n_matched} of {len(groups)} groups have a reference match; "
                f"{len(diffs or [])} comparisons.", "",
                render_agreement(diffs or [], threshold).rstrip("\n")]
    stems = list(figure_stems)
    main = [s for s in stems if s in HEADLINE_METRICS or any(
        s == f"{m}_vs_{t}" for m in HEADLINE_METRICS for t in VARIANT_TAGS)]
    curves = [s for s in stems if s.startswith("curve_")]
    scaling_stems = [s for s in stems if s.startswith("scaling_")]  # in their own section
    if stems:
        out += ["", "## Figures", ""]
        out += [f"![{s}]({FIGURES_DIR}/{s}.png)" for s in main]
        if curves:
            out += ["", "Training curves: " + ", ".join(
                f"[{s[len('curve_'):]}]({FIGURES_DIR}/{s}.png)" for s in curves)]
        others = [s for s in stems
                  if s not in main and s not in curves and s not in scaling_stems]
        if others:
            out += ["", "Other metrics: " + ", ".join(
                f"[{s}]({FIGURES_DIR}/{s}.png)" for s in others)]
        out += ["", "Every figure is also written as PDF. Reference means: dashed, `x` markers; "
                "log x axes when values span more than a factor 10 (symlog when 0 is among "
                "them, e.g. `n_iter = 0`)."]
    if has_scaling(rows):
        out += ["", render_scaling(rows, scaling_stems).rstrip("\n")]
    out += ["", "## Results (mean ± std over finite seeds)", "",
            render_tables(groups, ref_groups, matches, diffs, with_reference=bool(reference_files),
                          seeds=seeds)]
    if notes:
        out += ["## Notes", ""] + [f"- {note}" for note in notes] + [""]
    return "\n".join(out).rstrip("\n") + "\n"

