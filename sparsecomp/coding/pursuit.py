"""Matching pursuit: greedy per-sample coding on unit atoms, with a hand-written VJP.

``mp_select`` makes the greedy choices without gradient, updating the inner
products through the Gram matrix when that is cheaper; ``mp_residuals`` turns
the chosen atoms into differentiable codes and residual, its VJP being the
gradient autograd takes through the reference's loop (through the inner
products, not the discrete choice) at ``k * input_dim`` per sample instead of
``k * input_dim * width``. ``matching_pursuit`` composes them into dense codes;
the ``mp`` SAE (``sparsecomp.sae.model``) trains through ``pursue``.

References:
  Mallat & Zhang 1993, "Matching pursuits with time-frequency dictionaries".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Full float32 products (no TF32 on accelerators): each step's pick is an
# argmax over inner products that near-ties separate by less than TF32's
# ~1e-3, and the codes are those inner products, carried into the residual.
_HIGHEST = jax.lax.Precision.HIGHEST

# Matching pursuit updates its inner products through the Gram matrix
# ``atoms^T atoms`` when that is cheaper (width <= k * batch) and small enough to
# hold; beyond this width it recomputes them from the residual.
GRAM_MAX_WIDTH = 4096


def _first_argmax(score: jax.Array, axis: int) -> jax.Array:
    """Index of the first maximum along ``axis`` (int32, that axis removed).

    Two plain reductions, which XLA:CPU runs several times faster than the
    variadic (value, index) reduction that ``jnp.argmax`` lowers to.
    """
    top = jnp.max(score, axis=axis, keepdims=True)
    index = jax.lax.broadcasted_iota(jnp.int32, score.shape, axis % score.ndim)
    return jnp.min(jnp.where(score == top, index, score.shape[axis]), axis=axis)


def mp_select(x: jax.Array, atom_rows: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """The atoms and codes of ``k`` greedy matching-pursuit steps (no gradient).

    Each step picks the not-yet-chosen atom with the largest
    ``|<residual, atom>|`` (the first one on ties), takes that inner product as
    its code and removes the projection from the residual. The inner products
    are either recomputed from the residual (``input_dim * width * batch`` per
    step) or updated through the Gram matrix,
    ``<r - c a_j, a> = <r, a> - c G[:, j]`` (``width * batch`` per step after
    one ``width^2 * input_dim`` product), whichever is cheaper. They are
    feature-major (``[width, batch]``) because XLA:CPU reduces over the major
    axis about twice as fast as over the minor one.

    Args:
      x: [batch, input_dim] float32, the bias-centred inputs.
      atom_rows: [width, input_dim] float32, the unit atoms as rows (the
        transposed dictionary: every product below is then ``A @ B.T`` of
        row-major operands, the form XLA:CPU hands to its fast matmul).
      k: number of steps (static), 1 <= k <= width.

    Returns:
      ``(picks, coefs)``: [k, batch] int32 atom picked at each step (distinct
      along axis 0) and [k, batch] float32 its code (sign kept).
    """
    x, atom_rows = jax.lax.stop_gradient((x, atom_rows))
    batch, width = x.shape[0], atom_rows.shape[0]
    use_gram = width <= min(k * batch, GRAM_MAX_WIDTH)
    gram = jnp.matmul(atom_rows, atom_rows.T, precision=_HIGHEST) if use_gram else None
    row = jax.lax.broadcasted_iota(jnp.int32, (width, batch), 0)

    def greedy_step(carry, _):
        residual, inner, score = carry
        pick = _first_argmax(score, axis=0)  # [batch]
        coef = jnp.take_along_axis(inner, pick[None, :], axis=0)  # [1, batch]
        if use_gram:
            inner = inner - coef * jnp.take(gram, pick, axis=1)
        else:
            residual = residual - coef.T * atom_rows[pick]
            inner = jnp.matmul(atom_rows, residual.T, precision=_HIGHEST)  # [width, batch]
        # |inner| >= 0, so a score of -1 marks a chosen atom that never wins.
        score = jnp.where((row == pick) | (score < 0), -1.0, jnp.abs(inner))
        return (residual, inner, score), (pick, coef[0])

    inner = jnp.matmul(atom_rows, x.T, precision=_HIGHEST)  # [width, batch]
    _, (picks, coefs) = jax.lax.scan(greedy_step, (x, inner, jnp.abs(inner)), None, length=k)
    return picks, coefs


@jax.custom_vjp
def mp_residuals(
    x: jax.Array, selected: jax.Array, coefs: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Differentiable matching-pursuit codes and residual for fixed picks.

    Matching pursuit on the atoms ``a_t`` of ``selected`` runs the recurrence
    ``c_t = <r_{t-1}, a_t>``, ``r_t = r_{t-1} - c_t a_t`` from ``r_0 = x``. The
    codes come precomputed from ``mp_select`` (the same numbers up to
    rounding), so the forward pass is one sum, ``r_k = x - sum_t c_t a_t``;
    the hand-written VJP is the gradient autograd takes through the
    reference's loop (through the inner products, not the discrete choice),
    run as the adjoint recurrence with ``g_t = dL/dr_t`` and the residuals
    rebuilt backwards from ``r_k``::

        r_{t-1} = r_t + c_t a_t;  c_hat_t = dc_t - <g_t, a_t>;
        da_t = c_hat_t r_{t-1} - c_t g_t;  g_{t-1} = g_t + c_hat_t a_t;  dx = g_0.

    This costs ``k * input_dim`` instead of ``k * input_dim * width`` per sample.

    Args:
      x: [batch, input_dim] float32, the bias-centred inputs.
      selected: [k, batch, input_dim] float32, the unit atom of each step.
      coefs: [k, batch] float32, the codes ``mp_select`` returned for these
        atoms; treated as a function of ``(x, selected)``, not an input.

    Returns:
      ``(coefs, residual)``: [k, batch] float32 codes (sign kept) and
      [batch, input_dim] float32 ``r_k = x - sum_t c_t a_t``.
    """
    return _mp_residuals_fwd(x, selected, coefs)[0]


