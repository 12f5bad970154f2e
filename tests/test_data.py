"""Invariants of the synthetic superposition data (protocol section 2)."""

import math

import chex
import jax
import numpy as np
import pytest

from sparsecomp import data as data_module
from sparsecomp.data import (
    default_input_dim,
    labels,
    make_dataset,
    make_datasets,
    make_spec,
    observe,
    sample_observations,
)
from sparsecomp.errors import ConfigError

SPEC = make_spec(num_latents=40, k=4, n_samples=600)


@pytest.fixture(scope="module")
def data():
    keys = jax.vmap(jax.random.key)(np.arange(2, dtype=np.uint32))
    return jax.device_get(make_datasets(keys, SPEC))


def test_default_input_dim_is_the_compressed_sensing_bound():
    assert default_input_dim(100, 10) == 47
    assert default_input_dim(1000, 10) == 93
    assert default_input_dim(5000, 10) == 125
    assert default_input_dim(12, 10) == 11  # max(k + 1, ...) wins
    assert SPEC.input_dim == math.ceil(2 * 4 * math.log(10))


def test_shapes_and_dtypes(data):
    n, m = SPEC.num_latents, SPEC.input_dim
    chex.assert_shape(data.mixing, (2, m, n))
    chex.assert_shape([data.z_train, data.z_val], (2, 300, n))
    chex.assert_shape(data.z_ood, (2, 300, n))
    chex.assert_shape([data.y_train, data.y_val, data.y_ood], (2, 300, m))
    chex.assert_type([data.z_val, data.y_val, data.mixing], np.float32)
    chex.assert_type([data.label_val, data.label_ood], bool)


def test_exactly_k_active_values_in_unit_interval(data):
    for z in (data.z_train, data.z_val, data.z_ood):
        active = z > 0
        np.testing.assert_array_equal(active.sum(-1), SPEC.k)
        assert z.min() >= 0 and z.max() <= 1
        assert (z[active] > 0).all()


def test_pools_and_settings(data):
    n = SPEC.num_latents
    n_ood = n // 2
    ood_pool = np.arange(n - n_ood, n)
    # OOD (setting C): latent 0 plus k - 1 OOD-pool latents only.
    assert (data.z_ood[..., 0] > 0).all()
    assert (data.z_ood[..., 1 : n - n_ood] == 0).all()
    # ID: setting A (latent 0 + ID pool only) or setting B (latent 0 off).
    z_id = np.concatenate([data.z_train, data.z_val], axis=1)
    with_zero = z_id[..., 0] > 0
    assert (z_id[with_zero][:, ood_pool] == 0).all(), "OOD latents never pair with latent 0 in ID"
    assert 0.4 < with_zero.mean() < 0.6, "settings A and B with probability 1/2"
    # Setting B draws from both pools, so OOD-pool latents are seen in training.
    assert (z_id[~with_zero][:, ood_pool] > 0).any()


def test_mixing_columns_unit_norm_and_observations(data):
    np.testing.assert_allclose(np.linalg.norm(data.mixing, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(
        data.y_val, np.einsum("snl,sml->snm", data.z_val, data.mixing), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_array_equal(data.label_val, data.z_val[..., 0] > 0.5)


def test_deterministic_per_key_and_vmap_equals_loop(data):
    for seed in range(2):
        single = jax.device_get(make_dataset(jax.random.key(seed), SPEC))
        for batched, looped in zip(data, single, strict=True):
            np.testing.assert_allclose(batched[seed], looped, rtol=1e-5, atol=1e-6)
    assert not np.allclose(data.mixing[0], data.mixing[1])


def test_noise_is_added():
    noisy = make_spec(num_latents=40, k=4, n_samples=20, noise=0.1)
    d = make_dataset(jax.random.key(0), noisy)
    residual = np.asarray(d.y_val - d.z_val @ d.mixing.T)
    assert 0.05 < residual.std() < 0.2


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"num_latents": 10, "k": 10}, "k=10"),
        ({"num_latents": 10, "k": 12}, "num_latents=10"),
        ({"num_latents": 20, "k": 11}, "ID pool"),
        ({"num_latents": 100, "k": 10, "input_dim": 101}, "input_dim=101"),
        ({"num_latents": 100, "k": 0}, "k=0"),
        ({"num_latents": 100, "k": 10, "n_samples": 0}, "n_samples=0"),
        # A split of one sample: no latent varies, the MCC would be undefined.
        ({"num_latents": 100, "k": 10, "n_samples": 3}, "n_samples=3 .* >= 4"),
        ({"num_latents": 100, "k": 10, "noise": "x"}, "noise='x'"),
        ({"num_latents": 100, "k": 10, "c": None}, "c=None"),
        ({"num_latents": -5, "k": 1}, "num_latents=-5"),
        ({"num_latents": 100, "k": 10, "noise": -1.0}, "noise=-1.0"),
        ({"num_latents": 100, "k": 10, "n_eval": 1}, "n_eval=1"),
    ],
)
def test_invalid_sizes_are_refused_naming_the_field(fields, message):
    fields = {"n_samples": 100, **fields}
    with pytest.raises(ConfigError, match=message):
        make_spec(**fields)


def test_input_dim_derived_from_a_large_c_stops_at_num_latents():
    assert make_spec(num_latents=50, k=10, n_samples=100, c=6.0).input_dim == 50
    assert make_spec(num_latents=50, k=10, n_samples=100, c=1.0).input_dim == 17


def test_n_eval_sets_val_and_ood_and_keeps_the_train_half():
    spec = make_spec(num_latents=20, k=3, n_samples=400, n_eval=50)
    assert (spec.n_train, spec.n_val, spec.n_ood) == (200, 50, 50)
    data = make_dataset(jax.random.key(0), spec)
    chex.assert_shape((data.y_train, data.y_val, data.y_ood), [(200, spec.input_dim),
                                                               (50, spec.input_dim),
                                                               (50, spec.input_dim)])


def test_observations_in_blocks_equal_one_block(monkeypatch):
    spec = make_spec(num_latents=20, k=3, n_samples=300, noise=0.1)
    data = make_dataset(jax.random.key(1), spec)
    whole = observe(data.support_train, data.values_train, data.mixing, 0.1, jax.random.key(2))
    monkeypatch.setattr(data_module, "OBSERVE_BLOCK_BYTES", 4 * 20 * 7)  # 7 rows, ragged end
    blocked = observe(data.support_train, data.values_train, data.mixing, 0.1, jax.random.key(2))
    np.testing.assert_allclose(blocked, whole, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(whole, data.z_train @ data.mixing.T, atol=0.5)  # noise 0.1
    np.testing.assert_array_equal(labels(data.support_train, data.values_train),
                                  data.z_train[:, 0] > 0.5)


def test_streamed_samples_are_fresh_id_samples():
    spec = make_spec(num_latents=20, k=3, n_samples=4000)
    data = make_dataset(jax.random.key(1), spec)
    a = sample_observations(jax.random.key(3), data.mixing, spec, 2000)
    b = sample_observations(jax.random.key(4), data.mixing, spec, 2000)
    chex.assert_shape(a, (2000, spec.input_dim))
    assert not np.allclose(a, b)
    # Same distribution as the ID split: second moments agree to sampling error.
    np.testing.assert_allclose(np.cov(np.asarray(a).T), np.cov(np.asarray(data.y_train).T),
                               atol=0.08)
