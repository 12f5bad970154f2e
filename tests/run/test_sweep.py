"""Sweep expansion: the distinct data specs of a config."""

from sparsecomp.run.defaults import base_config
from sparsecomp.run.sweep import sweep_points


def test_sweep_points_that_coincide_run_once():
    config = base_config()
    config.data.update({"num_latents": 50, "k": 10})
    config.sweep.c = (1.0, 5.0, 6.0)  # 5 and 6 both give input_dim = 50
    assert [spec.input_dim for spec in sweep_points(config)] == [17, 50]
