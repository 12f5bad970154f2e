"""Quick start: the paper's headline at n = 100 in a minute or two on a 2-core CPU.

Command::

    python -m sparsecomp --config experiments/quickstart.py --workdir runs/quickstart

The oracle, the linear probe and the four SAEs at n = 100, k = 10, 5000
samples, seeds 0-2 (all seeds of a method in one compiled call). Expected
runtime: about 1.5 minutes on a 2-core CPU (compilation included). Expected
headline (paper means over seeds 0-2, protocol section 6): ``fista_oracle``
mcc_ood ~0.99 against every SAE far below it (topk ~0.70, relu ~0.41,
MP ~0.35, jumprelu ~0.32) and ``linear_probe`` ~0.41.

``:smoke`` shrinks it to a few seconds for tests.
"""

from sparsecomp.errors import ConfigError
from sparsecomp.run.defaults import base_config


def get_config(arg: str | None = None):
    config = base_config()
    config.data.num_latents = 100
    config.methods = (
        "fista_oracle", "linear_probe", "sae_relu", "sae_topk", "sae_jumprelu", "sae_MP"
    )
    if arg == "smoke":
        config.data.num_latents = 30
        config.data.k = 3
        config.data.n_samples = 400
        config.seeds = (0, 1)
        config.sae.epochs = 3
    elif arg:
        raise ConfigError(f"unknown config argument {arg!r}; use 'smoke' or nothing")
    return config
