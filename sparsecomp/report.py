"""Report of a finished workdir: figures, and a markdown table beside the reference.

Command::

    python -m sparsecomp.report WORKDIR [--reference FILE.json ...] [--threshold 0.1]

Reads ``WORKDIR/config.json``, ``results.jsonl`` and ``metrics.jsonl`` (see
``sparsecomp.run.workdir``) and writes

* ``WORKDIR/figures/<metric>.png|pdf``: every metric's mean ± std over seeds
  against the swept variable, one line per method (reference means dashed);
* ``WORKDIR/figures/<metric>_vs_<tag>.png|pdf`` for rows with a variant tag
  (``lam``, ``n_iter``, ``n_outer``): the variant on the x axis, one panel per
  sweep point; methods without the tag are horizontal lines;
* ``WORKDIR/figures/curve_<name>.png|pdf``: every training curve of
  ``metrics.jsonl`` against ``step``, one panel per sweep point;
* ``WORKDIR/figures/scaling_<metric>.png|pdf`` when the rows carry
  ``samples_per_atom`` (the ``dictionary_scaling`` experiment): ``mcc_ood`` and
  ``dict_frac_close`` against samples per atom (log x), one panel per
  ``num_latents``, and a "Sample complexity" section in ``report.md``: per
  method and ``num_latents`` the samples per atom at which the seed-mean
  ``dict_frac_close`` first reaches 0.9, and a fit ``a * num_latents^b`` of it
  (``sparsecomp.scaling``);
* ``WORKDIR/report.md``: sweep, seeds, methods, total wall time, the
  researcher's ``WORKDIR/notes.md`` if there is one (provenance, caveats), then
  per sweep point a table of the headline metrics with the reference mean and the
  difference, differences above ``--threshold`` marked and listed at the top.

Means and stds are over seeds (``np.std``, ddof 0, as in ``results.md``); rows
with ``nonfinite`` set carry no metrics and are counted, not averaged.

Reference files (``shared/reference/results/exp_*.json``) are JSON lists of
rows. A reference row matches our group when ``num_latents``, ``k``,
``n_samples``, ``method`` agree, and every variant tag that both carry;
``input_dim`` disagreements are listed as notes. A negative variant tag in a
reference row (their ``lam = -1`` on SAE rows) means "no variant" and is
dropped. Rows without ``method`` (per-SAE diagnostics) and curve rows
(``epoch``/``round``) are skipped with a note. When several reference files
hold the same (point, method, variant, seed), the first file given wins.

Everything but ``main`` is a pure function of rows, so a notebook can call
``aggregate`` / ``match_reference`` / ``render_report`` directly.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

from sparsecomp import figures, scaling
from sparsecomp.run import workdir as wd

POINT_TAGS = ("num_latents", "k", "input_dim", "n_samples", "noise", "n_eval")
VARIANT_TAGS = ("lam", "n_iter", "n_outer")
MATCH_TAGS = ("num_latents", "k", "n_samples", "noise", "n_eval")
NOT_METRICS = frozenset(
    POINT_TAGS + VARIANT_TAGS
    + ("width", "seed", "method", "c", "wall_s", "metrics_s", "nonfinite", "step",
       "sae_type", "epoch", "round", "samples_seen", "samples_per_atom")
)
HEADLINE_METRICS = ("mcc_iid", "mcc_ood", "acc_ood", "auc_ood", "dict_mean_cosine")
THRESHOLD = 0.1
REPORT_FILE = "report.md"
FIGURES_DIR = "figures"
_DEFAULTS = {"noise": 0.0, "n_eval": None}
# The sample-complexity study: x tag, metrics drawn against it, the crossing.
SCALING_TAG = "samples_per_atom"
SCALING_METRICS = ("mcc_ood", "dict_frac_close")
CROSSING_METRIC = "dict_frac_close"
CROSSING_LEVEL = 0.9
# One panel (table column) per value of these; the n_samples sweep runs along x
# and input_dim follows from num_latents and k.
SCALING_PANEL_TAGS = ("k", "noise", "num_latents")


class GroupKey(NamedTuple):
    """A (sweep point, variant, method) group; ``point``/``variant``: ((tag, value), ...)."""

    point: tuple
    variant: tuple
    method: str


class Stats(NamedTuple):
    """Mean and std over the finite seeds of one group, per metric."""

    n: int  # finite rows
    nonfinite_seeds: tuple  # seeds of rows with ``nonfinite`` set
    mean: dict  # metric -> float (metrics with at least one non-null value)
    std: dict  # metric -> float
    count: dict  # metric -> number of non-null values averaged


class Difference(NamedTuple):
    """Our mean minus the reference mean for one group and metric."""

    key: GroupKey
    metric: str
    ours: float
    reference: float
    diff: float
    marked: bool  # |diff| > threshold


# ---------------------------------------------------------------- loading


def load_workdir(workdir: Path) -> tuple[dict, list[dict], list[dict]]:
    """``(config, results rows, curve rows)`` of a workdir (missing files: empty)."""
    config_path = workdir / wd.CONFIG_FILE
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    return (config, wd.read_lines(workdir / wd.RESULTS_FILE),
            wd.read_lines(workdir / wd.METRICS_FILE))


def load_notes(workdir: Path) -> str:
    """The researcher's ``notes.md`` of the workdir, stripped (absent: empty)."""
    path = workdir / wd.NOTES_FILE
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""


