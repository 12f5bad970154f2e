"""Aggregation of rows: groups, stats over seeds, reference matching, differences.

Everything here is a pure function of rows (``results.jsonl`` or reference
rows, see ``sparsecomp.report.load``), so a notebook can call ``aggregate``,
``match_reference`` and ``differences`` directly.

Means and stds are over seeds (``np.std``, ddof 0, as in ``results.md``); rows
with ``nonfinite`` set carry no metrics and are counted, not averaged.

A reference row matches our group when ``MATCH_TAGS`` and ``method`` agree,
and every variant tag that both carry; ``input_dim`` disagreements are listed
as notes. When several reference files hold the same (point, method, variant,
seed), the first file given wins.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sparsecomp.data import default_input_dim
from sparsecomp.run.schema import (
    HEADLINE_METRICS,
    NOT_METRICS,
    POINT_DEFAULTS,
    POINT_TAGS,
    TIMING_FIELDS,
    point_label,
    point_of,
    variant_label,
    variant_of,
)

# The point tags a reference row must share with our group (its input_dim may differ).
MATCH_TAGS = ("num_latents", "k", "n_samples", "noise", "n_eval")
THRESHOLD = 0.1  # differences from the reference above this are marked
AGREEMENT = 0.05  # differences within this count as agreeing with the reference


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
    seeds: tuple = ()  # seeds of the group's rows, finite or not, in row order


class Difference(NamedTuple):
    """Our mean minus the reference mean for one group and metric."""

    key: GroupKey
    metric: str
    ours: float
    reference: float
    diff: float
    marked: bool  # |diff| > threshold


def norm_value(value):
    """Tag values as comparable keys: floats to 6 significant digits (float32 lam)."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def point_key(row: dict, tags=POINT_TAGS) -> tuple:
    """``((tag, value), ...)`` of ``tags`` in ``row``, defaults put back, floats normalised."""
    return tuple((tag, norm_value(value)) for tag, value in point_of(row, tags))


def variant_key(row: dict) -> tuple:
    """``((tag, value), ...)`` of the variant tags ``row`` carries (often ``()``)."""
    return tuple((tag, norm_value(value)) for tag, value in variant_of(row))


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
    return headline_first(names)


def headline_first(names) -> list[str]:
    """Metric ``names``: ``HEADLINE_METRICS`` first in their order, then A-Z."""
    names = set(names)
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
        seeds = tuple(row.get("seed") for row in group)
        result[gkey] = Stats(len(finite), bad, mean, std, count, seeds)
    return result


def total_wall_s(rows: list[dict]) -> tuple[float, int]:
    """``(seconds, groups)``: ``wall_s`` summed once per (point, method) group.

    All rows of a group (every seed and variant) share one ``wall_s``.
    """
    totals, counts = total_timings(rows)
    return totals.get("wall_s", 0.0), counts.get("wall_s", 0)


def total_timings(rows: list[dict]) -> tuple[dict[str, float], dict[str, int]]:
    """``(seconds, groups)`` per timing field, each summed once per (point, method) group.

    Rows written before ``compile_s``, ``run_s``, ``eval_s`` and ``restore_s``
    existed carry only ``wall_s`` (then the compiled call alone), so a field's
    sum covers the groups that carry it, counted in ``groups[field]``; a
    field no group carries is left out of both.
    """
    first_rows: dict = {}
    for row in rows:
        first_rows.setdefault((point_key(row), row["method"]), row)
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for row in first_rows.values():
        for field in TIMING_FIELDS:
            if row.get(field) is not None:
                totals[field] = totals.get(field, 0.0) + float(row[field])
                counts[field] = counts.get(field, 0) + 1
    return totals, counts


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
    return tuple((tag, values.get(tag, POINT_DEFAULTS.get(tag))) for tag in tags)


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
            notes.append(f"`{key.method}` at {point_label(key.point)}"
                         + (f" ({variant_label(key.variant)})" if key.variant else "")
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
            notes.append(f"{point_label(point)}: reference input_dim {sorted(theirs)}")
    return notes


def differences(groups: dict, ref_groups: dict, matches: dict, metrics=None,
                threshold: float = THRESHOLD) -> list[Difference]:
    """Our mean minus the matched reference mean, per group and metric both have.

    Args:
      metrics: the metrics to compare; ``None``: every metric that both our
        group and its reference group have (``metric_names`` order).
    """
    result = []
    for key, stats in groups.items():
        if key not in matches:
            continue
        ref = ref_groups[matches[key]]
        names = headline_first(set(stats.mean) & set(ref.mean)) if metrics is None else metrics
        for metric in names:
            if metric in stats.mean and metric in ref.mean:
                diff = stats.mean[metric] - ref.mean[metric]
                result.append(Difference(key, metric, stats.mean[metric], ref.mean[metric],
                                         diff, round(abs(diff), 9) > threshold))
    return result


class Agreement(NamedTuple):
    """How the comparisons of one class (a method family, a metric) went."""

    comparisons: int
    within: int  # |diff| <= AGREEMENT
    marked: int  # |diff| > the threshold
    largest: Difference  # the comparison with the largest |diff|


def agreement(diffs: list[Difference], by, within: float = AGREEMENT) -> dict[str, Agreement]:
    """Comparisons, agreeing ones, marked ones and the largest, per ``by(difference)``.

    Returns:
      ``{class: Agreement}`` in first-seen order of ``diffs``.
    """
    classes: dict = {}
    for diff in diffs:
        classes.setdefault(by(diff), []).append(diff)
    return {
        name: Agreement(len(members),
                        sum(round(abs(d.diff), 9) <= within for d in members),
                        sum(d.marked for d in members),
                        max(members, key=lambda d: abs(d.diff)))
        for name, members in classes.items()
    }


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
        for c in (config.get("sweep") or {}).get("c", [data.get("c")]):
            if default_input_dim(values["num_latents"], values["k"], c) == values["input_dim"]:
                return c
        return None
    return data.get(field, POINT_DEFAULTS.get(field))



def order_key(value):
    """A sort key for tag values and tuples of them (``None`` last)."""
    if isinstance(value, tuple):
        return tuple(order_key(v) for v in value)
    return (1, 0) if value is None else (0, value)


def sorted_values(values) -> list:
    """``values`` (tag values or tuples of them) in ``order_key`` order."""
    return sorted(values, key=order_key)
