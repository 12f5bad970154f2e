"""dictionary_scaling: how many samples per atom each dictionary learner needs (beyond the paper).

Command::

    python -m sparsecomp --config experiments/dictionary_scaling.py \
        --workdir runs/dictionary_scaling
    python -m sparsecomp.report runs/dictionary_scaling

k = 10, n in (100, 1000, 10000), n_samples on a geometric grid; the train half
(``n_samples // 2``) is what the learners learn ``D`` from, and val and OOD
are 2500 samples each at every point (``data.n_eval``), the size of the
paper's 5000-sample point, so every row is scored on the same amount of data.
Rows carry ``samples_seen`` and ``samples_per_atom = samples_seen * k / n``.

Learners: ``dl_fista`` (the paper's; here fitted on the train half like the
others), ``dl_fista_data`` (atoms drawn from the data), ``dl_fista_resample``
(also replacing unused and duplicated atoms every 10 rounds), ``itkrm`` (no
inner FISTA), the streaming ``itkrm_stream``, ``dl_online`` and
``dl_online_ws`` (fresh samples from the generator: memory does not grow with
``n_samples``), and the SAEs ``sae_topk``, ``sae_topk_auxk`` and
``sae_batchtopk``. ``config.limits`` keeps each where it is feasible on a
2-core CPU: the DL-FISTA variants and SAEs up to n = 1000 and 40,000 samples,
batch ITKrM up to 200,000 samples, the streaming learners everywhere.
``fista+topk`` and ``lasso+<learner>`` (held-out codes at the Lasso optimum
on a learner's dictionary) can be added with ``--config.methods``.

Results: ``results/dictionary_scaling/report.md`` (with its "Sample
complexity" section and figures; what they show: ``docs/results.md``).
Runtime on the 2-core CPU, two methods at a time: at n = 1000 and 40,000
samples each DL-FISTA variant ~18 minutes for 3 seeds (100 rounds of ~2 s per
seed), ITKrM 2-12 minutes, the streaming learners 1-2 minutes; the n = 100
sweep to 40,000 samples 6 minutes; ``sae_topk`` at n = 1000 145, 364 and 651 s
for 10,000, 20,000 and 40,000 samples. At n = 10,000 (``dl_online.batch_size``
1024): ``dl_online_ws`` on 810,000 samples per seed (``n_samples`` 1,600,000)
3255 s for the three seeds, ``lasso+dl_online_ws`` on its dictionaries 31 s;
``dl_online`` on 1.8 million samples (``n_samples`` 3,600,000, seed 0) 70
minutes. The other n = 10,000 points, and the AuxK and BatchTopK SAEs above
5000 samples at n = 1000, have not been run (hours).

``:smoke`` runs two tiny points in seconds.
"""

from sparsecomp.errors import ConfigError
from sparsecomp.run.defaults import base_config, shrink_for_smoke

# Cheapest first, so that an interrupted run has the most rows.
LEARNERS = ("itkrm", "itkrm_stream", "dl_online", "dl_online_ws", "dl_fista_data",
            "dl_fista_resample", "dl_fista")
SAES = ("sae_topk", "sae_topk_auxk", "sae_batchtopk")
N_SAMPLES = (1000, 2000, 5000, 10000, 20000, 40000, 100000, 200000, 1000000)


def get_config(arg: str | None = None):
    config = base_config()
    config.data.update({"k": 10, "n_eval": 2500})
    config.sweep.num_latents = (100, 1000, 10000)
    config.sweep.n_samples = N_SAMPLES
    config.methods = ("fista_oracle",) + LEARNERS[:4] + SAES + LEARNERS[4:]
    # Warm-started codes need few iterations per round: 20 iterations x 100
    # rounds (the paper: 100 x up to 1000) for every DL-FISTA variant, so the
    # three differ only in initialisation and resampling. At n = 1000 and
    # 20,000 training samples a round takes ~2 s per seed.
    config.dl_fista.update({"fit_on": "train", "n_iter": 20, "max_rounds": 100})
    config.itkrm.batch_size = 1000  # itkrm_stream: n_train / 1000 iterations
    config.dl_online.batch_size = 256
    # dl_online_ws's mini-batch codes: a few working-set rounds (the oracle here
    # uses FISTA, so config.working_set is dl_online_ws's alone).
    config.working_set.update({"max_rounds": 5, "inner_iter": 100})
    config.concurrent_methods = 1  # the large points need the memory
    batch = {"num_latents": 1000, "n_samples": 40000}
    config.limits = {
        **{name: dict(batch) for name in ("dl_fista", "dl_fista_data", "dl_fista_resample") + SAES},
        "itkrm": {"n_samples": 200000},
        "fista_oracle": {"n_samples": 5000},  # the oracle does not learn: one point per n
    }
    if arg == "smoke":
        shrink_for_smoke(config)
        config.data.n_eval = 100
        config.sweep.num_latents = (20,)
        config.sweep.n_samples = (200, 400)
        # One of each kind of learner (the unit tests run them all); dl_online
        # at both points, so the scaling figures have a line.
        config.methods = ("dl_fista_resample", "itkrm", "itkrm_stream", "dl_online",
                          "sae_batchtopk")
        config.limits = {name: {"n_samples": 200} for name in config.methods
                         if name != "dl_online"}
    elif arg:
        raise ConfigError(f"unknown config argument {arg!r}; use 'smoke' or nothing")
    return config
