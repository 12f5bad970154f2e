"""The ``softplus_adam`` method: ``sparsecomp.dictionary.softplus_adam`` on val and OOD.

Reads ``config.softplus_adam``; ``D`` is learned from the val half only, the
OOD samples shape only their own codes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparsecomp.dictionary.softplus_adam import softplus_adam_run
from sparsecomp.errors import require_int, require_interval, require_positive
from sparsecomp.methods.registry import MethodOutput, register_method


def _options(config) -> dict:
    """``softplus_adam_run``'s keyword arguments from ``config.softplus_adam``.

    Raises:
      ConfigError: naming the field and its valid range.
    """
    cfg = config.softplus_adam
    require_positive("softplus_adam.lam", cfg.lam)
    require_positive("softplus_adam.learning_rate", cfg.learning_rate)
    for field in ("max_steps", "early_stop_patience", "plateau_patience", "log_every"):
        require_int(f"softplus_adam.{field}", cfg[field], lower=1)
    require_interval("softplus_adam.rtol", cfg.rtol, 0, 1, include_low=True)
    require_interval("softplus_adam.plateau_factor", cfg.plateau_factor, 0, 1)
    return dict(
        lam=float(cfg.lam),
        learning_rate=float(cfg.learning_rate),
        max_steps=int(cfg.max_steps),
        early_stop_patience=int(cfg.early_stop_patience),
        rtol=float(cfg.rtol),
        plateau_factor=float(cfg.plateau_factor),
        plateau_patience=int(cfg.plateau_patience),
        log_every=int(cfg.log_every),
    )


@register_method("softplus_adam", family="dictionary_learning", curve_step="Adam step")
def make_softplus_adam(config, spec):
    """Softplus-Adam on the val and OOD halves; reads ``config.softplus_adam``.

    Rows carry ``n_steps``; the curves (every ``log_every`` steps) hold the
    ``loss`` and the learning-rate scale ``lr_scale``.
    """
    options = _options(config)

    def run(key, data):
        state = softplus_adam_run(key, data.y_val, data.y_ood, spec.num_latents, **options)
        params = state.params
        log_every = options["log_every"]
        steps = log_every * jnp.arange(1, options["max_steps"] // log_every + 1)
        return MethodOutput(
            codes_val=jax.nn.softplus(params.logits_val),
            codes_ood=jax.nn.softplus(params.logits_ood),
            dictionary=params.dictionary,
            params={"dictionary": params.dictionary},
            scalars={"n_steps": state.step},
            curves={"step": steps, "loss": state.loss_curve, "lr_scale": state.scale_curve},
        )

    return run
