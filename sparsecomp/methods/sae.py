"""The SAE methods: ``sae_<type>`` trains one kind of SAE (``sparsecomp.sae``) per seed.

Registers ``sae_relu``, ``sae_topk``, ``sae_jumprelu`` and ``sae_MP`` (the
protocol's four, section 3 of arXiv 2603.28744) and the literature variants
``sae_topk_auxk`` and ``sae_batchtopk``, one per ``SAE_KINDS`` entry, named by
``kind_label``. Each trains on ``data.y_train`` and returns the val and OOD
codes of its encoder, its decoder, its parameters (checkpointed, so the
methods built on a trained SAE reuse them), its training curves and the
amortisation gap of its encoder against FISTA on its decoder.

Hyper-parameters live in the ``config.sae`` section (``methods.sections.sae_section``)::

    epochs=500                  # passes over Y_train
    batch_size=64               # last partial batch is kept (masked), as in
                                # PyTorch's DataLoader(drop_last=False); one
                                # larger than the train half trains full-batch
    lr=5e-4                     # AdamW, betas (0.9, 0.999), eps 1e-8
    weight_decay=0.01           # decoupled (AdamW), on every parameter
    gamma=1e-4                  # weight of the sparsity penalty
    renorm_every=50             # decoder columns -> unit norm after epochs
                                # 0, renorm_every, 2 * renorm_every, ...
    log_every=10                # curves after epochs 0, log_every, ... and
                                # the last one (as the reference logs)
    jumprelu_bandwidth=1e-3     # width of the rectangle kernel
    jumprelu_init_threshold=1e-3  # initial theta = exp(log_theta)
    auxk_alpha=1/32             # topk_auxk: weight of the auxiliary loss (paper)
    auxk_k=None                 # topk_auxk: dead latents per sample;
                                # None = input_dim // 2 (paper: d_model / 2),
                                # capped at the width
    auxk_dead_after=2500        # topk_auxk: real samples without a code > 0
                                # after which a latent is dead
    batchtopk_threshold_decay=0.999  # batchtopk: decay of theta's moving average
    log_dictionary=False        # also log the decoder at every logged epoch

``auxk_dead_after = 2500`` is one epoch of the protocol's 2500 training
samples: a dead latent has fired on no sample of a whole pass over the data.
An alive latent firing at the average rate ``k / n`` is expected to fire
``2500 k / n`` times in that window (250 at n = 100, 5 at n = 5000 with
k = 10), against ~20 for Gao et al.'s 10M tokens at k = 32 and n = 16M.
``batchtopk_threshold_decay = 0.999`` is the decay of Marks et al.'s
``dictionary_learning`` BatchTopK trainer: a time constant of 1000 steps, 25
of the protocol's 40-step epochs, 5% of its 20,000 steps.

``k`` (TopK, MP and the two variants) is the data sparsity ``spec.k`` and the
width is ``spec.num_latents`` (``methods.sections.sae_model_options``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from sparsecomp.data import Dataset, DataSpec, sample_tags
from sparsecomp.errors import ConfigError, require_int, require_positive
from sparsecomp.methods.registry import MethodOutput, register_method
from sparsecomp.methods.sections import fista_options, sae_model_options
from sparsecomp.sae.analysis import amortisation_gap
from sparsecomp.sae.model import SAE_KINDS, SparseAutoencoder, decoder, encode_rows, kind_label
from sparsecomp.sae.train import AuxK, make_train


def _require_number(field: str, value, valid: str, ok) -> None:
    """Raises ``ConfigError`` naming ``sae.<field>`` unless ``value`` is a number with ``ok``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
        raise ConfigError(f"sae.{field}={value!r} is invalid: it must be {valid}")


