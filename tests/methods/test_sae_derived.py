"""Methods built on a trained SAE, their registry wiring and the trainer's handling."""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparsecomp
from sparsecomp.coding.fista import fista
from sparsecomp.data import make_datasets, make_spec
from sparsecomp.errors import ConfigError
from sparsecomp.methods import registry as methods
from sparsecomp.methods import sae_derived  # noqa: F401  (registers the methods)
from sparsecomp.run.defaults import base_config
from sparsecomp.run.schema import TIMING_FIELDS
from sparsecomp.sae.model import SAE_KINDS, kind_label

SPEC = make_spec(num_latents=20, k=3, n_samples=300)
KEYS = jax.random.split(jax.random.key(0), 2)


@pytest.fixture(scope="module")
def datasets():
    return make_datasets(KEYS, SPEC)


def _config(**fista):
    config = base_config()
    config.fista.update({"n_iter": 40, **fista})
    config.warmstart.n_iters = (0, 3, 10)
    config.support_recovery.n_iter = 300
    return config


def _oracle_sae_params(data):
    """ReLU-SAE parameters whose decoder is the true mixing matrix, zero biases."""
    mixing = data.mixing
    return {"W_e": mixing.T, "b_e": jnp.zeros(SPEC.num_latents), "W_d": mixing,
            "b_d": jnp.zeros(SPEC.input_dim)}


def _run(name, config, datasets):
    run = methods.get_method(name)(config, SPEC)
    inputs = {"sae_relu": jax.vmap(_oracle_sae_params)(datasets)}
    return jax.jit(jax.vmap(run))(KEYS, datasets, inputs)


def test_every_method_carries_its_family_and_sae_type():
    families = {"fista+": "fista_on_sae", "refined_": "refined", "frozen_": "fista_on_sae",
                "renormed_": "fista_on_sae", "oracle_norms_": "fista_on_sae",
                "support_lstsq_": "support_lstsq", "warm_": "warmstart_encoder",
                "cold_": "warmstart_encoder", "warm_dl_": "warmstart_decoder",
                "cold_dl_": "warmstart_decoder"}
    for kind in SAE_KINDS:
        label = kind_label(kind)
        for prefix, family in families.items():
            info = methods.method_info(f"{prefix}{label}")
            assert (info.family, info.sae_type) == (family, label)
            assert info.requires == (() if prefix == "cold_dl_" else (f"sae_{label}",))
            # cold_dl_<type> never uses the SAE: one computation, canonically cold_dl_relu's.
            canonical = prefix == "cold_dl_" and label != "relu"
            assert info.same_as == ("cold_dl_relu" if canonical else None)


def test_fista_on_a_true_decoder_is_the_oracle(datasets):
    config = _config()
    oracle = jax.jit(jax.vmap(methods.get_method("fista_oracle")(config, SPEC)))(KEYS, datasets)
    for name in ("fista+relu", "frozen_relu", "renormed_relu", "oracle_norms_relu"):
        out = _run(name, config, datasets)
        chex.assert_trees_all_close(out.codes_ood, oracle.codes_ood, atol=1e-5)
        chex.assert_trees_all_close(out.dictionary, datasets.mixing)
        # The dictionary was learned by the SAE from the train half.
        np.testing.assert_array_equal(out.scalars["samples_seen"], [SPEC.n_train] * 2)
        np.testing.assert_allclose(out.scalars["samples_per_atom"],
                                   SPEC.n_train * SPEC.k / SPEC.num_latents)


def test_lambda_sweep_rows_equal_single_lambda_runs(datasets):
    lams = (0.05, 0.5)
    swept = _run("frozen_relu", _config(lam_sweep=lams), datasets)
    chex.assert_shape(swept.codes_val, (2, len(lams), SPEC.n_val, SPEC.num_latents))
    chex.assert_shape(swept.scalars["samples_seen"], (2, len(lams)))
    np.testing.assert_allclose(swept.variants["lam"][0], lams, rtol=1e-6)
    for j, lam in enumerate(lams):
        single = _run("frozen_relu", _config(lam=lam), datasets)
        np.testing.assert_allclose(swept.codes_ood[:, j], single.codes_ood, atol=1e-5)
    assert methods.rows_per_seed("frozen_relu", _config(lam_sweep=lams)) == 2
    assert methods.rows_per_seed("frozen_relu", _config()) == 1
    with pytest.raises(ConfigError, match="fista.lam_sweep"):
        methods.rows_per_seed("fista_oracle", _config(lam_sweep=(0.1, -1.0)))


