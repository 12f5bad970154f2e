"""The report's figures: panels of metrics, variants and training curves, and writing them.

Written to ``WORKDIR/figures/`` as PNG and PDF:

* ``<metric>``: every metric's mean ± std over seeds against the swept
  variable, one line per method (reference means dashed);
* ``<metric>_vs_<tag>`` for rows with a variant tag (``lam``, ``n_iter``,
  ``n_outer``): the variant on the x axis, one panel per sweep point;
  methods without the tag are horizontal lines;
* ``curve_<name>``: every training curve of ``metrics.jsonl`` against
  ``step``, one panel per sweep point; the x axis says what the step counts
  (the registry's ``curve_step``: epochs, rounds, samples drawn).

Titles say what a figure shows (``metric_title``); axis labels name the
swept quantity (``axis_label``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sparsecomp.errors import ConfigError
from sparsecomp.methods.registry import method_info
from sparsecomp.report import figures
from sparsecomp.report.aggregate import (
    coordinate,
    metric_names,
    point_key,
    sorted_values,
    sweep_fields,
)
from sparsecomp.report.styles import method_order
from sparsecomp.run.schema import HEADLINE_METRICS, VARIANT_TAGS, point_label

# What a metric measures (shared/PROTOCOL.md section 4), for figure titles.
METRIC_MEANINGS = {
    "mcc_iid": "In-distribution latent recovery",
    "mcc_ood": "OOD latent recovery",
    "acc_iid": "In-distribution probe accuracy",
    "acc_ood": "OOD probe accuracy",
    "auc_iid": "In-distribution best single-latent AUC",
    "auc_ood": "OOD best single-latent AUC",
    "mse_iid": "In-distribution reconstruction error",
    "mse_ood": "OOD reconstruction error",
    "l0_iid": "In-distribution active latents",
    "l0_ood": "OOD active latents",
    "dict_mean_cosine": "Dictionary recovery (matched cosine)",
    "dict_frac_close": "Atoms recovered (cosine > 0.9)",
    "dict_mean_angular_error": "Dictionary angular error (rad)",
    "dict_mean_norm_ratio": "Dictionary norm ratio",
    "support_f1": "Support recovery",
    "support_precision": "Support precision",
    "support_recall": "Support recall",
    "amortisation_gap_mse": "Amortisation gap",
}
# Swept fields and variant tags as axis labels.
FIELD_LABELS = {
    "num_latents": "number of latents n",
    "k": "active latents per sample k",
    "n_samples": "samples",
    "input_dim": "input dimension m",
    "noise": "noise std",
    "lam": "L1 weight λ",
    "n_iter": "FISTA iterations",
    "n_outer": "DL-FISTA rounds",
}


def axis_label(field: str) -> str:
    """A swept field or variant tag as an axis label, e.g. ``"number of latents n"``."""
    return FIELD_LABELS.get(field, field)


def metric_title(metric: str, field: str) -> str:
    """A title saying what a figure shows, e.g. ``"OOD latent recovery (mcc_ood) vs ..."``."""
    meaning = METRIC_MEANINGS.get(metric)
    what = f"{meaning} ({metric})" if meaning else metric
    return f"{what} vs {axis_label(field)}"


def curve_xlabel(methods) -> str:
    """What the curves' ``step`` counts for ``methods``: ``"epoch"``, ``"epoch / round"``.

    From the registry's ``curve_step``; ``"step"`` for a name nothing registers.
    """
    units = []
    for method in method_order(methods):
        try:
            unit = method_info(method).curve_step
        except ConfigError:
            unit = "step"
        if unit not in units:
            units.append(unit)
    return " / ".join(units) or "step"


def panel_title(fields, values) -> str:
    """``"field=value, ..."`` of a panel's sweep coordinates."""
    return ", ".join(f"{f}={v}" for f, v in zip(fields, values, strict=True))


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
    for panel in sorted_values(series):
        lines = []
        for method, points in series[panel].items():
            points.sort(key=lambda p: p[0])
            xs, means, stds, refs = (list(v) for v in zip(*points, strict=True))
            lines.append(figures.Line(method, xs, means, stds))
            ref_points = [(x, r) for x, r in zip(xs, refs, strict=True) if r is not None]
            if ref_points:
                rx, rm = (list(v) for v in zip(*ref_points, strict=True))
                lines.append(figures.Line(method, rx, rm, reference=True))
        panels.append(figures.Panel(panel_title(others, panel), lines))
    return xfield, panels


def variant_panels(groups: dict, metric: str, tag: str, config: dict, ref_groups=None,
                   matches=None) -> list:
    """Panels of ``metric`` against variant ``tag``, one per sweep point.

    Methods whose rows carry ``tag`` are lines; methods at the same point
    without any variant are horizontal lines (baselines).
    """
    ref_groups, matches = ref_groups or {}, matches or {}
    fields = sweep_fields(config)
    points = sorted_values({key.point for key, stats in groups.items()
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
        title = (panel_title(fields, [coordinate(point, f, config) for f in fields])
                 if config.get("sweep") else point_label(point))
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
        figures.Panel(panel_title(fields, [coordinate(p, f, config) for f in fields])
                      if config.get("sweep") else point_label(p), by_point[p])
        for p in sorted_values(by_point)
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
            save(figures.line_figure(panels, xlabel=axis_label(xfield), ylabel=metric,
                                     title=metric_title(metric, xfield)),
                 figdir, metric, written)
        for tag in VARIANT_TAGS:
            panels = variant_panels(groups, metric, tag, config, ref_groups, matches)
            if panels:
                fig = figures.line_figure(panels, xlabel=axis_label(tag), ylabel=metric,
                                          title=metric_title(metric, tag))
                save(fig, figdir, f"{metric}_vs_{tag}", written)
    for name in sorted({curve for (_, _, curve) in curves}):
        panels = curve_panels(curves, name, config)
        xlabel = curve_xlabel(line.method for panel in panels for line in panel.lines)
        fig = figures.line_figure(panels, xlabel=xlabel, ylabel=name,
                                  title=f"Training curve of {name} vs {xlabel}",
                                  xscale="linear", ylog=_needs_ylog(panels))
        save(fig, figdir, f"curve_{name}", written)
    return written


def save(fig, figdir: Path, stem: str, written: list) -> None:
    """Writes ``fig`` as ``figdir/<stem>.png|pdf`` and appends ``stem`` to ``written``."""
    figures.save_figure(fig, figdir / stem)
    written.append(stem)
