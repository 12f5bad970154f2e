"""Dictionary-learning methods: DL-FISTA, Softplus-Adam and the scaling study's learners.

Under vmap over seeds, their rows' scalars and curves, and one-line
``ConfigError``s for invalid config fields.
"""

import re

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from sparsecomp.coding.fista import fista
from sparsecomp.data import make_datasets, make_spec
from sparsecomp.dictionary.atoms import atoms_found
from sparsecomp.errors import ConfigError
from sparsecomp.methods.registry import get_method, method_info
from sparsecomp.metrics import dictionary_match
from sparsecomp.run.defaults import base_config, shrink_for_smoke

# Tiny but well-posed: m = ceil(2 k ln(n / k)) = 12 observations of 20 latents.
SPEC = make_spec(num_latents=20, k=3, n_samples=600)
DL_OPTIONS = dict(lam=0.1, n_iter=100, max_rounds=200, tol=1e-5, min_rounds=10)
KEYS = jax.random.split(jax.random.key(0), 3)
LEARNER_KEYS = jax.random.split(jax.random.key(0), 2)
LEARNERS = ("dl_fista_data", "dl_fista_resample", "itkrm", "itkrm_stream", "dl_online",
            "dl_online_ws")
@pytest.fixture(scope="module")
def datasets():
    """Three seeds' data, drawn in one compiled call (seed axis first)."""
    return make_datasets(KEYS, SPEC)


@pytest.fixture(scope="module")
def two_seeds():
    """Two seeds' data for the scaling study's learners."""
    return make_datasets(LEARNER_KEYS, SPEC)


def _seed(datasets, i):
    return jax.tree.map(lambda x: x[i], datasets)


def _config(**dl_fista):
    config = ml_collections.ConfigDict()
    config.dl_fista = base_config().dl_fista
    config.dl_fista.update({**DL_OPTIONS, **dl_fista})
    return config


def _smoke_config(**sections):
    config = shrink_for_smoke(base_config())
    for section, fields in sections.items():
        config[section].update(fields)
    return config


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


@pytest.mark.parametrize("name", ["dl_fista", "softplus_adam"])
def test_registered_methods_run_under_vmap(name, datasets, fast_softplus_options):
    config = _config(max_rounds=20)
    config.softplus_adam = ml_collections.ConfigDict({**fast_softplus_options, "max_steps": 200})
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


@pytest.mark.parametrize("name", LEARNERS)
def test_learners_run_under_vmap_and_tag_samples(name, two_seeds):
    config = _smoke_config(dl_fista={"fit_on": "train"})
    out = jax.jit(jax.vmap(get_method(name)(config, SPEC)))(LEARNER_KEYS, two_seeds)
    chex.assert_shape(out.dictionary, (2, SPEC.input_dim, SPEC.num_latents))
    chex.assert_shape(out.codes_val, (2, SPEC.n_val, SPEC.num_latents))
    chex.assert_tree_all_finite((out.dictionary, out.codes_val, out.codes_ood))
    np.testing.assert_allclose(jnp.linalg.norm(out.dictionary, axis=1), 1.0, rtol=1e-5)
    seen = np.asarray(out.scalars["samples_seen"])
    assert seen[0] >= SPEC.n_train // 2 and seen[0] <= SPEC.n_train + SPEC.num_latents
    np.testing.assert_allclose(out.scalars["samples_per_atom"],
                               seen * SPEC.k / SPEC.num_latents, rtol=1e-6)


def test_dl_online_codes_mini_batches_with_the_working_set_solver(two_seeds):
    config = _smoke_config(dl_online={"solver": "working_set"})
    config.working_set.update({"size": 8, "inner_iter": 50, "max_rounds": 3})
    out = jax.jit(jax.vmap(get_method("dl_online")(config, SPEC)))(LEARNER_KEYS, two_seeds)
    chex.assert_tree_all_finite((out.dictionary, out.codes_ood))
    np.testing.assert_allclose(jnp.linalg.norm(out.dictionary, axis=1), 1.0, rtol=1e-5)
    config.working_set.size = 0
    with pytest.raises(ConfigError, match="working_set.size"):
        get_method("dl_online")(config, SPEC)


