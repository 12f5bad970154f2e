"""Default experiment config: the study's sizes and hyper-parameters (protocol sections 3, 5).

A field added to the config later must default to what the code computed
before it existed (an option off by default): a workdir from before the field
resumes when the field holds its default (``workdir.claim_workdir``).
"""

from ml_collections import config_dict

from sparsecomp import sae
from sparsecomp.experiment import DEFAULT_CONCURRENT_METHODS

SAE_TYPES = ("relu", "topk", "jumprelu", "MP")  # as in the method names sae_<type>
SMOKE_SAE_TYPES = ("relu", "MP")  # enough to exercise an encoder SAE and the encoder-free one
SWEEP_SMOKE_SAE_TYPES = ("topk",)  # sweeps' smoke runs recompile per point: one SAE type


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
      ValueError: for any other non-empty ``arg``.
    """
    config = base_config()
    config.sweep.num_latents = num_latents
    types = SAE_TYPES
    if arg == "smoke":
        shrink_for_smoke(config)
        config.sweep.num_latents = (20,)
        types = SMOKE_SAE_TYPES
    elif arg:
        raise ValueError(f"unknown config argument {arg!r}; use 'smoke' or nothing")
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
    # lam_sweep: when non-empty, FISTA-based methods that support it (the
    # oracle and the frozen-decoder methods) emit one row per lambda, vmapped.
    # solver (fista_oracle only): "fista", the paper's n_iter FISTA steps from
    # zero, or "working_set", the Lasso optimum by sparsecomp.working_set
    # (config.working_set; size is capped at num_latents), for widths where
    # 100 steps do not converge.
    config.fista = config_dict.ConfigDict(
        {"lam": 0.1, "n_iter": 100, "lam_sweep": (), "solver": "fista"})
    config.working_set = config_dict.ConfigDict(
        {"size": 64, "inner_iter": 200, "max_rounds": 20, "tol": 1e-3})
    # Iteration budgets (warm_/cold_<sae>) and round budgets (warm_dl_/cold_dl_<sae>).
    config.warmstart = config_dict.ConfigDict(
        {"n_iters": (0, 1, 2, 5, 10, 20, 50, 100, 200, 500),
         "n_outer": (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)}
    )
    # FISTA iterations of the non-negative least squares on an SAE's support.
    config.support_recovery = config_dict.ConfigDict({"n_iter": 500})
    config.linear_probe = config_dict.ConfigDict({"alphas": (1e-6, 1e-4, 1e-2, 1.0, 10.0)})
    config.sae = sae.default_config()
    config.dl_fista = config_dict.ConfigDict(
        {"lam": 0.1, "n_iter": 100, "max_rounds": 1000, "tol": 1e-5, "min_rounds": 10,
         # Also log D every 10 rounds (learning_dynamics).
         "log_dictionary": False,
         # The paper: Gaussian atoms, fitted on the val half. "data" draws the
         # atoms from the samples, "train" fits on the train half and codes val
         # by FISTA (dl_fista_data and dl_fista_resample set init to "data").
         "init": "gaussian", "fit_on": "val",
         # Replace unused / duplicated (|cos| > duplicate_cosine) atoms every
         # resample_every rounds (dl_fista_resample sets resample).
         "resample": False, "resample_every": 10, "duplicate_cosine": 0.95,
         # > 0: end a round's FISTA once an iteration moves the codes by at most
         # this much relative (0, the paper: all n_iter iterations every round).
         "inner_tol": 0.0}
    )
    # The protocol fixes lam, lr, the step budget and the early-stopping
    # patience; the plateau schedule's factor/patience and the improvement
    # threshold rtol are ours (the protocol does not state them). At n = 100
    # the loss still improves at 50k steps, so all steps run (4-8 ms each per
    # seed on a 2-core CPU); fewer steps would lower mcc_ood.
    config.softplus_adam = config_dict.ConfigDict(
        {
            "lam": 0.1,
            "learning_rate": 1e-3,
            "max_steps": 50_000,
            "early_stop_patience": 5000,
            "rtol": 1e-4,
            "plateau_factor": 0.5,
            "plateau_patience": 1000,
            "log_every": 1000,
        }
    )
    # Learners of the scaling study (dictionary_scaling). itkrm: n_iter passes
    # over the train half; itkrm_stream: fresh batches of batch_size samples.
    config.itkrm = config_dict.ConfigDict(
        {"n_iter": 50, "batch_size": 10000, "duplicate_cosine": 0.95}
    )
    # dl_online: FISTA codes (n_iter from zero; solver "working_set": the Lasso
    # optimum with config.working_set) of fresh mini-batches; Mairal's
    # forgetting (1 - 1/t)^rho; block_size atoms per exact block of the update;
    # atoms_found logged every log_every mini-batches (0: never).
    config.dl_online = config_dict.ConfigDict(
        {"lam": 0.1, "n_iter": 50, "batch_size": 512, "forgetting": "mairal", "rho": 20.0,
         "block_size": 256, "solver": "fista", "log_every": 100}
    )
    config.lista = config_dict.ConfigDict(
        {"lam": 0.1, "n_layers": 16, "learning_rate": 1e-3, "n_epochs": 200, "batch_size": 64}
    )
    return config
