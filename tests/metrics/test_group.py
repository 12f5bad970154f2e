"""Group evaluation on the device equals ``evaluate`` seed by seed.

MCCs, AUCs and the other continuous metrics agree to 1e-6 (batched products
round differently); a probe accuracy may differ by samples on the decision
boundary, at most one per seed and split here.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparsecomp.data import make_datasets, make_spec
from sparsecomp.methods.registry import MethodOutput, get_method
from sparsecomp.metrics import group, matching
from sparsecomp.metrics.rows import evaluate
from sparsecomp.run.defaults import base_config, shrink_for_smoke

ACCURACIES = ("acc_iid", "acc_ood")


def _per_seed(data, output, variants):
    host_data, host_output = jax.device_get((data, output))
    rows = []
    for s in range(host_data.z_val.shape[0]):
        seed_data, seed_output = jax.tree.map(lambda x, s=s: x[s], (host_data, host_output))
        seed_output = seed_output._replace(params=None, curves=None, variants=None)
        if not variants:
            rows.append([evaluate(seed_data, seed_output)])
        else:
            rows.append([evaluate(seed_data, jax.tree.map(lambda x, v=v: x[v], seed_output))
                         for v in range(seed_output.codes_val.shape[0])])
    return rows


def _assert_rows_agree(batched, reference, n_samples):
    assert len(batched) == len(reference)
    for seed_rows, seed_reference in zip(batched, reference, strict=True):
        assert len(seed_rows) == len(seed_reference)
        for row, expected in zip(seed_rows, seed_reference, strict=True):
            assert list(row) == list(expected)  # the same fields, in the same order
            for name, value in expected.items():
                if name in ACCURACIES:  # one boundary sample at most
                    assert abs(row[name] - value) <= 1.0 / n_samples + 1e-7, name
                elif value is None or isinstance(value, bool):
                    assert row[name] == value, name
                else:
                    np.testing.assert_allclose(row[name], value, rtol=0, atol=1e-6, err_msg=name)


def _random_output(key, data, width, *, variants=None, dictionary=True):
    """Sparse non-negative random codes (and a random dictionary) per seed."""
    seeds, n_val = data.z_val.shape[:2]
    n_ood, input_dim = data.y_ood.shape[1], data.y_val.shape[2]
    lead = (seeds,) if variants is None else (seeds, variants)
    k_val, k_ood, k_dict, k_mask = jax.random.split(key, 4)

    def sparse(k, shape):
        values = jax.random.uniform(k, shape)
        return jnp.where(jax.random.uniform(jax.random.fold_in(k, 1), shape) < 0.2, values, 0.0)

    return MethodOutput(
        codes_val=sparse(k_val, (*lead, n_val, width)),
        codes_ood=sparse(k_ood, (*lead, n_ood, width)),
        dictionary=(jax.random.normal(k_dict, (*lead, input_dim, width)) if dictionary
                    else None),
        scalars={"nonfinite": jnp.zeros(lead, bool)},
    )


@pytest.fixture(scope="module")
def data():
    spec = make_spec(num_latents=20, k=3, n_samples=400)
    return make_datasets(jax.random.split(jax.random.key(0), 3), spec)


def test_random_codes_with_and_without_a_dictionary(data):
    for dictionary in (True, False):
        output = _random_output(jax.random.key(1), data, 20, dictionary=dictionary)
        _assert_rows_agree(group.evaluate_group(data, output), _per_seed(data, output, False),
                           data.z_val.shape[1])


def test_variants_are_a_second_axis_and_wider_codes_are_served(data):
    output = _random_output(jax.random.key(2), data, 24, variants=2)  # width > num_latents
    rows = group.evaluate_group(data, output, variants=True)
    assert [len(r) for r in rows] == [2, 2, 2]
    _assert_rows_agree(rows, _per_seed(data, output, True), data.z_val.shape[1])


def test_non_finite_seeds_get_only_the_flag(data):
    output = _random_output(jax.random.key(3), data, 20)
    codes = output.codes_val.at[1, 0, 0].set(jnp.nan)
    scalars = {"nonfinite": jnp.array([False, False, True])}
    output = output._replace(codes_val=codes, scalars=scalars)
    rows = group.evaluate_group(data, output)
    assert rows[1] == [{"nonfinite": True}] and rows[2] == [{"nonfinite": True}]
    _assert_rows_agree(rows, _per_seed(data, output, False), data.z_val.shape[1])


def test_latents_that_never_occur_are_padded_with_the_same_noise():
    # 20 val samples with k = 3 of 50 latents: many latents never occur, so
    # the ID problem has noise rows, which compete for code columns.
    spec = make_spec(num_latents=50, k=3, n_samples=40)
    data = make_datasets(jax.random.split(jax.random.key(4), 2), spec)
    assert (np.asarray(data.z_val).std(axis=1) == 0).any()
    output = _random_output(jax.random.key(5), data, 50)
    _assert_rows_agree(group.evaluate_group(data, output), _per_seed(data, output, False),
                       data.z_val.shape[1])


def test_padding_seeds_are_evaluated_and_dropped(data):
    output = _random_output(jax.random.key(6), data, 20)
    rows = group.evaluate_group(data, output, num_seeds=2)
    assert len(rows) == 2
    _assert_rows_agree(rows, _per_seed(data, output, False)[:2], data.z_val.shape[1])


def test_the_sparse_path_of_large_widths_is_evaluate_seed_by_seed(data, monkeypatch):
    monkeypatch.setattr(matching, "EXACT_MAX_WIDTH", 8)  # 20 latents: the sparse path
    output = _random_output(jax.random.key(7), data, 20)
    assert group.evaluate_group(data, output) == _per_seed(data, output, False)


@pytest.mark.parametrize("name", ["fista_oracle", "linear_probe", "dl_fista"])
def test_real_method_outputs(data, name):
    config = shrink_for_smoke(base_config())
    config.fista.lam_sweep = (0.05, 0.1) if name == "fista_oracle" else ()
    spec = make_spec(num_latents=20, k=3, n_samples=400)
    keys = jax.random.split(jax.random.key(8), 3)
    output = jax.jit(jax.vmap(get_method(name)(config, spec)))(keys, data)
    variants = output.variants is not None
    _assert_rows_agree(group.evaluate_group(data, output, variants=variants),
                       _per_seed(data, output, variants), data.z_val.shape[1])


def test_the_noise_stream_is_latent_mccs_padding():
    n_samples, missing = 7, 5
    expected = np.random.default_rng(0).standard_normal((n_samples, missing)).astype(np.float32)
    stream = group._noise_stream(n_samples * 9)
    np.testing.assert_array_equal(stream[: n_samples * missing].reshape(n_samples, missing),
                                  expected)
