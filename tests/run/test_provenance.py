"""What produced a row: versions, the git commit of a checkout, backend and device."""

import importlib.metadata
import platform
import subprocess

import jax

from sparsecomp.run import provenance


def test_versions_name_python_and_the_packages_as_strings():
    versions = provenance.versions()
    assert versions["python"] == platform.python_version()
    assert versions["jax"] == importlib.metadata.version("jax") == jax.__version__
    assert set(provenance.PACKAGES) <= set(versions)
    assert all(isinstance(value, str) for value in versions.values())


def test_git_commit_only_from_the_checkout_sparsecomp_is_imported_from(tmp_path, monkeypatch):
    head = subprocess.run(["git", "-C", str(provenance.SOURCE_ROOT), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()
    env = provenance.environment()
    assert env["versions"].get("git") == (head or None)
    assert ("git_dirty" in env) == bool(head)
    assert env["backend"] == jax.default_backend()
    assert env["device_kind"] == jax.devices()[0].device_kind
    # A tree that is not the top of a checkout (site-packages inside a repository) has none.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "site-packages").mkdir()
    monkeypatch.setattr(provenance, "SOURCE_ROOT", tmp_path / "site-packages")
    assert "git" not in provenance.versions()
