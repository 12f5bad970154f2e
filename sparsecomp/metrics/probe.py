"""Probe accuracy: an unregularised logistic regression fitted on one seed's ID codes.

The metric ``acc_iid`` / ``acc_ood`` (protocol section 4). Not to be confused
with the ridge baseline ``linear_probe`` (``sparsecomp.coding.ridge``), a
method whose predictions are codes.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
import optax.tree_utils as otu

_HIGHEST = jax.lax.Precision.HIGHEST
# Mirrors scikit-learn LogisticRegression: lbfgs max_iter=100, tol=1e-4 on the
# largest absolute gradient entry of the sample-averaged log-loss.
_LOGREG_MAX_ITER = 100
_LOGREG_TOL = 1e-4


def _logistic_loss(params: tuple[jax.Array, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    """Sample-averaged log-loss; params = (weights [d], intercept []), y in {0, 1}."""
    weights, intercept = params
    logits = jnp.matmul(x, weights, precision=_HIGHEST) + intercept
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, y))


@functools.partial(jax.jit, static_argnames="max_iter")
def _fit_logistic(x: jax.Array, y: jax.Array, max_iter: int):
    """Unregularised logistic regression with intercept by L-BFGS.

    Stops after ``max_iter`` iterations or once max|gradient| <= 1e-4, like
    scikit-learn's lbfgs solver. On separable data the optimum is at infinity;
    the iteration cap keeps the weights finite, and any step that would produce
    a non-finite value is rejected and ends the loop.

    Args:
      x: [N, d] float32 features.
      y: [N] float32 in {0, 1}.
      max_iter: L-BFGS iterations (static).

    Returns:
      (weights [d], intercept []) float32.
    """
    loss = functools.partial(_logistic_loss, x=x, y=y)
    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(loss)

    def keep_going(carry):
        _, state, failed = carry
        count = otu.tree_get(state, "count")
        grad_max = otu.tree_max(jax.tree.map(jnp.abs, otu.tree_get(state, "grad")))
        # The initial state holds a zero gradient, so the first step always runs.
        return ~failed & ((count == 0) | ((count < max_iter) & (grad_max > _LOGREG_TOL)))

    def step(carry):
        params, state, _ = carry
        value, grad = value_and_grad(params, state=state)
        updates, new_state = solver.update(
            grad, state, params, value=value, grad=grad, value_fn=loss
        )
        new_params = optax.apply_updates(params, updates)
        finite = jnp.all(jnp.isfinite(jnp.append(new_params[0], new_params[1])))
        params, state = jax.tree.map(
            lambda new, old: jnp.where(finite, new, old), (new_params, new_state), (params, state)
        )
        return params, state, ~finite

    params = (jnp.zeros(x.shape[1], jnp.float32), jnp.zeros((), jnp.float32))
    params, _, _ = jax.lax.while_loop(
        keep_going, step, (params, solver.init(params), jnp.array(False))
    )
    return params


@functools.partial(jax.jit, static_argnames="max_iter")
def _probe_accuracy(codes_id, labels_id, codes_ood, labels_ood, max_iter):
    # Raw codes, as the reference fits them: with an iteration cap, the scale of
    # the features is part of the definition on (near-)separable data, where
    # standardising would blow up rare features and change the OOD accuracy.
    weights, intercept = _fit_logistic(codes_id, labels_id.astype(jnp.float32), max_iter)

    def accuracy(codes, labels):
        logits = jnp.matmul(codes, weights, precision=_HIGHEST) + intercept
        return jnp.mean((logits > 0) == labels)

    return accuracy(codes_id, labels_id), accuracy(codes_ood, labels_ood)


def probe_accuracy(
    codes_id, labels_id, codes_ood, labels_ood, *, max_iter: int = _LOGREG_MAX_ITER
) -> tuple[float, float]:
    """Accuracy of an unregularised logistic regression fitted on the ID codes.

    Mirrors scikit-learn ``LogisticRegression(penalty=None)`` (lbfgs, at most
    100 iterations, gradient tolerance 1e-4), implemented with ``optax.lbfgs``
    in a ``lax.while_loop``, on the raw codes as the reference fits them (on
    separable data the iteration cap acts as an implicit regulariser, so
    rescaling the features would change the result).

    Args:
      codes_id: [N_id, width] float, codes of the ID (val) samples.
      labels_id: [N_id] bool, ID labels (``z_0 > 0.5``).
      codes_ood: [N_ood, width] float, codes of the OOD samples.
      labels_ood: [N_ood] bool, OOD labels.
      max_iter: L-BFGS iteration cap (the scikit-learn default is 100).

    Returns:
      (ID accuracy, OOD accuracy) as floats in [0, 1].
    """
    acc_id, acc_ood = _probe_accuracy(
        jnp.asarray(codes_id, jnp.float32),
        jnp.asarray(labels_id, bool),
        jnp.asarray(codes_ood, jnp.float32),
        jnp.asarray(labels_ood, bool),
        max_iter,
    )
    return float(acc_id), float(acc_ood)
