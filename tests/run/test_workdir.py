"""The workdir's files: a saved config is completed with new fields at their defaults."""

import json

import pytest

from sparsecomp.errors import ConfigError
from sparsecomp.run.schema import CONFIG_FILE
from sparsecomp.run.workdir import claim_workdir


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
