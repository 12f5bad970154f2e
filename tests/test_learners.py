"""Dictionary learners of the scaling study: atom tools, ITKrM, online DL, DL-FISTA options."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparsecomp import itkrm, learners, online_dictionary
from sparsecomp.data import make_datasets, make_spec
from sparsecomp.errors import ConfigError
from sparsecomp.methods.registry import get_method
from sparsecomp.run.defaults import base_config, shrink_for_smoke

SPEC = make_spec(num_latents=20, k=3, n_samples=600)
KEYS = jax.random.split(jax.random.key(0), 2)
LEARNERS = ("dl_fista_data", "dl_fista_resample", "itkrm", "itkrm_stream", "dl_online",
            "dl_online_ws")


@pytest.fixture(scope="module")
def datasets():
    return make_datasets(KEYS, SPEC)


def _config(**sections):
    config = shrink_for_smoke(base_config())
    for section, fields in sections.items():
        config[section].update(fields)
    return config


def test_data_dictionary_draws_distinct_normalised_samples():
    y = jax.random.normal(jax.random.key(1), (50, 6))
    d = learners.data_dictionary(jax.random.key(2), y, 8)
    chex.assert_shape(d, (6, 8))
    np.testing.assert_allclose(np.linalg.norm(d, axis=0), 1.0, rtol=1e-6)
    unit_y = y / jnp.linalg.norm(y, axis=1, keepdims=True)
    match = np.abs(np.asarray(unit_y @ d)).max(axis=0)  # each atom is one sample
    np.testing.assert_allclose(match, 1.0, rtol=1e-5)
    assert len({tuple(np.round(np.asarray(col), 5)) for col in d.T}) == 8


def test_duplicated_atoms_flags_the_later_copy_across_blocks(monkeypatch):
    monkeypatch.setattr(learners, "COHERENCE_BLOCK", 2)  # pairs straddle blocks
    e = np.eye(4, dtype=np.float32)
    d = np.stack([e[0], e[1], -e[0], e[2], (e[1] + 0.01 * e[3]) / np.hypot(1, 0.01)], axis=1)
    flags = learners.duplicated_atoms(jnp.asarray(d), 0.95)
    np.testing.assert_array_equal(flags, [False, False, True, False, True])


def test_atoms_found_counts_true_atoms_with_a_close_learned_atom(monkeypatch):
    monkeypatch.setattr(learners, "COHERENCE_BLOCK", 2)  # true atoms in two blocks
    e = np.eye(3, dtype=np.float32)
    truth = np.stack([e[0], e[1], e[2]], axis=1)
    # Learned: -2 e0 (|cos| 1, any norm), e1 + e2 (cos 0.71 with both): one of three found.
    learned = np.stack([-2 * e[0], e[1] + e[2]], axis=1)
    found = learners.atoms_found(jnp.asarray(truth), jnp.asarray(learned), 0.9)
    np.testing.assert_allclose(found, 1 / 3, rtol=1e-6)
    np.testing.assert_allclose(learners.atoms_found(jnp.asarray(truth), jnp.asarray(learned), 0.7),
                               1.0)  # 0.71 > 0.7: e1 and e2 both matched by one atom


def test_replace_atoms_takes_the_worst_residuals_in_order():
    d = jnp.eye(3)
    residuals = jnp.array([[0.0, 0.0, 1.0], [0.0, 3.0, 4.0], [2.0, 0.0, 0.0]])
    new = learners.replace_atoms(d, jnp.array([True, False, True]), residuals)
    np.testing.assert_allclose(new[:, 0], [0.0, 0.6, 0.8])  # largest residual, normalised
    np.testing.assert_allclose(new[:, 1], [0.0, 1.0, 0.0])  # kept
    np.testing.assert_allclose(new[:, 2], [1.0, 0.0, 0.0])  # second largest


def test_itkrm_keeps_an_orthonormal_dictionary_and_counts_usage():
    # Exactly S-sparse samples of an orthonormal basis: thresholding finds the
    # supports, residuals vanish and each atom's residual mean is itself.
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    codes = np.zeros((40, 6), np.float32)
    for i in range(40):
        codes[i, rng.choice(6, 2, replace=False)] = rng.uniform(0.5, 1.0, 2)
    y = np.concatenate([codes @ basis.T, np.zeros((3, 6))]).astype(np.float32)  # + padding
    means = itkrm.residual_means(jnp.asarray(y), jnp.asarray(basis, jnp.float32), 2)
    np.testing.assert_array_equal(means.usage, (codes > 0).sum(axis=0))
    d, replaced = itkrm.itkrm_update(means, jnp.asarray(basis, jnp.float32), 0.95)
    np.testing.assert_allclose(d, basis, atol=1e-5)
    assert int(replaced) == 0


def test_itkrm_replaces_an_atom_no_sample_selects():
    basis = np.eye(4, dtype=np.float32)
    y = jnp.asarray(np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0.1]], np.float32))
    means = itkrm.residual_means(y, jnp.asarray(basis), 1)
    d, replaced = itkrm.itkrm_update(means, jnp.asarray(basis), 0.95)
    assert int(replaced) == 1
    np.testing.assert_allclose(d[:, 3], [0, 0, 0, 1.0], atol=1e-4)  # sample 2's residual


def test_forgetting_weight_matches_scikit_learn_formula():
    # theta = (t + 1) B for t < B - 1, else B^2 + t + 1 - B; beta = (theta + 1 - B) / (theta + 1)
    beta = online_dictionary.forgetting_weight(jnp.array([0, 5]), 4)
    np.testing.assert_allclose(beta, [1 / 5, 15 / 19], rtol=1e-6)


def test_mairal_forgetting_weight_is_one_minus_inverse_step_to_the_rho():
    beta = online_dictionary.mairal_forgetting_weight(jnp.array([0, 1, 3]), 2.0)
    np.testing.assert_allclose(beta, [0.0, 0.25, 0.5625], rtol=1e-6)  # (1 - 1/t)^2, t = 1, 2, 4


def _exact_statistics(seed=3, width=5):
    """A, B of noiseless samples of a unit-norm dictionary, and that dictionary [8, width]."""
    rng = np.random.default_rng(seed)
    true = rng.normal(size=(8, width)).astype(np.float32)
    true /= np.linalg.norm(true, axis=0)
    z = np.abs(rng.normal(size=(200, width))).astype(np.float32)
    y = z @ true.T
    return z.T @ z / 200, y.T @ z / 200, true, rng


@pytest.mark.parametrize("block_size", [1, 2, 3])  # 2 and 3 leave an overlapping last block
def test_block_coordinate_passes_recover_the_dictionary_of_exact_statistics(block_size):
    a, b, true, rng = _exact_statistics()
    atoms = jnp.asarray(rng.normal(size=(5, 8)).astype(np.float32) * 0.1)
    for _ in range(200):
        atoms, dead = online_dictionary.block_coordinate_pass(atoms, a, b, atoms, block_size)
    assert int(dead) == 0
    np.testing.assert_allclose(atoms.T, true, atol=1e-3)


def test_one_block_of_every_atom_is_the_damped_solve_of_the_statistics():
    # D A = B has the unique solution D = true; one damped pass is
    # D = (B + e D0 L)(A + e L)^-1 with L = diag(A), within ~e of true.
    a, b, true, rng = _exact_statistics(seed=4)
    start = rng.normal(size=(5, 8)).astype(np.float32) * 0.2
    atoms, _ = online_dictionary.block_coordinate_pass(jnp.asarray(start), a, b, start, 5)
    e, lam = online_dictionary.BLOCK_DAMPING, np.diag(np.diag(a).astype(np.float64))
    expected = np.linalg.solve(a + e * lam, b.T + e * lam @ start)  # rows = atoms
    expected /= np.maximum(np.linalg.norm(expected, axis=1, keepdims=True), 1.0)
    np.testing.assert_allclose(atoms, expected, atol=1e-5)
    np.testing.assert_allclose(atoms.T, true, atol=1e-2)


def test_a_rank_deficient_block_gets_finite_atoms_that_explain_its_sample():
    # One sample y = (1, 0.5) used atoms 0 and 1 with codes (2, 3): A = [[4, 6],
    # [6, 9]] is singular (the undamped solve gave NaN). The damped step is
    # finite, is its closed form, and fits the sample: 2 d0 + 3 d1 = y.
    a = np.array([[4.0, 6.0], [6.0, 9.0]], np.float32)
    b = np.outer([1.0, 0.5], [2.0, 3.0]).astype(np.float32)
    start = np.array([[0.1, 0.0], [0.0, 0.1]], np.float32)
    atoms, dead = online_dictionary.block_coordinate_pass(jnp.asarray(start), a, b, start, 2)
    assert int(dead) == 0
    chex.assert_tree_all_finite(atoms)
    a64, lam = a.astype(np.float64), np.diag(np.diag(a).astype(np.float64))
    e = online_dictionary.BLOCK_DAMPING
    expected = np.linalg.solve(a64 + e * lam, b.T + e * lam @ start)
    np.testing.assert_allclose(atoms, expected, atol=1e-4)  # float32 at condition ~2000
    np.testing.assert_allclose(2 * atoms[0] + 3 * atoms[1], [1.0, 0.5], atol=1e-3)


def test_per_atom_pass_is_mairals_update():
    # block_size 1: d_j <- d_j + (b_j - D a_j) / A_jj in order, then onto the unit ball.
    a, b, _, rng = _exact_statistics(seed=5)
    start = rng.normal(size=(5, 8)).astype(np.float32) * 0.3
    expected = start.copy()
    for j in range(5):
        moved = expected[j] + (b[:, j] - a[j] @ expected) / a[j, j]
        expected[j] = moved / max(np.linalg.norm(moved), 1.0)
    atoms, _ = online_dictionary.block_coordinate_pass(jnp.asarray(start), a, b, start)
    np.testing.assert_allclose(atoms, expected, atol=1e-5)


@pytest.mark.parametrize("block_size", [1, 2])
def test_dead_atom_is_resampled_from_the_fallback(block_size):
    a = jnp.diag(jnp.array([1.0, 0.0]))
    b = jnp.array([[1.0, 0.0], [0.0, 0.0]])
    fallback = jnp.array([[9.0, 9.0], [0.0, 2.0]])
    atoms, dead = online_dictionary.block_coordinate_pass(jnp.eye(2), a, b, fallback, block_size)
    assert int(dead) == 1
    np.testing.assert_allclose(atoms, [[1.0, 0.0], [0.0, 1.0]], atol=1e-6)  # norm capped at 1


def test_resampling_dl_fista_replaces_a_duplicated_initial_atom(datasets):
    from sparsecomp.dictionary_learning import dictionary_learning_run

    data = jax.tree.map(lambda x: x[0], datasets)
    d0 = jax.random.normal(jax.random.key(4), (SPEC.input_dim, SPEC.num_latents))
    d0 = d0.at[:, 1].set(d0[:, 0])
    options = dict(lam=0.1, n_iter=20, max_rounds=10, tol=0.0, min_rounds=10)
    kept = dictionary_learning_run(data.y_train, d0, **options)
    assert int(kept.n_replaced) == 0
    resampled = dictionary_learning_run(data.y_train, d0, resample_every=1, **options)
    assert int(resampled.n_replaced) >= 1
    cosine = jnp.abs(resampled.dictionary.T @ resampled.dictionary) - jnp.eye(SPEC.num_latents)
    assert float(cosine.max()) <= 0.95


@pytest.mark.parametrize("name", LEARNERS)
def test_learners_run_under_vmap_and_tag_samples(name, datasets):
    config = _config(dl_fista={"fit_on": "train"})
    out = jax.jit(jax.vmap(get_method(name)(config, SPEC)))(KEYS, datasets)
    chex.assert_shape(out.dictionary, (2, SPEC.input_dim, SPEC.num_latents))
    chex.assert_shape(out.codes_val, (2, SPEC.n_val, SPEC.num_latents))
    chex.assert_tree_all_finite((out.dictionary, out.codes_val, out.codes_ood))
    np.testing.assert_allclose(jnp.linalg.norm(out.dictionary, axis=1), 1.0, rtol=1e-5)
    seen = np.asarray(out.scalars["samples_seen"])
    assert seen[0] >= SPEC.n_train // 2 and seen[0] <= SPEC.n_train + SPEC.num_latents
    np.testing.assert_allclose(out.scalars["samples_per_atom"],
                               seen * SPEC.k / SPEC.num_latents, rtol=1e-6)


def test_dl_online_codes_mini_batches_with_the_working_set_solver(datasets):
    config = _config(dl_online={"solver": "working_set"})
    config.working_set.update({"size": 8, "inner_iter": 50, "max_rounds": 3})
    out = jax.jit(jax.vmap(get_method("dl_online")(config, SPEC)))(KEYS, datasets)
    chex.assert_tree_all_finite((out.dictionary, out.codes_ood))
    np.testing.assert_allclose(jnp.linalg.norm(out.dictionary, axis=1), 1.0, rtol=1e-5)
    config.working_set.size = 0
    with pytest.raises(ConfigError, match="working_set.size"):
        get_method("dl_online")(config, SPEC)


@pytest.mark.parametrize("support_size", [None, 3])
def test_accumulate_gram_adds_the_codes_gram_from_dense_or_supports(support_size):
    codes = np.zeros((4, 6), np.float32)
    codes[0, [0, 2, 5]] = [1.0, 2.0, -0.5]
    codes[1, [1]] = [3.0]
    codes[3, [2, 3, 4]] = [0.25, 1.5, 2.0]  # row 2 empty: no support at all
    a = jnp.asarray(np.arange(36, dtype=np.float32).reshape(6, 6))
    got = online_dictionary.accumulate_gram(a, jnp.asarray(codes), support_size)
    np.testing.assert_allclose(got, np.asarray(a) + codes.T @ codes / 4, rtol=1e-6)


def test_dl_online_logs_atoms_found_every_log_every_mini_batches(datasets):
    config = _config(dl_online={"log_every": 2, "batch_size": 50})
    out = jax.jit(jax.vmap(get_method("dl_online")(config, SPEC)))(KEYS, datasets)
    n_batches = SPEC.n_train // 50
    assert n_batches % 2 == 0  # so the last point is the final dictionary
    expected = SPEC.num_latents + 50 * 2 * np.arange(1, n_batches // 2 + 1)
    np.testing.assert_array_equal(out.curves["step"][0], expected)
    found = np.asarray(out.curves["atoms_found"])
    chex.assert_shape(found, (2, n_batches // 2))
    assert np.all((found >= 0) & (found <= 1))
    final = learners.atoms_found(datasets.mixing[0], out.dictionary[0])
    assert found[0, -1] == pytest.approx(float(final), abs=1e-6)


def test_lasso_on_a_learned_dictionary_codes_held_out_samples_at_the_optimum(datasets):
    from sparsecomp.coding.working_set import working_set_lasso

    config = _config()
    learned = jax.jit(jax.vmap(get_method("itkrm")(config, SPEC)))(KEYS, datasets)
    run = get_method("lasso+itkrm")(config, SPEC)
    out = jax.jit(jax.vmap(run))(KEYS, datasets, {"itkrm": learned.params})
    np.testing.assert_array_equal(out.dictionary, learned.dictionary)
    assert float(jnp.max(out.scalars["kkt_violation"])) <= config.working_set.tol
    direct = working_set_lasso(datasets.y_ood[1], learned.dictionary[1], config.fista.lam,
                               size=min(config.working_set.size, SPEC.num_latents))
    np.testing.assert_allclose(out.codes_ood[1], direct.codes, atol=1e-5)


@pytest.mark.parametrize(
    "section, field, value",
    [("dl_fista", "init", "zeros"), ("dl_fista", "fit_on", "ood"), ("itkrm", "n_iter", 0),
     ("itkrm", "duplicate_cosine", 1.5), ("dl_online", "batch_size", 0),
     ("dl_online", "lam", 0.0), ("dl_online", "rho", -1.0), ("dl_online", "block_size", 0),
     ("dl_online", "forgetting", "none"), ("dl_online", "solver", "lbfgs"),
     ("dl_online", "log_every", -1)],
)
def test_bad_learner_configs_name_the_field(section, field, value):
    config = _config(**{section: {field: value}})
    name = "dl_fista" if section == "dl_fista" else section  # dl_fista_data overrides init
    with pytest.raises(ConfigError, match=f"{section}.{field}"):
        get_method(name)(config, SPEC)


def test_dl_fista_on_train_codes_val_and_ood_with_the_fista_budget(datasets):
    # The per-round budget (dl_fista.n_iter) assumes warm starts; held-out
    # codes start from zero and get config.fista's iterations.
    from sparsecomp.coding.fista import fista

    config = _config(dl_fista={"fit_on": "train", "n_iter": 2, "max_rounds": 10},
                     fista={"n_iter": 60})
    data = jax.tree.map(lambda x: x[0], datasets)
    out = jax.jit(get_method("dl_fista_data")(config, SPEC))(KEYS[0], data)
    expected = fista(data.y_val, out.dictionary, 0.1, n_iter=60)
    np.testing.assert_allclose(out.codes_val, expected, rtol=1e-4, atol=1e-5)
    assert int(out.scalars["samples_seen"]) == SPEC.n_train
