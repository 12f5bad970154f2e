"""Default experiment config: the study's sizes and hyper-parameters (protocol sections 3, 5)."""

from ml_collections import config_dict


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
        }
    )
    config.sweep = config_dict.ConfigDict()
    config.seeds = (0, 1, 2)
    config.methods = ("fista_oracle", "linear_probe")
    config.fista = config_dict.ConfigDict({"lam": 0.1, "n_iter": 100})
    config.linear_probe = config_dict.ConfigDict({"alphas": (1e-6, 1e-4, 1e-2, 1.0, 10.0)})
    return config
