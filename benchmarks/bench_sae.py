"""Wall time of the four SAEs of the study, 3 seeds x 500 epochs each.

The setting of the acceptance check (protocol section 5, n = 100 point of
``vary_latents``): ``num_latents=100, k=10, n_samples=5000`` (2500 training
samples, ``input_dim=47``), seeds 0-2 trained together as
``jax.jit(jax.vmap(run))`` exactly as the trainer calls a registered method.
Each SAE's time runs from the first ``jit`` call to the last result on the host,
so it includes tracing and compilation; the data are drawn before the clock
starts. The authors' PyTorch implementation needs ~570 s for the same work.

Run::

    python benchmarks/bench_sae.py [--epochs 500] [--repeats 1]

With ``--repeats R`` every SAE is timed R times, each in a fresh jit (the
compilation cache is cleared), and the table shows the median. The last line
times the four SAEs run two at a time, each compiled and run in its own thread,
as the trainer does with ``config.concurrent_methods = 2``: XLA:CPU runs one of
these calls on about one core, so two threads use both cores of a 2-core CPU.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import jax

from sparsecomp.data import make_dataset, make_spec
from sparsecomp.methods.registry import get_method
from sparsecomp.run.defaults import base_config
from sparsecomp.run.threads import single_blas_thread

METHODS = ("sae_relu", "sae_topk", "sae_jumprelu", "sae_MP")
SEEDS = 3


def time_method(name, config, spec, keys, data, fresh=True) -> tuple[float, float]:
    """Seconds to compile and to run one method over all seeds (``fresh``: from scratch)."""
    if fresh:
        jax.clear_caches()
    run = jax.jit(jax.vmap(get_method(name)(config, spec)))
    start = time.perf_counter()
    compiled = run.lower(keys, data).compile()
    compiled_at = time.perf_counter()
    out = jax.block_until_ready(compiled(keys, data))
    done = time.perf_counter()
    if bool(out.scalars["nonfinite"].any()):
        raise FloatingPointError(f"{name}: a training loss became NaN/inf")
    return compiled_at - start, done - compiled_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    spec = make_spec(num_latents=100, k=10, n_samples=5000)
    draw = jax.jit(jax.vmap(make_dataset, in_axes=(0, None)), static_argnums=1)
    data = jax.block_until_ready(draw(jax.random.split(jax.random.key(0), SEEDS), spec))
    config = base_config()
    config.sae.epochs = args.epochs
    keys = jax.random.split(jax.random.key(1), SEEDS)

    print(
        f"n={spec.num_latents} k={spec.k} input_dim={spec.input_dim} "
        f"n_train={spec.n_train} seeds={SEEDS} epochs={args.epochs} "
        f"backend={jax.default_backend()} repeats={args.repeats}"
    )
    print(f"{'method':14s} {'compile s':>10s} {'run s':>8s} {'total s':>8s}")
    grand = 0.0
    for name in METHODS:
        times = [time_method(name, config, spec, keys, data) for _ in range(args.repeats)]
        compile_s = statistics.median(t[0] for t in times)
        run_s = statistics.median(t[1] for t in times)
        total = statistics.median(t[0] + t[1] for t in times)
        grand += total
        print(f"{name:14s} {compile_s:10.1f} {run_s:8.1f} {total:8.1f}", flush=True)
    print(f"{'all four':14s} {'':10s} {'':8s} {grand:8.1f}")

    jax.clear_caches()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda name: time_method(name, config, spec, keys, data, fresh=False),
                      METHODS))
    print(f"{'2 at a time':14s} {'':10s} {'':8s} {time.perf_counter() - start:8.1f}")


if __name__ == "__main__":
    with single_blas_thread():  # as train_and_evaluate runs (sparsecomp.run.threads)
        main()
