"""Sweep expansion and validation: the distinct data specs of a config, every field checked."""

import json

import pytest

from sparsecomp.errors import ConfigError
from sparsecomp.run.defaults import base_config
from sparsecomp.run.sweep import limit_placeholder, runs_at, saved_config_json, sweep_points


def test_sweep_points_that_coincide_run_once():
    config = base_config()
    config.data.update({"num_latents": 50, "k": 10})
    config.sweep.c = (1.0, 5.0, 6.0)  # 5 and 6 both give input_dim = 50
    assert [spec.input_dim for spec in sweep_points(config)] == [17, 50]


def small_config(methods):
    config = base_config()
    config.data.update({"num_latents": 20, "k": 3, "n_samples": 200})  # 100 train samples
    config.methods = methods
    return config


@pytest.mark.parametrize(
    "methods, field, value, message",
    [
        (("sae_relu",), "sae.batch_size", 0, "sae.batch_size=0"),
        (("sae_relu",), "sae.epochs", 0, "sae.epochs=0"),
        (("sae_relu",), "fista.lam", 0.0, "fista.lam=0.0"),  # its amortisation gap's FISTA
        (("fista+relu",), "sae.epochs", 0, r"sae.epochs=0 .*\(method sae_relu"),  # required
        (("fista+relu",), "fista.n_iter", 0, "fista.n_iter=0"),
        (("support_lstsq_relu",), "support_recovery.n_iter", 0, "support_recovery.n_iter=0"),
        (("warm_relu",), "warmstart.n_iters", (-1, 2), "warmstart.n_iters"),
        (("cold_relu",), "warmstart.n_iters", (0,), r"budget > 0"),
        (("warm_dl_relu",), "warmstart.n_outer", (0, 5000), "dl_fista.max_rounds=1000"),
        (("dl_fista",), "dl_fista.inner_tol", -1.0, "dl_fista.inner_tol=-1.0"),
        (("dl_fista",), "dl_fista.resample_every", 0, "dl_fista.resample_every=0"),
        (("fista_oracle",), "fista.lam_sweep", (0.1, 0.1), "distinct"),
        (("lista",), "lista.batch_size", 101, "lista.batch_size=101"),
    ],
)
def test_every_field_a_method_reads_is_validated(methods, field, value, message):
    config = small_config(methods)
    section, name = field.split(".")
    config[section][name] = value
    with pytest.raises(ConfigError, match=message):
        sweep_points(config)


def test_a_method_limited_out_everywhere_is_not_built():
    config = small_config(("fista_oracle", "sae_relu"))
    config.sae.epochs = 0  # would be refused if sae_relu ran anywhere
    config.limits = {"sae_relu": {"num_latents": 10}}
    assert len(sweep_points(config)) == 1


def test_an_unset_limit_is_no_limit_and_is_not_saved():
    config = small_config(("fista_oracle",))
    config.limits = {"fista_oracle": {"n_samples": limit_placeholder("n_samples")}}
    (spec,) = sweep_points(config)
    assert runs_at(config, "fista_oracle", spec)
    assert json.loads(saved_config_json(config))["limits"] == {}
    config.limits.fista_oracle.n_samples = 100
    assert not runs_at(config, "fista_oracle", spec)
    assert json.loads(saved_config_json(config))["limits"] == {"fista_oracle": {"n_samples": 100}}