def auxk_settings(cfg: ml_collections.ConfigDict, model: SparseAutoencoder) -> AuxK:
    """AuxK's settings from ``config.sae``; ``auxk_k=None`` gives ``input_dim // 2``.

    ``auxk_k`` is capped at the width.

    Raises:
      ConfigError: for a non-positive ``auxk_k`` or ``auxk_dead_after``, or a
        negative ``auxk_alpha``.
    """
    k = max(1, model.input_dim // 2) if cfg.auxk_k is None else cfg.auxk_k
    require_int("sae.auxk_k", k, lower=1)
    require_int("sae.auxk_dead_after", cfg.auxk_dead_after, lower=1)
    _require_number("auxk_alpha", cfg.auxk_alpha, "a number >= 0", lambda v: v >= 0)
    return AuxK(float(cfg.auxk_alpha), min(k, model.width), cfg.auxk_dead_after)


def train_options(cfg: ml_collections.ConfigDict, model: SparseAutoencoder) -> dict:
    """``make_train``'s keyword arguments from ``config.sae`` for ``model``'s kind.

    Every field of the section is checked, whichever kind reads it.

    Raises:
      ConfigError: naming the first field outside its valid range.
    """
    for field in ("epochs", "batch_size", "renorm_every", "log_every"):
        require_int(f"sae.{field}", cfg[field], lower=1)
    require_positive("sae.lr", cfg.lr)
    for field in ("weight_decay", "gamma"):
        _require_number(field, cfg[field], "a number >= 0", lambda v: v >= 0)
    if not isinstance(cfg.log_dictionary, bool):
        raise ConfigError(f"sae.log_dictionary={cfg.log_dictionary!r} is invalid: "
                          "it must be True or False")
    auxk = auxk_settings(cfg, model)
    decay = cfg.batchtopk_threshold_decay
    _require_number("batchtopk_threshold_decay", decay, "in [0, 1)", lambda v: 0 <= v < 1)
    return dict(
        epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
        weight_decay=cfg.weight_decay, gamma=cfg.gamma, renorm_every=cfg.renorm_every,
        log_every=cfg.log_every, log_dictionary=cfg.log_dictionary,
        auxk=auxk if model.kind == "topk_auxk" else None,
        threshold_decay=float(decay) if model.kind == "batchtopk" else None,
    )


def _make_method(kind: str):
    def make(config: ml_collections.ConfigDict, spec: DataSpec):
        """``run(key, data)`` training the ``{kind}`` SAE on ``data.y_train``.

        Reads ``config.sae`` (``methods.sections.sae_section``), ``spec.k`` and, for the
        amortisation gap, ``config.fista.lam`` and ``config.fista.n_iter``.
        """
        model = SparseAutoencoder(kind=kind, **sae_model_options(config, spec))
        options = train_options(config.sae, model)
        train = make_train(model, **options)
        gap_fista = fista_options(config)  # lam and n_iter of the amortisation gap's FISTA

        def run(key: jax.Array, data: Dataset) -> MethodOutput:
            state, curves, loss_train_last = train(key, data.y_train, data.y_val, data.y_ood)
            # One blocked encoder pass for both splits: one set of kernels to compile.
            codes = encode_rows(model, state.params, jnp.concatenate([data.y_val, data.y_ood]))
            codes_val, codes_ood = jnp.split(codes, [data.y_val.shape[0]])
            nonfinite = state.nonfinite | ~jnp.all(jnp.isfinite(codes))
            dictionary = decoder(model, state.params)
            gap = amortisation_gap(data.y_val, codes_val, dictionary, state.params["b_d"],
                                   **gap_fista)
            # The decoder learns from the train half (scaling study).
            scalars = {"nonfinite": nonfinite, "loss_train": loss_train_last,
                       "amortisation_gap_mse": gap, **sample_tags(spec, spec.n_train)}
            if kind == "topk_auxk":  # latents dead at the end of training
                scalars["dead_latents"] = jnp.sum(state.since_fired >= options["auxk"].dead_after)
            if kind == "batchtopk":
                scalars["threshold"] = state.params["threshold"]
            return MethodOutput(
                codes_val=codes_val,
                codes_ood=codes_ood,
                dictionary=dictionary,
                decoder_bias=state.params["b_d"],
                params=state.params,
                scalars=scalars,
                curves=curves,
            )

        return run

    make.__name__ = f"make_sae_{kind_label(kind)}"
    make.__doc__ = make.__doc__.format(kind=kind)
    return make


for _kind in SAE_KINDS:
    register_method(f"sae_{kind_label(_kind)}", family="sae", sae_type=kind_label(_kind),
                    curve_step="epoch")(
        _make_method(_kind))
