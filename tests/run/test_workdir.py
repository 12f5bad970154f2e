"""The workdir's files: a saved config is completed with new fields at their defaults; a
workdir that cannot be written is refused at once."""

import errno
import json
import os
from pathlib import Path

import pytest

from sparsecomp.errors import ConfigError, WorkdirError
from sparsecomp.run.schema import CONFIG_FILE
from sparsecomp.run.workdir import check_writable, claim_workdir


def test_fields_added_since_a_run_resume_only_at_their_defaults(tmp_path):
    """A workdir from before a config field existed resumes iff the field is at its default."""
    defaults = {"dl_fista": {"lam": 0.1, "inner_tol": 0.0}, "new_group": {"on": False}}
    new = {"dl_fista": {"lam": 0.1, "inner_tol": 0.0}, "new_group": {"on": False}, "devices": 2}
    saved = {"dl_fista": {"lam": 0.1}, "devices": 1}
    (tmp_path / CONFIG_FILE).write_text(json.dumps(saved))
    claim_workdir(tmp_path, json.dumps(new), json.dumps(defaults))
    # Completed; the saved run's execution fields (devices) stay as they were.
    assert json.loads((tmp_path / CONFIG_FILE).read_text()) == {**new, "devices": 1}
    (tmp_path / CONFIG_FILE).write_text(json.dumps(saved))
    off_default = {**new, "dl_fista": {"lam": 0.1, "inner_tol": 1e-4}}
    with pytest.raises(ConfigError, match=r"fields dl_fista\.inner_tol\)"):
        claim_workdir(tmp_path, json.dumps(off_default), json.dumps(defaults))
    assert json.loads((tmp_path / CONFIG_FILE).read_text()) == saved  # untouched


def test_check_writable_creates_the_workdir_and_leaves_nothing(tmp_path):
    check_writable(tmp_path / "a" / "w")
    assert list((tmp_path / "a" / "w").iterdir()) == []


@pytest.mark.parametrize(
    "where, message",
    [("w", r"workdir .*w is a file"), ("w/sub", r"is not writable \(Not a directory")],
)
def test_a_workdir_under_or_at_a_file_is_refused(tmp_path, where, message):
    (tmp_path / "w").write_text("a file")
    with pytest.raises(WorkdirError, match=message):
        check_writable(tmp_path / where)
    assert (tmp_path / "w").read_text() == "a file"


def test_a_read_only_workdir_is_refused(tmp_path, monkeypatch):
    # Tests may run as root, for whom permissions do not stop a write: fake the filesystem's answer.
    def read_only(path, data):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(Path, "write_bytes", read_only)
    with pytest.raises(WorkdirError, match=r"is not writable \(Read-only file system"):
        check_writable(tmp_path)
