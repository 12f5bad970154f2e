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

from sparsecomp.run.defaults import per_sae_experiment

LAMS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


def get_config(arg: str | None = None):
    config = per_sae_experiment(arg, ("sae_{}", "frozen_{}"), after=("fista_oracle",))
    config.fista.lam_sweep = (0.01, 0.1, 1.0) if arg == "smoke" else LAMS
    return config
