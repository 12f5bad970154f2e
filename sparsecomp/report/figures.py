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
    """``"log"`` when the positive values span more than a factor 20.

    With a zero among otherwise such values (``n_iter = 0``) the scale is
    ``"symlog"`` (linear below the smallest positive value), so the zero point
    stays on the axis; negative values or a narrow span give ``"linear"``.
    """
    values = [float(v) for v in values if v is not None]
    positive = [v for v in values if v > 0]
    if not positive or any(v < 0 for v in values) or max(positive) <= 20 * min(positive):
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


def line_figure(panels: list[Panel], *, xlabel: str, ylabel: str, title: str = "",
                xscale: str | None = None, ylog: bool = False, ylines=(),
                value_ticks: bool = True) -> Figure:
    """Panels of mean ± std lines, one colour per method, one shared legend.

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
    ncols = min(3, max(1, len(panels)))
    nrows = -(-max(1, len(panels)) // ncols)
    fig = Figure(figsize=(4.4 * ncols + 2.2, 3.3 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
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
        for y in ylines:
            ax.axhline(y, color="0.45", linestyle="--", linewidth=1.0, zorder=1)
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
        if ylog:
            ax.set_yscale("log")
        ax.set_title(panel.title, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    handles = [Line2D([], [], markersize=4, label=name, **method_style(name))
               for name in method_order(methods)]
    if has_reference:
        handles.append(Line2D([], [], color="0.3", label="reference", **REFERENCE_STYLE))
    if handles:
        fig.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def save_figure(fig: Figure, stem: Path, formats=("png", "pdf")) -> list[Path]:
    """Writes ``fig`` as ``<stem>.png`` and ``<stem>.pdf``; returns the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.parent / f"{stem.name}.{fmt}"
        fig.savefig(path, dpi=150 if fmt == "png" else None)
        paths.append(path)
    return paths
