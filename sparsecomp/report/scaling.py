"""Sample complexity of dictionary learners: threshold crossings, power-law fits, figures.

For the ``dictionary_scaling`` experiment, whose rows carry
``samples_per_atom`` (``samples_seen · k / num_latents``), the report adds

* ``WORKDIR/figures/scaling_<metric>.png|pdf``: ``mcc_ood`` and
  ``dict_frac_close`` against samples per atom (log x), one panel per
  ``num_latents``;
* a "Sample complexity" section in ``report.md``: per method and
  ``num_latents`` the samples per atom at which the seed-mean
  ``dict_frac_close`` first reaches 0.9 (``threshold_crossing``:
  interpolated linearly in ``log(samples_per_atom)`` between the two measured
  points that bracket it; a bound when the curve starts above the level or
  never reaches it), and a fit ``s* = a * n^b`` of it (``fit_power_law``:
  least squares on ``log s*`` against ``log n``, ``n`` = ``num_latents``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from sparsecomp.report import figures
from sparsecomp.report.aggregate import (
    aggregate,
    norm_value,
    order_key,
    point_key,
    sorted_values,
    variant_key,
)
from sparsecomp.report.plots import save
from sparsecomp.report.styles import method_order, method_sort_key
from sparsecomp.run.schema import FIGURES_DIR, point_label

# The sample-complexity study: x tag, metrics drawn against it, the crossing.
SCALING_TAG = "samples_per_atom"
SCALING_METRICS = ("mcc_ood", "dict_frac_close")
CROSSING_METRIC = "dict_frac_close"
CROSSING_LEVEL = 0.9
# One panel (table column) per value of these; the n_samples sweep runs along x
# and input_dim follows from num_latents and k.
SCALING_PANEL_TAGS = ("k", "noise", "num_latents")
# Seed means of values exactly at the level (0.85 and 0.95) can round just below it.
LEVEL_TOLERANCE = 1e-9


class Crossing(NamedTuple):
    """Where a curve first reaches a level, or the bound on it.

    ``relation`` is ``"="`` (reached between or at measured points: ``value``
    is the interpolated crossing), ``"<="`` (already reached at the smallest
    measured x: ``value`` is that x) or ``">"`` (not reached: ``value`` is the
    largest measured x).
    """

    value: float
    relation: str

    @property
    def finite(self) -> bool:
        """Whether ``value`` is the crossing itself rather than a bound."""
        return self.relation == "="

    def label(self, fmt=lambda v: f"{v:.3g}") -> str:
        """``"12.3"``, ``"≤ 0.5"`` or ``"> 1000"`` (the number written by ``fmt``)."""
        prefix = {"=": "", "<=": "≤ ", ">": "> "}[self.relation]
        return prefix + fmt(self.value)


def threshold_crossing(x, y, level: float = 0.9) -> Crossing | None:
    """The x at which ``y`` first reaches ``level``, interpolated in ``log x``.

    With ``i`` the first index where ``y[i] >= level`` (points sorted by x),
    the crossing is
    ``log x* = log x[i-1] + (level - y[i-1]) / (y[i] - y[i-1]) * (log x[i] - log x[i-1])``,
    so a curve reaching the level exactly at a measured point crosses there.
    Later dips below the level are ignored ("first reaches").

    Args:
      x: ``[n_points]`` positive floats (samples per atom), any order.
      y: ``[n_points]`` floats (seed means); non-finite entries (``None``,
        NaN) are dropped with their x.
      level: the level to reach; values within ``LEVEL_TOLERANCE`` below it
        count as reaching it.

    Returns:
      A ``Crossing``; ``None`` when no finite point is left.
    """
    points = sorted((float(xi), float(yi)) for xi, yi in zip(x, y, strict=True)
                    if yi is not None and math.isfinite(float(yi)))
    if not points:
        return None
    if any(xi <= 0 for xi, _ in points):
        raise ValueError(f"x must be positive for a log interpolation, got {points}")
    reached = [yi >= level - LEVEL_TOLERANCE for _, yi in points]
    if not any(reached):
        return Crossing(points[-1][0], ">")
    i = reached.index(True)
    if i == 0:
        return Crossing(points[0][0], "<=")
    (x0, y0), (x1, y1) = points[i - 1], points[i]
    t = min(1.0, (level - y0) / (y1 - y0))  # y1 within the tolerance below level: t just over 1
    return Crossing(float(np.exp(np.log(x0) + t * (np.log(x1) - np.log(x0)))), "=")


def fit_power_law(n, s) -> tuple[float, float]:
    """``(a, b)`` of ``s = a * n^b`` by least squares on ``log s = log a + b log n``.

    Args:
      n: ``[n_points]`` positive floats (``num_latents``), at least two distinct.
      s: ``[n_points]`` positive floats (samples per atom at the crossing).

    Returns:
      ``(a, b)`` as floats; exact when the points lie on a power law.
    """
    log_n, log_s = np.log(np.asarray(n, float)), np.log(np.asarray(s, float))
    if log_n.shape != log_s.shape or len(set(log_n.tolist())) < 2:
        raise ValueError(f"need at least two distinct n with one s each, got n={n}, s={s}")
    b, log_a = np.polyfit(log_n, log_s, 1)
    return float(np.exp(log_a)), float(b)


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
                         norm_value(float(row[SCALING_TAG]))),
        metrics=[metric])
    points: dict = {}
    for (panel, method, x), group in stats.items():
        if metric in group.mean:
            points.setdefault((panel, method), []).append(
                (x, group.mean[metric], group.std[metric]))
    series = {}
    for key in sorted(points, key=lambda k: (order_key(k[0]), method_sort_key(k[1]))):
        xs, means, stds = (list(v) for v in zip(*sorted(points[key]), strict=True))
        series[key] = (xs, means, stds)
    return series


def _scaling_label(panel: tuple) -> str:
    return point_label(tuple(sorted(panel, key=lambda tv: tv[0] != "num_latents")))


def scaling_panels(series: dict) -> list:
    """``figures.Panel``s of ``scaling_series`` output: one per panel, a line per method."""
    by_panel: dict = {}
    for (panel, method), (xs, means, stds) in series.items():
        by_panel.setdefault(panel, []).append(figures.Line(method, xs, means, stds))
    return [figures.Panel(_scaling_label(p), by_panel[p]) for p in sorted_values(by_panel)]


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
            save(fig, figdir, f"scaling_{metric}", written)
    return written


def scaling_crossings(rows: list[dict], metric: str = CROSSING_METRIC,
                      level: float = CROSSING_LEVEL) -> dict:
    """``{(panel, method): Crossing}``: where ``metric``'s seed mean reaches ``level``."""
    return {key: threshold_crossing(xs, means, level)
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
            fits[key] = (*fit_power_law(ns, values), tuple(ns))
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
    families = sorted_values({_family(panel) for panel, _ in crossings})
    for family in families:
        panels = sorted_values({panel for panel, _ in crossings if _family(panel) == family})
        methods = method_order(m for p, m in crossings if _family(p) == family)
        header = ["method"] + [f"num_latents={dict(p)['num_latents']}" for p in panels]
        out += [""] + ([f"### {point_label(family)}", ""] if len(families) > 1 else [])
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
                fits.items(), key=lambda kv: (order_key(kv[0][0]),
                                              method_sort_key(kv[0][1]))):
            label = f"{method} ({point_label(family)})" if len(families) > 1 else method
            out.append(f"| {label} | {a:.3g} | {b:.3f} | {', '.join(map(str, ns))} |")
    else:
        out.append("No method has finite crossings at two num_latents: no fit.")
    return "\n".join(out) + "\n"

