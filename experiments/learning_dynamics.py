"""learning_dynamics: how the dictionaries approach (or miss) the truth (protocol section 5).

Command::

    python -m sparsecomp --config experiments/learning_dynamics.py \
        --workdir runs/learning_dynamics --config.sweep.num_latents='(100,1000)'

Trains the four SAEs and DL-FISTA with their dictionaries logged: the SAE
decoder every 10 epochs (and at the last), DL-FISTA's dictionary every 10
rounds. ``metrics.jsonl`` then holds, per logged step, ``dict_mean_cosine``,
``dict_mean_norm_ratio`` and ``dict_frac_close`` against the true mixing
matrix beside the loss curves (``python -m sparsecomp.report`` plots them).

Expected headline (paper, n=100): SAE cosines plateau at 0.5-0.8 within ~100
epochs; DL-FISTA's climbs to ~0.95. At n=1000 the SAEs stay at 0.34-0.39.
Expected runtime on the 2-core CPU at n in (100, 1000): about 25 minutes.

``:smoke`` runs a tiny point with two SAE types in seconds.
"""

from sparsecomp.run.defaults import per_sae_experiment


def get_config(arg: str | None = None):
    config = per_sae_experiment(arg, ("sae_{}",), after=("dl_fista",))
    config.sae.log_dictionary = True
    config.dl_fista.log_dictionary = True
    return config
