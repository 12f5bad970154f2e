"""Tests of the report command: aggregation, reference matching, markdown, figures."""

import json

import numpy as np
import pytest

from sparsecomp import figures, report, scaling

POINT = {"num_latents": 100, "k": 10, "input_dim": 47, "n_samples": 5000, "width": 100}


def _row(method, seed, mcc_ood, **extra):
    row = {**POINT, "method": method, "seed": seed, "mcc_iid": mcc_ood + 0.01,
           "mcc_ood": mcc_ood, "acc_iid": 0.9, "acc_ood": 0.8, "auc_iid": 0.9, "auc_ood": 0.7,
           "wall_s": 2.0, "metrics_s": 0.1}
    row.update(extra)
    return row


def _nonfinite(method, seed, **extra):
    return {**POINT, "method": method, "seed": seed, "nonfinite": True, "wall_s": 2.0, **extra}


def _key(method, variant=(), point=POINT):
    return report.GroupKey(report.point_key(point), variant, method)


def test_aggregate_means_over_seeds_and_counts_nonfinite_rows():
    rows = [_row("sae_relu", 0, 0.4, n_rounds=3), _row("sae_relu", 1, 0.6, n_rounds=5),
            _nonfinite("sae_relu", 2), _row("fista_oracle", 0, 0.99, mse_ood=None),
            _row("fista_oracle", 1, 0.97, mse_ood=0.5)]
    groups = report.aggregate(rows)
    relu = groups[_key("sae_relu")]
    assert relu.n == 2 and relu.nonfinite_seeds == (2,)
    assert relu.mean["mcc_ood"] == pytest.approx(0.5)
    assert relu.std["mcc_ood"] == pytest.approx(np.std([0.4, 0.6]))
    assert relu.mean["n_rounds"] == pytest.approx(4.0)
    oracle = groups[_key("fista_oracle")]
    assert oracle.nonfinite_seeds == ()
    # A null value (non-finite metric) is left out of that metric's mean only.
    assert oracle.count["mse_ood"] == 1 and oracle.mean["mse_ood"] == pytest.approx(0.5)
    assert oracle.count["mcc_ood"] == 2


def test_metric_names_skip_tags_timings_and_flags():
    rows = [_row("sae_relu", 0, 0.4, lam=0.1, n_rounds=3), _nonfinite("sae_relu", 1)]
    names = report.metric_names(rows)
    assert names[:4] == ["mcc_iid", "mcc_ood", "acc_ood", "auc_ood"]
    assert "n_rounds" in names
    for tag in ("lam", "seed", "width", "wall_s", "metrics_s", "nonfinite", "num_latents"):
        assert tag not in names


def test_variant_rows_form_their_own_groups_and_wall_time_counts_once_per_group():
    rows = [_row("warm_relu", s, 0.5 + 0.1 * it, n_iter=it, wall_s=3.0)
            for s in (0, 1) for it in (0, 10)]
    rows += [_row("fista_oracle", s, 0.99, wall_s=1.5) for s in (0, 1)]
    groups = report.aggregate(rows)
    assert groups[_key("warm_relu", (("n_iter", 10),))].mean["mcc_ood"] == pytest.approx(1.5)
    assert len(groups) == 3
    # One compiled call per (point, method): 3.0 + 1.5, not per seed or variant.
    assert report.total_wall_s(rows) == (pytest.approx(4.5), 2)


def test_float32_variant_values_match_their_decimal_spelling():
    row = _row("frozen_relu", 0, 0.5, lam=float(np.float32(0.1)))
    assert report.variant_key(row) == (("lam", 0.1),)