def load_runs(workdir: Path) -> list[dict]:
    """The trainer invocations logged in ``runs.jsonl`` (absent: empty)."""
    return wd.read_lines(workdir / wd.RUNS_FILE)


def load_reference(paths) -> tuple[list[dict], list[str]]:
    """Rows of the reference JSON files, normalised, and notes on what was skipped.

    Skips rows without ``method`` and curve rows (``epoch``/``round``/``step``);
    drops negative variant tags (the reference's "not applicable").
    """
    rows, notes = [], []
    for path in paths:
        data = json.loads(Path(path).read_text())
        if not isinstance(data, list):
            raise ValueError(f"{path}: a reference file must hold a JSON list of rows")
        no_method = curves = 0
        for row in data:
            if "method" not in row:
                no_method += 1
            elif any(tag in row for tag in ("epoch", "round", "step")):
                curves += 1
            else:
                rows.append({tag: value for tag, value in row.items()
                             if not (tag in VARIANT_TAGS and isinstance(value, (int, float))
                                     and value < 0)})
        if no_method:
            notes.append(f"{Path(path).name}: skipped {no_method} rows without `method` "
                         "(diagnostics)")
        if curves:
            notes.append(f"{Path(path).name}: skipped {curves} curve rows (epoch/round)")
    return rows, notes


# ------------------------------------------------------------- aggregation


