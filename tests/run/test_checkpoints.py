"""Checkpoint checksums."""

import json
from pathlib import Path

import numpy as np
import pytest

from sparsecomp.run import checkpoints


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