def _reference_file(tmp_path):
    ref = [
        {**POINT, "input_dim": 47, "method": "fista_oracle", "seed": s, "mcc_iid": 0.99,
         "mcc_ood": 0.98, "acc_iid": 1.0, "acc_ood": 0.9, "auc_iid": 0.9, "auc_ood": 0.7}
        for s in (0, 1, 2)
    ]
    ref += [{**POINT, "method": "sae_relu", "seed": s, "mcc_ood": 0.8, "mcc_iid": 0.50,
             "lam": -1} for s in (0, 1, 2)]
    ref += [{**POINT, "method": "warm_relu", "seed": s, "n_iter": it, "mcc_ood": 0.5 + 0.1 * it}
            for s in (0, 1) for it in (0, 10)]
    ref += [{**POINT, "method": "fista_oracle", "seed": 0, "lam": lam, "mcc_ood": 0.1}
            for lam in (0.01, 0.1)]  # a different file's lam sweep: ambiguous for our oracle
    ref.append({**POINT, "sae_type": "relu", "seed": 0, "mean_cosine": 0.5})  # diagnostics
    ref.append({**POINT, "method": "sae_relu", "seed": 0, "epoch": 10, "mean_cosine": 0.5})
    path = tmp_path / "ref.json"
    path.write_text(json.dumps(ref))
    return path


def test_reference_matching_and_marking(tmp_path):
    ref_rows, notes = report.load_reference([_reference_file(tmp_path)])
    assert any("without `method`" in note for note in notes)
    assert any("curve rows" in note for note in notes)
    assert all("lam" not in row for row in ref_rows if row["method"] == "sae_relu")

    rows = [_row("fista_oracle", s, 0.97) for s in (0, 1)]
    rows += [_row("sae_relu", s, 0.4) for s in (0, 1)]
    rows += [_row("warm_relu", s, 0.5 + 0.1 * it, n_iter=it) for s in (0, 1) for it in (0, 10)]
    rows += [_row("sae_topk", s, 0.7) for s in (0, 1)]  # no reference
    groups = report.aggregate(rows)
    ref_groups = report.reference_groups(ref_rows)
    matches, match_notes = report.match_reference(groups, ref_groups)

    assert _key("sae_topk") not in matches
    assert _key("sae_relu") in matches
    assert matches[_key("warm_relu", (("n_iter", 10),))].variant == (("n_iter", 10),)
    # Our variant-free oracle matches the variant-free reference oracle, not its lam sweep.
    assert matches[_key("fista_oracle")].variant == ()
    assert not match_notes

    diffs = report.differences(groups, ref_groups, matches)
    by = {(d.key.method, d.key.variant, d.metric): d for d in diffs}
    relu = by[("sae_relu", (), "mcc_ood")]
    assert relu.diff == pytest.approx(-0.4) and relu.marked
    assert not by[("sae_relu", (), "mcc_iid")].marked  # 0.41 vs 0.50
    assert not by[("fista_oracle", (), "mcc_ood")].marked
    assert not by[("warm_relu", (("n_iter", 10),), "mcc_ood")].marked
    assert ("sae_relu", (), "acc_ood") not in by  # the reference lacks it

    table = report.render_tables(groups, ref_groups, matches, diffs)
    assert "| sae_relu | — | 2 | 0 | 0.410 ± 0.000 | 0.500 ± 0.000 | -0.090 |" in table
    assert "**-0.400 ⚠**" in table
    assert "| warm_relu | n_iter=10 | 2 | 0 |" in table
    assert "| sae_topk | — | 2 | 0 | 0.710 ± 0.000 | — | — |" in table


def test_ambiguous_reference_is_not_compared():
    ref_rows = [{**POINT, "method": "fista_oracle", "seed": 0, "lam": lam, "mcc_ood": 0.9}
                for lam in (0.01, 0.1)]
    groups = report.aggregate([_row("fista_oracle", 0, 0.97)])
    matches, notes = report.match_reference(groups, report.reference_groups(ref_rows))
    assert not matches and "ambiguous" in notes[0]


def test_input_dim_disagreement_is_noted():
    ref_rows = [{**POINT, "input_dim": 48, "method": "fista_oracle", "seed": 0, "mcc_ood": 0.9}]
    groups = report.aggregate([_row("fista_oracle", 0, 0.97)])
    matches, _ = report.match_reference(groups, report.reference_groups(ref_rows))
    assert matches  # matched anyway
    assert "input_dim [48]" in report.input_dim_notes(matches, ref_rows)[0]


