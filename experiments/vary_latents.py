"""vary_latents: every method as the number of latents grows (protocol section 5).

Command::

    python -m sparsecomp --config experiments/vary_latents.py --workdir runs/vary_latents

Narrow it with overrides, e.g.
``--config.sweep.num_latents='(100,1000)' --config.methods='("fista_oracle","linear_probe")'``.

Expected runtime for ``fista_oracle`` and ``linear_probe`` at n in (100, 1000),
seeds 0-2: about 30 s on a 2-core CPU; a few seconds on one GPU.
Expected headline (paper, means over seeds 0-2): ``fista_oracle`` mcc_ood
0.986 (n=100) and 0.993 (n=1000); ``linear_probe`` 0.408 and 0.160.

``:smoke`` runs two tiny points for tests.
"""

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
        raise ValueError(f"unknown config argument {arg!r}; use 'smoke' or nothing")
    return config