def _norm(value):
    """Tag values as comparable keys: floats to 6 significant digits (float32 lam)."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def point_key(row: dict, tags=POINT_TAGS) -> tuple:
    """``((tag, value), ...)`` of the point tags of ``row`` (``noise`` defaults to 0)."""
    return tuple((tag, _norm(row.get(tag, _DEFAULTS.get(tag)))) for tag in tags)


def variant_key(row: dict) -> tuple:
    """``((tag, value), ...)`` of the variant tags ``row`` carries (often ``()``)."""
    return tuple((tag, _norm(row[tag])) for tag in VARIANT_TAGS if row.get(tag) is not None)


def group_key(row: dict, tags=POINT_TAGS) -> GroupKey:
    """The (point, variant, method) group of a row."""
    return GroupKey(point_key(row, tags), variant_key(row), row["method"])


def metric_names(rows: list[dict]) -> list[str]:
    """Numeric non-tag fields of ``rows``: headline metrics first, then A-Z."""
    names = {
        name for row in rows for name, value in row.items()
        if name not in NOT_METRICS and isinstance(value, (int, float))
        and not isinstance(value, bool)
    }
    return [m for m in HEADLINE_METRICS if m in names] + sorted(names - set(HEADLINE_METRICS))


def summarise_values(values) -> tuple[float, float, int] | None:
    """``(mean, std, count)`` of the non-null values, or ``None`` when there are none."""
    values = [float(v) for v in values if v is not None]
    if not values:
        return None
    return float(np.mean(values)), float(np.std(values)), len(values)


def aggregate(rows: list[dict], key=group_key, metrics=None) -> dict[GroupKey, Stats]:
    """Mean/std over seeds per group; non-finite rows are counted, not averaged.

    Args:
      rows: result rows (``results.jsonl`` or reference rows).
      key: ``row -> GroupKey``.
      metrics: names to summarise; all of ``metric_names(rows)`` by default.

    Returns:
      ``{GroupKey: Stats}`` in first-seen order.
    """
    metrics = metric_names(rows) if metrics is None else metrics
    grouped: dict = {}
    for row in rows:
        grouped.setdefault(key(row), []).append(row)
    result = {}
    for gkey, group in grouped.items():
        finite = [row for row in group if not row.get("nonfinite")]
        mean, std, count = {}, {}, {}
        for metric in metrics:
            summary = summarise_values(row.get(metric) for row in finite)
            if summary is not None:
                mean[metric], std[metric], count[metric] = summary
        bad = tuple(row.get("seed") for row in group if row.get("nonfinite"))
        result[gkey] = Stats(len(finite), bad, mean, std, count)
    return result


def total_wall_s(rows: list[dict]) -> tuple[float, int]:
    """``(seconds, groups)``: ``wall_s`` summed once per (point, method) group.

    All rows of a group (every seed and variant) share one ``wall_s``, the
    compiled call that produced them.
    """
    walls: dict = {}
    for row in rows:
        if row.get("wall_s") is not None:
            walls.setdefault((point_key(row), row["method"]), row["wall_s"])
    return float(sum(walls.values())), len(walls)


# ---------------------------------------------------------------- reference


def reference_groups(ref_rows: list[dict]) -> dict[GroupKey, Stats]:
    """Reference stats per (match point, variant, method); first file wins per seed."""
    seen, unique = set(), []
    for row in ref_rows:
        ident = (group_key(row, MATCH_TAGS), row.get("seed"))
        if ident not in seen:
            seen.add(ident)
            unique.append(row)
    return aggregate(unique, key=lambda row: group_key(row, MATCH_TAGS))


def _project(point: tuple, tags=MATCH_TAGS) -> tuple:
    values = dict(point)
    return tuple((tag, values.get(tag, _DEFAULTS.get(tag))) for tag in tags)


def match_reference(keys, ref_groups: dict) -> tuple[dict[GroupKey, GroupKey], list[str]]:
    """Maps each of our group keys to its reference group key, where one matches.

    A reference group matches when method and ``MATCH_TAGS`` agree and every
    variant tag present in both agrees. Among several candidates the one with
    exactly our variant tags is taken; if that is still not unique the group
    is left unmatched and a note says so.

    Returns:
      ``({our key: reference key}, notes)``.
    """
    index: dict = {}
    for rkey in ref_groups:
        index.setdefault((rkey.point, rkey.method), []).append(rkey)
    matches, notes = {}, []
    for key in keys:
        ours = dict(key.variant)
        candidates = [
            rkey for rkey in index.get((_project(key.point), key.method), [])
            if all(ours[tag] == value for tag, value in rkey.variant if tag in ours)
        ]
        exact = [r for r in candidates if {t for t, _ in r.variant} == set(ours)]
        if len(candidates) == 1 or len(exact) == 1:
            matches[key] = candidates[0] if len(candidates) == 1 else exact[0]
        elif candidates:
            notes.append(f"`{key.method}` at {_point_label(key.point)}"
                         + (f" ({_variant_label(key.variant)})" if key.variant else "")
                         + f": reference ambiguous ({len(candidates)} variants), not compared")
    return matches, notes


def input_dim_notes(keys, ref_rows: list[dict]) -> list[str]:
    """Notes for matched points where our ``input_dim`` differs from the reference's."""
    ref_dims: dict = {}
    for row in ref_rows:
        if row.get("input_dim") is not None:
            ref_dims.setdefault(point_key(row, MATCH_TAGS), set()).add(row["input_dim"])
    notes = []
    for point in dict.fromkeys(key.point for key in keys):
        theirs = ref_dims.get(_project(point))
        if theirs and dict(point).get("input_dim") not in theirs:
            notes.append(f"{_point_label(point)}: reference input_dim {sorted(theirs)}")
    return notes


def differences(groups: dict, ref_groups: dict, matches: dict, metrics=HEADLINE_METRICS,
                threshold: float = THRESHOLD) -> list[Difference]:
    """Our mean minus the matched reference mean, per group and metric both have."""
    result = []
    for key, stats in groups.items():
        if key not in matches:
            continue
        ref = ref_groups[matches[key]]
        for metric in metrics:
            if metric in stats.mean and metric in ref.mean:
                diff = stats.mean[metric] - ref.mean[metric]
                result.append(Difference(key, metric, stats.mean[metric], ref.mean[metric],
                                         diff, round(abs(diff), 9) > threshold))
    return result


