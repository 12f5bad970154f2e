"""frozen_decoder: is the SAE's dictionary or its encoder to blame? (protocol section 5)

Command::

    python -m sparsecomp --config experiments/frozen_decoder.py --workdir runs/frozen_decoder \
        --config.sweep.num_latents='(100,1000)'

Beside every SAE (``sae_<type>``): ``fista+<type>`` (FISTA from zero on the
SAE's decoder, input shifted by minus its bias) and ``refined_<type>`` (FISTA
warm-started from the SAE's codes), plus ``fista_oracle``, ``dl_fista``,
``softplus_adam`` and ``linear_probe``. Each SAE is trained once per (point,
seed); the FISTA methods restore it from its checkpoint.

Results: ``results/frozen_decoder/report.md`` (ours beside the paper's means;
what they show: ``docs/results.md``). Expected headline: at n=1000 FISTA on
an SAE's decoder does no better than the SAE, and each ``refined_<type>``
equals its ``fista+<type>``.
Runtime on the 2-core CPU at n in (100, 1000): about 2 hours for all but
Softplus-Adam at n=1000, which takes about 3 hours more (50k full-batch steps
per seed); DL-FISTA at n=1000 about 1 hour of the 2.

``:smoke`` runs a tiny point with two SAE types in seconds.
"""

from sparsecomp.run.defaults import per_sae_experiment

OTHERS = ("fista_oracle", "dl_fista", "softplus_adam")


def get_config(arg: str | None = None):
    return per_sae_experiment(
        arg, ("sae_{}", "fista+{}", "refined_{}"), before=("linear_probe",), after=OTHERS
    )
