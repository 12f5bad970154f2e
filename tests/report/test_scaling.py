"""Sample complexity: threshold crossings, power-law fits, and the report's section."""

import json

import numpy as np
import pytest

from sparsecomp.report.aggregate import metric_names, point_key
from sparsecomp.report.cli import main
from sparsecomp.report.scaling import (
    SCALING_PANEL_TAGS,
    fit_power_law,
    has_scaling,
    scaling_crossings,
    scaling_fits,
    scaling_series,
    threshold_crossing,
)


def test_threshold_crossing_at_a_grid_point_midway_in_log_space_and_bounds():
    # Reaching 0.9 exactly at a measured point crosses there.
    assert threshold_crossing([1, 10, 100], [0.5, 0.9, 1.0]) == (pytest.approx(10), "=")
    # Halfway from 0.8 to 1.0 is halfway from log 10 to log 1000: 100, not 505.
    crossing = threshold_crossing([10, 1000], [0.8, 1.0])
    assert crossing.value == pytest.approx(100) and crossing.finite
    # A quarter of the way (0.85 -> 1.05): 10^(1 + 0.25 * 2) = 10^1.5.
    assert threshold_crossing([10, 1000], [0.85, 1.05]).value == pytest.approx(
        10 ** 1.5)
    never = threshold_crossing([1, 10, 100], [0.1, 0.5, 0.89])
    assert never == (100, ">") and not never.finite and never.label() == "> 100"
    first = threshold_crossing([1, 10, 100], [0.95, 0.99, 1.0])
    assert first == (1, "<=") and first.label() == "≤ 1"
    # Points in any order; a missing mean drops its point; later dips are ignored.
    assert threshold_crossing([1000, 10, 100, 1], [0.7, 0.7, None, 0.5]) == (1000, ">")
    assert threshold_crossing([100, 1, 10], [0.8, 0.5, 0.95]).value == pytest.approx(
        10 ** (0.4 / 0.45))
    # A seed mean of 0.85 and 0.95 rounds just below 0.9 and still counts.
    assert threshold_crossing([1, 10], [0.5, np.mean([0.85, 0.95])]).value == (
        pytest.approx(10))
    assert threshold_crossing([1, 10], [None, float("nan")]) is None
    with pytest.raises(ValueError, match="positive"):
        threshold_crossing([0, 10], [0.5, 1.0])


def test_fit_power_law_recovers_a_and_b():
    n = np.array([100, 1000, 10000])
    a, b = fit_power_law(n, 3.0 * n ** 0.25)
    assert a == pytest.approx(3.0) and b == pytest.approx(0.25)
    a, b = fit_power_law([100, 10000], [50.0, 5.0])  # two points: exact, b < 0
    assert a == pytest.approx(500.0) and b == pytest.approx(-0.5)
    # Off the law: the least-squares line of log s on log n (residuals +e, -2e, +e).
    a, b = fit_power_law(n, 3.0 * n ** 0.25 * np.exp([0.1, -0.2, 0.1]))
    assert a == pytest.approx(3.0 * np.exp(0.0)) and b == pytest.approx(0.25)
    with pytest.raises(ValueError, match="two distinct"):
        fit_power_law([100, 100], [1.0, 2.0])


SCALING_GRID = (200, 2000, 20000, 200000)  # n_samples; samples_seen is half of it


def _scaling_rows():
    """Rows of a 2 x 4 (num_latents x n_samples) sweep with known crossings.

    ``dl_fista_data``'s ``dict_frac_close`` is ``0.9 + 0.1 log10(s / s*)``
    with ``s* = 2 sqrt(n)`` (20 at n = 100, 63.2 at n = 1000), linear in log s
    near the crossing, so the interpolation and the fit are exact (a = 2,
    b = 0.5). ``itkrm`` is above 0.9 from the start and has no n = 1000 rows;
    ``sae_batchtopk`` never gets there and has a non-finite seed.
    """
    rows = []
    for n, m in ((100, 47), (1000, 70)):
        for n_samples in SCALING_GRID:
            seen = n_samples // 2
            per_atom = seen * 10 / n
            point = {"num_latents": n, "k": 10, "input_dim": m, "n_samples": n_samples,
                     "width": n, "samples_seen": seen, "samples_per_atom": per_atom}
            close = 0.9 + 0.1 * np.log10(per_atom / (2 * n ** 0.5))
            for seed, noise in ((0, -0.01), (1, 0.01)):
                rows.append({**point, "method": "dl_fista_data", "seed": seed, "wall_s": 1.0,
                             "mcc_ood": 0.5 + noise, "dict_frac_close": close + noise,
                             "dict_mean_cosine": 0.9})
                rows.append({**point, "method": "sae_batchtopk", "seed": seed, "wall_s": 1.0,
                             "mcc_ood": 0.4, "dict_frac_close": 0.3, "dict_mean_cosine": 0.6})
                if n == 100:
                    rows.append({**point, "method": "itkrm", "seed": seed, "wall_s": 1.0,
                                 "mcc_ood": 0.9, "dict_frac_close": 0.95 + noise,
                                 "dict_mean_cosine": 0.95})
            rows.append({**point, "method": "sae_batchtopk", "seed": 2, "nonfinite": True,
                         "wall_s": 1.0})
    return rows


