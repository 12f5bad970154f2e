"""Every experiment config loads, has the required fields, and its :smoke runs."""

import importlib.util
from pathlib import Path

import jax
import pytest

import sparsecomp
from sparsecomp.methods.registry import method_variants, rows_per_seed, with_requirements
from sparsecomp.run.compilation_cache import CompileCounter
from sparsecomp.run.sweep import runs_at, sweep_points

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.py"))


def load_config(path: Path, arg=None):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(arg)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_full_config_is_valid(path):
    config = load_config(path)
    assert config.seeds and config.methods
    # Validation builds every method at every point: nothing compiled, nothing on a device.
    with CompileCounter() as counter, jax.transfer_guard("disallow"):
        assert sweep_points(config)
    assert counter.requests == 0 and counter.compile_s == 0
    assert "python -m sparsecomp --config experiments/" in path.read_text()  # docstring command


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_smoke_variant_runs(path, tmp_path):
    rows = sparsecomp.train_and_evaluate(load_config(path, "smoke"), tmp_path)
    config = load_config(path, "smoke")
    expected = len(config.seeds) * sum(
        rows_per_seed(name, config)
        for spec in sweep_points(config)
        for name in with_requirements(config.methods)
        if runs_at(config, name, spec)  # config.limits
    )
    assert len(rows) == expected
    assert {row["method"] for row in rows} >= set(config.methods)
    for row in rows:  # the row schema every experiment shares
        assert {"num_latents", "k", "input_dim", "width", "n_samples", "seed"} <= set(row)
        assert {"mcc_iid", "acc_ood", "auc_ood", "support_f1", "wall_s"} <= set(row)
        variants = method_variants(row["method"], config)
        if variants is not None:
            assert row[variants[0]] in variants[1]
        if row["method"].startswith("sae_"):
            assert "amortisation_gap_mse" in row and "dict_mean_cosine" in row
    assert all(row["mcc_ood"] is not None for row in rows)
