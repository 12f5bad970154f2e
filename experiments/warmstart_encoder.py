"""warmstart_encoder: how far are SAE codes from FISTA's? (protocol section 5)

Command::

    python -m sparsecomp --config experiments/warmstart_encoder.py \
        --workdir runs/warmstart_encoder --config.sweep.num_latents='(100,1000)'

FISTA on each SAE's decoder (input shifted by minus its bias), warm-started
from the SAE's codes (``warm_<type>``) or from zero (``cold_<type>``), one row
per iteration budget ``n_iter`` in ``config.warmstart.n_iters`` (0, 1, 2, 5,
..., 500; all budgets from one trajectory; ``n_iter=0`` is the SAE's own codes,
warm only), beside ``fista_oracle`` at 500 iterations.

Expected headline (paper, mcc_ood at n=100): warm and cold meet at the FISTA
solution on the SAE decoder by ~100 iterations (relu 0.388, topk 0.854,
jumprelu 0.304, MP 0.373); warm at n_iter=0 is the SAE (0.41, 0.71, 0.32, 0.36).
Expected runtime on the 2-core CPU at n in (100, 1000): about 5 minutes.

``:smoke`` runs a tiny point with two SAE types in seconds.
"""

from sparsecomp.run.defaults import per_sae_experiment


def get_config(arg: str | None = None):
    config = per_sae_experiment(arg, ("warm_{}", "cold_{}"), after=("fista_oracle",))
    if arg != "smoke":
        config.fista.n_iter = 500  # the oracle at the largest budget, as in the reference
    return config
