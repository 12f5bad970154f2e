"""large_latents: the oracle at every size, other methods where feasible (protocol section 5).

Command::

    python -m sparsecomp --config experiments/large_latents.py --workdir runs/large_latents

k = 10, 5000 samples, n in (1000, 10000, 50000, 100000), seeds 0-2 (the
reference used 1000 samples at n in (1000, 10000): add
``--config.data.n_samples=1000`` to put rows beside theirs). FISTA on the
true matrix (the explicit gradient form: it never forms an n x n matrix, and
on CPU it works in row blocks) and the linear
probe run at every size; ``:all`` adds the SAEs and the FISTA-on-decoder
methods, which are feasible up to n = 10000 on a CPU (their n x m decoders
are small; training cost grows with n).

Expected headline (paper, mcc_ood): ``fista_oracle`` >= 0.98 at every n;
``linear_probe`` falls towards 0.
Expected runtime on the 2-core CPU (estimated, not yet run end to end): FISTA
costs 1.85 s per 5000 samples x 1000 atoms x 100 iterations, linear in n, so
about 20 minutes at n = 100,000 for three seeds; the metrics' sparse
matching adds about 3 minutes per latent MCC at n = 50,000 (measured with
``benchmarks/bench_metrics_large.py``), i.e. tens of minutes more.

``:smoke`` runs two tiny points in seconds.
"""

from sparsecomp.defaults import SWEEP_SMOKE_SAE_TYPES, base_config, per_sae, shrink_for_smoke


def get_config(arg: str | None = None):
    config = base_config()
    config.sweep.num_latents = (1000, 10000, 50000, 100000)
    config.methods = ("fista_oracle", "linear_probe")
    # One method at a time: at n = 100,000 a method's codes alone are
    # 3 seeds x 5000 x 100,000 float32 = 6 GB.
    config.concurrent_methods = 1
    if arg == "all":
        config.sweep.num_latents = (1000, 10000)
        config.methods += per_sae("sae_{}", "fista+{}", "refined_{}")
    elif arg == "smoke":
        shrink_for_smoke(config)
        config.sweep.num_latents = (50, 200)
        config.methods += per_sae("sae_{}", "fista+{}", types=SWEEP_SMOKE_SAE_TYPES)
    elif arg:
        raise ValueError(f"unknown config argument {arg!r}; use 'all', 'smoke' or nothing")
    return config