def test_scaling_series_crossings_and_fit():
    rows = _scaling_rows()
    ordinary = {"num_latents": 100, "k": 10, "input_dim": 47, "n_samples": 5000,
                "method": "sae_relu", "seed": 0, "mcc_ood": 0.4}
    assert has_scaling(rows) and not has_scaling([ordinary])
    assert "samples_per_atom" not in metric_names(rows)
    series = scaling_series(rows, "dict_frac_close")
    panel = point_key({"num_latents": 100, "k": 10}, SCALING_PANEL_TAGS)
    xs, means, stds = series[(panel, "dl_fista_data")]
    assert xs == [10, 100, 1000, 10000]
    assert means[1] == pytest.approx(0.9 + 0.1 * np.log10(5)) and stds[1] == pytest.approx(0.01)
    assert series[(panel, "sae_batchtopk")][2] == [0.0] * 4  # the non-finite seed is left out
    assert [method for (p, method) in series if p == panel] == [
        "dl_fista_data", "itkrm", "sae_batchtopk"]

    crossings = scaling_crossings(rows)
    by = {(dict(p)["num_latents"], method): c for (p, method), c in crossings.items()}
    assert by[(100, "dl_fista_data")].value == pytest.approx(20)
    assert by[(1000, "dl_fista_data")].value == pytest.approx(2 * 1000 ** 0.5)
    assert by[(100, "itkrm")] == (10, "<=") and (1000, "itkrm") not in by
    assert by[(1000, "sae_batchtopk")] == (1000, ">")
    fits = scaling_fits(crossings)
    assert list(fits) == [((("k", 10), ("noise", 0.0)), "dl_fista_data")]  # one finite: no fit
    a, b, ns = fits[((("k", 10), ("noise", 0.0)), "dl_fista_data")]
    assert a == pytest.approx(2.0) and b == pytest.approx(0.5) and ns == (100, 1000)


def test_main_writes_the_sample_complexity_report(tmp_path):
    workdir = tmp_path / "scaling"
    workdir.mkdir()
    config = {"sweep": {"n_samples": list(SCALING_GRID), "num_latents": [100, 1000]},
              "seeds": [0, 1, 2], "data": {"k": 10},
              "methods": ["dl_fista_data", "itkrm", "sae_batchtopk"]}
    (workdir / "config.json").write_text(json.dumps(config))
    (workdir / "results.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in _scaling_rows()))
    assert main([str(workdir)]) == 0
    text = (workdir / "report.md").read_text()
    figdir = workdir / "figures"
    # The scaling figures, and the ordinary ones (x: n_samples, a panel per num_latents).
    for stem in ("scaling_mcc_ood", "scaling_dict_frac_close", "mcc_ood", "dict_frac_close"):
        assert (figdir / f"{stem}.png").stat().st_size > 0
        assert (figdir / f"{stem}.pdf").stat().st_size > 0
    assert not (figdir / "samples_per_atom.png").exists()  # a tag, not a metric
    assert "(x axis: `n_samples`)" in text
    section = text[text.index("## Sample complexity"):text.index("## Results")]
    assert "![scaling_dict_frac_close](figures/scaling_dict_frac_close.png)" in section
    assert "| method | num_latents=100 | num_latents=1000 |" in section
    assert "| dl_fista_data | 20 | 63.2 |" in section
    assert "| itkrm | ≤ 10 | — |" in section
    assert "| sae_batchtopk | > 10000 | > 1000 |" in section
    assert "`samples_per_atom* = a · n^b`" in section
    assert "| dl_fista_data | 2 | 0.500 | 100, 1000 |" in section
    assert "scaling_" not in text[:text.index("## Sample complexity")]  # not "Other metrics"
    assert "`sae_batchtopk` at num_latents=100" in text  # the non-finite seed is listed