def test_dl_online_logs_atoms_found_every_log_every_mini_batches(two_seeds):
    config = _smoke_config(dl_online={"log_every": 2, "batch_size": 50})
    out = jax.jit(jax.vmap(get_method("dl_online")(config, SPEC)))(LEARNER_KEYS, two_seeds)
    n_batches = SPEC.n_train // 50
    assert n_batches % 2 == 0  # so the last point is the final dictionary
    expected = SPEC.num_latents + 50 * 2 * np.arange(1, n_batches // 2 + 1)
    np.testing.assert_array_equal(out.curves["step"][0], expected)
    found = np.asarray(out.curves["atoms_found"])
    chex.assert_shape(found, (2, n_batches // 2))
    assert np.all((found >= 0) & (found <= 1))
    final = atoms_found(two_seeds.mixing[0], out.dictionary[0])
    assert found[0, -1] == pytest.approx(float(final), abs=1e-6)


@pytest.mark.parametrize(
    "section, field, value",
    [("dl_fista", "init", "zeros"), ("dl_fista", "fit_on", "ood"), ("itkrm", "n_iter", 0),
     ("itkrm", "duplicate_cosine", 1.5), ("dl_online", "batch_size", 0),
     ("dl_online", "lam", 0.0), ("dl_online", "rho", -1.0), ("dl_online", "block_size", 0),
     ("dl_online", "forgetting", "none"), ("dl_online", "solver", "lbfgs"),
     ("dl_online", "log_every", -1),
     ("dl_fista", "lam", 0.0), ("dl_fista", "max_rounds", 0), ("dl_fista", "min_rounds", -1),
     ("dl_fista", "tol", -1e-3), ("dl_fista", "duplicate_cosine", 0.0),
     ("softplus_adam", "lam", 0.0), ("softplus_adam", "learning_rate", 0.0),
     ("softplus_adam", "max_steps", 0), ("softplus_adam", "log_every", 0),
     ("softplus_adam", "rtol", 1.0), ("softplus_adam", "plateau_factor", 1.0)],
)
def test_bad_learner_configs_name_the_field(section, field, value):
    config = _smoke_config(**{section: {field: value}})
    name = "dl_fista" if section == "dl_fista" else section  # dl_fista_data overrides init
    with pytest.raises(ConfigError, match=f"{section}.{field}"):
        get_method(name)(config, SPEC)


def test_dl_fista_on_train_codes_val_and_ood_with_the_fista_budget(two_seeds):
    # The per-round budget (dl_fista.n_iter) assumes warm starts; held-out
    # codes start from zero and get config.fista's iterations.
    config = _smoke_config(dl_fista={"fit_on": "train", "n_iter": 2, "max_rounds": 10},
                           fista={"n_iter": 60})
    data = jax.tree.map(lambda x: x[0], two_seeds)
    out = jax.jit(get_method("dl_fista_data")(config, SPEC))(LEARNER_KEYS[0], data)
    expected = fista(data.y_val, out.dictionary, 0.1, n_iter=60)
    np.testing.assert_allclose(out.codes_val, expected, rtol=1e-4, atol=1e-5)
    assert int(out.scalars["samples_seen"]) == SPEC.n_train


LAM_ERROR = "fista.lam=0.0 is invalid: it must be a number > 0"
N_ITER_ERROR = "fista.n_iter=0 is invalid: it must be an integer >= 1"


@pytest.mark.parametrize("name, field, value, message", [
    *((name, field, value, message)
      for name in ("itkrm", "itkrm_stream", "dl_online", "dl_online_ws", "dl_fista_data")
      for field, value, message in (("lam", 0.0, LAM_ERROR), ("n_iter", 0, N_ITER_ERROR))),
    ("lasso+itkrm", "lam", 0.0, LAM_ERROR),  # lasso+ reads fista.lam only
])
def test_held_out_fista_fields_are_named(name, field, value, message):
    # Learners that code val and OOD on their dictionary read config.fista.
    config = _smoke_config(fista={field: value}, dl_fista={"fit_on": "train"})
    with pytest.raises(ConfigError, match=re.escape(message)):
        get_method(name)(config, SPEC)


@pytest.mark.parametrize("name", ["dl_fista", "softplus_adam", *LEARNERS])
def test_every_dictionary_learner_is_registered_with_its_family(name):
    info = method_info(name)
    assert (info.family, info.sae_type, info.requires, info.same_as) == (
        "dictionary_learning", None, (), None)
