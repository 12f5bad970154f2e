"""Times ``sparsecomp.fista`` on the study's shapes (issue target: <= 1.7 s at n=1000).

Usage::

    python benchmarks/bench_fista.py [--repeats 7] [--num-latents 100 1000 5000]

For each n: 5000 observations of dimension m = default_input_dim(n, k=10), a
unit-norm Gaussian [m, n] dictionary, lam = 0.1, 100 iterations. Reports the
compile time, the median (min, max) of ``repeats`` runs after a warm-up, and
the achieved GFLOP/s of the matrix products (the gradient form is chosen by
shape, as in the library).
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

from sparsecomp.coding.fista import fista, use_gram_form
from sparsecomp.data import default_input_dim, make_mixing
from sparsecomp.run.threads import single_blas_thread


def flops_per_run(batch: int, input_dim: int, width: int, n_iter: int) -> float:
    """Multiply-add FLOPs of the gradient products over ``n_iter`` iterations."""
    if use_gram_form(input_dim, width):
        return 2.0 * batch * width * width * n_iter
    return 2.0 * 2.0 * batch * input_dim * width * n_iter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-latents", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--n-samples", type=int, default=5000)
    parser.add_argument("--n-iter", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    print(f"backend: {jax.default_backend()} ({jax.device_count()} device(s))")
    print("| n | m | form | first call s (compile + run) | median s (min, max) | GFLOP/s |")
    print("|---|---|---|---|---|---|")
    solve = jax.jit(fista, static_argnames=("n_iter",))
    for n in args.num_latents:
        m = default_input_dim(n, 10)
        dictionary = make_mixing(jax.random.key(0), m, n)
        y = jax.random.normal(jax.random.key(1), (args.n_samples, m), jnp.float32)
        tic = time.perf_counter()
        jax.block_until_ready(solve(y, dictionary, 0.1, n_iter=args.n_iter))
        compile_s = time.perf_counter() - tic
        times = []
        for _ in range(args.repeats):
            tic = time.perf_counter()
            jax.block_until_ready(solve(y, dictionary, 0.1, n_iter=args.n_iter))
            times.append(time.perf_counter() - tic)
        median = statistics.median(times)
        gflops = flops_per_run(args.n_samples, m, n, args.n_iter) / median / 1e9
        form = "gram" if use_gram_form(m, n) else "explicit"
        print(f"| {n} | {m} | {form} | {compile_s:.2f} | {median:.3f} ({min(times):.3f}, "
              f"{max(times):.3f}) | {gflops:.1f} |", flush=True)


if __name__ == "__main__":
    with single_blas_thread():  # as train_and_evaluate runs (sparsecomp.run.threads)
        main()
