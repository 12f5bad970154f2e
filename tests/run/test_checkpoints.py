"""Checkpoint checksums, and a required method's lost or damaged checkpoint recomputed."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import sparsecomp
from sparsecomp.run import checkpoints
from sparsecomp.run.defaults import base_config
from sparsecomp.run.schema import RESULTS_FILE, TIMING_FIELDS

POINT = "n16_k3_m11_s200"


def _params():
    rng = np.random.default_rng(0)
    return {"W_d": rng.standard_normal((2, 40, 30), np.float32),
            "inner": {"b": rng.standard_normal((2, 40), np.float32)}}


def _flip_array_bytes(directory: Path) -> None:
    """Flips bytes in the middle of the checkpoint's largest data file (its arrays)."""
    files = [path for path in directory.rglob("*") if path.is_file() and path.parent.name == "d"]
    data = max(files, key=lambda path: path.stat().st_size)
    content = bytearray(data.read_bytes())
    middle = len(content) // 2
    content[middle:middle + 4] = bytes(b ^ 0xFF for b in content[middle:middle + 4])
    data.write_bytes(bytes(content))


def test_restore_verifies_the_checksum(tmp_path):
    directory = tmp_path / "ckpt"
    params = _params()
    checkpoints.save_params(directory, params, seeds=(3, 5))
    restored = checkpoints.restore_params(directory)
    np.testing.assert_array_equal(restored["W_d"], params["W_d"])
    assert checkpoints.saved_seeds(directory) == (3, 5)
    record = json.loads((directory / checkpoints.CHECKSUM_FILE).read_text())
    assert record["sha256"] == checkpoints.params_checksum(params)["sha256"]
    assert record["leaves"] == [["W_d", "<f4", [2, 40, 30]], ["inner/b", "<f4", [2, 40]]]
    _flip_array_bytes(directory)
    with pytest.raises(checkpoints.CheckpointError, match="corrupt|unreadable"):
        checkpoints.restore_params(directory)


def test_checkpoints_from_before_checksums_restore_unverified(tmp_path):
    directory = tmp_path / "ckpt"
    checkpoints.save_params(directory, _params())
    (directory / checkpoints.CHECKSUM_FILE).unlink()
    np.testing.assert_array_equal(checkpoints.restore_params(directory)["W_d"], _params()["W_d"])
    assert checkpoints.saved_seeds(directory) is None
    with pytest.raises(checkpoints.CheckpointError, match="missing"):
        checkpoints.restore_params(tmp_path / "absent")


def test_the_checksum_is_over_the_values_not_the_containers():
    params = _params()
    as_tuple_leaves = {"W_d": params["W_d"], "inner": {"b": params["inner"]["b"].copy()}}
    assert checkpoints.params_checksum(params) == checkpoints.params_checksum(as_tuple_leaves)
    changed = {**params, "W_d": params["W_d"].copy()}
    changed["W_d"][0, 0, 0] += 1e-6
    assert checkpoints.params_checksum(params) != checkpoints.params_checksum(changed)


# -- a required method's checkpoint, through the trainer --------------------------------


def sae_config(methods):
    config = base_config()
    config.data.k = 3
    config.data.n_samples = 200
    config.sweep.num_latents = (16,)
    config.seeds = (0, 1)
    config.sae.epochs = 2
    config.fista.n_iter = 20
    config.methods = methods
    return config


def _rows(workdir):
    return [json.loads(line) for line in (Path(workdir) / RESULTS_FILE).read_text().splitlines()]


def _untimed(rows):
    return sorted(json.dumps({k: v for k, v in row.items() if k not in TIMING_FIELDS},
                             sort_keys=True) for row in rows)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A run of ``sae_relu`` and ``fista+relu``, and one that also ran ``refined_relu``."""
    first = tmp_path_factory.mktemp("first")
    sparsecomp.train_and_evaluate(sae_config(("sae_relu", "fista+relu")), first)
    uninterrupted = tmp_path_factory.mktemp("uninterrupted")
    sparsecomp.train_and_evaluate(sae_config(("sae_relu", "fista+relu", "refined_relu")),
                                  uninterrupted)
    return first, uninterrupted


@pytest.mark.parametrize("damage", ["delete", "flip", "checksum_file"])
def test_a_lost_or_damaged_required_checkpoint_is_recomputed(runs, tmp_path, capsys, damage):
    first, uninterrupted = runs
    workdir = tmp_path / "w"
    shutil.copytree(first, workdir)
    directory = checkpoints.checkpoint_dir(workdir, POINT, "sae_relu")
    if damage == "delete":
        shutil.rmtree(directory)
    elif damage == "flip":
        _flip_array_bytes(directory)
    else:
        (directory / checkpoints.CHECKSUM_FILE).write_text("{not json")
    capsys.readouterr()
    rows = sparsecomp.train_and_evaluate(
        sae_config(("sae_relu", "fista+relu", "refined_relu")), workdir)
    log = capsys.readouterr()
    reason = {"delete": "missing", "flip": "(corrupt|unreadable)",
              "checksum_file": "corrupt"}[damage]
    assert any(re.match(
        rf"  checkpoint of sae_relu at {POINT} was {reason}.*: recomputed \(rows identical to "
        "the committed ones\\)", line) for line in log.out.splitlines()), log.out
    assert "WARNING" not in log.err
    # No row duplicated or changed; the same rows as one uninterrupted run.
    assert rows == _rows(workdir) and len(rows) == 3 * 2
    assert _untimed(rows) == _untimed(_rows(uninterrupted))
    # The checkpoint is whole again and verified.
    checkpoints.restore_params(directory)
    assert checkpoints.saved_seeds(directory) == (0, 1)
