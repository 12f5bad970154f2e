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

Results: ``results/dict_quality/report.md`` (ours beside the paper's means;
what they show: ``docs/results.md``). Expected headline: renormalising or
oracle norms change nothing (the directions are what is wrong).
Runtime on the 2-core CPU at n in (100, 1000), two methods at a time: about
15 minutes.

``:smoke`` runs a tiny point with two SAE types in seconds.
"""

from sparsecomp.run.defaults import per_sae_experiment

PATTERNS = ("sae_{}", "frozen_{}", "renormed_{}", "oracle_norms_{}")


def get_config(arg: str | None = None):
    return per_sae_experiment(arg, PATTERNS, after=("fista_oracle",))
