"""Default experiment config: the study's sizes and hyper-parameters (protocol sections 3, 5).

A field added to the config later must default to what the code computed
before it existed (an option off by default): a workdir from before the field
resumes when the field holds its default (``workdir.claim_workdir``).
"""

from ml_collections import config_dict

from sparsecomp.errors import ConfigError
from sparsecomp.methods.sections import method_sections
from sparsecomp.sae.model import PROTOCOL_KINDS, kind_label

SAE_TYPES = tuple(kind_label(kind) for kind in PROTOCOL_KINDS)  # as in the method names sae_<type>
SMOKE_SAE_TYPES = ("relu", "MP")  # enough to exercise an encoder SAE and the encoder-free one
SWEEP_SMOKE_SAE_TYPES = ("topk",)  # sweeps' smoke runs recompile per point: one SAE type

# Methods of a sweep point run at the same time when a config does not say.
DEFAULT_CONCURRENT_METHODS = 2


def per_sae(*patterns: str, types: tuple[str, ...] = SAE_TYPES) -> tuple[str, ...]:
    """Method names from ``{}`` patterns, SAE type by SAE type.

    ``per_sae("sae_{}", "fista+{}")`` gives ``("sae_relu", "fista+relu",
    "sae_topk", ...)``.
    """
    return tuple(pattern.format(kind) for kind in types for pattern in patterns)


def shrink_for_smoke(config: config_dict.ConfigDict) -> config_dict.ConfigDict:
    """A few-seconds version of ``config`` for tests: tiny data, short training.

    Keeps the experiment's sweep fields but sets tiny sizes; the caller then
    narrows ``config.sweep`` and ``config.methods`` as it needs.
    """
    config.data.update({"num_latents": 20, "k": 3, "n_samples": 300})
    config.seeds = (0, 1)
    config.sae.epochs = 2
    config.dl_fista.update({"max_rounds": 20, "n_iter": 20})
    config.itkrm.update({"n_iter": 5, "batch_size": 50})
    config.dl_online.update({"n_iter": 20, "batch_size": 50})
    config.softplus_adam.update({"max_steps": 200, "log_every": 50})
    config.fista.n_iter = 30
    config.support_recovery.n_iter = 30
    config.warmstart.update({"n_iters": (0, 2, 10), "n_outer": (0, 2, 20)})
    return config


def per_sae_experiment(
    arg: str | None,
    patterns: tuple[str, ...],
    *,
    before: tuple[str, ...] = (),
    after: tuple[str, ...] = (),
    num_latents: tuple[int, ...] = (50, 100, 500, 1000, 5000),
) -> config_dict.ConfigDict:
    """The config of an experiment run once per SAE type (protocol section 5).

    Methods are ``before + per_sae(*patterns) + after`` over ``num_latents``;
    ``arg == "smoke"`` shrinks it (``shrink_for_smoke``, one point at n = 20,
    ``SMOKE_SAE_TYPES``).

    Raises:
      ConfigError: for any other non-empty ``arg``.
    """
    config = base_config()
    config.sweep.num_latents = num_latents
    types = SAE_TYPES
    if arg == "smoke":
        shrink_for_smoke(config)
        config.sweep.num_latents = (20,)
        types = SMOKE_SAE_TYPES
    elif arg:
        raise ConfigError(f"unknown config argument {arg!r}; use 'smoke' or nothing")
    config.methods = before + per_sae(*patterns, types=types) + after
    return config


def base_config() -> config_dict.ConfigDict:
    """The study's data sizes and method hyper-parameters; experiments edit it."""
    config = config_dict.ConfigDict()
    config.data = config_dict.ConfigDict(
        {
            "num_latents": 100,
            "k": 10,
            "n_samples": 5000,
            # None derives input_dim = max(k + 1, ceil(c k ln(n / k))).
            "input_dim": config_dict.placeholder(int),
            "c": 2.0,
            "noise": 0.0,
            # None: val = n_samples - n_samples // 2 and OOD = n_samples // 2
            # samples (the protocol); an int sets both, the train half unchanged.
            "n_eval": config_dict.placeholder(int),
        }
    )
    config.sweep = config_dict.ConfigDict()
    # method -> {data field: largest value}: where a costly method stops running.
    config.limits = config_dict.ConfigDict()
    config.seeds = (0, 1, 2)
    # Local devices the seed axis is sharded over: 0 = all, 1 = no sharding.
    config.devices = 0
    # Methods of a sweep point that run at the same time, each in a thread
    # (about 2x on a 2-core CPU; 1 = one after another, the least memory).
    config.concurrent_methods = DEFAULT_CONCURRENT_METHODS
    config.methods = ("fista_oracle", "linear_probe")
    for name, section in method_sections().items():
        config[name] = section
    return config
