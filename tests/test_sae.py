"""SAEs: init and shapes, TopK/MP/JumpReLU mechanics, custom gradients, training."""

import functools

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from sparsecomp import sae
from sparsecomp.data import dataset_from_dense, make_spec
from sparsecomp.errors import ConfigError
from sparsecomp.methods import get_method

SPEC = make_spec(num_latents=20, k=3, n_samples=200)  # input_dim 12, 100 train samples


def _config(**overrides):
    config = ml_collections.ConfigDict(
        {"sae": sae.default_config(), "fista": {"lam": 0.1, "n_iter": 20}}
    )
    config.sae.update({"epochs": 4, "batch_size": 16, **overrides})
    return config


@functools.cache
def _data(seeds=2):
    """``seeds`` draws of k-sparse codes mixed by unit-norm columns (NumPy, no compile)."""
    rng = np.random.default_rng(0)

    def draw(n):
        z = np.zeros((seeds, n, SPEC.num_latents), np.float32)
        for s, i in np.ndindex(seeds, n):
            z[s, i, rng.choice(SPEC.num_latents, SPEC.k, replace=False)] = rng.uniform(size=SPEC.k)
        return z

    mixing = rng.normal(size=(seeds, SPEC.input_dim, SPEC.num_latents)).astype(np.float32)
    mixing /= np.linalg.norm(mixing, axis=1, keepdims=True)
    fields = {}
    for split, n in (("train", SPEC.n_train), ("val", SPEC.n_val), ("ood", SPEC.n_ood)):
        z = draw(n)
        fields.update({f"z_{split}": z, f"y_{split}": np.einsum("smn,sin->sim", mixing, z)})
    return dataset_from_dense(mixing, **fields)


def _first_seed(data):
    return jax.tree.map(lambda a: a[0], data)


def _model(kind, **fields):
    return sae.make_model(sae.default_config(), SPEC, kind).clone(**fields)


def _params(kind, seed=0):
    model = _model(kind)
    return model, model.init(jax.random.key(seed), jnp.zeros((1, SPEC.input_dim)))["params"]


@pytest.mark.parametrize("kind", sae.SAE_KINDS)
def test_init_follows_protocol_and_shapes(kind):
    model, params = _params(kind)
    width, m = SPEC.num_latents, SPEC.input_dim
    expected = {"W_e": (width, m), "b_e": (width,), "W_d": (m, width), "b_d": (m,)}
    if kind == "jumprelu":
        expected["log_theta"] = (width,)
    assert set(params) == set(expected)
    for name, shape in expected.items():
        chex.assert_shape(params[name], shape)
        chex.assert_type(params[name], jnp.float32)
    assert float(jnp.max(jnp.abs(params["W_e"]))) <= 1 / np.sqrt(m)
    np.testing.assert_allclose(params["W_d"], sae.unit_columns(params["W_e"].T), rtol=1e-6)
    assert not np.any(params["b_e"]) and not np.any(params["b_d"])
    if kind == "jumprelu":
        np.testing.assert_allclose(jnp.exp(params["log_theta"]), 1e-3, rtol=1e-6)

    x = jax.random.normal(jax.random.key(1), (7, m))
    out = model.apply({"params": params}, x)
    chex.assert_shape([out.x_hat, out.codes, out.penalty], [(7, m), (7, width), (7,)])
    chex.assert_type([out.x_hat, out.codes, out.penalty], jnp.float32)
    # The reconstruction is codes @ dictionary.T + b_d with the reported dictionary.
    dictionary = model.apply({"params": params}, method=model.decoder)
    np.testing.assert_allclose(out.x_hat, out.codes @ dictionary.T + params["b_d"], atol=1e-5)


def test_renormalise_decoder_gives_unit_columns():
    _, params = _params("relu")
    params = {**params, "W_d": params["W_d"] * jnp.linspace(0.5, 2.0, SPEC.num_latents)}
    norms = jnp.linalg.norm(sae.renormalise_decoder(params)["W_d"], axis=0)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-6)


