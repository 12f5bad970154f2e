"""The seed axis sharded over (simulated) devices gives the rows of one device.

The multi-device runs happen in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (the flag must be set
before JAX starts); the reference run uses this process's single CPU device.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import sparsecomp
from sparsecomp.errors import ConfigError
from sparsecomp.sharding import SeedSharding

TIMING = ("wall_s", "metrics_s")

CONFIG = """
from sparsecomp.defaults import base_config
config = base_config()
config.data.update({"num_latents": 20, "k": 3, "n_samples": 300})
config.seeds = (0, 1, 2, 3, 4)  # five seeds on four devices: one padded slot
config.sae.epochs = 2
config.fista.n_iter = 30
config.methods = ("fista_oracle", "linear_probe", "sae_topk", "fista+topk")
"""


def _config():
    scope: dict = {}
    exec(CONFIG, scope)
    return scope["config"]


def _strip(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def test_four_devices_give_the_rows_of_one(tmp_path):
    script = CONFIG + textwrap.dedent(f"""
        import jax, sparsecomp
        assert jax.local_device_count() == 4
        sparsecomp.train_and_evaluate(config, {str(tmp_path / "sharded")!r})
    """)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, capture_output=True)
    sharded = [json.loads(line) for line in (tmp_path / "sharded/results.jsonl").open()]
    single = sparsecomp.train_and_evaluate(_config(), tmp_path / "single")
    assert len(sharded) == len(single) == 5 * 4
    n_val = 300 - 300 // 2  # val samples; the probe accuracy is a fraction of them
    for a, b in zip(_strip(sharded), _strip(single), strict=True):
        assert a.keys() == b.keys()
        for key, value in a.items():
            if key.startswith("acc_"):
                # A probe accuracy counts samples: codes equal to ~1e-7 can move
                # one sample across the logistic boundary (seen once, sae_topk).
                assert value == pytest.approx(b[key], abs=1.001 / n_val), key
            elif isinstance(value, float):
                assert value == pytest.approx(b[key], abs=1e-5), key
            else:
                assert value == b[key], key


def test_padding_repeats_the_last_seed_and_is_dropped():
    layout = SeedSharding(num_seeds=3, devices=1)
    assert layout.padded == 3 and layout.pad_seeds((4, 5, 6)) == (4, 5, 6)
    layout.num_devices, layout.padded = 2, 4  # as on two devices
    assert layout.pad_seeds((4, 5, 6)) == (4, 5, 6, 6)
    import numpy as np

    padded = layout.pad({"x": np.arange(3)})
    assert padded["x"].tolist() == [0, 1, 2, 2]
    assert layout.unpad(padded)["x"].tolist() == [0, 1, 2]


@pytest.mark.parametrize("devices", [-1, 99, 1.5])
def test_bad_device_counts_are_refused(devices):
    with pytest.raises(ConfigError, match="devices="):
        SeedSharding(3, devices)
