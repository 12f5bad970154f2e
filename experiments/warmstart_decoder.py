"""warmstart_decoder: does DL-FISTA repair an SAE's dictionary? (protocol section 5)

Command::

    python -m sparsecomp --config experiments/warmstart_decoder.py \
        --workdir runs/warmstart_decoder --config.sweep.num_latents='(100,)'

``warm_dl_<type>``: DL-FISTA started from the SAE's decoder; ``cold_dl_<type>``:
from a random dictionary (one computation per point, the same rows under
every type's name). One row per round budget ``n_outer`` in
``config.warmstart.n_outer`` (0, 1, 2, 5, ..., 1000; a budget after the
stopping rule fired gets the final dictionary; ``n_outer=0`` is FISTA on the
SAE decoder itself, warm only). Codes at each budget: FISTA from zero with
that budget's dictionary. Plus ``fista_oracle``.

Expected headline (paper, mcc_ood at n=100, n_outer=1000): warm 0.90-0.97,
cold 0.92-0.95; at n_outer=0 the warm rows equal ``fista+<type>``.
Expected runtime on the 2-core CPU at n=100: about 15 minutes when every
type ran its own cold DL-FISTA (eight DL-FISTA runs per seed; now five);
n=1000 takes hours.

``:smoke`` runs a tiny point with two SAE types in seconds.
"""

from sparsecomp.run.defaults import per_sae_experiment


def get_config(arg: str | None = None):
    return per_sae_experiment(
        arg, ("warm_dl_{}", "cold_dl_{}"), after=("fista_oracle",),
        num_latents=(50, 100, 500, 1000),
    )
