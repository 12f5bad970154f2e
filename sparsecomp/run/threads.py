"""One OpenBLAS thread while sparsecomp runs, without touching the environment.

jaxlib's CPU LAPACK kernels (the Cholesky solves and eigenvalues inside the
compiled loops, e.g. each DL-FISTA round's dictionary update) call into
scipy's OpenBLAS. With OpenBLAS's default thread count its idle worker
threads keep spinning after a call and take the cores from XLA's own thread
pool: at n = 100 one DL-FISTA round (100 FISTA iterations and a 100 x 100
solve) took 88 ms with the default threads and 55 ms with one (2-core CPU).

``single_blas_thread`` sets the limit with threadpoolctl for the duration of
a run and restores the previous counts afterwards, so importing sparsecomp
changes nothing in the user's process (``OPENBLAS_NUM_THREADS`` is neither
read nor written here; a user who sets it keeps it outside runs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS, which jaxlib's LAPACK calls)
import threadpoolctl


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limits every loaded BLAS library (OpenBLAS, MKL, ...) to one thread inside the block.

    threadpoolctl only reaches libraries already loaded, and jaxlib loads
    scipy's OpenBLAS lazily at its first LAPACK call, so this module imports
    ``scipy.linalg``, which loads it. The limit is process-wide (it holds in the
    trainer's worker threads too) and is undone on exit.
    """
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield
