"""DL-FISTA and Softplus-Adam: the LS update, fixed points, learning, vmap over seeds."""

import re

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from sparsecomp.data import make_datasets, make_spec
from sparsecomp.dictionary_learning import (
    SoftplusAdamParams,
    learn_dictionary_fista,
    least_squares_dictionary,
    normalise_columns,
    random_dictionary,
    softplus_adam_loss,
    softplus_adam_run,
)
from sparsecomp.errors import ConfigError
from sparsecomp.methods.registry import get_method
from sparsecomp.metrics import dictionary_match
from sparsecomp.run.defaults import base_config

# Tiny but well-posed: m = ceil(2 k ln(n / k)) = 12 observations of 20 latents.
SPEC = make_spec(num_latents=20, k=3, n_samples=600)
DL_OPTIONS = dict(lam=0.1, n_iter=100, max_rounds=200, tol=1e-5, min_rounds=10)
KEYS = jax.random.split(jax.random.key(0), 3)


@pytest.fixture(scope="module")
def datasets():
    """Three seeds' data, drawn in one compiled call (seed axis first)."""
    return make_datasets(KEYS, SPEC)


def _seed(datasets, i):
    return jax.tree.map(lambda x: x[i], datasets)


def _config(**dl_fista):
    config = ml_collections.ConfigDict()
    config.dl_fista = base_config().dl_fista
    config.dl_fista.update({**DL_OPTIONS, **dl_fista})
    return config


def test_least_squares_update_solves_normal_equations():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 6)).astype(np.float32)
    codes = np.maximum(rng.normal(size=(50, 10)), 0).astype(np.float32)
    d = np.asarray(least_squares_dictionary(y, codes), np.float64)
    chex.assert_shape(d, (6, 10))
    z64 = codes.astype(np.float64)
    lhs = (z64.T @ z64 + 1e-6 * np.eye(10)) @ d.T
    np.testing.assert_allclose(lhs, z64.T @ y, rtol=1e-4, atol=1e-4)


