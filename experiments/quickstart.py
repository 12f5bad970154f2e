"""Quick start: the paper's headline at n = 100 in about a minute on a 2-core CPU.

Command::

    python -m sparsecomp --config experiments/quickstart.py --workdir runs/quickstart

Expected runtime: ~30 s on a 2-core CPU (compilation included), a few seconds
on one GPU. Expected headline (means over seeds 0-2, protocol section 6):
``fista_oracle`` mcc_ood ~0.99, ``linear_probe`` mcc_ood ~0.41.

``:smoke`` shrinks it to a few seconds for tests.
"""

from sparsecomp.defaults import base_config


def get_config(arg: str | None = None):
    config = base_config()
    config.data.num_latents = 100
    config.methods = ("fista_oracle", "linear_probe")
    if arg == "smoke":
        config.data.num_latents = 30
        config.data.k = 3
        config.data.n_samples = 400
        config.seeds = (0, 1)
    elif arg:
        raise ValueError(f"unknown config argument {arg!r}; use 'smoke' or nothing")
    return config
