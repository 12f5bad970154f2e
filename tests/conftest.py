"""Test-session set-up: one persistent XLA compilation cache for the whole session.

The experiment smoke tests train the same tiny SAEs in several configs; with
a cache that lives for the session each distinct program compiles once. The
cache starts empty every session, so no stale programs are ever reused.

After each test module JAX's in-memory caches are emptied: a test worker
compiles thousands of programs, each XLA:CPU executable keeps about 25 memory
mappings, and at Linux's default limit of 65,530 mappings LLVM aborts the
worker ("Unable to allocate section memory"); later modules load the programs
they share from the persistent cache.
"""

import jax
import pytest

from sparsecomp.metrics.group import clear_programs


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory):
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("xla_cache")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    yield


@pytest.fixture(scope="module", autouse=True)
def release_compiled_programs():
    yield
    jax.clear_caches()
    clear_programs()


@pytest.fixture(scope="session")
def fast_softplus_options():
    """Softplus-Adam options that train in a second: 400 steps at a 10x learning rate."""
    return dict(
        lam=0.1, learning_rate=1e-2, max_steps=400, early_stop_patience=5000, rtol=1e-4,
        plateau_factor=0.5, plateau_patience=1000, log_every=100,
    )
