"""Tests of the report: aggregation, reference matching, markdown, and the command."""

import json

import numpy as np
import pytest

from sparsecomp.report.aggregate import (
    GroupKey,
    aggregate,
    coordinate,
    differences,
    input_dim_notes,
    match_reference,
    metric_names,
    point_key,
    reference_groups,
    sweep_fields,
    total_timings,
    total_wall_s,
    variant_key,
)
from sparsecomp.report.cli import main
from sparsecomp.report.load import load_reference
from sparsecomp.report.render import render_tables, wall_time_line

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
    return GroupKey(point_key(point), variant, method)


def test_aggregate_means_over_seeds_and_counts_nonfinite_rows():
    rows = [_row("sae_relu", 0, 0.4, n_rounds=3), _row("sae_relu", 1, 0.6, n_rounds=5),
            _nonfinite("sae_relu", 2), _row("fista_oracle", 0, 0.99, mse_ood=None),
            _row("fista_oracle", 1, 0.97, mse_ood=0.5)]
    groups = aggregate(rows)
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
    names = metric_names(rows)
    assert names[:4] == ["mcc_iid", "mcc_ood", "acc_ood", "auc_ood"]
    assert "n_rounds" in names
    for tag in ("lam", "seed", "width", "wall_s", "metrics_s", "nonfinite", "num_latents"):
        assert tag not in names
    timed = _row("sae_relu", 0, 0.4, compile_s=1.0, run_s=2.0, eval_s=0.5, restore_s=0.0)
    assert not {"compile_s", "run_s", "eval_s", "restore_s"} & set(metric_names([timed]))


def test_wall_time_line_splits_new_rows_and_keeps_old_rows_readable():
    split = {"compile_s": 1.0, "run_s": 0.5, "eval_s": 0.3, "restore_s": 0.2, "wall_s": 2.0}
    new = [_row("fista_oracle", s, 0.99, **split) for s in (0, 1)]
    old = [_row("sae_relu", s, 0.4) for s in (0, 1)]  # wall_s and metrics_s only
    assert total_wall_s(new + old) == (pytest.approx(4.0), 2)
    assert "(one compiled call per group, all seeds, compilation included)" in wall_time_line(
        *total_timings(old))
    assert wall_time_line(*total_timings(new)) == (
        "total wall time 2.0 s over 1 (point, method) groups (each from preparing to evaluated, "
        "all seeds: compile 1.0 s, run 0.5 s, eval 0.3 s, restore 0.2 s)")
    assert "; 1 groups written earlier count their compiled call only)" in wall_time_line(
        *total_timings(new + old))


def test_variant_rows_form_their_own_groups_and_wall_time_counts_once_per_group():
    rows = [_row("warm_relu", s, 0.5 + 0.1 * it, n_iter=it, wall_s=3.0)
            for s in (0, 1) for it in (0, 10)]
    rows += [_row("fista_oracle", s, 0.99, wall_s=1.5) for s in (0, 1)]
    groups = aggregate(rows)
    assert groups[_key("warm_relu", (("n_iter", 10),))].mean["mcc_ood"] == pytest.approx(1.5)
    assert len(groups) == 3
    # One compiled call per (point, method): 3.0 + 1.5, not per seed or variant.
    assert total_wall_s(rows) == (pytest.approx(4.5), 2)


def test_float32_variant_values_match_their_decimal_spelling():
    row = _row("frozen_relu", 0, 0.5, lam=float(np.float32(0.1)))
    assert variant_key(row) == (("lam", 0.1),)


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
    ref_rows, notes = load_reference([_reference_file(tmp_path)])
    assert any("without `method`" in note for note in notes)
    assert any("curve rows" in note for note in notes)
    assert all("lam" not in row for row in ref_rows if row["method"] == "sae_relu")

    rows = [_row("fista_oracle", s, 0.97) for s in (0, 1)]
    rows += [_row("sae_relu", s, 0.4) for s in (0, 1)]
    rows += [_row("warm_relu", s, 0.5 + 0.1 * it, n_iter=it) for s in (0, 1) for it in (0, 10)]
    rows += [_row("sae_topk", s, 0.7) for s in (0, 1)]  # no reference
    groups = aggregate(rows)
    ref_groups = reference_groups(ref_rows)
    matches, match_notes = match_reference(groups, ref_groups)

    assert _key("sae_topk") not in matches
    assert _key("sae_relu") in matches
    assert matches[_key("warm_relu", (("n_iter", 10),))].variant == (("n_iter", 10),)
    # Our variant-free oracle matches the variant-free reference oracle, not its lam sweep.
    assert matches[_key("fista_oracle")].variant == ()
    assert not match_notes

    diffs = differences(groups, ref_groups, matches)
    by = {(d.key.method, d.key.variant, d.metric): d for d in diffs}
    relu = by[("sae_relu", (), "mcc_ood")]
    assert relu.diff == pytest.approx(-0.4) and relu.marked
    assert not by[("sae_relu", (), "mcc_iid")].marked  # 0.41 vs 0.50
    assert not by[("fista_oracle", (), "mcc_ood")].marked
    assert not by[("warm_relu", (("n_iter", 10),), "mcc_ood")].marked
    assert ("sae_relu", (), "acc_ood") not in by  # the reference lacks it

    table = render_tables(groups, ref_groups, matches, diffs)
    assert "| sae_relu | — | 2 | 0 | 0.410 ± 0.000 | 0.500 ± 0.000 | -0.090 |" in table
    assert "**-0.400 ⚠**" in table
    assert "| warm_relu | n_iter=10 | 2 | 0 |" in table
    assert "| sae_topk | — | 2 | 0 | 0.710 ± 0.000 | — | — |" in table


