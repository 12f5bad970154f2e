"""Sample complexity of dictionary learners: threshold crossings and power-law fits.

Pure NumPy on the host (a handful of seed means per method), used by
``sparsecomp.report`` for the ``dictionary_scaling`` experiment:

* ``threshold_crossing``: the samples per atom at which a seed-mean curve first
  reaches a level (``dict_frac_close`` = 0.9), interpolated linearly in
  ``log(samples_per_atom)`` between the two measured points that bracket it;
  a bound when the curve starts above the level or never reaches it.
* ``fit_power_law``: ``s* = a * n^b`` by least squares on ``log s*`` against
  ``log n`` (``n`` = ``num_latents``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

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
