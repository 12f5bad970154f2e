"""The SAEs' sparsity mechanisms: JumpReLU and its step, TopK, BatchTopK and AuxK selections.

``jumprelu`` and ``step`` carry the straight-through threshold gradients of
Rajamanoharan et al. 2024 (rectangle kernel); ``kth_largest`` is TopK's
threshold, ``batch_topk_mask`` BatchTopK's training-time selection and
``auxk_codes`` the dead-latent codes of TopK's auxiliary loss.

XLA:CPU runs a training step as a few dozen small kernels whose launch cost,
not arithmetic, dominates at the study's sizes. Hence TopK thresholds at the
k-th largest value instead of calling ``lax.top_k`` (a full sort on CPU; ties
at the threshold, measure-zero, would all be kept).

References:
  Rajamanoharan et al. 2024, "Jumping Ahead: Improving Reconstruction Fidelity
  with JumpReLU Sparse Autoencoders" (arXiv 2407.14435).
  Gao et al. 2024, "Scaling and evaluating sparse autoencoders" (TopK, AuxK;
  arXiv 2406.04093).
  Bussmann, Leask & Nanda 2024, "BatchTopK Sparse Autoencoders"
  (arXiv 2412.06410).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

# --------------------------------------------------------------------------
# JumpReLU with straight-through threshold gradients.
# --------------------------------------------------------------------------


def _rectangle(u: jax.Array) -> jax.Array:
    """Rectangle kernel ``K(u) = 1[-1/2 < u < 1/2]`` (integrates to one)."""
    return ((u > -0.5) & (u < 0.5)).astype(u.dtype)


def _sum_to_theta(g: jax.Array, theta: jax.Array) -> jax.Array:
    """Sums a ``z``-shaped cotangent over the axes that ``theta`` broadcasts on."""
    g = jnp.sum(g, axis=tuple(range(g.ndim - theta.ndim)))
    return jnp.sum(g, axis=tuple(i for i, n in enumerate(theta.shape) if n == 1), keepdims=True)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def jumprelu(z: jax.Array, theta: jax.Array, bandwidth: float) -> jax.Array:
    """``z * H(z - theta)`` with the pseudo-derivatives of Rajamanoharan et al.

    The gradient w.r.t. ``z`` is the true one, ``H(z - theta)``; w.r.t.
    ``theta`` it is ``-(theta / eps) K((z - theta) / eps)``, the kernel density
    estimate of the expected loss's derivative (eps = ``bandwidth``).

    Args:
      z: [..., width] float32, non-negative (ReLU'd pre-activations).
      theta: [width] float32, positive thresholds (any shape that broadcasts
        against ``z``; the cotangent is summed back to it).
      bandwidth: kernel width eps (static).

    Returns:
      [..., width] float32.
    """
    return z * (z > theta)


def _jumprelu_fwd(z, theta, bandwidth):
    return jumprelu(z, theta, bandwidth), (z, theta)


def _jumprelu_bwd(bandwidth, residuals, g):
    z, theta = residuals
    kernel = _rectangle((z - theta) / bandwidth)
    dz = g * (z > theta)
    dtheta = -(theta / bandwidth) * kernel * g
    return dz, _sum_to_theta(dtheta, theta)


jumprelu.defvjp(_jumprelu_fwd, _jumprelu_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def step(z: jax.Array, theta: jax.Array, bandwidth: float) -> jax.Array:
    """Heaviside ``H(z - theta)`` with a kernel pseudo-derivative for ``theta``.

    The gradient w.r.t. ``z`` is zero (as the true one); w.r.t. ``theta`` it is
    ``-(1 / eps) K((z - theta) / eps)``, so an L0 penalty built from it moves the
    thresholds (Rajamanoharan et al. 2024, eq. 11).

    Args:
      z: [..., width] float32.
      theta: [width] float32 (any shape that broadcasts against ``z``).
      bandwidth: kernel width eps (static).

    Returns:
      [..., width] float32 in {0, 1}.
    """
    return (z > theta).astype(z.dtype)


def _step_fwd(z, theta, bandwidth):
    return step(z, theta, bandwidth), (z, theta)


def _step_bwd(bandwidth, residuals, g):
    z, theta = residuals
    dtheta = -(1.0 / bandwidth) * _rectangle((z - theta) / bandwidth) * g
    return jnp.zeros_like(z), _sum_to_theta(dtheta, theta)


step.defvjp(_step_fwd, _step_bwd)


# --------------------------------------------------------------------------
# TopK, BatchTopK and AuxK selections.
# --------------------------------------------------------------------------


def kth_largest(x: jax.Array, k: int, axis: int = -1) -> jax.Array:
    """The ``k``-th largest distinct value along ``axis`` (no gradient).

    ``k`` passes of a masked max. ``lax.top_k`` lowers to a full sort on
    XLA:CPU, ~25x slower at the study's sizes (2.2 ms against 0.08 ms for
    [3, 64, 100] and k = 10, i.e. 44 s of a 20,000-step run), so TopK selects
    by this threshold instead.

    Args:
      x: [..., width, ...] float32.
      k: static, 1 <= k <= width.
      axis: the axis of length ``width``.

    Returns:
      ``x``'s shape with ``axis`` of length 1, float32. ``x >= kth_largest(x, k)``
      marks exactly the ``k`` largest entries when they are distinct (exact
      ties at the threshold, a measure-zero event for continuous inputs, are
      all kept); it is ``-inf`` when there are fewer than ``k`` distinct values.
    """
    x = jax.lax.stop_gradient(x)

    def next_below(bound, _):
        return jnp.max(jnp.where(x < bound, x, -jnp.inf), axis=axis, keepdims=True), None

    first = jnp.max(x, axis=axis, keepdims=True)
    kth, _ = jax.lax.scan(next_below, first, None, length=k - 1)
    return kth


def batch_topk_mask(pre: jax.Array, mask: jax.Array, k: int) -> jax.Array:
    """Marks the ``k * B`` largest pre-activations of a batch's ``B`` real rows.

    One ``lax.top_k`` of static size ``k * batch`` over the flattened batch
    (padding rows at ``-inf``), read at the dynamic rank ``k * B``: the last
    batch of an epoch has fewer real rows. (``kth_largest`` would take
    ``k * batch`` passes here, slower than the sort.)

    Args:
      pre: [batch, width] float32 pre-activations.
      mask: [batch] float32, 1 for real rows, 0 for padding; at least one real row.
      k: static, 1 <= k <= width.

    Returns:
      [batch, width] bool with ``k * B`` entries marked (exact ties at the
      threshold, a measure-zero event, are all kept), none in a padding row.

    References:
      Bussmann, Leask & Nanda 2024, "BatchTopK Sparse Autoencoders".
    """
    real = mask[:, None] > 0
    flat = jnp.where(real, jax.lax.stop_gradient(pre), -jnp.inf).reshape(-1)
    top = jax.lax.top_k(flat, k * pre.shape[0])[0]
    kth = top[k * jnp.sum(mask).astype(jnp.int32) - 1]
    return real & (pre >= kth)


def auxk_codes(pre: jax.Array, dead: jax.Array, k: int) -> jax.Array:
    """Each row's ``k`` largest pre-activations among the dead latents, ReLU'd.

    Args:
      pre: [batch, width] float32 pre-activations.
      dead: [width] bool, the dead latents.
      k: static, 1 <= k <= width.

    Returns:
      [batch, width] float32, zero outside the dead latents; a row with at
      most ``k`` dead latents keeps all of them (``kth_largest`` is then -inf).

    References:
      Gao et al. 2024, "Scaling and evaluating sparse autoencoders", A.2.
    """
    dead_pre = jnp.where(dead, pre, -jnp.inf)
    return jnp.where(dead_pre >= kth_largest(dead_pre, k), jax.nn.relu(dead_pre), 0.0)


__all__ = ["auxk_codes", "batch_topk_mask", "jumprelu", "kth_largest", "step"]
