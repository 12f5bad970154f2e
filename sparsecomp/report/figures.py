"""Paper-ready line figures (matplotlib, Agg backend, no pyplot): the drawing primitives.

Every figure is built on a ``matplotlib.figure.Figure`` object rather than
``pyplot``, so no global figure state survives a call (and nothing needs a
display). Colours, line styles and legend order come from
``sparsecomp.report.styles``; the panels of a report are built by
``sparsecomp.report.plots`` and ``sparsecomp.report.scaling``.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from sparsecomp.report.styles import (  # noqa: E402
    REFERENCE_STYLE,
    method_order,
    method_sort_key,
    method_style,
)


def tick_label(value: float) -> str:
    """A swept value as an axis label: ``5000``, ``0.01``; from 10,000 on in thousands (``50k``).

    Neighbouring labels of a log axis, such as 50000 and 100000, would run together.
    """
    if abs(value) >= 10_000 and value % 1000 == 0:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def choose_xscale(values) -> str:
    """``"log"`` when the positive values span more than a factor 10.

    With a zero among otherwise such values (``n_iter = 0``) the scale is
    ``"symlog"`` (linear below the smallest positive value), so the zero point
    stays on the axis; negative values or a narrow span give ``"linear"``.
    """
    values = [float(v) for v in values if v is not None]
    positive = [v for v in values if v > 0]
    if not positive or any(v < 0 for v in values) or max(positive) <= 10 * min(positive):
        return "linear"
    return "log" if len(positive) == len(values) else "symlog"


class Line(NamedTuple):
    """One method's mean (and std band) against x in one panel."""

    method: str
    x: list  # [n_points] float, increasing
    mean: list  # [n_points] float
    std: list | None = None  # [n_points] float, or None for no band
    reference: bool = False  # draw in the reference style, without a band


class HLine(NamedTuple):
    """A method without the x variable (a baseline), drawn as a horizontal line."""

    method: str
    mean: float
    reference: bool = False


class Panel(NamedTuple):
    """One axes: a title, its lines and horizontal baselines."""

    title: str
    lines: list  # [Line]
    hlines: tuple | list = ()  # [HLine]


def merge_identical(panels: list[Panel], rel_tol: float = 0.005) -> tuple[list[Panel], dict]:
    """Keeps one of the methods whose values coincide in every panel.

    Two methods coincide when they have lines at the same x values and
    horizontal lines in the same panels, with means within ``rel_tol`` of the
    figure's y range of each other everywhere (they would be drawn on top of
    each other): ``same_as`` methods, or computations that converge to one
    answer, such as FISTA from zero and FISTA warm-started on one decoder. The
    first in canonical order stays; the others' lines go, and their reference
    lines are drawn in its colour.

    Returns:
      ``(panels, labels)``: the panels without the duplicates, and the legend
      label of each method kept: ``"fista+relu = refined_relu"`` when equal
      (std included), ``"fista+relu ≈ refined_relu"`` when within tolerance.
    """
    series: dict = {}  # method -> {(panel, kind): (x, mean, std)}
    for index, panel in enumerate(panels):
        for line in panel.lines:
            if not line.reference:
                series.setdefault(line.method, {})[(index, "line")] = (
                    tuple(line.x), tuple(line.mean),
                    tuple(line.std) if line.std is not None else None)
        for hline in panel.hlines:
            if not hline.reference:
                series.setdefault(hline.method, {})[(index, "hline")] = ((), (hline.mean,), None)
    means = [m for by in series.values() for _, ms, _ in by.values() for m in ms]
    tol = rel_tol * (max(means) - min(means)) if means else 0.0
    groups: dict = {}  # kept method -> [(method, exact)]
    kept_as = {}
    for method in method_order(series):
        match = next((kept for kept in groups
                      if _coincide(series[kept], series[method], tol)), None)
        if match is None:
            groups[method] = []
            kept_as[method] = method
        else:
            groups[match].append((method, series[match] == series[method]))
            kept_as[method] = match
    merged = []
    for panel in panels:
        lines = [line._replace(method=kept_as.get(line.method, line.method))
                 for line in panel.lines if line.reference or line.method in groups]
        hlines = [h._replace(method=kept_as.get(h.method, h.method))
                  for h in panel.hlines if h.reference or h.method in groups]
        merged.append(Panel(panel.title, lines, hlines))
    labels = {kept: kept + "".join(f" {'=' if exact else '≈'} {name}" for name, exact in same)
              for kept, same in groups.items()}
    return merged, labels


def _coincide(a: dict, b: dict, tol: float) -> bool:
    """Whether two methods' ``{(panel, kind): (x, mean, std)}`` would be drawn as one."""
    if a.keys() != b.keys():
        return False
    return all(a[key][0] == b[key][0] and all(
        abs(u - v) <= tol for u, v in zip(a[key][1], b[key][1], strict=True)) for key in a)