# ----------------------------------------------------------- sweep geometry


def sweep_fields(config: dict) -> list[str]:
    """Swept data fields, the x-axis field first: the one with most values.

    ``config.json`` stores the sweep with sorted keys, so declaration order is
    lost; the field with the most values (ties: config order) is the x axis.
    Nothing swept gives ``["num_latents"]``.
    """
    sweep = config.get("sweep") or {}
    if not sweep:
        return ["num_latents"]
    fields = list(sweep)
    x = max(fields, key=lambda f: (len(sweep[f]), -fields.index(f)))
    return [x] + [f for f in fields if f != x]


def coordinate(point: tuple, field: str, config: dict):
    """The value of sweep ``field`` at ``point`` (``c`` is recovered from ``input_dim``)."""
    values = dict(point)
    if field in values:
        return values[field]
    data = config.get("data", {})
    if field == "c" and data.get("input_dim") is None:
        from sparsecomp.data import default_input_dim  # only phase-transition sweeps need it

        for c in (config.get("sweep") or {}).get("c", [data.get("c")]):
            if default_input_dim(values["num_latents"], values["k"], c) == values["input_dim"]:
                return c
        return None
    return data.get(field, _DEFAULTS.get(field))


def _point_label(point: tuple) -> str:
    return ", ".join(f"{tag}={value}" for tag, value in point
                     if not (tag in _DEFAULTS and value == _DEFAULTS[tag]))


def _panel_title(fields, values) -> str:
    return ", ".join(f"{f}={v}" for f, v in zip(fields, values, strict=True))


def _order(value):
    """A sort key for tag values and tuples of them (``None`` last)."""
    if isinstance(value, tuple):
        return tuple(_order(v) for v in value)
    return (1, 0) if value is None else (0, value)


def _sort_values(values) -> list:
    return sorted(values, key=_order)


# ------------------------------------------------------------------ figures


def metric_panels(groups: dict, metric: str, config: dict, ref_groups=None, matches=None):
    """Panels of ``metric`` against the x-axis sweep field, for groups without variant.

    Returns:
      ``(x field, [figures.Panel])``; one panel per value combination of the
      other swept fields.
    """
    fields = sweep_fields(config)
    xfield, others = fields[0], fields[1:]
    ref_groups, matches = ref_groups or {}, matches or {}
    series: dict = {}  # panel -> method -> [(x, mean, std, ref mean)]
    for key, stats in groups.items():
        if key.variant or metric not in stats.mean:
            continue
        x = coordinate(key.point, xfield, config)
        if x is None:
            continue
        panel = tuple(coordinate(key.point, f, config) for f in others)
        ref = ref_groups.get(matches.get(key)) if key in matches else None
        ref_mean = ref.mean.get(metric) if ref is not None else None
        series.setdefault(panel, {}).setdefault(key.method, []).append(
            (x, stats.mean[metric], stats.std[metric], ref_mean))
    panels = []
    for panel in _sort_values(series):
        lines = []
        for method, points in series[panel].items():
            points.sort(key=lambda p: p[0])
            xs, means, stds, refs = (list(v) for v in zip(*points, strict=True))
            lines.append(figures.Line(method, xs, means, stds))
            ref_points = [(x, r) for x, r in zip(xs, refs, strict=True) if r is not None]
            if ref_points:
                rx, rm = (list(v) for v in zip(*ref_points, strict=True))
                lines.append(figures.Line(method, rx, rm, reference=True))
        panels.append(figures.Panel(_panel_title(others, panel), lines))
    return xfield, panels


