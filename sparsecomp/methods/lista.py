"""``lista``: LISTA on the true mixing matrix, trained on ``y_train`` (``config.lista``).

Illustrative, not in the default sweeps: the algorithm is
``sparsecomp.coding.lista``; its layers start as ISTA steps on the mixing
matrix and are trained on the sparse-coding loss with that matrix as the
fixed decoder.
"""

from __future__ import annotations

import jax.numpy as jnp

from sparsecomp.coding.lista import lista_apply, lista_init, lista_train
from sparsecomp.errors import ConfigError, require_int, require_positive
from sparsecomp.methods.registry import MethodOutput, register_method


@register_method("lista", family="lista", curve_step="epoch")
def make_lista(config, spec):
    """LISTA on the true mixing matrix, trained on ``y_train``; reads ``config.lista``.

    Fields: ``lam`` (L1 weight >= 0), ``n_layers`` (>= 1), ``learning_rate``
    (> 0), ``n_epochs`` (>= 1), ``batch_size`` (1 ... ``spec.n_train``).

    Raises:
      ConfigError: naming the field and its valid range.
    """
    cfg = config.lista
    if isinstance(cfg.lam, bool) or not isinstance(cfg.lam, (int, float)) or not cfg.lam >= 0:
        raise ConfigError(f"lista.lam={cfg.lam!r} is invalid: it must be a number >= 0")
    require_int("lista.n_layers", cfg.n_layers, lower=1)
    require_positive("lista.learning_rate", cfg.learning_rate)
    require_int("lista.n_epochs", cfg.n_epochs, lower=1)
    require_int("lista.batch_size", cfg.batch_size, lower=1)
    if cfg.batch_size > spec.n_train:
        raise ConfigError(f"lista.batch_size={cfg.batch_size} is invalid: it must be at most "
                          f"the {spec.n_train} training samples")
    lam, n_layers = float(cfg.lam), int(cfg.n_layers)
    options = dict(
        lam=lam,
        learning_rate=float(cfg.learning_rate),
        n_epochs=int(cfg.n_epochs),
        batch_size=int(cfg.batch_size),
    )

    def run(key, data):
        params = lista_init(data.mixing, lam, n_layers)
        params, epoch_loss = lista_train(key, params, data.y_train, data.mixing, **options)
        return MethodOutput(
            codes_val=lista_apply(params, data.y_val),
            codes_ood=lista_apply(params, data.y_ood),
            dictionary=data.mixing,
            params=params._asdict(),
            curves={"step": jnp.arange(1, options["n_epochs"] + 1), "loss": epoch_loss},
        )

    return run
