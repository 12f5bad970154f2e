"""vary_sparsity: every method as the number of active latents grows (protocol section 5).

Command::

    python -m sparsecomp --config experiments/vary_sparsity.py --workdir runs/vary_sparsity

n = 1000, k in (2, 5, 10, 20, 50, 100), 5000 samples (input_dim derived from
k: ``ceil(2 k ln(n / k))``), seeds 0-2, all methods.

Results: ``results/vary_sparsity/report.md`` (DL-FISTA at k = 10 only, no
Softplus-Adam; ours beside the paper's means; what they show:
``docs/results.md``). Expected headline: the oracle near 1 at every k, every
SAE far below it from k = 10 on.
Expected runtime on the 2-core CPU: many hours with DL-FISTA and Softplus-Adam
(DL-FISTA alone about an hour per k). The oracle, probe and SAEs alone, two
methods at a time, took 134 s at k = 2, 290 s at k = 5, 620 s at k = 10,
1170 s at k = 20 and about 2900 s at k = 50 (the MP SAE, whose cost grows with
k, dominates from k = 20 on; those two points shared the CPU with test runs),
and at k = 100 (m = 461), one method at a time, about 7400 s (ReLU 1161 s,
TopK 1031 s, JumpReLU 799 s, MP 4333 s).

One method at a time (``concurrent_methods = 1``): with two SAEs training at
once at k = 100, XLA:CPU's resident memory grows with the epochs run
(3 seeds of ReLU and TopK side by side: 4.0 GB after 60 epochs, 6.1 GB after
120; each alone stays at 0.95-0.98 GB however long it runs), and a
500-epoch run had reached 22 GB when it was killed for memory (24 GB machine).
``--config.concurrent_methods=2`` is about twice as fast for k <= 20.

``:smoke`` runs two tiny points in seconds.
"""

from sparsecomp.errors import ConfigError
from sparsecomp.run.defaults import SWEEP_SMOKE_SAE_TYPES, base_config, per_sae, shrink_for_smoke


def get_config(arg: str | None = None):
    config = base_config()
    config.data.num_latents = 1000
    config.sweep.k = (2, 5, 10, 20, 50, 100)
    config.concurrent_methods = 1  # bounded memory at k = 100 (see above)
    config.methods = ("fista_oracle", "linear_probe") + per_sae("sae_{}") + (
        "dl_fista", "softplus_adam")
    if arg == "smoke":
        shrink_for_smoke(config)
        config.sweep.k = (2, 4)
        config.methods = ("fista_oracle", "linear_probe") + per_sae(
            "sae_{}", types=SWEEP_SMOKE_SAE_TYPES) + ("dl_fista",)
    elif arg:
        raise ConfigError(f"unknown config argument {arg!r}; use 'smoke' or nothing")
    return config
