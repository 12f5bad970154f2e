"""Softplus-Adam: the dictionary and the codes learned together by full-batch Adam.

The direct alternative to DL-FISTA of protocol section 3: ``D`` and the
codes' logits (``Z = softplus(logits) > 0``) minimise the reconstruction error
plus an L1 penalty by Adam, ``D`` from the ID (val) samples only while the
OOD samples shape just their own codes. One ``lax.while_loop`` with early
stopping, so one call vmaps over seeds (members already done are frozen).

References:
  Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization".
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from sparsecomp.dictionary.atoms import random_dictionary

# Full float32 products (no TF32 on accelerators): a full-batch fit run to
# convergence, whose residual TF32's ~1e-3 relative error would floor.
_HIGHEST = jax.lax.Precision.HIGHEST


class SoftplusAdamParams(NamedTuple):
    """What Softplus-Adam optimises: a dictionary and the codes' logits."""

    dictionary: jax.Array  # [input_dim, width] float32, learned from ID only
    logits_val: jax.Array  # [n_val, width] float32, Z_val = softplus(logits_val)
    logits_ood: jax.Array  # [n_ood, width] float32, Z_ood = softplus(logits_ood)


class SoftplusAdamState(NamedTuple):
    """Carry of the Softplus-Adam loop; ``n_log = max_steps // log_every``."""

    params: SoftplusAdamParams
    opt_state: optax.OptState  # Adam moments and the reduce-on-plateau scale
    step: jax.Array  # [] int32, steps taken
    best_loss: jax.Array  # [] float32, lowest loss so far (early stopping)
    since_best: jax.Array  # [] int32, steps since the best loss last improved
    done: jax.Array  # [] bool, early stopping or the step budget has fired
    loss_curve: jax.Array  # [n_log] float32, loss every log_every steps (NaN unreached)
    scale_curve: jax.Array  # [n_log] float32, learning-rate scale at the same steps


def softplus_adam_loss(
    params: SoftplusAdamParams, y_val: jax.Array, y_ood: jax.Array, lam: float
) -> jax.Array:
    """MSE(val) + MSE(OOD) + lam * mean(Z * atom norms), with D fitted on ID only.

    The OOD terms see ``D`` through a stop-gradient, so the OOD samples shape
    their own codes but never the dictionary. ``Z = softplus(logits) > 0``, so
    ``|Z| = Z``; scaling the penalty by the atom norms stops the optimiser from
    shrinking codes by growing atoms. The penalty's mean runs over all val and
    OOD codes.

    Args:
      params: the dictionary and logits.
      y_val: [n_val, input_dim] float32 ID observations.
      y_ood: [n_ood, input_dim] float32 OOD observations.
      lam: penalty weight.

    Returns:
      [] float32 loss.
    """
    d = params.dictionary
    d_ood = jax.lax.stop_gradient(d)
    z_val = jax.nn.softplus(params.logits_val)
    z_ood = jax.nn.softplus(params.logits_ood)
    mse = (jnp.mean((y_val - jnp.matmul(z_val, d.T, precision=_HIGHEST)) ** 2)
           + jnp.mean((y_ood - jnp.matmul(z_ood, d_ood.T, precision=_HIGHEST)) ** 2))
    norms = jnp.linalg.norm(d, axis=0)
    penalty = (jnp.sum(jnp.matmul(z_val, norms, precision=_HIGHEST))
               + jnp.sum(jnp.matmul(z_ood, jax.lax.stop_gradient(norms), precision=_HIGHEST))) / (
        z_val.size + z_ood.size
    )
    return mse + lam * penalty


def softplus_adam_run(
    key: jax.Array,
    y_val: jax.Array,
    y_ood: jax.Array,
    width: int,
    *,
    lam: float,
    learning_rate: float,
    max_steps: int,
    early_stop_patience: int,
    rtol: float,
    plateau_factor: float,
    plateau_patience: int,
    log_every: int,
) -> SoftplusAdamState:
    """Softplus-Adam: full-batch Adam on the dictionary and the codes' logits.

    Minimises ``softplus_adam_loss`` from ``logits ~ N(0, 1) - 10`` (codes
    start near zero) and a random unit-norm ``D`` with Adam, the learning rate
    scaled down by ``plateau_factor`` after ``plateau_patience`` steps without
    a relative improvement of ``rtol`` (``optax.contrib.reduce_on_plateau``),
    and stops after ``early_stop_patience`` steps without such an improvement
    or at ``max_steps``, in one ``lax.while_loop``. Under ``vmap`` the batch
    runs until its slowest member stops; members already done are frozen.

    Args:
      key: PRNG key for the initial dictionary and logits.
      y_val: [n_val, input_dim] float32 ID observations (learn ``D`` and codes).
      y_ood: [n_ood, input_dim] float32 OOD observations (codes only).
      width: number of atoms (static).
      lam: penalty weight.
      learning_rate: Adam's base learning rate.
      max_steps, early_stop_patience, plateau_patience, log_every: step
        counts (static where they set shapes).
      rtol: relative improvement of the best loss that counts as progress.
      plateau_factor: learning-rate scale factor on a plateau, in (0, 1).

    Returns:
      The final ``SoftplusAdamState``.

    References:
      Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization".
    """
    k_dict, k_val, k_ood = jax.random.split(key, 3)
    input_dim = y_val.shape[1]
    params = SoftplusAdamParams(
        dictionary=random_dictionary(k_dict, input_dim, width),
        logits_val=jax.random.normal(k_val, (y_val.shape[0], width), jnp.float32) - 10.0,
        logits_ood=jax.random.normal(k_ood, (y_ood.shape[0], width), jnp.float32) - 10.0,
    )
    optimiser = optax.chain(
        optax.adam(learning_rate),
        optax.contrib.reduce_on_plateau(
            factor=plateau_factor, patience=plateau_patience, rtol=rtol
        ),
    )
    value_and_grad = jax.value_and_grad(softplus_adam_loss)
    n_log = max_steps // log_every
    nan_curve = jnp.full((n_log,), jnp.nan, jnp.float32)
    state = SoftplusAdamState(
        params=params,
        opt_state=optimiser.init(params),
        step=jnp.zeros((), jnp.int32),
        best_loss=jnp.full((), jnp.inf, jnp.float32),
        since_best=jnp.zeros((), jnp.int32),
        done=jnp.zeros((), bool),
        loss_curve=nan_curve,
        scale_curve=nan_curve,
    )

    def body(state):
        loss, grads = value_and_grad(state.params, y_val, y_ood, lam)
        updates, opt_state = optimiser.update(grads, state.opt_state, state.params, value=loss)
        params = optax.apply_updates(state.params, updates)
        step = state.step + 1
        improved = loss < (1.0 - rtol) * state.best_loss
        since_best = jnp.where(improved, 0, state.since_best + 1)
        log = (jnp.arange(n_log) == step // log_every - 1) & (step % log_every == 0)
        scale = opt_state[1].scale
        return SoftplusAdamState(
            params=params,
            opt_state=opt_state,
            step=step,
            best_loss=jnp.where(improved, loss, state.best_loss),
            since_best=since_best,
            done=(step >= max_steps) | (since_best >= early_stop_patience),
            loss_curve=jnp.where(log, loss, state.loss_curve),
            scale_curve=jnp.where(log, scale, state.scale_curve),
        )

    return jax.lax.while_loop(lambda s: ~s.done, body, state)