def _mp_residuals_fwd(x, selected, coefs):
    residual = x - jnp.einsum("tb,tbm->bm", coefs, selected, precision=_HIGHEST)
    return (coefs, residual), (selected, coefs, residual)


def _mp_residuals_bwd(saved, cotangents):
    selected, coefs, residual = saved
    d_coefs, d_residual = cotangents

    # A fori_loop indexing the step axis in place: a scan would move the seed
    # axis that vmap adds behind the step axis, transposing all k atoms.
    def adjoint(i, carry):
        g, after, d_selected = carry
        t = selected.shape[0] - 1 - i
        atom, coef = selected[t], coefs[t][:, None]
        before = after + coef * atom
        c_hat = (d_coefs[t] - jnp.sum(g * atom, axis=-1))[:, None]
        d_selected = d_selected.at[t].set(c_hat * before - coef * g)
        return g + c_hat * atom, before, d_selected

    init = (d_residual, residual, jnp.zeros_like(selected))
    d_x, _, d_selected = jax.lax.fori_loop(0, selected.shape[0], adjoint, init)
    return d_x, d_selected, jnp.zeros_like(coefs)


mp_residuals.defvjp(_mp_residuals_fwd, _mp_residuals_bwd)


def pursue(x: jax.Array, atom_rows: jax.Array, k: int):
    """Picks, codes and residual of ``k`` matching-pursuit steps.

    Args:
      x: [batch, input_dim] float32, the bias-centred inputs.
      atom_rows: [width, input_dim] float32, unit atoms as rows.
      k: number of steps (static).

    Returns:
      ``(picks [k, batch] int32, coefs [k, batch] float32, residual
      [batch, input_dim] float32)``; ``coefs`` and ``residual`` carry gradients.
    """
    picks, coefs = mp_select(x, atom_rows, k)
    coefs, residual = mp_residuals(x, atom_rows[picks], coefs)
    return picks, coefs, residual


def dense_codes(picks: jax.Array, coefs: jax.Array, width: int) -> jax.Array:
    """Scatters ``coefs`` ([k, batch]) to rows ``picks`` of a [width, batch] array."""
    batch = picks.shape[1]
    columns = jnp.broadcast_to(jnp.arange(batch), picks.shape)
    return jnp.zeros((width, batch), coefs.dtype).at[picks, columns].set(coefs)


def matching_pursuit(x: jax.Array, atoms: jax.Array, k: int) -> jax.Array:
    """``k`` greedy matching-pursuit steps, each on a not-yet-chosen atom.

    Each step picks the unchosen atom with the largest ``|<residual, atom>|``,
    adds that inner product (sign kept) to its code and subtracts its
    projection from the residual; with unit atoms the squared residual norm
    drops by the squared code, so it never grows. ``mp_select`` makes the
    choices, ``mp_residuals`` the (differentiable) codes.

    Args:
      x: [batch, input_dim] float32, the (bias-centred) inputs.
      atoms: [input_dim, width] float32 with unit-norm columns.
      k: number of steps (static), 1 <= k <= width.

    Returns:
      [batch, width] float32 codes with at most ``k`` non-zeros per row;
      ``codes @ atoms.T`` approximates ``x``.

    References:
      Mallat & Zhang 1993, "Matching pursuits with time-frequency dictionaries".
    """
    picks, coefs, _ = pursue(x, atoms.T, k)
    return dense_codes(picks, coefs, atoms.shape[1]).T


__all__ = [
    "GRAM_MAX_WIDTH",
    "dense_codes",
    "matching_pursuit",
    "mp_residuals",
    "mp_select",
    "pursue",
]