def is_single_point(panels: list[Panel]) -> bool:
    """Whether no line of ``panels`` has more than one x value (a dot plot, not lines)."""
    lines = [line for panel in panels for line in panel.lines]
    return bool(lines) and all(len(line.x) <= 1 for line in lines)


def line_figure(panels: list[Panel], *, xlabel: str, ylabel: str, title: str = "",
                xscale: str | None = None, ylog: bool = False, ylines=(),
                value_ticks: bool = True) -> Figure:
    """Panels of mean ± std lines, one colour per method, one shared legend.

    Methods with identical values everywhere are drawn once, with one legend
    entry naming them all (``merge_identical``). When every line has a single
    x value the figure is a dot plot instead (``dot_figure``). X tick labels
    that would overlap are thinned (``thin_xticks``).

    Args:
      panels: the axes to draw, laid out in rows of at most three.
      xlabel, ylabel: axis labels (shared by all panels).
      title: the figure's suptitle.
      xscale: ``"linear"``, ``"log"`` or ``"symlog"``; ``None`` chooses per
        panel with ``choose_xscale``.
      ylog: log-scaled y axes (for losses spanning decades).
      ylines: y values of grey dashed guide lines in every panel (a threshold).
      value_ticks: label the x values themselves (up to 10 of them) rather
        than the scale's default ticks; off when methods' x values differ.

    Returns:
      A ``Figure`` (not registered with pyplot; dropped when unreferenced).
    """
    panels, labels = merge_identical(panels)
    if is_single_point(panels):
        return dot_figure(panels, labels, xlabel=xlabel, ylabel=ylabel, title=title,
                          ylog=ylog, ylines=ylines)
    fig, axes = _grid(len(panels))
    methods: list[str] = []
    has_reference = False
    for ax, panel in zip(axes, panels, strict=False):
        xs = [x for line in panel.lines for x in line.x]
        scale = xscale or choose_xscale(xs)
        for line in sorted(panel.lines, key=lambda ln: (method_sort_key(ln.method), ln.reference)):
            style = method_style(line.method)
            if line.reference:
                has_reference = True
                ax.plot(line.x, line.mean, color=style["color"], **REFERENCE_STYLE)
                continue
            methods.append(line.method)
            if len(line.x) == 1:  # a lone point among lines: a marker, never a line
                style = {**style, "linestyle": "none"}
            # Long curves (hundreds of epochs) get about 12 markers, not one per point.
            ax.plot(line.x, line.mean, markersize=4, markevery=max(1, len(line.x) // 12),
                    **style)
            if line.std is not None and len(line.x) == 1:
                ax.errorbar(line.x, line.mean, yerr=line.std, color=style["color"], capsize=3,
                            linestyle="none")
            elif line.std is not None:
                low = [m - s for m, s in zip(line.mean, line.std, strict=True)]
                high = [m + s for m, s in zip(line.mean, line.std, strict=True)]
                ax.fill_between(line.x, low, high, color=style["color"], alpha=0.15,
                                linewidth=0)
        for hline in panel.hlines:
            style = method_style(hline.method)
            if hline.reference:
                has_reference = True
                ax.axhline(hline.mean, color=style["color"], linestyle=(0, (2, 2)), linewidth=1,
                           alpha=0.8)
            else:
                methods.append(hline.method)
                ax.axhline(hline.mean, color=style["color"], linestyle=style["linestyle"],
                           linewidth=1.2, alpha=0.9)
        _guides(ax, ylines)
        if scale == "symlog":
            linthresh = min(x for x in xs if x > 0)
            ax.set_xscale("symlog", linthresh=linthresh)
            # symlog's default margins reach into negative decades; keep just 0 in view.
            ax.set_xlim(-0.2 * linthresh, max(xs) * 1.3)
        elif scale == "log":
            ax.set_xscale("log")
        ticks = sorted(set(xs))
        if value_ticks and 1 < len(ticks) <= 10:  # label the swept values, not decades
            ax.set_xticks(ticks, labels=[tick_label(t) for t in ticks])
            ax.xaxis.set_minor_formatter(NullFormatter())
        _finish_axes(ax, panel.title, xlabel, ylabel, ylog)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    _legend(fig, method_order(methods), labels, has_reference)
    if title:
        fig.suptitle(title, fontsize=10)
    thin_xticks(fig)
    return fig


def dot_figure(panels: list[Panel], labels: dict, *, xlabel: str, ylabel: str, title: str = "",
               ylog: bool = False, ylines=()) -> Figure:
    """Single-x panels as a dot plot: one column per method, mean ± std as a marker.

    The x value (e.g. ``num_latents=100000``) goes into each panel's title;
    baselines (``HLine``) are dots of their own; reference means are ``x``
    markers in the method's colour.
    """
    fig, axes = _grid(len(panels))
    has_reference = False
    for ax, panel in zip(axes, panels, strict=False):
        points = [(line.method, line.mean[0], line.std[0] if line.std else None, line.reference)
                  for line in panel.lines if line.x]
        points += [(h.method, h.mean, None, h.reference) for h in panel.hlines]
        methods = method_order(method for method, *_ in points)
        for method, mean, std, reference in points:
            style = method_style(method)
            position = methods.index(method)
            if reference:
                has_reference = True
                ax.plot([position], [mean], color=style["color"], linestyle="none",
                        marker=REFERENCE_STYLE["marker"], markersize=7)
            else:
                ax.errorbar([position], [mean], yerr=None if std is None else [std],
                            color=style["color"], marker=style["marker"], markersize=6,
                            linestyle="none", capsize=3)
        ax.set_xticks(range(len(methods)), labels=[labels.get(m, m) for m in methods],
                      rotation=35, ha="right", fontsize=7)
        ax.set_xlim(-0.6, len(methods) - 0.4)
        _guides(ax, ylines)
        xs = sorted({x for line in panel.lines for x in line.x})
        where = f"{xlabel} = {', '.join(tick_label(x) for x in xs)}" if xs else ""
        _finish_axes(ax, ", ".join(t for t in (panel.title, where) if t), "", ylabel, ylog)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    if has_reference:
        _legend(fig, [], labels, has_reference)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _grid(n_panels: int):
    ncols = min(3, max(1, n_panels))
    nrows = -(-max(1, n_panels) // ncols)
    fig = Figure(figsize=(4.4 * ncols + 2.2, 3.3 * nrows), layout="constrained")
    FigureCanvasAgg(fig)  # a renderer to measure tick labels with (thin_xticks)
    return fig, fig.subplots(nrows, ncols, squeeze=False).ravel()


def _guides(ax, ylines) -> None:
    for y in ylines:
        ax.axhline(y, color="0.45", linestyle="--", linewidth=1.0, zorder=1)


def _finish_axes(ax, title: str, xlabel: str, ylabel: str, ylog: bool) -> None:
    if ylog:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)


def _legend(fig: Figure, methods: list[str], labels: dict, has_reference: bool) -> None:
    handles = [Line2D([], [], markersize=4, label=labels.get(name, name), **method_style(name))
               for name in methods]
    if has_reference:
        handles.append(Line2D([], [], color="0.3", label="reference", **REFERENCE_STYLE))
    if handles:
        fig.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)


