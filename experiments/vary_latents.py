"""vary_latents: the oracle and the probe as the number of latents grows (protocol section 5).

Command::

    python -m sparsecomp --config experiments/vary_latents.py --workdir runs/vary_latents

n in (50, 100, 500, 1000, 5000, 10000), k = 10, 5000 samples, seeds 0-2;
by default ``fista_oracle`` and ``linear_probe`` only. Add the other methods
and narrow the sweep with overrides, e.g.
``--config.sweep.num_latents='(100,1000)'
--config.methods='("fista_oracle","linear_probe","sae_topk","dl_fista")'``.

Expected runtime for ``fista_oracle`` and ``linear_probe`` at n in (100, 1000),
seeds 0-2: about 30 s on a 2-core CPU; a few seconds on one GPU; at n in
(5000, 10000) about 18 minutes on the CPU. With the SAEs, DL-FISTA and
Softplus-Adam, hours on the CPU: Softplus-Adam and DL-FISTA take about 3 hours
and 1 hour at n = 1000.

Results: ``results/vary_latents/report.md`` (every method of the paper, n up
to 1000) and ``results/vary_latents_large/report.md`` (oracle and probe at
5000 and 10000), ours beside the paper's means; what they show:
``docs/results.md``. Expected headline: the oracle near 1 at every n, the
probe far below it.

``:smoke`` runs two tiny points for tests.
"""

from sparsecomp.errors import ConfigError
from sparsecomp.run.defaults import base_config


def get_config(arg: str | None = None):
    config = base_config()
    config.sweep.num_latents = (50, 100, 500, 1000, 5000, 10000)
    config.methods = ("fista_oracle", "linear_probe")
    if arg == "smoke":
        config.sweep.num_latents = (20, 40)
        config.data.k = 3
        config.data.n_samples = 300
        config.seeds = (0, 1)
    elif arg:
        raise ConfigError(f"unknown config argument {arg!r}; use 'smoke' or nothing")
    return config
