"""The sae_<type> methods: registration, training through the registry, config refusals."""

import functools

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from sparsecomp.data import dataset_from_dense, make_spec
from sparsecomp.errors import ConfigError
from sparsecomp.methods import sae as sae_methods  # noqa: F401  (registers the methods)
from sparsecomp.methods.registry import get_method, method_info
from sparsecomp.methods.sections import sae_section
from sparsecomp.sae.model import SAE_KINDS, kind_label

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


def test_every_kind_is_registered_with_its_family_and_type():
    names = {"relu": "sae_relu", "topk": "sae_topk", "jumprelu": "sae_jumprelu",
             "mp": "sae_MP", "topk_auxk": "sae_topk_auxk", "batchtopk": "sae_batchtopk"}
    assert set(names) == set(SAE_KINDS)
    for kind, name in names.items():
        info = method_info(name)
        assert (info.family, info.sae_type, info.requires, info.same_as) == (
            "sae", kind_label(kind), (), None)


def test_decoder_columns_unit_norm_after_renormalised_epoch():
    # One epoch is epoch 0, after which the decoder is renormalised.
    run = get_method("sae_relu")(_config(epochs=1), SPEC)
    out = run(jax.random.key(3), _first_seed(_data()))
    np.testing.assert_allclose(jnp.linalg.norm(out.dictionary, axis=0), 1.0, rtol=1e-5)


@pytest.mark.parametrize("kind", SAE_KINDS)
def test_short_training_lowers_loss_and_reports_curves(kind):
    config = _config(epochs=7, log_every=5)
    run = get_method(f"sae_{kind_label(kind)}")(config, SPEC)
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


@pytest.mark.parametrize("field, value", [
    ("batch_size", 0), ("renorm_every", 0), ("log_every", -1), ("lr", 0.0),
    ("weight_decay", -0.1), ("gamma", -1e-4), ("jumprelu_bandwidth", 0.0),
    ("jumprelu_init_threshold", -1e-3), ("auxk_alpha", -1.0), ("auxk_dead_after", 0),
    ("batchtopk_threshold_decay", -0.5),
])
def test_every_sae_field_is_checked_with_one_line(field, value):
    with pytest.raises(ConfigError, match=f"^sae.{field}=.* is invalid: [^\n]*$"):
        get_method("sae_relu")(_config(**{field: value}), SPEC)


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
