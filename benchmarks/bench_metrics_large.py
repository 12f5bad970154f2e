"""Time and peak memory of ``latent_mcc`` and ``dictionary_match`` at 50,000+ latents.

Usage::

    python benchmarks/bench_metrics_large.py [--num-latents 50000] [--n-samples 2500]

Synthetic case with a known answer. Latents ``z`` [N, n] float32 are sparse
and non-negative, every column active in about ``p_active`` of the samples, so
all are kept. The codes are a permuted, rescaled, noisy copy:
``codes[:, j] = s_j (z[:, perm[j]] + sigma * sd_j * eps_j)``, whose correlation
with its latent is 1 / sqrt(1 + sigma^2) up to O(1/sqrt(N)); the other pairs
correlate at O(1/sqrt(N)), so the optimal matching is ``perm`` and the MCC is
that of the true pairs (printed beside it). The dictionary case is the same
with unit Gaussian atoms [m, n] and ``learned = s (A[:, perm] + tau g / sqrt(m))``
(cosine about 1 / sqrt(1 + tau^2)).

Both metrics run on the sparse candidate path (``exact=False``, the default above
``metrics.EXACT_MAX_WIDTH``):
nothing n x n exists, the largest array is a 256 MiB block of the
correlation matrix. Times include compilation; peak memory is the process's
peak resident set (``ru_maxrss``), printed after the data are built and after
each metric, so the increase is the metric's working memory. Runs on whatever
JAX backend is present (the matching itself is on the host).

Measured on the 2-core CPU (shared with another job), 64 candidates:

| n | N | latent_mcc | dictionary_match (m = 139) | peak RSS (data alone) |
|---|---|---|---|---|
| 50,000 | 2500 | 158 s | 28 s | 4.1 GiB (1.5 GiB) |
| 100,000 | 1000 | 303 s | 126 s | 3.3 GiB (1.2 GiB) |

Both recovered the planted matching exactly (MCC = that of the planted pairs).
The latent time is mostly the N n^2 products; the dictionary time mostly
``top_k`` over the n^2 cosines and the host matching (6 s at 50,000).
"""

from __future__ import annotations

import argparse
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np

from sparsecomp import metrics
from sparsecomp.run.threads import single_blas_thread


def peak_rss_gib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def make_latent_case(rng, n_samples, n, p_active, sigma, chunk=4096):
    """(z, codes, perm), built in column chunks so no float64 [N, n] exists."""
    z = np.empty((n_samples, n), np.float32)
    codes = np.empty((n_samples, n), np.float32)
    perm = rng.permutation(n)
    for s in range(0, n, chunk):
        width = min(chunk, n - s)
        active = rng.random((n_samples, width), dtype=np.float32) < p_active
        z[:, s : s + width] = active * rng.random((n_samples, width), dtype=np.float32)
    for s in range(0, n, chunk):
        source = z[:, perm[s : s + chunk]]
        noise = rng.standard_normal(source.shape, dtype=np.float32)
        scale = rng.uniform(0.5, 2.0, source.shape[1]).astype(np.float32)
        codes[:, s : s + chunk] = scale * (source + sigma * source.std(axis=0) * noise)
    return z, codes, perm


def true_pair_mcc(z, codes, perm, chunk=4096):
    """Mean |corr(z[:, perm[j]], codes[:, j])|: the MCC of the planted matching."""
    total = 0.0
    for s in range(0, codes.shape[1], chunk):
        a = z[:, perm[s : s + chunk]].astype(np.float64)
        b = codes[:, s : s + chunk].astype(np.float64)
        a -= a.mean(axis=0)
        b -= b.mean(axis=0)
        corr = (a * b).sum(axis=0) / np.linalg.norm(a, axis=0) / np.linalg.norm(b, axis=0)
        total += np.abs(corr).sum()
    return total / codes.shape[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-latents", type=int, default=50000)
    parser.add_argument("--n-samples", type=int, default=2500)
    parser.add_argument("--input-dim", type=int, default=139)
    parser.add_argument("--p-active", type=float, default=0.05)
    parser.add_argument("--sigma", type=float, default=0.5, help="code noise, relative to sd")
    parser.add_argument("--tau", type=float, default=0.3, help="atom noise, relative to norm")
    parser.add_argument("--candidates", type=int, default=metrics.CANDIDATES)
    parser.add_argument(
        "--also-exact", action="store_true", help="also run the dense path (small n only)"
    )
    args = parser.parse_args()
    n, rng = args.num_latents, np.random.default_rng(0)
    print(
        f"backend: {jax.default_backend()}; n = {n}, N = {args.n_samples}, "
        f"m = {args.input_dim}, candidates = {args.candidates}"
    )

    z, codes, perm = make_latent_case(rng, args.n_samples, n, args.p_active, args.sigma)
    planted = true_pair_mcc(z, codes, perm)
    print(f"latent data: 2 x {z.nbytes / 2**30:.2f} GiB; peak RSS {peak_rss_gib():.2f} GiB")
    for exact in (False, True) if args.also_exact else (False,):
        tic = time.perf_counter()
        match = metrics.latent_matching(
            z, codes, ood=False, exact=exact, candidates=args.candidates
        )
        wall = time.perf_counter() - tic
        recovered = np.mean(perm[match.code_index] == match.true_index)
        print(
            f"latent_mcc ({'dense' if exact else 'sparse'}): {wall:.1f} s, MCC {match.mcc:.6f} "
            f"(planted pairs {planted:.6f}, expected ~{1 / np.sqrt(1 + args.sigma**2):.4f}), "
            f"{recovered:.2%} of latents matched to their partner; "
            f"peak RSS {peak_rss_gib():.2f} GiB"
        )
    del z, codes

    true = jax.random.normal(jax.random.key(1), (args.input_dim, n), jnp.float32)
    true = np.asarray(true / jnp.linalg.norm(true, axis=0))
    perm = rng.permutation(n)
    noise = rng.standard_normal((args.input_dim, n), dtype=np.float32)
    scale = rng.uniform(0.5, 2.0, n).astype(np.float32)
    learned = scale * (true[:, perm] + args.tau * noise / np.sqrt(args.input_dim))
    cos = np.abs(np.sum(true[:, perm] * learned, axis=0)) / np.linalg.norm(learned, axis=0)
    for exact in (False, True) if args.also_exact else (False,):
        tic = time.perf_counter()
        match = metrics.dictionary_match(true, learned, exact=exact, candidates=args.candidates)
        wall = time.perf_counter() - tic
        recovered = np.mean(perm[match.learned_index] == match.true_index)
        print(
            f"dictionary_match ({'dense' if exact else 'sparse'}): {wall:.1f} s, "
            f"mean cosine {match.mean_cosine:.6f} (planted pairs {cos.mean():.6f}), "
            f"frac_close {match.frac_close:.4f}, {recovered:.2%} of atoms matched to their "
            f"partner; peak RSS {peak_rss_gib():.2f} GiB"
        )


if __name__ == "__main__":
    with single_blas_thread():  # as train_and_evaluate runs (sparsecomp.run.threads)
        main()