def test_tables_count_nonfinite_seeds_and_omit_reference_columns_without_reference():
    rows = [_row("sae_relu", 0, 0.4), _row("sae_relu", 1, 0.6), _nonfinite("sae_relu", 2)]
    table = report.render_tables(report.aggregate(rows), with_reference=False)
    assert "| method | seeds | non-finite | mcc_iid | mcc_ood | acc_ood | auc_ood |" in table
    assert "| sae_relu | 2 | 1 (seeds 2) | 0.510 ± 0.100 | 0.500 ± 0.100 |" in table
    assert "### num_latents=100, k=10, input_dim=47, n_samples=5000" in table


def test_sweep_fields_put_the_longest_sweep_on_the_x_axis():
    assert report.sweep_fields({"sweep": {}}) == ["num_latents"]
    config = {"sweep": {"n_samples": [100, 1000, 5000], "num_latents": [100, 10000]}}
    assert report.sweep_fields(config) == ["n_samples", "num_latents"]
    point = report.point_key(POINT)
    assert report.coordinate(point, "n_samples", config) == 5000
    phase = {"sweep": {"c": [1.0, 2.0], "k": [10], "num_latents": [100]},
             "data": {"input_dim": None, "c": 2.0}}
    assert report.coordinate(point, "c", phase) == 2.0  # 47 = ceil(2 * 10 * ln 10)


def test_method_order_and_styles_are_canonical():
    names = ["zeta", "refined_relu", "sae_topk", "fista+relu", "fista_oracle", "alpha",
             "warm_dl_relu", "warm_relu", "fista+topk", "linear_probe"]
    assert figures.method_order(names) == [
        "fista_oracle", "linear_probe", "sae_topk", "fista+relu", "refined_relu", "warm_relu",
        "warm_dl_relu", "fista+topk", "alpha", "zeta"]
    relu = figures.method_style("sae_relu")
    assert figures.method_style("refined_relu")["color"] == relu["color"]
    assert figures.method_style("fista+sae_relu")["color"] == relu["color"]
    assert figures.method_style("refined_relu")["linestyle"] != relu["linestyle"]
    assert figures.method_style("unknown") == figures.method_style("unknown")
    assert figures.choose_xscale([50, 100, 10000]) == "log"
    assert figures.choose_xscale([0, 1, 10, 500]) == "symlog"
    assert figures.choose_xscale([20, 40]) == "linear"
    labels = [figures.tick_label(x) for x in (0.01, 5000, 10000, 50000, 100000, 12345)]
    assert labels == ["0.01", "5000", "10k", "50k", "100k", "12345"]


def _write_workdir(path):
    path.mkdir()
    config = {"sweep": {"num_latents": [50, 100]}, "seeds": [0, 1], "data": {"k": 10},
              "methods": ["fista_oracle", "sae_relu", "warm_relu"]}
    (path / "config.json").write_text(json.dumps(config))
    rows, curves = [], []
    for n, m in ((50, 33), (100, 47)):
        point = {**POINT, "num_latents": n, "input_dim": m, "width": n}
        for seed in (0, 1):
            rows.append({**_row("fista_oracle", seed, 0.98), **point, "dict_mean_cosine": 1.0})
            rows.append({**_row("sae_relu", seed, 0.4 + 0.01 * seed), **point})
            rows += [{**_row("warm_relu", seed, 0.4 + 0.05 * it ** 0.5), **point, "n_iter": it}
                     for it in (0, 1, 10, 100)]
            curves += [{**point, "method": "sae_relu", "seed": seed, "step": step,
                        "loss_train": 1.0 / (1 + step), "dict_mean_cosine": 0.3 + 0.001 * step}
                       for step in (0, 10, 20)]
    rows.append(_nonfinite("sae_relu", 2))
    for row in rows:  # fewer metrics, fewer figures: the test stays fast
        for metric in ("acc_iid", "auc_iid", "auc_ood"):
            row.pop(metric, None)
    (path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "metrics.jsonl").write_text("".join(json.dumps(c) + "\n" for c in curves))


