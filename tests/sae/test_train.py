"""SAE training: decoder renormalisation and projection, shuffling, the masked loss,
BatchTopK's threshold, AuxK's dead-latent loss, and make_train's refusals."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sae_helpers import SPEC, tiny_model, tiny_params

from sparsecomp.sae import train
from sparsecomp.sae.model import SparseAutoencoder

# make_train's settings at the protocol's values but for a short run.
TRAIN = dict(epochs=4, batch_size=16, lr=5e-4, weight_decay=0.01, gamma=1e-4, renorm_every=50,
             log_every=10)



def _padded_batch(n_real=10, batch=16, seed=10):
    """A batch whose padding rows would win every selection if they were eligible."""
    y = jax.random.normal(jax.random.key(seed), (batch, SPEC.input_dim))
    mask = (jnp.arange(batch) < n_real).astype(jnp.float32)
    return train.Batch(jnp.where(mask[:, None] > 0, y, 100.0 * y), mask)


def test_renormalise_decoder_gives_unit_columns():
    _, params = tiny_params("relu")
    params = {**params, "W_d": params["W_d"] * jnp.linspace(0.5, 2.0, SPEC.num_latents)}
    norms = jnp.linalg.norm(train.renormalise_decoder(params)["W_d"], axis=0)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-6)


def test_decoder_gradient_projection_is_orthogonal_to_columns():
    rng = np.random.default_rng(0)
    decoder = jnp.asarray(rng.normal(size=(6, 9)), jnp.float32)
    grad = jnp.asarray(rng.normal(size=(6, 9)), jnp.float32)
    projected = train._project_decoder_grad(grad, decoder)
    np.testing.assert_allclose(jnp.sum(projected * decoder, axis=0), 0.0, atol=1e-5)


def test_shuffle_is_a_uniform_permutation():
    for n in (2, 100, 5000):
        order = np.asarray(jax.jit(train.shuffle, static_argnums=1)(jax.random.key(n), n))
        np.testing.assert_array_equal(np.sort(order), np.arange(n))
    keys = jax.random.split(jax.random.key(0), 6000)
    orders = np.asarray(jax.jit(jax.vmap(lambda key: train.shuffle(key, 3)))(keys))
    _, counts = np.unique(orders, axis=0, return_counts=True)
    assert len(counts) == 6 and np.all(np.abs(counts - 1000) < 150)


@pytest.mark.parametrize("kind", ["jumprelu", "batchtopk", "topk_auxk"])
def test_masked_loss_equals_loss_of_real_samples(kind):
    model, params = tiny_params(kind)
    # For topk_auxk: latents 10.. are dead, so the auxiliary term is on.
    extra = (jnp.arange(20) * 10, train.AuxK(0.5, 4, 100)) if kind == "topk_auxk" else ()
    y = jax.random.normal(jax.random.key(7), (10, SPEC.input_dim))
    padded = train.Batch(
        jnp.concatenate([y, 3.0 * jnp.ones((6, SPEC.input_dim))]),
        jnp.concatenate([jnp.ones(10), jnp.zeros(6)]),
    )
    full = train.loss_fn(params, model, train.Batch(y, jnp.ones(10)), 1e-4, *extra)
    masked = train.loss_fn(params, model, padded, 1e-4, *extra)
    chex.assert_trees_all_close(masked, full, rtol=1e-6)
    if kind == "topk_auxk":
        assert float(full[1]["aux_mse"]) > 0


def test_batchtopk_threshold_is_a_moving_average_untouched_by_adamw():
    model = tiny_model("batchtopk")
    optimizer = train.make_optimizer(lr=0.1, weight_decay=0.5, frozen=("threshold",))
    state = train.init_state(jax.random.key(0), model, optimizer)
    # The frozen parameter gets a zero update, whatever its gradient and decay.
    grads = jax.tree.map(jnp.ones_like, state.params)
    updates, _ = optimizer.update(grads, state.opt_state, state.params)
    assert float(updates["threshold"]) == 0.0 and np.all(np.asarray(updates["W_e"]) != 0)

    step = jax.jit(train.make_train_step(model, optimizer, 1e-4, threshold_decay=0.9))
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
    model, params = tiny_params("topk_auxk")
    batch = _padded_batch()
    since_fired = jnp.zeros(SPEC.num_latents, jnp.int32)
    auxk = train.AuxK(1.0, 4, 1000)
    (loss, aux), grads = jax.value_and_grad(train.loss_fn, has_aux=True)(
        params, model, batch, 1e-4, since_fired, auxk)
    (plain, _), plain_grads = jax.value_and_grad(train.loss_fn, has_aux=True)(
        params, model, batch, 1e-4)
    assert float(aux["aux_mse"]) == 0.0 and float(loss) == float(plain)
    chex.assert_trees_all_equal(grads, plain_grads)


def test_auxk_dead_counter_counts_real_samples_and_resets_on_firing():
    model, params = tiny_params("topk_auxk")
    batch = _padded_batch()
    codes = np.asarray(model.apply({"params": params}, batch.y).codes)
    fired_real = (codes[:10] > 0).any(axis=0)
    # Padding rows that fire a latent no real row fires: it must not reset.
    silent = int(np.flatnonzero(~fired_real)[0])
    y = batch.y.at[10:].set(10.0 * params["W_e"][silent])
    batch = batch._replace(y=y)
    assert (np.asarray(model.apply({"params": params}, y).codes)[10:, silent] > 0).all()
    since_fired = jnp.arange(SPEC.num_latents, dtype=jnp.int32) * 7
    _, aux = train.loss_fn(params, model, batch, 1e-4, since_fired, train.AuxK(1.0, 4, 50))
    expected = np.where(fired_real, 0, np.asarray(since_fired) + 10)  # 10 real samples
    np.testing.assert_array_equal(aux["since_fired"], expected)
    assert fired_real.any() and not fired_real.all()


def test_auxk_loss_by_hand():
    # pre = (2, 1, 1.5); TopK (k = 1) keeps latent 0: x_hat = (2, 0), e = (0, 1).
    model = SparseAutoencoder(input_dim=2, width=3, kind="topk_auxk", k=1)
    params = {
        "W_e": jnp.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]),
        "b_e": jnp.zeros(3),
        "W_d": jnp.array([[1.0, 0.0, 0.6], [0.0, 1.0, 0.8]]),
        "b_d": jnp.zeros(2),
    }
    batch = train.Batch(jnp.array([[2.0, 1.0]]), jnp.ones(1))

    def loss(params, since_fired, k, alpha=0.5):
        return train.loss_fn(params, model, batch, 0.0, jnp.array(since_fired),
                             train.AuxK(alpha, k, 5))

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


def test_make_train_refuses_impossible_settings():
    relu, auxk = tiny_model("relu"), train.AuxK(1 / 32, 4, 100)
    for field in ("epochs", "batch_size", "renorm_every", "log_every"):
        with pytest.raises(ValueError, match=f"{field}=0"):
            train.make_train(relu, **{**TRAIN, field: 0})
    with pytest.raises(ValueError, match="auxk"):
        train.make_train(tiny_model("topk_auxk"), **TRAIN)  # topk_auxk needs AuxK
    with pytest.raises(ValueError, match="auxk"):
        train.make_train(relu, **TRAIN, auxk=auxk)  # ...and only it
    with pytest.raises(ValueError, match="auxk"):
        train.make_train(tiny_model("topk_auxk"), **TRAIN, auxk=auxk._replace(k=21))
    with pytest.raises(ValueError, match="threshold_decay"):
        train.make_train(tiny_model("batchtopk"), **TRAIN)
    with pytest.raises(ValueError, match="threshold_decay=1.0"):
        train.make_train(tiny_model("batchtopk"), **TRAIN, threshold_decay=1.0)
    train.make_train(tiny_model("batchtopk"), **TRAIN, threshold_decay=0.0)


def test_split_metrics_match_the_forward_pass():
    model, params = tiny_params("relu")
    val = jax.random.normal(jax.random.key(12), (9, SPEC.input_dim))
    ood = jax.random.normal(jax.random.key(13), (5, SPEC.input_dim))
    metrics = train.split_metrics(params, model, {"val": val, "ood": ood}, 0.5)
    for name, y in (("val", val), ("ood", ood)):
        out = model.apply({"params": params}, y)
        mse = jnp.mean((out.x_hat - y) ** 2)
        np.testing.assert_allclose(metrics[f"mse_{name}"], mse, rtol=1e-5)
        np.testing.assert_allclose(metrics[f"loss_{name}"], mse + 0.5 * jnp.mean(out.penalty),
                                   rtol=1e-5)
        np.testing.assert_allclose(metrics[f"l0_{name}"],
                                   jnp.mean(jnp.sum(jnp.abs(out.codes) > 0.01, axis=-1)))
