"""lambda_sensitivity: is FISTA on an SAE decoder just badly regularised? (protocol section 5)

Command::

    python -m sparsecomp --config experiments/lambda_sensitivity.py \
        --workdir runs/lambda_sensitivity --config.sweep.num_latents='(100,1000)'

FISTA on each SAE's raw decoder (``frozen_<type>``) and on the true matrix
(``fista_oracle``) for every lam in ``config.fista.lam_sweep`` (0.001 ... 2),
one row per lam (tag ``lam``); the lambdas are a vmapped axis of one compiled
call. The SAE rows themselves (no ``lam`` tag) are the baseline.

Expected headline (paper, n=100, mcc_ood): no lam lifts ``frozen_<type>``
anywhere near the oracle, which stays >= 0.95 for lam in 0.01-0.5.
Expected runtime on the 2-core CPU at n in (100, 1000): about 5 minutes.

``:smoke`` runs a tiny point with two SAE types in seconds.
"""

from sparsecomp.defaults import SMOKE_SAE_TYPES, base_config, per_sae, shrink_for_smoke

LAMS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


def get_config(arg: str | None = None):
    config = base_config()
    config.sweep.num_latents = (50, 100, 500, 1000, 5000)
    config.methods = per_sae("sae_{}", "frozen_{}") + ("fista_oracle",)
    config.fista.lam_sweep = LAMS
    if arg == "smoke":
        shrink_for_smoke(config)
        config.sweep.num_latents = (20,)
        config.methods = per_sae("sae_{}", "frozen_{}", types=SMOKE_SAE_TYPES)
        config.methods += ("fista_oracle",)
        config.fista.lam_sweep = (0.01, 0.1, 1.0)
    elif arg:
        raise ValueError(f"unknown config argument {arg!r}; use 'smoke' or nothing")
    return config
