"""Test-session set-up: one persistent XLA compilation cache for the whole session.

The experiment smoke tests train the same tiny SAEs in several configs; with
a cache that lives for the session each distinct program compiles once. The
cache starts empty every session, so no stale programs are ever reused.
"""

import jax
import pytest


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory):
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("xla_cache")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    yield