def test_unused_atom_keeps_its_previous_direction():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(40, 5)).astype(np.float32)
    codes = np.abs(rng.normal(size=(40, 4))).astype(np.float32)
    codes[:, 2] = 0.0  # atom 2 is used by no sample
    previous = np.asarray(random_dictionary(jax.random.key(0), 5, 4))
    d = np.asarray(normalise_columns(least_squares_dictionary(y, codes), previous))
    np.testing.assert_allclose(np.linalg.norm(d, axis=0), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(d[:, 2], previous[:, 2])


def test_true_dictionary_is_a_fixed_point_on_noiseless_data(datasets):
    data = _seed(datasets, 0)
    options = {**DL_OPTIONS, "max_rounds": 50}
    d, codes, n_rounds = jax.jit(lambda y, a: learn_dictionary_fista(y, a, **options))(
        data.y_val, data.mixing
    )
    # Started at A, atoms keep their order: compare column by column. The L1
    # shrinkage of the codes biases the update a little, hence not exactly 1.
    cosines = np.abs(np.sum(np.asarray(d) * np.asarray(data.mixing), axis=0))
    assert cosines.mean() > 0.99 and cosines.min() > 0.97, cosines
    assert 10 < int(n_rounds) <= options["max_rounds"]
    chex.assert_shape(codes, (SPEC.n_val, SPEC.num_latents))


def test_learning_improves_the_match_to_the_truth(datasets):
    data = _seed(datasets, 1)
    d_init = random_dictionary(jax.random.key(2), SPEC.input_dim, SPEC.num_latents)
    d, _, _ = jax.jit(lambda y, d0: learn_dictionary_fista(y, d0, **DL_OPTIONS))(data.y_val, d_init)
    before = dictionary_match(data.mixing, d_init).mean_cosine
    after = dictionary_match(data.mixing, d).mean_cosine
    assert after > 0.9 and after > before + 0.3, (before, after)


def test_vmap_over_seeds_equals_python_loop(datasets):
    # A loose tolerance so that the seeds stop at different rounds: the batched
    # loop must freeze the seeds that finish first.
    config = _config(max_rounds=60, tol=2e-3)
    run = get_method("dl_fista")(config, SPEC)
    batched = jax.jit(jax.vmap(run))(KEYS, datasets)
    single = jax.jit(run)
    rounds = np.asarray(batched.scalars["n_rounds"])
    assert len(set(rounds.tolist())) > 1, rounds
    for i in range(3):
        alone = single(KEYS[i], _seed(datasets, i))
        assert int(alone.scalars["n_rounds"]) == rounds[i]
        for name in ("codes_val", "codes_ood", "dictionary"):
            np.testing.assert_allclose(
                getattr(batched, name)[i], getattr(alone, name), atol=1e-5, err_msg=name
            )


def test_method_output_and_curves(datasets):
    run = get_method("dl_fista")(_config(max_rounds=40, tol=0.0), SPEC)
    out = jax.jit(run)(KEYS[1], _seed(datasets, 1))
    chex.assert_shape(out.codes_val, (SPEC.n_val, SPEC.num_latents))
    chex.assert_shape(out.codes_ood, (SPEC.n_ood, SPEC.num_latents))
    chex.assert_shape(out.dictionary, (SPEC.input_dim, SPEC.num_latents))
    assert (out.codes_ood >= 0).all() and (out.codes_val >= 0).all()
    assert int(out.scalars["n_rounds"]) == 40  # tol = 0 never fires
    np.testing.assert_array_equal(out.curves["step"], [10, 20, 30, 40])
    mse = np.asarray(out.curves["mse"])
    assert np.isfinite(mse).all() and mse[-1] < mse[0]
    assert np.isfinite(np.asarray(out.curves["rel_change"])).all()


def test_curves_are_nan_after_the_stop(datasets):
    run = get_method("dl_fista")(_config(max_rounds=100, tol=1.0), SPEC)
    out = jax.jit(run)(KEYS[2], _seed(datasets, 2))
    assert int(out.scalars["n_rounds"]) == 11  # the first round allowed to stop
    change = np.asarray(out.curves["rel_change"])
    assert np.isfinite(change[0]) and np.isnan(change[1:]).all()


SOFTPLUS_OPTIONS = dict(
    lam=0.1, learning_rate=1e-2, max_steps=400, early_stop_patience=5000, rtol=1e-4,
    plateau_factor=0.5, plateau_patience=1000, log_every=100,
)


def test_softplus_adam_codes_nonneg_and_loss_decreases(datasets):
    data = _seed(datasets, 0)
    state = jax.jit(lambda k, a, b: softplus_adam_run(k, a, b, SPEC.num_latents,
                                                      **SOFTPLUS_OPTIONS))(
        jax.random.key(7), data.y_val, data.y_ood
    )
    assert int(state.step) == SOFTPLUS_OPTIONS["max_steps"]
    assert (jax.nn.softplus(state.params.logits_val) >= 0).all()
    assert (jax.nn.softplus(state.params.logits_ood) >= 0).all()
    loss = np.asarray(state.loss_curve)
    assert np.isfinite(loss).all() and np.all(np.diff(loss) < 0), loss


def test_softplus_adam_stops_early_without_improvement(datasets):
    data = _seed(datasets, 2)
    # Only the first step improves on the initial best (inf) by 99%.
    options = {**SOFTPLUS_OPTIONS, "rtol": 0.99, "early_stop_patience": 30}
    state = jax.jit(lambda k, a, b: softplus_adam_run(k, a, b, SPEC.num_latents, **options))(
        jax.random.key(9), data.y_val, data.y_ood
    )
    assert int(state.step) == 31


def test_softplus_adam_dictionary_sees_id_data_only(datasets):
    data = _seed(datasets, 1)
    k1, k2, k3 = jax.random.split(jax.random.key(11), 3)
    params = SoftplusAdamParams(
        random_dictionary(k1, SPEC.input_dim, SPEC.num_latents),
        jax.random.normal(k2, (SPEC.n_val, SPEC.num_latents)),
        jax.random.normal(k3, (SPEC.n_ood, SPEC.num_latents)),
    )
    grad = jax.grad(softplus_adam_loss)
    g = grad(params, data.y_val, data.y_ood, 0.1)
    other = params._replace(logits_ood=params.logits_ood + 1.0)
    g_other = grad(other, data.y_val, 2.0 * data.y_ood, 0.1)
    np.testing.assert_allclose(g.dictionary, g_other.dictionary, rtol=1e-6)
    assert np.abs(np.asarray(g.logits_ood)).max() > 0


@pytest.mark.parametrize("name", ["dl_fista", "softplus_adam"])
def test_registered_methods_run_under_vmap(name, datasets):
    config = _config(max_rounds=20)
    config.softplus_adam = ml_collections.ConfigDict({**SOFTPLUS_OPTIONS, "max_steps": 200})
    out = jax.jit(jax.vmap(get_method(name)(config, SPEC)))(KEYS, datasets)
    chex.assert_shape(out.codes_val, (3, SPEC.n_val, SPEC.num_latents))
    chex.assert_shape(out.codes_ood, (3, SPEC.n_ood, SPEC.num_latents))
    chex.assert_shape(out.dictionary, (3, SPEC.input_dim, SPEC.num_latents))
    assert jnp.isfinite(out.codes_ood).all()
    assert set(out.curves) >= {"step"}


def test_inner_tolerance_ends_fista_early_and_still_learns(datasets):
    data = _seed(datasets, 1)
    full = jax.jit(get_method("dl_fista")(_config(), SPEC))(KEYS[1], data)
    early = jax.jit(get_method("dl_fista")(_config(inner_tol=1e-4), SPEC))(KEYS[1], data)
    rounds, inner = int(early.scalars["n_rounds"]), int(early.scalars["n_inner_iter"])
    assert int(full.scalars["n_inner_iter"]) == 100 * int(full.scalars["n_rounds"])
    assert inner < 100 * rounds / 2, (rounds, inner)  # most rounds stop early
    cosines = [dictionary_match(data.mixing, out.dictionary).mean_cosine for out in (full, early)]
    assert abs(cosines[1] - cosines[0]) < 0.02, cosines  # full: 0.892 on this seed


def test_inner_tolerance_under_vmap_equals_python_loop(datasets):
    run = get_method("dl_fista")(_config(max_rounds=60, inner_tol=1e-3), SPEC)
    batched = jax.jit(jax.vmap(run))(KEYS, datasets)
    inner = np.asarray(batched.scalars["n_inner_iter"])
    assert len(set(inner.tolist())) > 1, inner  # the seeds' inner loops stop apart
    single = jax.jit(run)
    for i in range(3):
        alone = single(KEYS[i], _seed(datasets, i))
        for name in ("n_rounds", "n_inner_iter"):
            assert int(alone.scalars[name]) == int(batched.scalars[name][i]), name
        np.testing.assert_allclose(batched.dictionary[i], alone.dictionary, atol=1e-5)


@pytest.mark.parametrize("method, field, value, message", [
    ("dl_fista", "inner_tol", -1e-4, "dl_fista.inner_tol=-0.0001 is invalid: it must be >= 0"),
    ("dl_fista_resample", "resample_every", 0,
     "dl_fista.resample_every=0 is invalid: it must be >= 1"),
    ("dl_fista", "resample_every", 0, "dl_fista.resample_every=0 is invalid: it must be >= 1"),
])
def test_invalid_dl_fista_fields_are_named(method, field, value, message):
    config = _config(**{field: value}, resample=method == "dl_fista")
    with pytest.raises(ConfigError, match=re.escape(message)):
        get_method(method)(config, SPEC)
