"""SAEs: init and shapes, TopK/MP/JumpReLU mechanics, custom gradients, training."""

import functools

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from sparsecomp import sae
from sparsecomp.blocking import map_rows
from sparsecomp.data import dataset_from_dense, make_spec
from sparsecomp.errors import ConfigError
from sparsecomp.linalg import unit_columns
from sparsecomp.methods.registry import get_method
from sparsecomp.methods.sections import sae_section

SPEC = make_spec(num_latents=20, k=3, n_samples=200)  # input_dim 12, 100 train samples


def _config(**overrides):
    config = ml_collections.ConfigDict(
        {"sae": sae_section(), "fista": {"lam": 0.1, "n_iter": 20}}
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
    return sae.make_model(sae_section(), SPEC, kind).clone(**fields)


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
    if kind == "batchtopk":
        expected["threshold"] = ()
    assert set(params) == set(expected)
    for name, shape in expected.items():
        chex.assert_shape(params[name], shape)
        chex.assert_type(params[name], jnp.float32)
    assert float(jnp.max(jnp.abs(params["W_e"]))) <= 1 / np.sqrt(m)
    np.testing.assert_allclose(params["W_d"], unit_columns(params["W_e"].T), rtol=1e-6)
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
    return unit_columns(atoms)


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
    blocked = jax.jit(lambda y: map_rows(encode, y, chunk=8))(y)
    np.testing.assert_allclose(blocked, encode(y), atol=1e-6)


@pytest.mark.parametrize("kind", ["jumprelu", "batchtopk", "topk_auxk"])
def test_masked_loss_equals_loss_of_real_samples(kind):
    model, params = _params(kind)
    # For topk_auxk: latents 10.. are dead, so the auxiliary term is on.
    extra = (jnp.arange(20) * 10, sae.AuxK(0.5, 4, 100)) if kind == "topk_auxk" else ()
    y = jax.random.normal(jax.random.key(7), (10, SPEC.input_dim))
    padded = sae.Batch(
        jnp.concatenate([y, 3.0 * jnp.ones((6, SPEC.input_dim))]),
        jnp.concatenate([jnp.ones(10), jnp.zeros(6)]),
    )
    full = sae.loss_fn(params, model, sae.Batch(y, jnp.ones(10)), 1e-4, *extra)
    masked = sae.loss_fn(params, model, padded, 1e-4, *extra)
    chex.assert_trees_all_close(masked, full, rtol=1e-6)
    if kind == "topk_auxk":
        assert float(full[1]["aux_mse"]) > 0


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
    if kind in ("topk", "mp", "topk_auxk"):
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
    with pytest.raises(ConfigError, match="sae.auxk_k"):
        get_method("sae_topk_auxk")(_config(auxk_k=0), SPEC)
    with pytest.raises(ConfigError, match="sae.batchtopk_threshold_decay"):
        get_method("sae_batchtopk")(_config(batchtopk_threshold_decay=1.0), SPEC)


# --------------------------------------------------------------------------
# BatchTopK and TopK + AuxK.
# --------------------------------------------------------------------------


def _padded_batch(n_real=10, batch=16, seed=10):
    """A batch whose padding rows would win every selection if they were eligible."""
    y = jax.random.normal(jax.random.key(seed), (batch, SPEC.input_dim))
    mask = (jnp.arange(batch) < n_real).astype(jnp.float32)
    return sae.Batch(jnp.where(mask[:, None] > 0, y, 100.0 * y), mask)


def test_batchtopk_keeps_k_per_real_row_across_the_batch_and_no_padding():
    model, params = _params("batchtopk")
    # A positive encoder bias makes every kept pre-activation positive.
    params = {**params, "b_e": jnp.full_like(params["b_e"], 10.0)}
    batch = _padded_batch()
    out = model.apply({"params": params}, batch.y, batch.mask)
    codes = np.asarray(out.codes)
    assert np.sum(codes != 0) == SPEC.k * 10
    np.testing.assert_array_equal(codes[10:], 0.0)
    pre = np.asarray(out.pre)[:10]
    top = np.argsort(-pre.ravel())[: SPEC.k * 10]
    kept = np.zeros(pre.size, bool)
    kept[top] = True
    np.testing.assert_array_equal(codes[:10].ravel() != 0, kept)
    np.testing.assert_allclose(codes[:10].ravel()[kept], pre.ravel()[kept], rtol=1e-6)
    # Not k per row: BatchTopK spreads the k * B codes unevenly over rows.
    assert len(set((codes[:10] != 0).sum(axis=1).tolist())) > 1


def test_batchtopk_inference_codes_threshold_at_theta():
    model, params = _params("batchtopk")
    y = jax.random.normal(jax.random.key(11), (30, SPEC.input_dim))
    pre = (y - params["b_d"]) @ params["W_e"].T + params["b_e"]
    for theta in (-1.0, 0.0, float(jnp.quantile(pre, 0.8))):
        variables = {"params": {**params, "threshold": jnp.float32(theta)}}
        codes = model.apply(variables, y, method=model.encode)
        np.testing.assert_allclose(codes, jax.nn.relu(pre) * (pre > theta), rtol=1e-6)


def test_batchtopk_threshold_is_a_moving_average_untouched_by_adamw():
    config = sae_section()
    config.update(lr=0.1, weight_decay=0.5, batchtopk_threshold_decay=0.9)
    model = _model("batchtopk")
    optimizer = sae.make_optimizer(config, ("threshold",))
    state = sae.init_state(jax.random.key(0), model, optimizer)
    # The frozen parameter gets a zero update, whatever its gradient and decay.
    grads = jax.tree.map(jnp.ones_like, state.params)
    updates, _ = optimizer.update(grads, state.opt_state, state.params)
    assert float(updates["threshold"]) == 0.0 and np.all(np.asarray(updates["W_e"]) != 0)

    step = jax.jit(sae.make_train_step(model, optimizer, config.gamma, threshold_decay=0.9))
    batch = _padded_batch()

    def min_kept(params):
        codes = np.asarray(model.apply({"params": params}, batch.y, batch.mask).codes)
        return codes[codes > 0].min()

    first, _ = step(state, batch)  # theta < 0: the first batch sets it
    np.testing.assert_allclose(first.params["threshold"], min_kept(state.params), rtol=1e-6)
    second, _ = step(first, batch)
    expected = 0.9 * first.params["threshold"] + 0.1 * min_kept(first.params)
    np.testing.assert_allclose(second.params["threshold"], expected, rtol=1e-6)
    assert not np.allclose(second.params["W_e"], first.params["W_e"])


def test_auxk_loss_is_zero_without_dead_latents():
    model, params = _params("topk_auxk")
    batch = _padded_batch()
    since_fired = jnp.zeros(SPEC.num_latents, jnp.int32)
    auxk = sae.AuxK(1.0, 4, 1000)
    (loss, aux), grads = jax.value_and_grad(sae.loss_fn, has_aux=True)(
        params, model, batch, 1e-4, since_fired, auxk)
    (plain, _), plain_grads = jax.value_and_grad(sae.loss_fn, has_aux=True)(
        params, model, batch, 1e-4)
    assert float(aux["aux_mse"]) == 0.0 and float(loss) == float(plain)
    chex.assert_trees_all_equal(grads, plain_grads)


def test_auxk_dead_counter_counts_real_samples_and_resets_on_firing():
    model, params = _params("topk_auxk")
    batch = _padded_batch()
    codes = np.asarray(model.apply({"params": params}, batch.y).codes)
    fired_real = (codes[:10] > 0).any(axis=0)
    # Padding rows that fire a latent no real row fires: it must not reset.
    silent = int(np.flatnonzero(~fired_real)[0])
    y = batch.y.at[10:].set(10.0 * params["W_e"][silent])
    batch = batch._replace(y=y)
    assert (np.asarray(model.apply({"params": params}, y).codes)[10:, silent] > 0).all()
    since_fired = jnp.arange(SPEC.num_latents, dtype=jnp.int32) * 7
    _, aux = sae.loss_fn(params, model, batch, 1e-4, since_fired, sae.AuxK(1.0, 4, 50))
    expected = np.where(fired_real, 0, np.asarray(since_fired) + 10)  # 10 real samples
    np.testing.assert_array_equal(aux["since_fired"], expected)
    assert fired_real.any() and not fired_real.all()


def test_auxk_loss_by_hand():
    # pre = (2, 1, 1.5); TopK (k = 1) keeps latent 0: x_hat = (2, 0), e = (0, 1).
    model = sae.SparseAutoencoder(input_dim=2, width=3, kind="topk_auxk", k=1)
    params = {
        "W_e": jnp.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]),
        "b_e": jnp.zeros(3),
        "W_d": jnp.array([[1.0, 0.0, 0.6], [0.0, 1.0, 0.8]]),
        "b_d": jnp.zeros(2),
    }
    batch = sae.Batch(jnp.array([[2.0, 1.0]]), jnp.ones(1))

    def loss(params, since_fired, k, alpha=0.5):
        return sae.loss_fn(params, model, batch, 0.0, jnp.array(since_fired),
                           sae.AuxK(alpha, k, 5))

    # Latents 1 and 2 dead (5 + 1 samples). k_aux = 1 picks latent 2 (pre 1.5):
    # e_hat = 1.5 (0.6, 0.8) = (0.9, 1.2), MSE = (0.81 + 0.04) / 2 = 0.425.
    total, aux = loss(params, [0, 5, 5], 1)
    np.testing.assert_allclose([aux["mse"], aux["aux_mse"], total], [0.5, 0.425, 0.7125])
    np.testing.assert_array_equal(aux["since_fired"], [0, 6, 6])
    # k_aux = 2 adds latent 1: e_hat = (0.9, 2.2), MSE = (0.81 + 1.44) / 2 = 1.125.
    np.testing.assert_allclose(loss(params, [0, 5, 5], 2)[1]["aux_mse"], 1.125)
    # Only dead latents reconstruct: with latent 1 alive, k_aux = 2 is k_aux = 1.
    np.testing.assert_allclose(loss(params, [0, 0, 5], 2)[1]["aux_mse"], 0.425)
    # e is a stop-gradient: the alive latent's weights get the main loss's gradient only.
    with_aux = jax.grad(lambda p: loss(p, [0, 5, 5], 1)[0])(params)
    without = jax.grad(lambda p: loss(p, [0, 5, 5], 1, alpha=0.0)[0])(params)
    np.testing.assert_allclose(with_aux["W_e"][0], without["W_e"][0])
    np.testing.assert_allclose(with_aux["W_d"][:, 0], without["W_d"][:, 0])
    assert np.abs(np.asarray(with_aux["W_e"][2] - without["W_e"][2])).max() > 0.1


@pytest.mark.slow
def test_variants_run_through_the_trainer(tmp_path):
    import sparsecomp
    from sparsecomp.run.defaults import base_config, shrink_for_smoke

    config = shrink_for_smoke(base_config())
    config.seeds = (0,)
    config.methods = ("sae_topk_auxk", "sae_batchtopk")
    config.sae.auxk_dead_after = 32  # a few batches, so the auxiliary loss runs
    rows = sparsecomp.train_and_evaluate(config, tmp_path)
    assert sorted(row["method"] for row in rows) == ["sae_batchtopk", "sae_topk_auxk"]
    for row in rows:
        for field in ("mcc_ood", "dict_mean_cosine", "dict_mean_norm_ratio",
                      "amortisation_gap_mse"):
            assert np.isfinite(row[field]), (row["method"], field)
        extra = "dead_latents" if row["method"] == "sae_topk_auxk" else "threshold"
        assert extra in row and row[extra] >= 0
