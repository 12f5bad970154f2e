"""support_recovery: is the SAE's support right but its magnitudes wrong? (protocol section 5)

Command::

    python -m sparsecomp --config experiments/support_recovery.py \
        --workdir runs/support_recovery --config.sweep.num_latents='(100,1000)'

Per SAE: its raw codes (``sae_<type>``, whose rows carry support precision,
recall and F1 against the matched latents), ``support_lstsq_<type>`` (the SAE's
support, magnitudes re-estimated by non-negative least squares on it, 500
FISTA iterations with the off-support entries pinned at zero) and
``fista+<type>``, beside ``fista_oracle``.

Expected headline (paper, mcc_ood at n=100): ``support_lstsq`` relu 0.03,
topk 0.77, jumprelu 0.05, MP 0.27 against the SAEs' 0.41, 0.71, 0.32, 0.34:
the supports themselves are wrong. Expected runtime on the 2-core CPU at n in
(100, 1000): about 5 minutes.

``:smoke`` runs a tiny point with two SAE types in seconds.
"""

from sparsecomp.run.defaults import per_sae_experiment

PATTERNS = ("sae_{}", "support_lstsq_{}", "fista+{}")


def get_config(arg: str | None = None):
    return per_sae_experiment(arg, PATTERNS, after=("fista_oracle",))
