"""The working-set Lasso solver against FISTA on the study's OOD samples at large n.

Usage::

    python benchmarks/bench_working_set.py [--num-latents 10000 100000] [--n-samples 256]
        [--fista-iters 100 400] [--repeats 3]

For each n: seed 0's data (k = 10, m = default_input_dim(n, 10)), its first
``n_samples`` OOD observations, the true mixing matrix, lam = 0.1. For FISTA
at each iteration budget and for ``working_set_lasso`` (its defaults) it
reports the median (min, max) wall time of ``repeats`` runs after a warm-up
call, the mean Lasso objective, the largest KKT residual over lam
(``working_set.kkt_violation``), the mean number of non-zero codes per
sample and the support precision / recall against the true active latents.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from sparsecomp.coding.fista import fista
from sparsecomp.coding.working_set import kkt_violation, working_set_lasso
from sparsecomp.data import make_datasets, make_spec
from sparsecomp.run.threads import single_blas_thread

LAM = 0.1


def timed(fn, args, repeats: int):
    """(result, [seconds]) of ``repeats`` calls after one warm-up call."""
    result = jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        result = jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - tic)
    return result, times


def quality(y, dictionary, codes, support) -> str:
    """Objective, KKT residual, non-zeros and support precision / recall, as table cells."""
    objective = jnp.mean(0.5 * jnp.sum((y - codes @ dictionary.T) ** 2, axis=1)
                         + LAM * jnp.sum(jnp.abs(codes), axis=1))
    kkt = jnp.max(kkt_violation(y, dictionary, codes, LAM))
    predicted = np.asarray(codes) > 1e-4
    hits = np.take_along_axis(predicted, support, axis=1).sum(axis=1)
    precision = np.mean(hits / np.maximum(predicted.sum(axis=1), 1))
    recall = hits.mean() / support.shape[1]
    return (f"{float(objective):.6f} | {float(kkt):.1e} | {predicted.sum(axis=1).mean():.1f} | "
            f"{precision:.3f} / {recall:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-latents", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--n-samples", type=int, default=256)
    parser.add_argument("--fista-iters", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(f"backend: {jax.default_backend()} ({jax.device_count()} device(s)); "
          f"{args.n_samples} OOD samples, lam = {LAM}")
    print("| n | m | solver | median s (min, max) | objective | KKT / lam | non-zeros "
          "| precision / recall |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.num_latents:
        spec = make_spec(num_latents=n, k=10, n_samples=max(5000, 2 * args.n_samples))
        data = jax.tree.map(lambda x: x[0], make_datasets(jax.random.key(0)[None], spec))
        y, dictionary = data.y_ood[: args.n_samples], data.mixing
        support = np.asarray(data.support_ood[: args.n_samples])
        solvers = {f"fista {n_iter}": jax.jit(lambda y, d, n_iter=n_iter: fista(
            y, d, LAM, n_iter=n_iter)) for n_iter in args.fista_iters}
        solvers["working_set"] = jax.jit(lambda y, d: working_set_lasso(y, d, LAM).codes)
        for name, solve in solvers.items():
            codes, times = timed(solve, (y, dictionary), args.repeats)
            print(f"| {n} | {spec.input_dim} | {name} | {statistics.median(times):.2f} "
                  f"({min(times):.2f}, {max(times):.2f}) | "
                  f"{quality(y, dictionary, codes, support)} |", flush=True)


if __name__ == "__main__":
    with single_blas_thread():  # as train_and_evaluate runs (sparsecomp.run.threads)
        main()