def variant_panels(groups: dict, metric: str, tag: str, config: dict, ref_groups=None,
                   matches=None) -> list:
    """Panels of ``metric`` against variant ``tag``, one per sweep point.

    Methods whose rows carry ``tag`` are lines; methods at the same point
    without any variant are horizontal lines (baselines).
    """
    ref_groups, matches = ref_groups or {}, matches or {}
    fields = sweep_fields(config)
    points = _sort_values({key.point for key, stats in groups.items()
                           if dict(key.variant).get(tag) is not None and metric in stats.mean})
    panels = []
    for point in points:
        series: dict = {}
        hlines = []
        for key, stats in groups.items():
            if key.point != point or metric not in stats.mean:
                continue
            ref = ref_groups.get(matches.get(key)) if key in matches else None
            ref_mean = ref.mean.get(metric) if ref is not None else None
            value = dict(key.variant).get(tag)
            if value is not None:
                series.setdefault(key.method, []).append(
                    (value, stats.mean[metric], stats.std[metric], ref_mean))
            elif not key.variant:
                hlines.append(figures.HLine(key.method, stats.mean[metric]))
                if ref_mean is not None:
                    hlines.append(figures.HLine(key.method, ref_mean, reference=True))
        lines = []
        for method, pts in series.items():
            pts.sort(key=lambda p: p[0])
            xs, means, stds, refs = (list(v) for v in zip(*pts, strict=True))
            lines.append(figures.Line(method, xs, means, stds))
            ref_pts = [(x, r) for x, r in zip(xs, refs, strict=True) if r is not None]
            if ref_pts:
                rx, rm = (list(v) for v in zip(*ref_pts, strict=True))
                lines.append(figures.Line(method, rx, rm, reference=True))
        title = (_panel_title(fields, [coordinate(point, f, config) for f in fields])
                 if config.get("sweep") else _point_label(point))
        panels.append(figures.Panel(title, lines, hlines))
    return panels


def aggregate_curves(curve_rows: list[dict]) -> dict:
    """``{(point, method, name): (steps, mean, std)}`` over seeds, steps increasing.

    A step's mean is over the seeds that logged it (early-stopped runs log fewer).
    """
    names = metric_names(curve_rows)
    values: dict = {}
    for row in curve_rows:
        point = point_key(row)
        for name in names:
            if row.get(name) is not None:
                values.setdefault((point, row["method"], name), {}).setdefault(
                    row["step"], []).append(float(row[name]))
    result = {}
    for key, by_step in values.items():
        steps = sorted(by_step)
        result[key] = (steps, [float(np.mean(by_step[s])) for s in steps],
                       [float(np.std(by_step[s])) for s in steps])
    return result


def curve_panels(curves: dict, name: str, config: dict) -> list:
    """Panels of curve ``name`` against ``step``: one per sweep point, a line per method."""
    fields = sweep_fields(config)
    by_point: dict = {}
    for (point, method, curve), (steps, mean, std) in curves.items():
        if curve == name:
            by_point.setdefault(point, []).append(figures.Line(method, steps, mean, std))
    return [
        figures.Panel(_panel_title(fields, [coordinate(p, f, config) for f in fields])
                      if config.get("sweep") else _point_label(p), by_point[p])
        for p in _sort_values(by_point)
    ]


def _needs_ylog(panels) -> bool:
    values = [v for panel in panels for line in panel.lines for v in line.mean]
    return bool(values) and min(values) > 0 and max(values) > 100 * min(values)


def write_figures(figdir: Path, config: dict, groups: dict, curves: dict, ref_groups=None,
                  matches=None) -> list[str]:
    """Writes every metric, variant and curve figure; returns their stems (relative names)."""
    written = []
    metrics = sorted({m for stats in groups.values() for m in stats.mean},
                     key=lambda m: (m not in HEADLINE_METRICS,
                                    HEADLINE_METRICS.index(m) if m in HEADLINE_METRICS else 0, m))
    for metric in metrics:
        xfield, panels = metric_panels(groups, metric, config, ref_groups, matches)
        if panels:
            _save(figures.line_figure(panels, xlabel=xfield, ylabel=metric, title=metric),
                  figdir, metric, written)
        for tag in VARIANT_TAGS:
            panels = variant_panels(groups, metric, tag, config, ref_groups, matches)
            if panels:
                fig = figures.line_figure(panels, xlabel=tag, ylabel=metric,
                                          title=f"{metric} vs {tag}")
                _save(fig, figdir, f"{metric}_vs_{tag}", written)
    for name in sorted({curve for (_, _, curve) in curves}):
        panels = curve_panels(curves, name, config)
        fig = figures.line_figure(panels, xlabel="step", ylabel=name, title=f"{name} (training)",
                                  xscale="linear", ylog=_needs_ylog(panels))
        _save(fig, figdir, f"curve_{name}", written)
    return written


def _save(fig, figdir: Path, stem: str, written: list) -> None:
    figures.save_figure(fig, figdir / stem)
    written.append(stem)


# ---------------------------------------------------------- sample complexity


def has_scaling(rows: list[dict]) -> bool:
    """Whether ``rows`` are of a sample-complexity study (carry ``samples_per_atom``)."""
    return any(row.get(SCALING_TAG) is not None for row in rows)


