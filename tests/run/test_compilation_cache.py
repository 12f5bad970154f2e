"""The persistent compilation cache: the CLI's directory, the notebook helper, a warm rerun."""

import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental.compilation_cache import compilation_cache as jax_cache

from sparsecomp.run import compilation_cache, enable_compilation_cache

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "flag, environ, expected",
    [
        ("/flag", {"SPARSECOMP_COMPILATION_CACHE": "/env"}, "/flag"),
        ("", {"SPARSECOMP_COMPILATION_CACHE": "/env"}, None),  # --compilation_cache= : off
        (None, {"SPARSECOMP_COMPILATION_CACHE": "/env", "JAX_COMPILATION_CACHE_DIR": "/j"},
         "/env"),
        (None, {"SPARSECOMP_COMPILATION_CACHE": ""}, None),
        (None, {"JAX_COMPILATION_CACHE_DIR": "/j"}, "/j"),
        (None, {"XDG_CACHE_HOME": "/xdg"}, "/xdg/sparsecomp/jax"),
    ],
)
def test_cli_cache_directory_flag_then_environment_then_default(monkeypatch, flag, environ,
                                                                 expected):
    for name in ("SPARSECOMP_COMPILATION_CACHE", "JAX_COMPILATION_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    chosen = compilation_cache.cache_dir_from_flag(flag)
    assert chosen == (Path(expected) if expected is not None else None)


def test_default_cache_directory_without_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert compilation_cache.default_cache_dir() == tmp_path / ".cache" / "sparsecomp" / "jax"


@pytest.fixture
def restore_jax_cache_config():
    names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
             "jax_persistent_cache_min_entry_size_bytes")
    saved = {name: getattr(jax.config, name) for name in names}
    yield
    for name, value in saved.items():
        jax.config.update(name, value)
    jax_cache.reset_cache()


def test_enable_helper_caches_small_programs_on_disk(tmp_path, restore_jax_cache_config):
    # A program no other test compiles (its constant is unique), compiled after
    # other programs: the helper must take effect all the same.
    constant = float(np.random.default_rng().uniform(1, 2))

    def program(x):
        return jnp.sin(x) * constant

    x = np.ones(3, np.float32)  # a NumPy input: no eager op to compile besides the program
    cache = enable_compilation_cache(tmp_path / "cache")
    assert cache == tmp_path / "cache"
    with compilation_cache.CompileCounter() as first:
        jax.jit(program)(x).block_until_ready()
    assert first.compiled >= 1 and first.loaded == 0
    assert any(cache.iterdir())
    jax.clear_caches()  # forget the in-memory executable: the next call goes to disk
    with compilation_cache.CompileCounter() as second:
        jax.jit(program)(x).block_until_ready()
    assert second.compiled == 0 and second.loaded >= 1


def _cli(workdir, *flags):
    result = subprocess.run(
        [sys.executable, "-m", "sparsecomp", "--config", "experiments/quickstart.py:smoke",
         "--config.methods=('fista_oracle',)", "--workdir", str(workdir), *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_cli_second_run_in_a_new_workdir_compiles_nothing(tmp_path):
    cache = tmp_path / "cache"
    first = _cli(tmp_path / "w1", f"--compilation_cache={cache}")
    assert f"compilation cache {cache}: " in first and " 0 loaded from the cache" in first
    second = _cli(tmp_path / "w2", f"--compilation_cache={cache}")
    assert f"compilation cache {cache}: 0 programs compiled" in second, second
    off = _cli(tmp_path / "w3", "--compilation_cache=")
    assert "compilation cache" not in off
