"""frozen_decoder: is the SAE's dictionary or its encoder to blame? (protocol section 5)

Command::

    python -m sparsecomp --config experiments/frozen_decoder.py --workdir runs/frozen_decoder \
        --config.sweep.num_latents='(100,1000)'

Beside every SAE (``sae_<type>``): ``fista+<type>`` (FISTA from zero on the
SAE's decoder, input shifted by minus its bias) and ``refined_<type>`` (FISTA
warm-started from the SAE's codes), plus ``fista_oracle``, ``dl_fista``,
``softplus_adam`` and ``linear_probe``. Each SAE is trained once per (point,
seed); the FISTA methods restore it from its checkpoint.

Expected headline (paper, means over seeds 0-2, mcc_ood): n=100: ``dl_fista``
0.945, ``fista+topk`` 0.865, ``fista+relu`` 0.388, each ``refined_<type>``
equal to its ``fista+<type>``, ``softplus_adam`` 0.406; n=1000: ``dl_fista``
0.475 and every ``fista+<type>`` 0.17-0.19.
Expected runtime on the 2-core CPU at n in (100, 1000): about 1.5 h, dominated
by Softplus-Adam (50k full-batch steps per seed) and DL-FISTA at n=1000.

``:smoke`` runs a tiny point with two SAE types in seconds.
"""

from sparsecomp.run.defaults import per_sae_experiment

OTHERS = ("fista_oracle", "dl_fista", "softplus_adam")


def get_config(arg: str | None = None):
    return per_sae_experiment(
        arg, ("sae_{}", "fista+{}", "refined_{}"), before=("linear_probe",), after=OTHERS
    )
