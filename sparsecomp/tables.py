"""Markdown tables of results: mean +- std over seeds per point and method."""

from __future__ import annotations

import numpy as np

HEADLINE_METRICS = ("mcc_iid", "mcc_ood", "acc_iid", "acc_ood", "auc_iid", "auc_ood")
POINT_TAGS = ("num_latents", "k", "input_dim", "n_samples")
VARIANT_TAGS = ("lam", "n_iter", "n_outer")  # rows a method emits per seed


def summarise(rows: list[dict], metrics=HEADLINE_METRICS) -> str:
    """One markdown table per sweep point, methods in first-seen order.

    Rows of a method with variants (``VARIANT_TAGS``) get one line per
    value, labelled e.g. ``frozen_relu (lam=0.1)``.

    A seed with ``nonfinite`` set is left out of the means and counted in the
    ``seeds`` column as, e.g., ``2 (+1 non-finite)``.
    """
    points: dict = {}
    for row in rows:
        point = tuple((tag, row[tag]) for tag in POINT_TAGS if tag in row)
        variant = ", ".join(f"{tag}={row[tag]}" for tag in VARIANT_TAGS if tag in row)
        label = f"{row['method']} ({variant})" if variant else row["method"]
        points.setdefault(point, {}).setdefault(label, []).append(row)
    sections = []
    for point, by_method in points.items():
        title = ", ".join(f"{tag}={value}" for tag, value in point)
        lines = [
            f"### {title}",
            "",
            "| method | seeds | " + " | ".join(metrics) + " |",
            "|---|---|" + "---|" * len(metrics),
        ]
        for method, group in by_method.items():
            finite = [row for row in group if not row.get("nonfinite")]
            seeds = str(len(finite))
            if len(finite) < len(group):
                seeds += f" (+{len(group) - len(finite)} non-finite)"
            cells = [_mean_std([row.get(metric) for row in finite]) for metric in metrics]
            lines.append(f"| {method} | {seeds} | " + " | ".join(cells) + " |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def _mean_std(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"
