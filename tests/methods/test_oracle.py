"""fista_oracle: FISTA on the mixing matrix, lambda sweeps, the working-set solver, bad config."""

import jax
import numpy as np
import pytest

import sparsecomp
from sparsecomp.coding.fista import fista
from sparsecomp.coding.working_set import working_set_lasso
from sparsecomp.data import make_datasets, make_spec
from sparsecomp.errors import ConfigError
from sparsecomp.methods.registry import get_method
from sparsecomp.run.defaults import base_config


def _oracle_config():
    config = base_config()
    config.data.k = 3
    config.data.n_samples = 200
    config.sweep.num_latents = (40,)
    config.seeds = (0, 1)
    config.methods = ("fista_oracle",)
    config.fista.solver = "working_set"
    config.working_set.size = 50  # capped at num_latents = 40
    return config


def test_oracle_with_the_working_set_solver_certifies_its_rows(tmp_path):
    rows = sparsecomp.train_and_evaluate(_oracle_config(), tmp_path)
    assert len(rows) == 2
    for row in rows:
        assert row["kkt_violation"] < 1e-3
        assert 1 <= row["solver_rounds"] <= 20
        assert row["mcc_ood"] > 0.9


@pytest.mark.parametrize(
    "field, value, message",
    [("fista.solver", "lars", "fista.solver='lars'"),
     ("working_set.size", 0, "working_set.size=0"),
     ("working_set.max_rounds", -1, "working_set.max_rounds=-1"),
     ("working_set.tol", 0.0, "working_set.tol=0.0")],
)
def test_bad_solver_settings_are_refused_naming_the_field(tmp_path, field, value, message):
    config = _oracle_config()
    group, name = field.split(".")
    config[group][name] = value
    with pytest.raises(ConfigError, match=message):
        sparsecomp.train_and_evaluate(config, tmp_path)


SPEC = make_spec(num_latents=20, k=3, n_samples=200)


def test_codes_are_fista_on_the_mixing_matrix_and_a_sweep_is_one_row_per_lambda():
    config = base_config()
    config.fista.n_iter = 30
    data = jax.tree.map(lambda x: x[0], make_datasets(jax.random.split(jax.random.key(0), 1),
                                                      SPEC))
    out = get_method("fista_oracle")(config, SPEC)(None, data)
    np.testing.assert_array_equal(out.codes_ood, fista(data.y_ood, data.mixing, 0.1, n_iter=30))
    assert out.scalars is None and out.variants is None
    config.fista.lam_sweep = (0.05, 0.1)
    swept = get_method("fista_oracle")(config, SPEC)(None, data)
    np.testing.assert_array_equal(swept.variants["lam"], np.float32([0.05, 0.1]))
    assert swept.codes_val.shape == (2, *out.codes_val.shape)
    np.testing.assert_allclose(swept.codes_val[1], out.codes_val, atol=1e-6)


def test_working_set_rows_carry_the_largest_rounds_and_violation_of_both_splits():
    config = _oracle_config()
    spec = make_spec(num_latents=40, k=3, n_samples=200)
    data = jax.tree.map(lambda x: x[0], make_datasets(jax.random.split(jax.random.key(1), 1),
                                                      spec))
    out = jax.jit(get_method("fista_oracle")(config, spec))(None, data)
    val, ood = (jax.jit(lambda y: working_set_lasso(y, data.mixing, 0.1, size=40))(y)
                for y in (data.y_val, data.y_ood))
    np.testing.assert_array_equal(out.codes_val, val.codes)
    assert out.scalars["solver_rounds"] == max(val.rounds.max(), ood.rounds.max())
    assert out.scalars["kkt_violation"] == max(val.kkt_violation.max(), ood.kkt_violation.max())


@pytest.mark.parametrize("field, value", [("lam", 0.0), ("lam", -1.0), ("n_iter", 0)])
def test_bad_fista_settings_are_refused_naming_the_field(field, value):
    config = base_config()
    config.fista[field] = value
    with pytest.raises(ConfigError, match=f"fista.{field}={value}"):
        get_method("fista_oracle")(config, SPEC)
