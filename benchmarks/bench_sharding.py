"""Seeds per second of FISTA and SAE training with the seed axis on 1, 2 and 4 devices.

Usage::

    python benchmarks/bench_sharding.py [--seeds 8] [--repeats 3] [--devices 1 2 4]

Each device count runs in its own process with
``XLA_FLAGS=--xla_force_host_platform_device_count=D`` (the flag must be set
before JAX starts) and maps the registered methods over the seeds exactly as
the trainer does (``SeedSharding.map_seeds``): ``fista_oracle`` at n = 1000
and ``sae_topk`` (50 epochs) at n = 100, k = 10, 5000 samples. It prints the
compile time and the median run time of ``repeats`` calls, as seeds per second.

On a CPU the simulated devices share the same cores, so these figures check
that sharding works and costs little; they are not a speed claim. On a
multi-GPU machine (no flag needed) they are.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

WORKER = """
import statistics, sys, time
import jax, numpy as np
from sparsecomp.data import make_datasets, make_spec
from sparsecomp.run.defaults import base_config
from sparsecomp.methods.registry import get_method
from sparsecomp.run.sharding import SeedSharding
from sparsecomp.run.threads import single_blas_thread

seeds, repeats = int(sys.argv[1]), int(sys.argv[2])
config = base_config()
config.sae.epochs = 50
layout = SeedSharding(seeds, 0)
keys = layout.place(jax.vmap(jax.random.key)(np.arange(layout.padded, dtype=np.uint32)))
with single_blas_thread():  # as train_and_evaluate runs (sparsecomp.run.threads)
    for name, n in (("fista_oracle", 1000), ("sae_topk", 100)):
        spec = make_spec(num_latents=n, k=10, n_samples=5000)
        data = layout.place(make_datasets(keys, spec))
        tic = time.perf_counter()
        run = jax.jit(layout.map_seeds(get_method(name)(config, spec))).lower(keys, data).compile()
        compile_s = time.perf_counter() - tic
        times = []
        for _ in range(repeats):
            tic = time.perf_counter()
            jax.block_until_ready(run(keys, data))
            times.append(time.perf_counter() - tic)
        median = statistics.median(times)
        print(f"{layout.num_devices:7d} {name:14s} n={n:<5d} {compile_s:9.1f} {median:8.2f} "
              f"{seeds / median:8.2f}", flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    print(f"seeds={args.seeds} repeats={args.repeats}")
    print(f"{'devices':>7s} {'method':14s} {'':7s} {'compile s':>9s} {'run s':>8s} {'seeds/s':>8s}")
    for count in args.devices:
        flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={count}"
        subprocess.run([sys.executable, "-c", WORKER, str(args.seeds), str(args.repeats)],
                       env={**os.environ, "XLA_FLAGS": flags.strip()}, check=True)


if __name__ == "__main__":
    main()
