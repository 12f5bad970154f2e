"""Packaging: console scripts, dependency bounds, and an import without side effects.

The entry points are read from ``pyproject.toml`` (not from the installed
metadata, which an editable install only refreshes when reinstalled).
Imports that must start from a clean process run in a subprocess.
"""

import importlib.metadata
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import threadpoolctl
from packaging.requirements import Requirement
from packaging.version import Version

from sparsecomp.run import trainer
from sparsecomp.run.threads import single_blas_thread

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _lock() -> dict[str, Version]:
    """``requirements-lock.txt`` as {normalised name: pinned version}."""
    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            req = Requirement(line)
            pins[_normalise(req.name)] = Version(next(iter(req.specifier)).version)
    return pins


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-")


def _run_python(code: str) -> dict:
    """Runs ``code`` in a fresh interpreter (cwd: the repository) and parses its last line.

    ``OPENBLAS_NUM_THREADS`` is left out of its environment, so that setting it
    (as sparsecomp's import once did) shows up as a change.
    """
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_console_scripts_resolve_to_callables():
    scripts = PROJECT["scripts"]
    assert set(scripts) == {"sparsecomp", "sparsecomp-report"}
    code = (
        "import importlib, json\n"
        f"scripts = {scripts!r}\n"
        "out = {}\n"
        "for name, target in scripts.items():\n"
        "    module, attr = target.split(':')\n"
        "    out[name] = callable(getattr(importlib.import_module(module), attr))\n"
        "print(json.dumps(out))\n"
    )
    assert _run_python(code) == {name: True for name in scripts}


def test_import_leaves_the_environment_alone_and_does_not_need_chex():
    code = (
        "import json, os, sys\n"
        "import jax, numpy, scipy\n"  # the dependencies' own effects are not ours
        "before = dict(os.environ)\n"
        "import sparsecomp, sparsecomp.__main__, sparsecomp.report.cli\n"
        "changed = sorted(k for k in set(before) | set(os.environ)\n"
        "                 if before.get(k) != os.environ.get(k))\n"
        "print(json.dumps({'changed': changed, 'chex': 'chex' in sys.modules}))\n"
    )
    assert _run_python(code) == {"changed": [], "chex": False}


def test_chex_is_only_a_test_dependency():
    runtime = {_normalise(Requirement(r).name) for r in PROJECT["dependencies"]}
    test = {_normalise(Requirement(r).name) for r in PROJECT["optional-dependencies"]["test"]}
    assert "chex" not in runtime and "chex" in test


def test_accelerator_extras_are_jax_extras():
    extras = PROJECT["optional-dependencies"]
    for extra in ("cuda12", "cuda13", "tpu"):
        assert extras[extra] == [f"jax[{extra}]"]
        assert extra in importlib.metadata.metadata("jax").get_all("Provides-Extra")


def test_the_lock_satisfies_every_bound():
    pins = _lock()
    extras = PROJECT["optional-dependencies"]
    for line in PROJECT["dependencies"] + extras["test"]:
        req = Requirement(line)
        assert req.specifier.contains(pins[_normalise(req.name)]), line


def test_bounds_are_no_looser_than_what_the_installed_jax_requires():
    ours = {_normalise(Requirement(r).name): Requirement(r).specifier
            for r in PROJECT["dependencies"]}
    for line in importlib.metadata.requires("jax"):
        req = Requirement(line)
        name = _normalise(req.name)
        if req.marker is not None or name not in ("numpy", "scipy", "jaxlib"):
            continue
        floor = min(Version(s.version) for s in req.specifier if s.operator == ">=")
        ours_floor = min(Version(s.version) for s in ours[name] if s.operator == ">=")
        assert ours_floor >= floor, (name, str(ours[name]), str(req.specifier))


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpoolctl.threadpool_info()
            if pool["user_api"] == "blas"]


def test_single_blas_thread_limits_then_restores():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        outside = _blas_threads()
        with single_blas_thread():
            assert _blas_threads() and set(_blas_threads()) == {1}
        assert _blas_threads() == outside


def test_a_run_holds_one_blas_thread(tmp_path, monkeypatch):
    seen = []

    def record(config, workdir, held):
        seen.append(_blas_threads())
        return []

    monkeypatch.setattr(trainer, "_train_and_evaluate", record)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        outside = _blas_threads()
        assert trainer.train_and_evaluate(None, tmp_path) == []
        assert _blas_threads() == outside
    assert seen and seen[0] and set(seen[0]) == {1}