def test_main_writes_report_and_figures(tmp_path, capsys):
    workdir = tmp_path / "run"
    _write_workdir(workdir)
    runs = [{"started": "2026-11-28T10:00:00+00:00", "wall_s": wall_s, "groups": 3,
             "completed": done, "devices": 1, "backend": "cpu", "concurrent_methods": 2}
            for wall_s, done in ((30.5, False), (12.0, True))]
    (workdir / "runs.jsonl").write_text("".join(json.dumps(run) + "\n" for run in runs))
    (workdir / "notes.md").write_text("Rows of `dl_fista` copied from another workdir.\n")
    assert report.main([str(workdir), "--reference", str(_reference_file(tmp_path))]) == 0
    text = (workdir / "report.md").read_text()
    figdir = workdir / "figures"
    for stem in ("mcc_ood", "mcc_ood_vs_n_iter", "curve_loss_train", "curve_dict_mean_cosine"):
        assert (figdir / f"{stem}.png").stat().st_size > 0
        assert (figdir / f"{stem}.pdf").stat().st_size > 0
    assert "![mcc_ood](figures/mcc_ood.png)" in text
    assert "![mcc_ood_vs_n_iter](figures/mcc_ood_vs_n_iter.png)" in text
    assert "## Differences from the reference above 0.1" in text
    assert "- **`sae_relu`** at num_latents=100" in text  # 0.405 vs 0.8
    assert "seeds 2 (excluded from means)" in text
    assert "total wall time 12.0 s over 6 (point, method) groups" in text
    assert ("run time: 42.5 s of wall clock over 2 trainer invocation(s) "
            "(cpu, 1 device(s), 2 method(s) at a time)") in text
    assert "rows without `method`" in text
    assert ("## Notes on this workdir (`notes.md`)\n\nRows of `dl_fista` copied from another "
            "workdir.\n\n## Non-finite seeds") in text
    assert "wrote" in capsys.readouterr().out
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []  # figures are plain Figure objects, never pyplot's


def test_main_without_rows_or_with_a_bad_reference_fails(tmp_path):
    (tmp_path / "empty").mkdir()
    assert report.main([str(tmp_path / "empty")]) == 1
    _write_workdir(tmp_path / "run")
    (tmp_path / "bad.json").write_text("{}")
    assert report.main([str(tmp_path / "run"), "--reference", str(tmp_path / "bad.json")]) == 2
    assert report.main([str(tmp_path / "run"), "--reference", str(tmp_path / "no.json")]) == 2


# ------------------------------------------------------- sample complexity


def test_threshold_crossing_at_a_grid_point_midway_in_log_space_and_bounds():
    # Reaching 0.9 exactly at a measured point crosses there.
    assert scaling.threshold_crossing([1, 10, 100], [0.5, 0.9, 1.0]) == (pytest.approx(10), "=")
    # Halfway from 0.8 to 1.0 is halfway from log 10 to log 1000: 100, not 505.
    crossing = scaling.threshold_crossing([10, 1000], [0.8, 1.0])
    assert crossing.value == pytest.approx(100) and crossing.finite
    # A quarter of the way (0.85 -> 1.05): 10^(1 + 0.25 * 2) = 10^1.5.
    assert scaling.threshold_crossing([10, 1000], [0.85, 1.05]).value == pytest.approx(
        10 ** 1.5)
    never = scaling.threshold_crossing([1, 10, 100], [0.1, 0.5, 0.89])
    assert never == (100, ">") and not never.finite and never.label() == "> 100"
    first = scaling.threshold_crossing([1, 10, 100], [0.95, 0.99, 1.0])
    assert first == (1, "<=") and first.label() == "≤ 1"
    # Points in any order; a missing mean drops its point; later dips are ignored.
    assert scaling.threshold_crossing([1000, 10, 100, 1], [0.7, 0.7, None, 0.5]) == (1000, ">")
    assert scaling.threshold_crossing([100, 1, 10], [0.8, 0.5, 0.95]).value == pytest.approx(
        10 ** (0.4 / 0.45))
    # A seed mean of 0.85 and 0.95 rounds just below 0.9 and still counts.
    assert scaling.threshold_crossing([1, 10], [0.5, np.mean([0.85, 0.95])]).value == (
        pytest.approx(10))
    assert scaling.threshold_crossing([1, 10], [None, float("nan")]) is None
    with pytest.raises(ValueError, match="positive"):
        scaling.threshold_crossing([0, 10], [0.5, 1.0])