def xtick_boxes(ax) -> list:
    """Window extents of the visible, non-empty x tick labels (major and minor) of ``ax``.

    Only meaningful after ``ax.figure.canvas.draw()``.
    """
    renderer = ax.figure.canvas.get_renderer()
    labels = ax.xaxis.get_majorticklabels() + ax.xaxis.get_minorticklabels()
    return [label.get_window_extent(renderer) for label in labels
            if label.get_visible() and label.get_text()]


def thin_xticks(fig: Figure, pad_px: float = 4.0, max_rounds: int = 3) -> None:
    """Drops x tick labels that would overlap their left neighbour, in every axes.

    Draws the figure, keeps labels left to right whenever one starts at least
    ``pad_px`` pixels after the last kept one ends, and fixes the ticks to the
    kept ones (minor labels go when any overlap); repeated while the layout
    moves labels into each other (at most ``max_rounds`` draws).
    """
    for _ in range(max_rounds):
        fig.canvas.draw()
        changed = False
        for ax in fig.axes:
            if not ax.axison:
                continue
            changed |= _thin_axis(ax, pad_px)
        if not changed:
            return


def _thin_axis(ax, pad_px: float) -> bool:
    renderer = ax.figure.canvas.get_renderer()
    minor = [label for label in ax.xaxis.get_minorticklabels() if label.get_text()]
    changed = False
    if minor and _overlaps(xtick_boxes(ax), pad_px):
        ax.xaxis.set_minor_formatter(NullFormatter())
        changed = True
    ticks = [(tick.get_loc(), tick.label1) for tick in ax.xaxis.get_major_ticks()
             if tick.label1.get_visible() and tick.label1.get_text()]
    low, high = sorted(ax.get_xlim())
    ticks = sorted((loc, label) for loc, label in ticks if low <= loc <= high)
    kept, right = [], None
    for loc, label in ticks:
        box = label.get_window_extent(renderer)
        if right is None or box.x0 >= right + pad_px:
            kept.append((loc, label.get_text()))
            right = box.x1
    if len(kept) < len(ticks):
        ax.set_xticks([loc for loc, _ in kept], labels=[text for _, text in kept])
        changed = True
    return changed


def _overlaps(boxes, pad_px: float) -> bool:
    boxes = sorted(boxes, key=lambda b: b.x0)
    return any(b.x0 < a.x1 + pad_px for a, b in zip(boxes, boxes[1:], strict=False))


def save_figure(fig: Figure, stem: Path, formats=("png", "pdf")) -> list[Path]:
    """Writes ``fig`` as ``<stem>.png`` and ``<stem>.pdf``; returns the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.parent / f"{stem.name}.{fmt}"
        fig.savefig(path, dpi=150 if fmt == "png" else None)
        paths.append(path)
    return paths
