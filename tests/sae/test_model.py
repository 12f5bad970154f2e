"""The SAE model: kinds, init and shapes, TopK/BatchTopK codes, the blocked encoder."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sae_helpers import SPEC, tiny_model, tiny_params

from sparsecomp.blocking import map_rows
from sparsecomp.linalg import unit_columns
from sparsecomp.sae.model import (
    K_SPARSE_KINDS,
    PROTOCOL_KINDS,
    SAE_KINDS,
    SparseAutoencoder,
    decoder,
    encode_rows,
    kind_label,
)
from sparsecomp.sae.train import Batch


def test_kinds_and_labels():
    assert set(PROTOCOL_KINDS) <= set(SAE_KINDS) and set(K_SPARSE_KINDS) <= set(SAE_KINDS)
    assert [kind_label(kind) for kind in PROTOCOL_KINDS] == ["relu", "topk", "jumprelu", "MP"]
    assert kind_label("batchtopk") == "batchtopk"


def test_impossible_models_are_refused():
    with pytest.raises(ValueError, match="kind='gelu'"):
        tiny_model("gelu")
    with pytest.raises(ValueError, match="k=21"):
        SparseAutoencoder(input_dim=12, width=20, kind="topk", k=21)
    SparseAutoencoder(input_dim=12, width=20, kind="relu", k=21)  # relu ignores k


@pytest.mark.parametrize("kind", SAE_KINDS)
def test_init_follows_protocol_and_shapes(kind):
    model, params = tiny_params(kind)
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
    dictionary = decoder(model, params)
    np.testing.assert_allclose(out.x_hat, out.codes @ dictionary.T + params["b_d"], atol=1e-5)


def test_topk_keeps_exactly_k_largest():
    model, params = tiny_params("topk")
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


def test_map_rows_equals_one_pass():
    model, params = tiny_params("mp")
    y = jax.random.normal(jax.random.key(8), (37, SPEC.input_dim))
    encode = functools.partial(model.apply, {"params": params}, method=model.encode)
    blocked = jax.jit(lambda y: map_rows(encode, y, chunk=8))(y)
    np.testing.assert_allclose(blocked, encode(y), atol=1e-6)
    np.testing.assert_array_equal(encode_rows(model, params, y), map_rows(encode, y))


def _padded_batch(n_real=10, batch=16, seed=10):
    """A batch whose padding rows would win every selection if they were eligible."""
    y = jax.random.normal(jax.random.key(seed), (batch, SPEC.input_dim))
    mask = (jnp.arange(batch) < n_real).astype(jnp.float32)
    return Batch(jnp.where(mask[:, None] > 0, y, 100.0 * y), mask)


def test_batchtopk_keeps_k_per_real_row_across_the_batch_and_no_padding():
    model, params = tiny_params("batchtopk")
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
    model, params = tiny_params("batchtopk")
    y = jax.random.normal(jax.random.key(11), (30, SPEC.input_dim))
    pre = (y - params["b_d"]) @ params["W_e"].T + params["b_e"]
    for theta in (-1.0, 0.0, float(jnp.quantile(pre, 0.8))):
        variables = {"params": {**params, "threshold": jnp.float32(theta)}}
        codes = model.apply(variables, y, method=model.encode)
        np.testing.assert_allclose(codes, jax.nn.relu(pre) * (pre > theta), rtol=1e-6)
