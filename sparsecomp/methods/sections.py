"""Config sections of the methods: their defaults, and the parsers several methods share.

Each method family reads its own section (``config.dl_fista``, ...); the
sections read by more than one family (``fista``, ``working_set``, ``sae``,
``dl_fista``) are parsed here, once, into the keyword arguments of the
algorithm functions (``sparsecomp.coding``, ``sparsecomp.sae``,
``sparsecomp.dictionary``), validated with one-line ``ConfigError``s that
name the field and its valid range.

A field added to a section later must default to what the code computed
before it existed (an option off by default): a workdir from before the
field resumes when the field holds its default (``run.workdir.claim_workdir``).
"""

from __future__ import annotations

import math

import ml_collections

from sparsecomp.errors import (
    ConfigError,
    require_choice,
    require_int,
    require_interval,
    require_positive,
)

# Lasso solvers a method can be configured with (``fista.solver``, ``dl_online.solver``).
SOLVERS = ("fista", "working_set")


def method_sections() -> dict[str, ml_collections.ConfigDict]:
    """Every method section with the study's hyper-parameters (protocol sections 3, 5)."""
    sections = {}
    # lam_sweep: when non-empty, FISTA-based methods that support it (the
    # oracle and the frozen-decoder methods) emit one row per lambda, vmapped.
    # solver (fista_oracle only): "fista", the paper's n_iter FISTA steps from
    # zero, or "working_set", the Lasso optimum by sparsecomp.coding.working_set
    # (config.working_set; size is capped at num_latents), for widths where
    # 100 steps do not converge.
    sections["fista"] = ml_collections.ConfigDict(
        {"lam": 0.1, "n_iter": 100, "lam_sweep": (), "solver": "fista"})
    sections["working_set"] = ml_collections.ConfigDict(
        {"size": 64, "inner_iter": 200, "max_rounds": 20, "tol": 1e-3})
    # Iteration budgets (warm_/cold_<sae>) and round budgets (warm_dl_/cold_dl_<sae>).
    sections["warmstart"] = ml_collections.ConfigDict(
        {"n_iters": (0, 1, 2, 5, 10, 20, 50, 100, 200, 500),
         "n_outer": (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)}
    )
    # FISTA iterations of the non-negative least squares on an SAE's support.
    sections["support_recovery"] = ml_collections.ConfigDict({"n_iter": 500})
    sections["linear_probe"] = ml_collections.ConfigDict({"alphas": (1e-6, 1e-4, 1e-2, 1.0, 10.0)})
    sections["sae"] = sae_section()
    sections["dl_fista"] = ml_collections.ConfigDict(
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
    sections["softplus_adam"] = ml_collections.ConfigDict(
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
    sections["itkrm"] = ml_collections.ConfigDict(
        {"n_iter": 50, "batch_size": 10000, "duplicate_cosine": 0.95}
    )
    # dl_online: FISTA codes (n_iter from zero; solver "working_set": the Lasso
    # optimum with config.working_set) of fresh mini-batches; Mairal's
    # forgetting (1 - 1/t)^rho; block_size atoms per exact block of the update;
    # atoms_found logged every log_every mini-batches (0: never).
    sections["dl_online"] = ml_collections.ConfigDict(
        {"lam": 0.1, "n_iter": 50, "batch_size": 512, "forgetting": "mairal", "rho": 20.0,
         "block_size": 256, "solver": "fista", "log_every": 100}
    )
    sections["lista"] = ml_collections.ConfigDict(
        {"lam": 0.1, "n_layers": 16, "learning_rate": 1e-3, "n_epochs": 200, "batch_size": 64}
    )
    return sections


def solver_options(field: str, solver: str, config, spec) -> dict | None:
    """``working_set_lasso``'s keyword arguments for a method's ``solver`` setting.

    Args:
      field: the setting's config path, e.g. ``"fista.solver"`` (for errors).
      solver: one of ``SOLVERS``.
      config, spec: for ``working_set_options``.

    Returns:
      ``None`` for ``"fista"``, else ``working_set_options(config, spec)``.

    Raises:
      ConfigError: naming the field and its valid range.
    """
    require_choice(field, solver, SOLVERS)
    return None if solver == "fista" else working_set_options(config, spec)


def working_set_options(config, spec) -> dict:
    """``working_set_lasso``'s keyword arguments from ``config.working_set``.

    ``size`` is capped at ``num_latents``, so a sweep over n keeps one size.

    Raises:
      ConfigError: naming the field and its valid range.
    """
    options = config.working_set
    require_int("working_set.size", options.size, lower=1)
    require_int("working_set.inner_iter", options.inner_iter, lower=1)
    require_int("working_set.max_rounds", options.max_rounds, lower=1)
    require_positive("working_set.tol", options.tol)
    return {"size": min(int(options.size), spec.num_latents), "inner_iter": int(options.inner_iter),
            "max_rounds": int(options.max_rounds), "tol": float(options.tol)}


def lam_variants(config) -> tuple[str, tuple[float, ...]] | None:
    """``("lam", lambdas)`` when ``config.fista.lam_sweep`` is set, else ``None``.

    Methods registered with this emit one row per lambda (tagged ``lam``)
    instead of one at ``config.fista.lam``.

    Raises:
      ConfigError: unless it is a tuple of distinct numbers > 0 (rows are tagged by lambda).
    """
    lams = config.fista.get("lam_sweep", ()) or ()
    if not isinstance(lams, (tuple, list)) or any(
            isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam > 0
            for lam in lams):
        raise ConfigError(
            f"fista.lam_sweep={lams!r} is invalid: it must be a tuple of numbers > 0")
    if len(set(lams)) != len(lams):
        raise ConfigError(f"fista.lam_sweep={lams!r} is invalid: lambdas must be distinct")
    return ("lam", tuple(float(lam) for lam in lams)) if lams else None


def fista_options(config) -> dict:
    """``fista``'s ``lam`` and ``n_iter`` from ``config.fista``: the paper's inference.

    Raises:
      ConfigError: for ``lam <= 0`` or ``n_iter < 1``, naming the field.
    """
    require_positive("fista.lam", config.fista.lam)
    require_int("fista.n_iter", config.fista.n_iter, lower=1)
    return {"lam": float(config.fista.lam), "n_iter": int(config.fista.n_iter)}


def dl_fista_options(config, resample: bool = False) -> dict:
    """``dictionary.dl_fista.dictionary_learning_run``'s keyword arguments from ``config.dl_fista``.

    ``resample`` turns atom resampling on whatever ``dl_fista.resample`` says
    (the ``dl_fista_resample`` method).

    Raises:
      ConfigError: naming the field and its valid range.
    """
    cfg = config.dl_fista
    require_positive("dl_fista.lam", cfg.lam)
    for field in ("n_iter", "max_rounds"):
        require_int(f"dl_fista.{field}", cfg[field], lower=1)
    require_int("dl_fista.min_rounds", cfg.min_rounds, lower=0)
    require_interval("dl_fista.tol", cfg.tol, 0, math.inf, include_low=True)
    require_interval("dl_fista.duplicate_cosine", cfg.duplicate_cosine, 0, 1, include_high=True)
    require_choice("dl_fista.resample", cfg.resample, (False, True))
    resample = resample or bool(cfg.resample)
    every, inner_tol = cfg.resample_every, cfg.inner_tol
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError(f"dl_fista.resample_every={every} is invalid: it must be >= 1")
    if isinstance(inner_tol, bool) or not isinstance(inner_tol, (int, float)) or not inner_tol >= 0:
        raise ConfigError(f"dl_fista.inner_tol={inner_tol} is invalid: it must be >= 0 "
                          "(0 runs all n_iter FISTA iterations of every round)")
    return dict(
        lam=float(cfg.lam), n_iter=int(cfg.n_iter), max_rounds=int(cfg.max_rounds),
        tol=float(cfg.tol), min_rounds=int(cfg.min_rounds),
        resample_every=int(cfg.resample_every) if resample else 0,
        duplicate_cosine=float(cfg.duplicate_cosine), inner_tol=float(cfg.inner_tol),
    )


def sae_section() -> ml_collections.ConfigDict:
    """The ``config.sae`` section with the protocol's hyper-parameters."""
    return ml_collections.ConfigDict(
        dict(
            epochs=500,
            batch_size=64,
            lr=5e-4,
            weight_decay=0.01,
            gamma=1e-4,
            renorm_every=50,
            log_every=10,
            jumprelu_bandwidth=1e-3,
            jumprelu_init_threshold=1e-3,
            # topk_auxk and batchtopk (see the module docstring for the values).
            auxk_alpha=1 / 32,
            auxk_k=ml_collections.config_dict.placeholder(int),  # None: input_dim // 2
            auxk_dead_after=2500,
            batchtopk_threshold_decay=0.999,
            # Also log the decoder at every logged epoch (learning_dynamics).
            log_dictionary=False,
        )
    )


def sae_model_options(config, spec) -> dict:
    """``SparseAutoencoder``'s keyword arguments but ``kind``, from ``config.sae`` and ``spec``.

    The width is ``spec.num_latents`` and ``k`` (TopK, MP, the variants) is the
    data sparsity ``spec.k``. Read by the SAE methods and by those built on a
    trained SAE.

    Raises:
      ConfigError: for a ``jumprelu_bandwidth`` or ``jumprelu_init_threshold`` not > 0.
    """
    cfg = config.sae
    require_positive("sae.jumprelu_bandwidth", cfg.jumprelu_bandwidth)
    require_positive("sae.jumprelu_init_threshold", cfg.jumprelu_init_threshold)
    return dict(input_dim=spec.input_dim, width=spec.num_latents, k=spec.k,
                bandwidth=float(cfg.jumprelu_bandwidth),
                init_threshold=float(cfg.jumprelu_init_threshold))