def test_decoder_columns_unit_norm_after_renormalised_epoch():
    # One epoch is epoch 0, after which the decoder is renormalised.
    run = get_method("sae_relu")(_config(epochs=1), SPEC)
    out = run(jax.random.key(3), _first_seed(_data()))
    np.testing.assert_allclose(jnp.linalg.norm(out.dictionary, axis=0), 1.0, rtol=1e-5)


def test_decoder_gradient_projection_is_orthogonal_to_columns():
    rng = np.random.default_rng(0)
    decoder = jnp.asarray(rng.normal(size=(6, 9)), jnp.float32)
    grad = jnp.asarray(rng.normal(size=(6, 9)), jnp.float32)
    projected = sae._project_decoder_grad(grad, decoder)
    np.testing.assert_allclose(jnp.sum(projected * decoder, axis=0), 0.0, atol=1e-5)


def test_kth_largest_matches_lax_top_k():
    x = jax.random.normal(jax.random.key(0), (5, 40))
    for k in (1, 3, 40):
        expected = jax.lax.top_k(x, k)[0][:, -1:]
        np.testing.assert_array_equal(sae.kth_largest(x, k), expected)
        np.testing.assert_array_equal(sae.kth_largest(x.T, k, axis=0), expected.T)


def test_topk_keeps_exactly_k_largest():
    model, params = _params("topk")
    # A positive encoder bias makes the k largest pre-activations positive, so
    # the ReLU keeps all of them.
    params = {**params, "b_e": jnp.full_like(params["b_e"], 10.0)}
    x = jax.random.normal(jax.random.key(2), (50, SPEC.input_dim))
    codes = model.apply({"params": params}, x, method=model.encode)
    np.testing.assert_array_equal(jnp.sum(codes != 0, axis=-1), SPEC.k)
    pre = x @ params["W_e"].T + params["b_e"]
    top = jax.lax.top_k(pre, SPEC.k)[1]
    kept = jnp.zeros_like(pre, bool).at[jnp.arange(50)[:, None], top].set(True)
    np.testing.assert_array_equal(codes != 0, kept)
    np.testing.assert_allclose(codes[kept], pre[kept], rtol=1e-6)


def _unit_atoms(seed=0, input_dim=8, width=15):
    atoms = jax.random.normal(jax.random.key(seed), (input_dim, width))
    return sae.unit_columns(atoms)


def _reference_mp(x, atoms, k):
    """The reference loop, written out in NumPy (float64)."""
    x, atoms = np.asarray(x, np.float64), np.asarray(atoms, np.float64)
    codes = np.zeros((x.shape[0], atoms.shape[1]))
    for i, residual in enumerate(x.copy()):
        chosen = np.zeros(atoms.shape[1], bool)
        for _ in range(k):
            inner = residual @ atoms
            pick = np.argmax(np.where(chosen, -1.0, np.abs(inner)))
            codes[i, pick] = inner[pick]
            residual -= inner[pick] * atoms[:, pick]
            chosen[pick] = True
    return codes


@pytest.mark.parametrize("gram", [True, False])
def test_matching_pursuit_matches_reference_loop(gram, monkeypatch):
    if not gram:
        monkeypatch.setattr(sae, "GRAM_MAX_WIDTH", 0)
    atoms = _unit_atoms()
    x = jax.random.normal(jax.random.key(1), (6, 8))
    codes = sae.matching_pursuit(x, atoms, 5)
    np.testing.assert_allclose(codes, _reference_mp(x, atoms, 5), atol=1e-5)


def test_matching_pursuit_picks_distinct_atoms_and_residual_shrinks():
    atoms = _unit_atoms(width=12)
    x = jax.random.normal(jax.random.key(4), (10, 8))
    picks, coefs = sae.mp_select(x, atoms.T, 12)
    for row in np.asarray(picks).T:
        assert len(set(row.tolist())) == 12
    # Matching pursuit with t steps is the first t steps of this run.
    steps = np.asarray(coefs)[:, :, None] * np.asarray(atoms.T)[np.asarray(picks)]
    residuals = np.asarray(x) - np.concatenate([np.zeros((1, 10, 8)), np.cumsum(steps, 0)])
    norms = np.linalg.norm(residuals, axis=-1)  # [k + 1, batch]
    assert np.all(np.diff(norms, axis=0) <= 1e-5)
    assert np.all(norms[-1] < norms[0])


