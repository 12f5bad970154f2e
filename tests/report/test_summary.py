"""``results.md``: a table per sweep point, a line per method (and variant); missing seeds
said, duplicated rows refused."""

import subprocess
import sys
from pathlib import Path

import pytest

from sparsecomp.errors import WorkdirError
from sparsecomp.report.summary import summarise

POINT = {"num_latents": 20, "k": 3, "input_dim": 11, "n_samples": 300}


def _rows(mcc_ood, **tags):
    return [{**POINT, **tags, "method": "fista_oracle", "seed": seed, "mcc_ood": mcc_ood}
            for seed in (0, 1)]


def test_points_that_differ_only_in_noise_or_n_eval_get_a_table_each():
    rows = _rows(0.9) + _rows(0.5, noise=0.1) + _rows(0.3, n_eval=50)
    text = summarise(rows, metrics=("mcc_ood",))
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("###")] == [
        "### num_latents=20, k=3, input_dim=11, n_samples=300",
        "### num_latents=20, k=3, input_dim=11, n_samples=300, noise=0.1",
        "### num_latents=20, k=3, input_dim=11, n_samples=300, n_eval=50",
    ]
    assert [line for line in lines if line.startswith("| fista_oracle")] == [
        "| fista_oracle | 2 | 0.900 ± 0.000 |", "| fista_oracle | 2 | 0.500 ± 0.000 |",
        "| fista_oracle | 2 | 0.300 ± 0.000 |"]

def test_variants_get_a_line_each_and_nonfinite_seeds_are_counted():
    rows = [{**POINT, "method": "frozen_relu", "seed": 0, "lam": lam, "mcc_ood": lam}
            for lam in (0.1, 0.2)]
    rows.append({**POINT, "method": "frozen_relu", "seed": 1, "lam": 0.1, "nonfinite": True})
    text = summarise(rows, metrics=("mcc_ood", "acc_ood"))
    assert "| method | seeds | mcc_ood | acc_ood |" in text
    assert "| frozen_relu (lam=0.1) | 1 (+1 non-finite) | 0.100 ± 0.000 | - |" in text
    assert "| frozen_relu (lam=0.2) | 1 | 0.200 ± 0.000 | - |" in text


def test_the_trainer_and_results_md_import_no_matplotlib():
    code = ("import sys, sparsecomp, sparsecomp.report, sparsecomp.run.trainer; "
            "print('matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                            capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "False"


def test_a_group_missing_config_seeds_says_which():
    rows = _rows(0.9) + [{**POINT, "method": "sae_relu", "seed": 1, "mcc_ood": 0.4},
                         {**POINT, "method": "sae_relu", "seed": 2, "nonfinite": True}]
    text = summarise(rows, metrics=("mcc_ood",), seeds=(0, 1, 2))
    assert "| fista_oracle | 2 (missing seed 2) | 0.900 ± 0.000 |" in text
    assert "| sae_relu | 1 (+1 non-finite; missing seed 0) | 0.400 ± 0.000 |" in text
    assert "| fista_oracle | 2 | 0.900 ± 0.000 |" in summarise(_rows(0.9), ("mcc_ood",), (0, 1))


def test_duplicated_rows_are_refused():
    rows = _rows(0.9) + _rows(0.9)[1:]
    with pytest.raises(WorkdirError, match=r"^rows 2 and 3 hold the same row \(`fista_oracle` "
                                           r"at num_latents=20, .*seed 1\); delete one of them$"):
        summarise(rows)
    # The same seed under another variant or point is no duplicate.
    summarise(_rows(0.9) + _rows(0.9, noise=0.1) + _rows(0.9, lam=0.1))