def test_fit_power_law_recovers_a_and_b():
    n = np.array([100, 1000, 10000])
    a, b = scaling.fit_power_law(n, 3.0 * n ** 0.25)
    assert a == pytest.approx(3.0) and b == pytest.approx(0.25)
    a, b = scaling.fit_power_law([100, 10000], [50.0, 5.0])  # two points: exact, b < 0
    assert a == pytest.approx(500.0) and b == pytest.approx(-0.5)
    # Off the law: the least-squares line of log s on log n (residuals +e, -2e, +e).
    a, b = scaling.fit_power_law(n, 3.0 * n ** 0.25 * np.exp([0.1, -0.2, 0.1]))
    assert a == pytest.approx(3.0 * np.exp(0.0)) and b == pytest.approx(0.25)
    with pytest.raises(ValueError, match="two distinct"):
        scaling.fit_power_law([100, 100], [1.0, 2.0])


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
    assert report.has_scaling(rows) and not report.has_scaling([_row("sae_relu", 0, 0.4)])
    assert "samples_per_atom" not in report.metric_names(rows)
    series = report.scaling_series(rows, "dict_frac_close")
    panel = report.point_key({"num_latents": 100, "k": 10}, report.SCALING_PANEL_TAGS)
    xs, means, stds = series[(panel, "dl_fista_data")]
    assert xs == [10, 100, 1000, 10000]
    assert means[1] == pytest.approx(0.9 + 0.1 * np.log10(5)) and stds[1] == pytest.approx(0.01)
    assert series[(panel, "sae_batchtopk")][2] == [0.0] * 4  # the non-finite seed is left out
    assert [method for (p, method) in series if p == panel] == [
        "dl_fista_data", "itkrm", "sae_batchtopk"]

    crossings = report.scaling_crossings(rows)
    by = {(dict(p)["num_latents"], method): c for (p, method), c in crossings.items()}
    assert by[(100, "dl_fista_data")].value == pytest.approx(20)
    assert by[(1000, "dl_fista_data")].value == pytest.approx(2 * 1000 ** 0.5)
    assert by[(100, "itkrm")] == (10, "<=") and (1000, "itkrm") not in by
    assert by[(1000, "sae_batchtopk")] == (1000, ">")
    fits = report.scaling_fits(crossings)
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
    assert report.main([str(workdir)]) == 0
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


def test_line_figure_draws_guide_lines_and_new_methods_have_their_own_colours():
    panel = figures.Panel("p", [figures.Line("itkrm", [1, 10], [0.5, 0.95], [0.1, 0.0])])
    fig = figures.line_figure([panel], xlabel="x", ylabel="y", xscale="log", ylines=(0.9,))
    assert any(list(line.get_ydata()) == [0.9, 0.9] for line in fig.axes[0].lines)
    new = ["dl_fista_data", "dl_fista_resample", "dl_online", "itkrm", "sae_topk_auxk",
           "sae_batchtopk"]
    colours = {str(figures.method_style(m)["color"]) for m in figures.BASE_METHODS}
    assert len(colours) == len(figures.BASE_METHODS)
    assert figures.method_order(new[::-1] + ["sae_MP", "fista_oracle"]) == [
        "fista_oracle", "sae_MP", *new]