def _naive_mp(x, atom_rows, k):
    """Matching pursuit as the reference's loop, differentiated by autodiff."""
    residual = x
    codes = jnp.zeros((x.shape[0], atom_rows.shape[0]))
    chosen = jnp.zeros_like(codes, bool)
    for _ in range(k):
        inner = residual @ atom_rows.T
        pick = jnp.argmax(jnp.where(chosen, -1.0, jnp.abs(inner)), axis=-1)
        coef = jnp.take_along_axis(inner, pick[:, None], axis=-1)
        onehot = jax.nn.one_hot(pick, atom_rows.shape[0], dtype=bool)
        codes = jnp.where(onehot, coef, codes)
        residual = residual - coef * atom_rows[pick]
        chosen = chosen | onehot
    return codes, residual


def test_matching_pursuit_gradient_matches_autodiff_of_loop():
    atom_rows = _unit_atoms(width=15).T
    x = jax.random.normal(jax.random.key(5), (6, 8))
    weights = jax.random.normal(jax.random.key(6), (6, 15))

    def loss(pursue, x, atom_rows):
        codes, residual = pursue(x, atom_rows)
        return jnp.sum(residual**2) + jnp.sum(weights * codes)

    def ours(x, atom_rows):
        picks, coefs, residual = sae._pursue(x, atom_rows, 4)
        return sae._dense_codes(picks, coefs, 15).T, residual

    naive = functools.partial(loss, lambda x, a: _naive_mp(x, a, 4))
    expected = jax.jit(jax.grad(naive, (0, 1)))(x, atom_rows)
    got = jax.jit(jax.grad(functools.partial(loss, ours), (0, 1)))(x, atom_rows)
    chex.assert_trees_all_close(got, expected, atol=1e-5, rtol=1e-4)


def _smoothed(z, theta, eps):
    """Kernel-smoothed JumpReLU and step: E_u[f(z + eps u)], u ~ rectangle kernel.

    With ``a = clip((theta - z) / eps, -1/2, 1/2)``, ``int_a^{1/2} (z + eps u) du``
    and ``int_a^{1/2} du``; their theta-derivatives inside the window are
    exactly ``-theta / eps`` and ``-1 / eps``, the pseudo-derivatives.
    """
    a = jnp.clip((theta - z) / eps, -0.5, 0.5)
    return z * (0.5 - a) + 0.5 * eps * (0.25 - a**2), 0.5 - a


def test_jumprelu_gradients_match_kernel_smoothed_finite_differences():
    eps, h = 1e-3, 5e-5
    theta = jnp.full((6,), 0.05)
    # Inside the kernel window (|z - theta| + h < eps / 2) and far outside it.
    z = theta + jnp.array([-4e-4, -1e-4, 1e-4, 3e-4, -0.02, 0.02])
    g_relu = jax.grad(lambda t: jnp.sum(sae.jumprelu(z, t, eps)))(theta)
    g_step = jax.grad(lambda t: jnp.sum(sae.step(z, t, eps)))(theta)
    fd = [
        (s_plus - s_minus) / (2 * h)
        for s_plus, s_minus in zip(
            _smoothed(z, theta + h, eps), _smoothed(z, theta - h, eps), strict=True
        )
    ]
    np.testing.assert_allclose(g_relu, fd[0], rtol=2e-3, atol=1e-6)
    np.testing.assert_allclose(g_step, fd[1], rtol=2e-3, atol=1e-6)
    assert np.all(np.asarray(g_relu[:4]) < 0) and np.all(np.asarray(g_relu[4:]) == 0)

    # w.r.t. z: the true derivative H(z - theta) for JumpReLU, zero for the step.
    g_z = jax.grad(lambda z: jnp.sum(sae.jumprelu(z, theta, eps)))(z)
    np.testing.assert_array_equal(g_z, (z > theta).astype(jnp.float32))
    np.testing.assert_array_equal(jax.grad(lambda z: jnp.sum(sae.step(z, theta, eps)))(z), 0.0)


