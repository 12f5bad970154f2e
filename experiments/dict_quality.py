"""dict_quality: how good are SAE decoders as dictionaries? (protocol section 5)

Command::

    python -m sparsecomp --config experiments/dict_quality.py --workdir runs/dict_quality \
        --config.sweep.num_latents='(100,1000)'

Per SAE: FISTA with the raw decoder (``frozen_<type>``), with its columns
renormalised (``renormed_<type>``) and with its directions but the true
atoms' norms (``oracle_norms_<type>``), beside ``fista_oracle``. The SAE rows
(trained first, once per point and seed) carry the dictionary-match
diagnostics (``dict_mean_cosine``, ``dict_mean_angular_error``,
``dict_mean_norm_ratio``, ``dict_frac_close``) and support recovery.

Expected headline (paper, mcc_ood): n=100 ``frozen_topk`` 0.854, relu 0.388,
jumprelu 0.304, MP 0.373, renormalising or oracle norms changing nothing
(the directions are what is wrong); n=1000 all 0.17-0.19; SAE decoders'
mean matched cosine 0.34-0.39 at n=1000 with no atom above 0.9.
Expected runtime on the 2-core CPU at n in (100, 1000): about 5 minutes.

``:smoke`` runs a tiny point with two SAE types in seconds.
"""

from sparsecomp.run.defaults import per_sae_experiment

PATTERNS = ("sae_{}", "frozen_{}", "renormed_{}", "oracle_norms_{}")


def get_config(arg: str | None = None):
    return per_sae_experiment(arg, PATTERNS, after=("fista_oracle",))
