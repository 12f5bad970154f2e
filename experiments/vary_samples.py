"""vary_samples: every method as the number of samples grows (protocol section 5).

Command::

    python -m sparsecomp --config experiments/vary_samples.py --workdir runs/vary_samples

n = 100, k = 10, n_samples in (100, 500, 1000, 5000, 10000, 50000, 100000)
(half train, a quarter val, a quarter OOD... as in protocol section 2), seeds
0-2, all methods. ``:10k`` runs the same sweep at n = 10000 (oracle, probe and
SAEs; hours on a CPU, minutes on one GPU).

Expected headline (paper, mcc_ood): ``fista_oracle`` >= 0.98 from 1000 samples
on; ``dl_fista`` climbs from ~0.5 (100 samples) to ~0.95 (>= 5000); the SAEs
stay at 0.3-0.7 however many samples they get.
Expected runtime on the 2-core CPU: about 2 hours (Softplus-Adam and the SAEs
at 100k samples dominate); ``--config.methods`` narrows it.

``:smoke`` runs two tiny points in seconds.
"""

from sparsecomp.defaults import SWEEP_SMOKE_SAE_TYPES, base_config, per_sae, shrink_for_smoke

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
        raise ValueError(f"unknown config argument {arg!r}; use '10k', 'smoke' or nothing")
    return config
