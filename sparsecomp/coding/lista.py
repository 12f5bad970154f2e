"""LISTA: ISTA unrolled into layers whose matrices and thresholds are learned.

Layer ``l`` maps the codes ``z_l`` ([batch, width]) to

    z_{l+1} = shrink(y W_l + z_l S_l, theta_l),        z_0 = 0,

with its own input matrix ``W_l`` ([input_dim, width]), lateral matrix ``S_l``
([width, width]) and per-latent threshold ``theta_l`` ([width]). Initialised
from a dictionary ``D`` with ``L = ||D||_2^2`` as ``W = D / L``,
``S = I - D^T D / L`` and ``theta = lam / L``, every layer is one ISTA step,
so the untrained network equals ISTA with as many iterations as layers.
Training (``lista_train``) fits the layers to the sparse-coding loss of a fixed
decoder ``D``; the method ``lista`` (``sparsecomp.methods.lista``;
illustrative, not in the default sweeps) uses the true mixing matrix as ``D``.

References:
  Gregor & LeCun (2010), "Learning Fast Approximations of Sparse Coding", ICML.
  Daubechies, Defrise & De Mol (2004) for ISTA.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from sparsecomp.coding.fista import lipschitz_constant, shrink

# Full float32 products (no TF32 on accelerators): the untrained network must
# be ISTA itself, and it is trained against the same sparse-coding loss.
_HIGHEST = jax.lax.Precision.HIGHEST


class ListaParams(NamedTuple):
    """Per-layer weights, layer axis first."""

    input_matrix: jax.Array  # [n_layers, input_dim, width] float32, W_l
    lateral: jax.Array  # [n_layers, width, width] float32, S_l
    threshold: jax.Array  # [n_layers, width] float32, theta_l


def lista_init(dictionary: jax.Array, lam: jax.Array | float, n_layers: int) -> ListaParams:
    """The LISTA weights that reproduce ``n_layers`` ISTA steps on ``dictionary``.

    Args:
      dictionary: [input_dim, width] float32, atoms are columns.
      lam: L1 weight of the Lasso that ISTA solves.
      n_layers: number of unrolled layers (static).

    Returns:
      ``ListaParams`` with ``W = D / L``, ``S = I - D^T D / L``,
      ``theta = lam / L`` in every layer, ``L = ||D||_2^2``.
    """
    width = dictionary.shape[1]
    step = 1.0 / lipschitz_constant(dictionary)
    input_matrix = step * dictionary
    gram = jnp.matmul(dictionary.T, dictionary, precision=_HIGHEST)
    lateral = jnp.eye(width, dtype=dictionary.dtype) - step * gram
    threshold = jnp.full((width,), step * lam, dictionary.dtype)

    def stack(x):
        return jnp.broadcast_to(x, (n_layers, *x.shape))

    return ListaParams(stack(input_matrix), stack(lateral), stack(threshold))


def lista_apply(params: ListaParams, y: jax.Array, *, nonneg: bool = True) -> jax.Array:
    """LISTA codes of ``y``: the layers applied in a ``lax.scan`` from ``z = 0``.

    Args:
      params: ``ListaParams`` (the layer count is their leading axis).
      y: [batch, input_dim] float32 observations.
      nonneg: clamp codes at zero, as the study's (F)ISTA does.

    Returns:
      [batch, width] float32 codes.
    """

    def layer(codes, weights):
        input_matrix, lateral, threshold = weights
        drive = jnp.matmul(y, input_matrix, precision=_HIGHEST)
        return shrink(drive + jnp.matmul(codes, lateral, precision=_HIGHEST), threshold,
                      nonneg), None

    width = params.lateral.shape[-1]
    codes = jnp.zeros((y.shape[0], width), y.dtype)
    codes, _ = jax.lax.scan(layer, codes, params)
    return codes


def lista_loss(
    params: ListaParams, y: jax.Array, dictionary: jax.Array, lam: jax.Array | float
) -> jax.Array:
    """``mean((y - z D^T)^2) + lam * mean|z|`` with ``z = lista_apply(params, y)``.

    Args:
      params: LISTA weights.
      y: [batch, input_dim] float32.
      dictionary: [input_dim, width] float32, the fixed decoder.
      lam: L1 weight.

    Returns:
      [] float32.
    """
    codes = lista_apply(params, y)
    y_hat = jnp.matmul(codes, dictionary.T, precision=_HIGHEST)
    return jnp.mean((y - y_hat) ** 2) + lam * jnp.mean(jnp.abs(codes))


def lista_train(
    key: jax.Array,
    params: ListaParams,
    y: jax.Array,
    dictionary: jax.Array,
    *,
    lam: float,
    learning_rate: float,
    n_epochs: int,
    batch_size: int,
) -> tuple[ListaParams, jax.Array]:
    """Adam on ``lista_loss`` over minibatches reshuffled every epoch.

    Each epoch takes ``len(y) // batch_size`` steps over a fresh permutation
    (the ragged remainder is left out of that epoch and reshuffled into the
    next one), all in nested ``lax.scan`` loops so the call vmaps over seeds.

    Args:
      key: PRNG key for the shuffles.
      params: initial weights, e.g. ``lista_init(dictionary, lam, 16)``.
      y: [n, input_dim] float32 training observations.
      dictionary: [input_dim, width] float32 fixed decoder.
      lam: L1 weight.
      learning_rate: Adam learning rate.
      n_epochs, batch_size: static.

    Returns:
      ``(params, epoch_loss [n_epochs] float32)``, the mean training loss of
      each epoch's minibatches.

    Raises:
      ValueError: if ``batch_size`` is not between 1 and ``len(y)``.
    """
    if not 1 <= batch_size <= y.shape[0]:
        raise ValueError(
            f"batch_size={batch_size} is invalid: it must satisfy 1 <= batch_size <= {y.shape[0]}")
    optimiser = optax.adam(learning_rate)
    n_batches = y.shape[0] // batch_size
    value_and_grad = jax.value_and_grad(lista_loss)

    def train_step(carry, batch):
        params, opt_state = carry
        loss, grads = value_and_grad(params, batch, dictionary, lam)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    def epoch(carry, epoch_key):
        order = jax.random.permutation(epoch_key, y.shape[0])[: n_batches * batch_size]
        batches = y[order].reshape(n_batches, batch_size, y.shape[1])
        carry, losses = jax.lax.scan(train_step, carry, batches)
        return carry, jnp.mean(losses)

    (params, _), epoch_loss = jax.lax.scan(
        epoch, (params, optimiser.init(params)), jax.random.split(key, n_epochs)
    )
    return params, epoch_loss