def test_ambiguous_reference_is_not_compared():
    ref_rows = [{**POINT, "method": "fista_oracle", "seed": 0, "lam": lam, "mcc_ood": 0.9}
                for lam in (0.01, 0.1)]
    groups = aggregate([_row("fista_oracle", 0, 0.97)])
    matches, notes = match_reference(groups, reference_groups(ref_rows))
    assert not matches and "ambiguous" in notes[0]


def test_input_dim_disagreement_is_noted():
    ref_rows = [{**POINT, "input_dim": 48, "method": "fista_oracle", "seed": 0, "mcc_ood": 0.9}]
    groups = aggregate([_row("fista_oracle", 0, 0.97)])
    matches, _ = match_reference(groups, reference_groups(ref_rows))
    assert matches  # matched anyway
    assert "input_dim [48]" in input_dim_notes(matches, ref_rows)[0]


def test_tables_count_nonfinite_seeds_and_omit_reference_columns_without_reference():
    rows = [_row("sae_relu", 0, 0.4), _row("sae_relu", 1, 0.6), _nonfinite("sae_relu", 2)]
    table = render_tables(aggregate(rows), with_reference=False)
    assert "| method | seeds | non-finite | mcc_iid | mcc_ood | acc_ood | auc_ood |" in table
    assert "| sae_relu | 2 | 1 (seeds 2) | 0.510 ± 0.100 | 0.500 ± 0.100 |" in table
    assert "### num_latents=100, k=10, input_dim=47, n_samples=5000" in table


def test_sweep_fields_put_the_longest_sweep_on_the_x_axis():
    assert sweep_fields({"sweep": {}}) == ["num_latents"]
    config = {"sweep": {"n_samples": [100, 1000, 5000], "num_latents": [100, 10000]}}
    assert sweep_fields(config) == ["n_samples", "num_latents"]
    point = point_key(POINT)
    assert coordinate(point, "n_samples", config) == 5000
    phase = {"sweep": {"c": [1.0, 2.0], "k": [10], "num_latents": [100]},
             "data": {"input_dim": None, "c": 2.0}}
    assert coordinate(point, "c", phase) == 2.0  # 47 = ceil(2 * 10 * ln 10)


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
    assert main([str(workdir), "--reference", str(_reference_file(tmp_path))]) == 0
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
    assert main([str(tmp_path / "empty")]) == 1
    _write_workdir(tmp_path / "run")
    (tmp_path / "bad.json").write_text("{}")
    assert main([str(tmp_path / "run"), "--reference", str(tmp_path / "bad.json")]) == 2
    assert main([str(tmp_path / "run"), "--reference", str(tmp_path / "no.json")]) == 2


# ------------------------------------------------------- sample complexity




# ------------------------------------------------------- workdir integrity


def test_main_says_which_groups_miss_seeds(tmp_path):
    workdir = tmp_path / "run"
    _write_workdir(workdir)
    rows = [json.loads(line) for line in (workdir / "results.jsonl").read_text().splitlines()]
    kept = [row for row in rows if not (row["method"] == "sae_relu" and row["seed"] == 1
                                        and row["num_latents"] == 50)]
    (workdir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    assert main([str(workdir)]) == 0
    text = (workdir / "report.md").read_text()
    assert ("## Incomplete groups\n\n- `sae_relu` at num_latents=50, k=10, input_dim=33, "
            "n_samples=5000: seeds 1 missing (of 0, 1); its means are over the others") in text
    assert "| sae_relu | — | 1 (missing 1) | 0 |" in text


def test_main_refuses_duplicated_rows_and_malformed_lines_in_one_line(tmp_path, capsys):
    workdir = tmp_path / "run"
    _write_workdir(workdir)
    path = workdir / "results.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines + lines[1:2]))
    assert main([str(workdir)]) == 1
    err = capsys.readouterr().err
    assert err == (f"error: {path}: lines 2 and {len(lines) + 1} hold the same row (`sae_relu` "
                   "at num_latents=50, k=10, input_dim=33, n_samples=5000, seed 0); delete one "
                   "of them\n")
    path.write_text("".join(lines[:3] + ["{oops\n"] + lines[3:]))
    assert main([str(workdir)]) == 1
    assert capsys.readouterr().err.startswith(f"error: {path}:4: not a JSON object")
    path.write_text("".join(lines) + '{"torn')  # a run in progress: its torn line is left out
    assert main([str(workdir)]) == 0
    assert "## Incomplete groups\n\nnone" in (workdir / "report.md").read_text()


def test_provenance_fields_are_not_metrics():
    rows = [_row("sae_relu", 0, 0.4, versions={"jax": "0.4"}, fingerprint="abc")]
    assert "versions" not in metric_names(rows) and "fingerprint" not in metric_names(rows)
