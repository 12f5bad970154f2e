"""JAX's persistent compilation cache: where the CLI keeps it, how a notebook opts in.

A sparsecomp command compiles a few dozen programs per sweep point (data
generation, each method's call over the seeds, the metrics). Compiling them
takes most of a short run's wall time, and a new process compiles them all
again; with JAX's persistent compilation cache the second run of a command
loads them from disk instead (the n = 100 point of ``vary_latents`` with every
method of the paper: 52 s the first time, 17 s the next, on one H200).

The CLI (``python -m sparsecomp``) turns the cache on by default
(``cache_dir_from_flag``): ``--compilation_cache DIR``, else the environment
variable ``SPARSECOMP_COMPILATION_CACHE``, else JAX's own
``JAX_COMPILATION_CACHE_DIR``, else ``$XDG_CACHE_HOME/sparsecomp/jax``
(``~/.cache/sparsecomp/jax``); an empty value turns it off. Library
functions (``train_and_evaluate``) never touch it: a notebook opts in with
``enable_compilation_cache()``.

Every program is cached, however small (``min_compile_time`` and
``min_entry_size`` 0): a command runs many programs that compile in well under
JAX's default threshold of one second, and together they are most of its
compile time. Entries are keyed by the program, the backend and the jax/jaxlib
versions, so a cache shared by versions or machines never returns a wrong
program, only misses.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache as _jax_cache

# Held while a worker thread of the trainer compiles (a method's call or the
# evaluation programs): a CI run once aborted inside XLA while serialising an
# executable for the persistent cache, with two threads compiling at once.
COMPILE_LOCK = threading.Lock()
ENV_VAR = "SPARSECOMP_COMPILATION_CACHE"
JAX_ENV_VAR = "JAX_COMPILATION_CACHE_DIR"

# jax.monitoring events (jax/_src/compiler.py, dispatch.py): a program compiled
# or loaded through the persistent cache, one loaded from it, and the seconds
# of every backend compilation (cache loads included).
_REQUEST_EVENT = "/jax/compilation_cache/compile_requests_use_cache"
_HIT_EVENT = "/jax/compilation_cache/cache_hits"
_COMPILE_DURATION_EVENT = "/jax/core/compile/backend_compile_duration"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/sparsecomp/jax``, or ``~/.cache/sparsecomp/jax``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sparsecomp" / "jax"


def cache_dir_from_flag(flag: str | None, environ=os.environ) -> Path | None:
    """The CLI's cache directory: the flag, the environment, or the default; None = off.

    Args:
      flag: ``--compilation_cache``'s value; ``None`` when not given, ``""``
        to turn the cache off.
      environ: the environment (``SPARSECOMP_COMPILATION_CACHE``, then
        ``JAX_COMPILATION_CACHE_DIR``; an empty value turns the cache off).

    Returns:
      The directory, or ``None`` for no persistent cache.
    """
    for value in (flag, environ.get(ENV_VAR), environ.get(JAX_ENV_VAR)):
        if value is not None:
            return Path(value).expanduser() if value else None
    return default_cache_dir()


def enable_compilation_cache(path: str | Path | None = None) -> Path:
    """Turns on JAX's persistent compilation cache in ``path`` for this process.

    For notebooks and scripts (the CLI does it by default): later compilations
    of the same programs, in this process or any other using ``path``, load
    them from disk. It takes effect even after programs were compiled without
    a cache. Every program is cached, however quickly it compiles.

    Args:
      path: the cache directory (created if missing); ``None`` for
        ``default_cache_dir()``.

    Returns:
      The cache directory.
    """
    path = Path(path).expanduser() if path is not None else default_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    # JAX decides once per process whether the cache is used, at the first
    # compilation; forget that decision so the directory set above counts.
    _jax_cache.reset_cache()
    return path


class CompileCounter:
    """Counts the programs compiled and those loaded from the persistent cache.

    A context manager; counts every thread's compilations while open::

        with CompileCounter() as counter:
            train_and_evaluate(config, workdir)
        print(counter.summary())

    ``loaded`` and ``compiled`` count only programs that go through the
    persistent cache (every program once it is on); ``compile_s`` is the
    seconds of all backend compilations, cache loads included.
    """

    def __init__(self):
        self.requests = 0
        self.loaded = 0
        self.compile_s = 0.0
        self._lock = threading.Lock()

    @property
    def compiled(self) -> int:
        """Programs compiled (not found in the cache) while open."""
        return self.requests - self.loaded

    def _on_event(self, event: str, **kwargs) -> None:
        if event in (_REQUEST_EVENT, _HIT_EVENT):
            with self._lock:
                if event == _REQUEST_EVENT:
                    self.requests += 1
                else:
                    self.loaded += 1

    def _on_duration(self, event: str, duration: float, **kwargs) -> None:
        if event == _COMPILE_DURATION_EVENT:
            with self._lock:
                self.compile_s += duration

    def __enter__(self) -> CompileCounter:
        jax.monitoring.register_event_listener(self._on_event)
        jax.monitoring.register_event_duration_secs_listener(self._on_duration)
        return self

    def __exit__(self, *exc) -> None:
        jax.monitoring.unregister_event_listener(self._on_event)
        jax.monitoring.unregister_event_duration_listener(self._on_duration)

    def summary(self) -> str:
        """``"N programs compiled, M loaded from the cache (S s)"``."""
        return (f"{self.compiled} programs compiled, {self.loaded} loaded from the cache "
                f"({self.compile_s:.1f} s)")
