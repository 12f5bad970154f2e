"""The seed axis sharded over (simulated) devices gives the rows of one device.

The multi-device runs happen in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (the flag must be set
before JAX starts), or in two processes of two devices each, started as a
multi-host launch starts them (the same command, ``JAX_COORDINATOR_ADDRESS``,
``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` in the environment); the
reference run uses this process's single CPU device.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import sparsecomp
from sparsecomp.errors import ConfigError
from sparsecomp.run import checkpoints
from sparsecomp.run.schema import TIMING_FIELDS
from sparsecomp.run.sharding import SeedSharding

TIMING = TIMING_FIELDS

CONFIG = """
from sparsecomp.run.defaults import base_config
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


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The workdir and rows of CONFIG on this process's one device."""
    workdir = tmp_path_factory.mktemp("single")
    return workdir, sparsecomp.train_and_evaluate(_config(), workdir)


def test_four_devices_give_the_rows_of_one(tmp_path, single):
    script = CONFIG + textwrap.dedent(f"""
        import jax, sparsecomp
        assert jax.local_device_count() == 4
        sparsecomp.train_and_evaluate(config, {str(tmp_path / "sharded")!r})
    """)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, capture_output=True)
    sharded = [json.loads(line) for line in (tmp_path / "sharded/results.jsonl").open()]
    assert_same_rows(sharded, single[1])


def assert_same_rows(rows, single):
    """The rows of a sharded run of CONFIG equal those of one device (float tolerance)."""
    assert len(rows) == len(single) == 5 * 4
    n_val = 300 - 300 // 2  # val samples; the probe accuracy is a fraction of them
    for a, b in zip(_strip(rows), _strip(single), strict=True):
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


def _config_file(path):
    body = CONFIG.strip().splitlines()
    head = [line for line in body if line.startswith("from ")]
    rest = ["    " + line for line in body if not line.startswith("from ")]
    path.write_text("\n".join(head + ["", "def get_config():"] + rest + ["    return config", ""]))
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def test_two_processes_give_the_rows_of_one_and_only_process_0_writes(tmp_path, single):
    config_file = _config_file(tmp_path / "config.py")
    workdir = tmp_path / "multi"
    port = _free_port()
    procs = []
    for rank in range(2):
        env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
               "JAX_PLATFORMS": "cpu", "JAX_COORDINATOR_ADDRESS": f"localhost:{port}",
               "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": str(rank),
               "PYTHONFAULTHANDLER": "1"}  # SIGABRT prints every thread's stack
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "sparsecomp", "--config", str(config_file),
             "--workdir", str(workdir)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        outputs = [proc.communicate(timeout=300) for proc in procs]
    except subprocess.TimeoutExpired:  # a hang: show where each process waits
        for proc in procs:
            proc.send_signal(signal.SIGABRT)
        stacks = [proc.communicate(timeout=60)[1][-6000:] for proc in procs]
        pytest.fail("the two-process run hung; its stacks:\n" + "\n\n".join(stacks))
    finally:
        for proc in procs:  # a hung run must not outlive the test
            proc.kill()
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    assert "on 4 cpu device(s) of 2 processes" in outputs[0][0]
    # Process 1 prints no progress and no table (only gloo's connection notices,
    # whose lines its threads may interleave).
    assert "sweep points" not in outputs[1][0] and "mcc_ood" not in outputs[1][0]
    rows = [json.loads(line) for line in (workdir / "results.jsonl").open()]
    single_dir, single_rows = single
    assert_same_rows(rows, single_rows)  # five seeds on four devices: padded, then dropped
    runs = [json.loads(line) for line in (workdir / "runs.jsonl").open()]
    assert len(runs) == 1 and runs[0]["devices"] == 4  # one writer
    point = next(p.name for p in (workdir / "checkpoints").iterdir())
    restored = checkpoints.restore_params(checkpoints.checkpoint_dir(workdir, point, "sae_topk"))
    expected = checkpoints.restore_params(
        checkpoints.checkpoint_dir(single_dir, point, "sae_topk"))
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(expected), strict=True):
        assert a.shape == b.shape and a.shape[0] == 5
        np.testing.assert_allclose(a, b, atol=1e-5)


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