def scaling_series(rows: list[dict], metric: str) -> dict:
    """Seed mean ± std of ``metric`` against samples per atom, per (panel, method).

    Rows without ``samples_per_atom`` or with a variant tag are left out;
    non-finite rows are not averaged. Rows of one (panel, method) at the same
    samples per atom (a learner that draws the same number of samples at two
    ``n_samples``) are pooled into one point.

    Returns:
      ``{(panel, method): (x, mean, std)}``, ``panel`` the point's
      ``SCALING_PANEL_TAGS`` as ``((tag, value), ...)``, ``x`` increasing;
      points without a finite value are dropped, and so are empty series.
    """
    stats = aggregate(
        [row for row in rows if row.get(SCALING_TAG) is not None and not variant_key(row)],
        key=lambda row: (point_key(row, SCALING_PANEL_TAGS), row["method"],
                         _norm(float(row[SCALING_TAG]))),
        metrics=[metric])
    points: dict = {}
    for (panel, method, x), group in stats.items():
        if metric in group.mean:
            points.setdefault((panel, method), []).append(
                (x, group.mean[metric], group.std[metric]))
    series = {}
    for key in sorted(points, key=lambda k: (_order(k[0]), figures.method_sort_key(k[1]))):
        xs, means, stds = (list(v) for v in zip(*sorted(points[key]), strict=True))
        series[key] = (xs, means, stds)
    return series


def _scaling_label(panel: tuple) -> str:
    return _point_label(tuple(sorted(panel, key=lambda tv: tv[0] != "num_latents")))


def scaling_panels(series: dict) -> list:
    """``figures.Panel``s of ``scaling_series`` output: one per panel, a line per method."""
    by_panel: dict = {}
    for (panel, method), (xs, means, stds) in series.items():
        by_panel.setdefault(panel, []).append(figures.Line(method, xs, means, stds))
    return [figures.Panel(_scaling_label(p), by_panel[p]) for p in _sort_values(by_panel)]


def write_scaling_figures(figdir: Path, rows: list[dict]) -> list[str]:
    """Writes ``scaling_<metric>`` for ``SCALING_METRICS``; returns the stems written."""
    written = []
    for metric in SCALING_METRICS:
        panels = scaling_panels(scaling_series(rows, metric))
        if panels:
            guide = (CROSSING_LEVEL,) if metric == CROSSING_METRIC else ()
            fig = figures.line_figure(
                panels, xlabel="samples per atom (samples_seen · k / num_latents)",
                ylabel=metric, title=f"{metric} vs samples per atom", xscale="log",
                value_ticks=False,  # streaming learners' samples_seen differ slightly
                ylines=guide)
            _save(fig, figdir, f"scaling_{metric}", written)
    return written


def scaling_crossings(rows: list[dict], metric: str = CROSSING_METRIC,
                      level: float = CROSSING_LEVEL) -> dict:
    """``{(panel, method): scaling.Crossing}``: where ``metric``'s seed mean reaches ``level``."""
    return {key: scaling.threshold_crossing(xs, means, level)
            for key, (xs, means, _) in scaling_series(rows, metric).items()}


def _family(panel: tuple) -> tuple:
    return tuple((tag, value) for tag, value in panel if tag != "num_latents")


def scaling_fits(crossings: dict) -> dict:
    """Power-law fits ``s* = a * num_latents^b`` of the finite crossings.

    Bounds (``≤``/``>``) are left out; a method is fitted, separately per
    (``k``, ``noise``) family, when it has finite crossings at two or more
    ``num_latents``.

    Returns:
      ``{(family, method): (a, b, num_latents used)}``.
    """
    finite: dict = {}
    for (panel, method), crossing in crossings.items():
        if crossing.finite:
            finite.setdefault((_family(panel), method), []).append(
                (dict(panel)["num_latents"], crossing.value))
    fits = {}
    for key, points in finite.items():
        if len({n for n, _ in points}) >= 2:
            ns, values = zip(*sorted(points), strict=True)
            fits[key] = (*scaling.fit_power_law(ns, values), tuple(ns))
    return fits