def test_jumprelu_theta_gradient_sums_over_batch():
    z = jnp.array([[0.0497, 0.2], [0.0502, 0.0498]])
    theta = jnp.array([0.05, 0.05])
    g = jax.grad(lambda t: jnp.sum(sae.step(z, t, 1e-3)))(theta)
    np.testing.assert_allclose(g, [-2e3, -1e3], rtol=1e-5)


def test_shuffle_is_a_uniform_permutation():
    for n in (2, 100, 5000):
        order = np.asarray(jax.jit(sae.shuffle, static_argnums=1)(jax.random.key(n), n))
        np.testing.assert_array_equal(np.sort(order), np.arange(n))
    keys = jax.random.split(jax.random.key(0), 6000)
    orders = np.asarray(jax.jit(jax.vmap(lambda key: sae.shuffle(key, 3)))(keys))
    _, counts = np.unique(orders, axis=0, return_counts=True)
    assert len(counts) == 6 and np.all(np.abs(counts - 1000) < 150)


def test_map_rows_equals_one_pass():
    model, params = _params("mp")
    y = jax.random.normal(jax.random.key(8), (37, SPEC.input_dim))
    encode = functools.partial(model.apply, {"params": params}, method=model.encode)
    blocked = jax.jit(lambda y: sae.map_rows(encode, y, chunk=8))(y)
    np.testing.assert_allclose(blocked, encode(y), atol=1e-6)


def test_masked_loss_equals_loss_of_real_samples():
    model, params = _params("jumprelu")
    y = jax.random.normal(jax.random.key(7), (10, SPEC.input_dim))
    padded = sae.Batch(
        jnp.concatenate([y, jnp.ones((6, SPEC.input_dim))]),
        jnp.concatenate([jnp.ones(10), jnp.zeros(6)]),
    )
    full = sae.loss_fn(params, model, sae.Batch(y, jnp.ones(10)), 1e-4)
    masked = sae.loss_fn(params, model, padded, 1e-4)
    chex.assert_trees_all_close(masked, full, rtol=1e-6)


@pytest.mark.parametrize("kind", sae.SAE_KINDS)
def test_short_training_lowers_loss_and_reports_curves(kind):
    config = _config(epochs=7, log_every=5)
    run = get_method(sae.METHOD_NAMES[kind])(config, SPEC)
    out = jax.jit(run)(jax.random.key(0), _first_seed(_data()))
    chex.assert_shape([out.codes_val, out.codes_ood], [(SPEC.n_val, 20), (SPEC.n_ood, 20)])
    chex.assert_shape([out.dictionary, out.decoder_bias], [(SPEC.input_dim, 20), (SPEC.input_dim,)])
    np.testing.assert_array_equal(out.curves["step"], [0, 5, 6])  # and the last epoch
    for name in ("loss_train", "loss_val", "mse_val", "l0_val", "loss_ood", "mse_ood", "l0_ood"):
        chex.assert_shape(out.curves[name], (3,))
    assert not bool(out.scalars["nonfinite"])
    np.testing.assert_allclose(out.scalars["loss_train"], out.curves["loss_train"][-1])
    assert out.curves["loss_val"][-1] < out.curves["loss_val"][0]
    if kind in ("topk", "mp"):
        assert np.all(np.sum(np.asarray(out.codes_val) != 0, axis=-1) <= SPEC.k)


def test_vmap_over_seeds_equals_loop():
    run = get_method("sae_relu")(_config(epochs=2), SPEC)
    data, keys = _data(), jax.random.split(jax.random.key(9), 2)
    batched = jax.jit(jax.vmap(run))(keys, data)
    single = jax.jit(run)
    for seed in range(2):
        one = single(keys[seed], jax.tree.map(lambda a, s=seed: a[s], data))
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, s=seed: a[s], batched), one, atol=1e-5, rtol=1e-4
        )


def test_nonfinite_training_is_flagged():
    data = _first_seed(_data())
    data = data._replace(y_train=data.y_train.at[3, 0].set(jnp.nan))
    out = jax.jit(get_method("sae_relu")(_config(epochs=1), SPEC))(jax.random.key(0), data)
    assert bool(out.scalars["nonfinite"])


def test_invalid_config_is_refused():
    with pytest.raises(ConfigError, match="sae.epochs"):
        get_method("sae_relu")(_config(epochs=0), SPEC)
