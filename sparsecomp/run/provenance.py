"""What produced a row: package versions, the git commit, the backend and device.

``versions()`` is the ``versions`` field the trainer stamps on every new row
(rows written before it existed are never stamped: their versions are not
known); ``environment()`` adds what ``runs.jsonl`` records per invocation.
Collecting them costs two ``git`` calls (with a short timeout) and a few
package-metadata look-ups, once per trainer invocation.
"""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path

import jax

# The distributions whose versions decide a row's numbers (python is added).
PACKAGES = ("jax", "jaxlib", "numpy", "scipy", "sparsecomp")
GIT_TIMEOUT_S = 2.0
# The root of the tree sparsecomp is imported from (a checkout, or site-packages).
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def versions() -> dict[str, str]:
    """``{"python": ..., "jax": ..., ..., "git": commit}``: what computes a row.

    A package that is not installed as a distribution is left out; ``git``
    is there only when sparsecomp is imported from a git checkout.
    """
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    commit = _git("rev-parse", "HEAD")
    if commit:
        found["git"] = commit
    return found


def environment() -> dict:
    """``versions``, ``git_dirty`` (with ``git``), ``backend`` and ``device_kind``.

    ``git_dirty`` is true when tracked files of the checkout differ from the
    commit (untracked files, such as workdirs, do not count).
    """
    found = versions()
    env = {"versions": found, "backend": jax.default_backend(),
           "device_kind": jax.devices()[0].device_kind}
    if "git" in found:
        status = _git("status", "--porcelain", "--untracked-files=no")
        if status is not None:
            env["git_dirty"] = bool(status)
    return env


def _git(*args: str) -> str | None:
    """The stripped output of ``git args`` in ``SOURCE_ROOT``, or ``None``.

    ``None`` also when ``SOURCE_ROOT`` is not the top of a checkout (an
    installed copy inside someone else's repository is not our commit).
    """
    def run(*command):
        result = subprocess.run(["git", "-C", str(SOURCE_ROOT), *command], capture_output=True,
                                text=True, timeout=GIT_TIMEOUT_S, check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    try:
        top = run("rev-parse", "--show-toplevel")
        if top is None or Path(top).resolve() != SOURCE_ROOT:
            return None
        return run(*args)
    except (OSError, subprocess.SubprocessError):
        return None