def _per_atom(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def render_scaling(rows: list[dict], figure_stems=()) -> str:
    """The "Sample complexity" section of ``report.md`` (crossing table, power-law fits)."""
    crossings = scaling_crossings(rows)
    fits = scaling_fits(crossings)
    out = ["## Sample complexity", "",
           f"Samples per atom (`{SCALING_TAG}` = samples_seen · k / num_latents) at which the "
           f"seed mean of `{CROSSING_METRIC}` first reaches {CROSSING_LEVEL:g}, interpolated "
           "linearly in log(samples per atom) between the two measured points around it; "
           "`> X`: not reached up to the largest measured X; `≤ X`: already reached at the "
           "smallest measured X; —: no rows."]
    stems = [s for s in figure_stems if s.startswith("scaling_")]
    if stems:
        out += [""] + [f"![{s}]({FIGURES_DIR}/{s}.png)" for s in stems]
    families = _sort_values({_family(panel) for panel, _ in crossings})
    for family in families:
        panels = _sort_values({panel for panel, _ in crossings if _family(panel) == family})
        methods = figures.method_order(m for p, m in crossings if _family(p) == family)
        header = ["method"] + [f"num_latents={dict(p)['num_latents']}" for p in panels]
        out += [""] + ([f"### {_point_label(family)}", ""] if len(families) > 1 else [])
        out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for method in methods:
            cells = [crossings[(p, method)].label(_per_atom) if (p, method) in crossings
                     else "—" for p in panels]
            out.append(f"| {method} | " + " | ".join(cells) + " |")
    out += ["", f"Fit per method: `{SCALING_TAG}* = a · n^b` with n = num_latents, by least "
            f"squares of log {SCALING_TAG}* on log n over the finite crossings above (bounds "
            "left out), for methods with at least two; the samples needed then grow as "
            "a · n^(1+b) / k.", ""]
    if fits:
        out += ["| method | a | b | num_latents fitted |", "|---|---|---|---|"]
        for (family, method), (a, b, ns) in sorted(
                fits.items(), key=lambda kv: (_order(kv[0][0]),
                                              figures.method_sort_key(kv[0][1]))):
            label = f"{method} ({_point_label(family)})" if len(families) > 1 else method
            out.append(f"| {label} | {a:.3g} | {b:.3f} | {', '.join(map(str, ns))} |")
    else:
        out.append("No method has finite crossings at two num_latents: no fit.")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- markdown


def _cell(stats: Stats | None, metric: str) -> str:
    if stats is None or metric not in stats.mean:
        return "—"
    return f"{stats.mean[metric]:.3f} ± {stats.std[metric]:.3f}"


def _diff_cell(diff: Difference | None) -> str:
    if diff is None:
        return "—"
    text = f"{diff.diff:+.3f}"
    return f"**{text} ⚠**" if diff.marked else text


def _variant_label(variant: tuple) -> str:
    return ", ".join(f"{tag}={value}" for tag, value in variant) or "—"


def _ordered_keys(keys) -> list[GroupKey]:
    return sorted(keys, key=lambda k: (_order(k.point), figures.method_sort_key(k.method),
                                       _order(k.variant)))


def render_tables(groups: dict, ref_groups: dict | None = None, matches: dict | None = None,
                  diffs: list[Difference] | None = None, with_reference: bool = True) -> str:
    """One markdown table per sweep point: seeds, ours ± std, reference, difference."""
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
        lines = [f"### {_point_label(point)}", "", "| " + " | ".join(header) + " |",
                 "|" + "---|" * len(header)]
        for key in keys:
            stats = groups[key]
            ref = ref_groups.get(matches[key]) if key in matches else None
            bad = str(len(stats.nonfinite_seeds))
            if stats.nonfinite_seeds:
                bad += f" (seeds {', '.join(map(str, stats.nonfinite_seeds))})"
            cells = [key.method] + ([_variant_label(key.variant)] if has_variant else [])
            cells += [str(stats.n), bad]
            for metric in metrics:
                cells.append(_cell(stats, metric))
                if metric in compared:
                    cells += [_cell(ref, metric), _diff_cell(by_key.get((key, metric)))]
            lines.append("| " + " | ".join(cells) + " |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def render_report(*, title: str, config: dict, rows: list[dict], groups: dict, runs=(),
                  ref_groups: dict | None = None, matches: dict | None = None,
                  diffs: list[Difference] | None = None, reference_files=(),
                  figure_stems=(), notes=(), workdir_notes: str = "",
                  threshold: float = THRESHOLD) -> str:
    """The whole ``report.md``: header, workdir notes, marked differences, figures,
    tables, reference notes."""
    seeds = config.get("seeds") or sorted({row.get("seed") for row in rows})
    methods = figures.method_order({row["method"] for row in rows})
    wall, n_groups = total_wall_s(rows)
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
            f"- rows: {len(rows)}; total wall time {wall:.1f} s over {n_groups} (point, method) "
            "groups (one compiled call per group, all seeds, compilation included)"]
    if runs:
        setups = sorted({f"{r['backend']}, {r['devices']} device(s), {r['concurrent_methods']} "
                         "method(s) at a time" for r in runs})
        out.append(f"- run time: {sum(r['wall_s'] for r in runs):.1f} s of wall clock over "
                   f"{len(runs)} trainer invocation(s) ({'; '.join(setups)})")
    if reference_files:
        out.append("- reference: " + ", ".join(f"`{Path(f).name}`" for f in reference_files))
    if workdir_notes:
        out += ["", f"## Notes on this workdir (`{wd.NOTES_FILE}`)", "", workdir_notes]
    bad = [(k, s) for k, s in groups.items() if s.nonfinite_seeds]
    out += ["", "## Non-finite seeds", ""]
    out += ([f"- `{k.method}` at {_point_label(k.point)}"
             + (f" ({_variant_label(k.variant)})" if k.variant else "")
             + f": seeds {', '.join(map(str, s.nonfinite_seeds))} (excluded from means)"
             for k, s in bad] or ["none"])
    if reference_files:
        order = {key: i for i, key in enumerate(_ordered_keys(groups))}
        marked = sorted((d for d in diffs or [] if d.marked), key=lambda d: order[d.key])
        out += ["", f"## Differences from the reference above {threshold:g}", ""]
        out += [f"- **`{d.key.method}`** at {_point_label(d.key.point)}"
                + (f" ({_variant_label(d.key.variant)})" if d.key.variant else "")
                + f", `{d.metric}`: ours {d.ours:.3f} vs reference {d.reference:.3f} "
                f"(**{d.diff:+.3f}** ⚠)" for d in marked] or ["none"]
        n_matched = len(matches or {})
        out += ["", f"{n_matched} of {len(groups)} groups have a reference match; "
                f"{len(diffs or [])} comparisons."]
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
                "log x axes when values span more than a factor 20 (symlog when 0 is among "
                "them, e.g. `n_iter = 0`)."]
    if has_scaling(rows):
        out += ["", render_scaling(rows, scaling_stems).rstrip("\n")]
    out += ["", "## Results (mean ± std over finite seeds)", "",
            render_tables(groups, ref_groups, matches, diffs, with_reference=bool(reference_files))]
    if notes:
        out += ["## Notes", ""] + [f"- {note}" for note in notes] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