def test_warm_and_cold_budgets_follow_one_fista_trajectory(datasets):
    config = _config()
    warm = _run("warm_relu", config, datasets)
    cold = _run("cold_relu", config, datasets)
    np.testing.assert_array_equal(warm.variants["n_iter"][0], [0, 3, 10])
    np.testing.assert_array_equal(cold.variants["n_iter"][0], [3, 10])  # no 0 when cold
    data = jax.tree.map(lambda x: x[0], datasets)
    sae_codes = jax.nn.relu(data.y_val @ data.mixing)
    np.testing.assert_allclose(warm.codes_val[0, 0], sae_codes, atol=1e-5)
    for j, budget in enumerate((3, 10)):
        expected = fista(data.y_val, data.mixing, 0.1, n_iter=budget)
        np.testing.assert_allclose(cold.codes_val[0, j], expected, atol=1e-5)


def test_requirements_come_first_and_cycles_are_refused():
    assert methods.with_requirements(("fista_oracle", "fista+relu", "refined_relu")) == (
        "fista_oracle", "sae_relu", "fista+relu", "refined_relu")

    @methods.register_method("_cycle_a", requires=("_cycle_b",), replace=True)
    @methods.register_method("_cycle_b", requires=("_cycle_a",), replace=True)
    def make(config, spec):
        raise AssertionError("never built")

    try:
        with pytest.raises(ConfigError, match="requires itself"):
            methods.with_requirements(("_cycle_a",))
    finally:
        del methods._REGISTRY["_cycle_a"], methods._REGISTRY["_cycle_b"]


def _tiny_run_config():
    config = base_config()
    config.data.update({"num_latents": 20, "k": 3, "n_samples": 300})
    config.seeds = (0, 1)
    config.sae.epochs = 2
    config.fista.n_iter = 30
    config.methods = ("fista+relu",)
    return config


def test_required_sae_is_trained_once_and_restored_on_resume(tmp_path):
    config = _tiny_run_config()
    rows = sparsecomp.train_and_evaluate(config, tmp_path)
    assert [row["method"] for row in rows] == ["sae_relu"] * 2 + ["fista+relu"] * 2
    assert all("amortisation_gap_mse" in row for row in rows if row["method"] == "sae_relu")
    results = tmp_path / "results.jsonl"
    lines = results.read_text().splitlines()
    sae_ckpt = next((tmp_path / "checkpoints").glob("*/sae_relu"))
    stamp = sae_ckpt.stat().st_mtime_ns
    # Lose the dependent rows (as a kill before they were written would).
    results.write_text("\n".join(lines[:2]) + "\n")
    again = sparsecomp.train_and_evaluate(config, tmp_path)
    assert sae_ckpt.stat().st_mtime_ns == stamp  # the SAE was not retrained
    strip = TIMING_FIELDS
    first = [{k: v for k, v in json.loads(line).items() if k not in strip} for line in lines]
    second = [{k: v for k, v in row.items() if k not in strip} for row in again]
    assert first == second


def test_dictionary_snapshots_become_cosine_curves(tmp_path):
    config = _tiny_run_config()
    config.methods = ("sae_relu",)
    config.sae.update({"epochs": 3, "log_every": 1, "log_dictionary": True})
    sparsecomp.train_and_evaluate(config, tmp_path)
    curves = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [c["step"] for c in curves if c["seed"] == 0] == [0, 1, 2]
    assert all(0.0 < c["dict_mean_cosine"] <= 1.0 for c in curves)
    assert all("dictionary" not in c for c in curves)


def test_dl_fista_snapshots_hold_the_dictionary_of_each_round(datasets):
    from sparsecomp.dictionary.atoms import random_dictionary
    from sparsecomp.dictionary.dl_fista import dictionary_learning_run

    data = jax.tree.map(lambda x: x[0], datasets)
    d0 = random_dictionary(jax.random.key(3), SPEC.input_dim, SPEC.num_latents)
    options = dict(lam=0.1, n_iter=20, tol=0.0, min_rounds=1)
    state = dictionary_learning_run(data.y_val, d0, max_rounds=6, snapshot_rounds=(0, 2, 6),
                                    **options)
    np.testing.assert_allclose(state.snapshots[0], d0 / jnp.linalg.norm(d0, axis=0), atol=1e-6)
    np.testing.assert_allclose(state.snapshots[2], state.dictionary)
    two = dictionary_learning_run(data.y_val, d0, max_rounds=2, **options)
    np.testing.assert_allclose(state.snapshots[1], two.dictionary, atol=1e-6)


def test_bad_lambda_sweep_is_refused_before_anything_is_written(tmp_path):
    config = _tiny_run_config()
    config.fista.lam_sweep = ("a",)
    config.methods = ("fista_oracle",)
    with pytest.raises(ConfigError, match="fista.lam_sweep"):
        sparsecomp.train_and_evaluate(config, tmp_path / "workdir")
    assert not (tmp_path / "workdir").exists()
