"""vary_samples: every method as the number of samples grows (protocol section 5).

Command::

    python -m sparsecomp --config experiments/vary_samples.py --workdir runs/vary_samples

n = 100, k = 10, n_samples in (100, 500, 1000, 5000, 10000, 50000, 100000)
(half train, half val, and ``n_samples // 2`` OOD samples, as in protocol
section 2), seeds 0-2, all methods. ``:10k`` runs the same sweep at
n = 10000 (oracle, probe and SAEs; hours on a CPU, minutes on one GPU).

Results: ``results/vary_samples/report.md`` (every method but Softplus-Adam,
ours beside the paper's means; what they show: ``docs/results.md``).
Expected headline: the ReLU and JumpReLU SAEs and the probe do not improve
with more samples, TopK and MP do, and DL-FISTA jumps between 500 and 1000.
Measured on the 2-core CPU: oracle, probe and the four SAEs at all seven sizes
1991 s; ``dl_fista`` up to 10,000 samples 512 s, at 50,000 778 s and at
100,000 2726 s (one point each, sharing the CPU); ``softplus_adam`` about
1000 s per point at 5000 samples. ``--config.methods`` and
``--config.sweep.n_samples`` narrow it.

``:smoke`` runs two tiny points in seconds.
"""

from sparsecomp.errors import ConfigError
from sparsecomp.run.defaults import SWEEP_SMOKE_SAE_TYPES, base_config, per_sae, shrink_for_smoke

ALL_METHODS = ("fista_oracle", "linear_probe") + per_sae("sae_{}") + ("dl_fista", "softplus_adam")


def get_config(arg: str | None = None):
    config = base_config()
    config.data.num_latents = 100
    config.sweep.n_samples = (100, 500, 1000, 5000, 10000, 50000, 100000)
    config.methods = ALL_METHODS
    if arg == "10k":
        config.data.num_latents = 10000
        config.methods = ("fista_oracle", "linear_probe") + per_sae("sae_{}")
    elif arg == "smoke":
        shrink_for_smoke(config)
        config.sweep.n_samples = (200, 400)
        config.methods = ("fista_oracle", "linear_probe") + per_sae(
            "sae_{}", types=SWEEP_SMOKE_SAE_TYPES
        ) + ("dl_fista",)
    elif arg:
        raise ConfigError(f"unknown config argument {arg!r}; use '10k', 'smoke' or nothing")
    return config