# --------------------------------------------------------------------- main


def main(argv=None) -> int:
    """Writes ``report.md`` and ``figures/`` for a workdir; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m sparsecomp.report",
        description="Figures and a markdown report (with reference comparison) of a workdir.")
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--reference", action="append", default=[], metavar="FILE.json",
                        help="reference results (JSON list of rows); may be repeated")
    parser.add_argument("--threshold", type=float, default=THRESHOLD,
                        help="mark |ours - reference| above this (default %(default)s)")
    args = parser.parse_args(argv)

    config, rows, curve_rows = load_workdir(args.workdir)
    if not rows:
        print(f"error: no rows in {args.workdir / wd.RESULTS_FILE}", file=sys.stderr)
        return 1
    groups = aggregate(rows)
    try:
        ref_rows, notes = load_reference(args.reference)
    except (OSError, ValueError) as error:  # JSONDecodeError is a ValueError
        print(f"error: reference: {error}", file=sys.stderr)
        return 2
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
    text = render_report(title=args.workdir.resolve().name, config=config, rows=rows,
                         runs=load_runs(args.workdir), workdir_notes=load_notes(args.workdir),
                         groups=groups, ref_groups=ref_groups, matches=matches, diffs=diffs,
                         reference_files=args.reference, figure_stems=stems, notes=notes,
                         threshold=args.threshold)
    (args.workdir / REPORT_FILE).write_text(text, encoding="utf-8")
    marked = sum(d.marked for d in diffs)
    print(f"wrote {args.workdir / REPORT_FILE} and {len(stems)} figures (png+pdf) in "
          f"{args.workdir / FIGURES_DIR}; {len(matches)} groups matched the reference, "
          f"{marked} differences above {args.threshold:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
