"""DL-FISTA: alternating FISTA codes and least-squares dictionary updates.

Learns a dictionary ``D`` ([input_dim, width], atoms are columns,
reconstruction ``Z @ D.T``) from observations ``Y``, as in protocol section 3:
each round codes ``Y`` by non-negative FISTA warm-started from the previous
round's codes, then sets ``D`` to the least-squares dictionary of those codes
with unit-norm columns. The round loop is a compiled ``lax.while_loop`` with a
tolerance-based stop, so one call vmaps over seeds; under ``vmap`` JAX runs
the batched loop until its slowest member stops and freezes the carry of the
members already done (the batched body's result is selected by each member's
own predicate), so every seed's result equals its unbatched run.

References:
  Beck & Teboulle (2009), "A Fast Iterative Shrinkage-Thresholding Algorithm
  for Linear Inverse Problems", SIAM J. Imaging Sciences 2(1).
  Olshausen & Field (1997), "Sparse coding with an overcomplete basis set",
  Vision Research 37(23) (alternating sparse coding / dictionary updates).
  Engan, Aase & Husoy (1999), "Method of optimal directions for frame
  design", ICASSP (the least-squares dictionary update).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sparsecomp.coding.fista import fista, make_problem, solver_init, solver_run_until
from sparsecomp.dictionary.atoms import (
    UNUSED_ATOM_NORM,
    duplicated_atoms,
    least_squares_dictionary,
    replace_atoms,
)
from sparsecomp.linalg import unit_columns

# Rounds between points of the change and MSE curves.
LOG_EVERY_ROUNDS = 10
# Full float32 residuals (no TF32 on accelerators), like the FISTA and the least
# squares of each round: they pick the replacement atoms and give the logged MSE.
_HIGHEST = jax.lax.Precision.HIGHEST


class DictionaryLearningState(NamedTuple):
    """Carry of the DL-FISTA round loop; ``n_log = max_rounds // 10``.

    ``snapshots`` holds ``D`` after each round listed in the loop's
    ``snapshot_rounds`` (round 0 is the initial dictionary); rounds the loop
    never reached stay NaN.
    """

    dictionary: jax.Array  # [input_dim, width] float32, D after the latest update
    codes: jax.Array  # [batch, width] float32, FISTA codes of the latest round
    n_rounds: jax.Array  # [] int32, rounds completed
    rel_change: jax.Array  # [] float32, ||D_new - D||_F / ||D||_F of the latest round
    done: jax.Array  # [] bool, the stopping rule has fired
    change_curve: jax.Array  # [n_log] float32, rel_change at rounds 10, 20, ... (NaN unreached)
    mse_curve: jax.Array  # [n_log] float32, reconstruction MSE at rounds 10, 20, ...
    snapshots: jax.Array  # [n_snapshots, input_dim, width] float32
    n_replaced: jax.Array  # [] int32, atoms replaced so far (``resample_every`` > 0)
    n_inner: jax.Array  # [] int32, FISTA iterations run so far, over all rounds


def _snapshot_slots(snapshot_rounds: tuple[int, ...], max_rounds: int) -> np.ndarray:
    """[max_rounds + 1] int32: the snapshot index of each round, ``n_snapshots`` if none."""
    if any(r < 0 or r > max_rounds for r in snapshot_rounds):
        raise ValueError(f"snapshot_rounds {snapshot_rounds} must lie in [0, {max_rounds}]")
    slots = np.full(max_rounds + 1, len(snapshot_rounds), np.int32)
    for index, round_ in enumerate(snapshot_rounds):
        slots[round_] = index
    return slots


def dictionary_learning_init(
    y: jax.Array, d_init: jax.Array, max_rounds: int, snapshot_rounds: tuple[int, ...] = ()
) -> DictionaryLearningState:
    """Round 0: the initial dictionary and zero codes.

    Args:
      y: [batch, input_dim] float32 observations.
      d_init: [input_dim, width] float32 initial dictionary (e.g. random or
        an SAE decoder); its columns, which must be non-zero, are normalised.
      max_rounds: the round budget (static); sizes the curve buffers.
      snapshot_rounds: rounds after which ``D`` is kept (static, distinct).
    """
    width = d_init.shape[1]
    n_log = max_rounds // LOG_EVERY_ROUNDS
    nan_curve = jnp.full((n_log,), jnp.nan, jnp.float32)
    d0 = unit_columns(d_init)
    snapshots = jnp.full((len(snapshot_rounds), *d0.shape), jnp.nan, jnp.float32)
    if snapshot_rounds:
        slot = _snapshot_slots(snapshot_rounds, max_rounds)[0]
        snapshots = snapshots.at[slot].set(d0, mode="drop")
    return DictionaryLearningState(
        dictionary=d0,
        codes=jnp.zeros((y.shape[0], width), y.dtype),
        n_rounds=jnp.zeros((), jnp.int32),
        rel_change=jnp.full((), jnp.inf, jnp.float32),
        done=jnp.zeros((), bool),
        change_curve=nan_curve,
        mse_curve=nan_curve,
        snapshots=snapshots,
        n_replaced=jnp.zeros((), jnp.int32),
        n_inner=jnp.zeros((), jnp.int32),
    )


def dictionary_learning_step(
    y: jax.Array,
    state: DictionaryLearningState,
    *,
    lam: float,
    n_iter: int,
    max_rounds: int,
    tol: float,
    min_rounds: int,
    snapshot_rounds: tuple[int, ...] = (),
    resample_every: int = 0,
    duplicate_cosine: float = 0.95,
    inner_tol: float = 0.0,
) -> DictionaryLearningState:
    """One round: warm-started FISTA codes, then the least-squares dictionary.

    FISTA runs ``n_iter`` iterations, or with ``inner_tol > 0`` (static) stops
    earlier once an iteration changes the codes by at most ``inner_tol``
    relative (``sparsecomp.coding.fista.solver_run_until``).

    The round stops the loop (``done``) once ``n_rounds > min_rounds`` and the
    relative Frobenius change of ``D`` is below ``tol``, or at ``max_rounds``.
    With ``resample_every > 0`` (static), every ``resample_every``-th round
    replaces the atoms no sample used this round and the later atom of every
    pair with |cosine| above ``duplicate_cosine`` by the normalised residuals
    of the worst-reconstructed samples (``atoms.replace_atoms``), and zeroes
    their codes for the next warm start.
    """
    snapshots = state.snapshots
    d = state.dictionary
    if inner_tol > 0:
        problem = make_problem(y, d, lam)
        solved, n_inner = solver_run_until(problem, solver_init(problem, state.codes), n_iter,
                                           inner_tol, nonneg=True, momentum=True)
        codes = solved.codes
    else:
        codes = fista(y, d, lam, n_iter=n_iter, z_init=state.codes, chunk_size=None)
        n_inner = n_iter
    d_new = unit_columns(least_squares_dictionary(y, codes), fallback=d, eps=UNUSED_ATOM_NORM)
    n_replaced = state.n_replaced
    if resample_every:
        unused = jnp.all(codes <= 0, axis=0)
        replace = (unused | duplicated_atoms(d_new, duplicate_cosine)) & (
            (state.n_rounds + 1) % resample_every == 0)
        d_new = replace_atoms(d_new, replace, y - jnp.matmul(codes, d.T, precision=_HIGHEST))
        codes = jnp.where(replace[None, :], 0.0, codes)
        n_replaced = n_replaced + jnp.sum(replace, dtype=jnp.int32)
    rel_change = jnp.linalg.norm(d_new - d) / jnp.linalg.norm(d)
    n_rounds = state.n_rounds + 1
    # The logged MSE is that of the codes with the dictionary they were
    # inferred from, i.e. what FISTA achieved in this round.
    mse = jnp.mean((y - jnp.matmul(codes, d.T, precision=_HIGHEST)) ** 2)
    slot = jnp.arange(state.change_curve.shape[0]) == n_rounds // LOG_EVERY_ROUNDS - 1
    log = slot & (n_rounds % LOG_EVERY_ROUNDS == 0)
    done = (n_rounds >= max_rounds) | ((n_rounds > min_rounds) & (rel_change < tol))
    if snapshot_rounds:  # a round without a snapshot has slot n_snapshots: dropped
        slots = jnp.asarray(_snapshot_slots(snapshot_rounds, max_rounds))
        snapshots = snapshots.at[slots[n_rounds]].set(d_new, mode="drop")
    return DictionaryLearningState(
        dictionary=d_new,
        codes=codes,
        n_rounds=n_rounds,
        rel_change=rel_change,
        done=done,
        change_curve=jnp.where(log, rel_change, state.change_curve),
        mse_curve=jnp.where(log, mse, state.mse_curve),
        snapshots=snapshots,
        n_replaced=n_replaced,
        n_inner=state.n_inner + n_inner,
    )


def dictionary_learning_run(
    y: jax.Array,
    d_init: jax.Array,
    *,
    lam: float,
    n_iter: int,
    max_rounds: int,
    tol: float,
    min_rounds: int,
    snapshot_rounds: tuple[int, ...] = (),
    resample_every: int = 0,
    duplicate_cosine: float = 0.95,
    inner_tol: float = 0.0,
) -> DictionaryLearningState:
    """DL-FISTA to convergence in one ``lax.while_loop``; returns the final state.

    Under ``vmap`` the batch runs until its slowest member stops; members
    already done are frozen, so each result equals the unbatched run.
    ``snapshot_rounds`` (static) lists the rounds whose ``D`` is kept in
    ``state.snapshots``; ``resample_every``, ``duplicate_cosine`` and
    ``inner_tol`` as in ``dictionary_learning_step``.
    """

    def step(state):
        return dictionary_learning_step(
            y, state, lam=lam, n_iter=n_iter, max_rounds=max_rounds, tol=tol,
            min_rounds=min_rounds, snapshot_rounds=snapshot_rounds,
            resample_every=resample_every, duplicate_cosine=duplicate_cosine,
            inner_tol=inner_tol,
        )

    state = dictionary_learning_init(y, d_init, max_rounds, snapshot_rounds)
    return jax.lax.while_loop(lambda s: ~s.done, step, state)


def learn_dictionary_fista(
    y: jax.Array,
    d_init: jax.Array,
    *,
    lam: float = 0.1,
    n_iter: int = 100,
    max_rounds: int = 1000,
    tol: float = 1e-5,
    min_rounds: int = 10,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Alternating dictionary learning with FISTA codes (DL-FISTA).

    Each round minimises, for the current ``D``,

        Z = argmin_{Z >= 0} 0.5 ||Y - Z D^T||_F^2 + lam ||Z||_1

    approximately with ``n_iter`` FISTA iterations warm-started from the
    previous round's codes, then sets ``D = Y^T Z (Z^T Z + 1e-6 I)^-1`` with
    unit-norm columns. Stops once the relative Frobenius change of ``D`` is
    below ``tol`` after ``min_rounds`` rounds, or after ``max_rounds``.

    Args:
      y: [batch, input_dim] float32 observations to learn from.
      d_init: [input_dim, width] float32 initial dictionary (random, or an
        SAE decoder for warm starts); columns are normalised.
      lam: L1 weight (may be traced).
      n_iter: FISTA iterations per round (static).
      max_rounds: round budget (static).
      tol: stopping threshold on ``||D_new - D||_F / ||D||_F``.
      min_rounds: rounds before the tolerance may stop the loop.

    Returns:
      ``(dictionary [input_dim, width] float32, codes [batch, width] float32,
      n_rounds [] int32)``; ``codes`` are the last round's FISTA codes of
      ``y`` (inferred with the dictionary before the last update).

    References:
      Beck & Teboulle (2009) for FISTA; Engan et al. (1999) for the update.
    """
    state = dictionary_learning_run(
        y, d_init, lam=lam, n_iter=n_iter, max_rounds=max_rounds, tol=tol,
        min_rounds=min_rounds,
    )
    return state.dictionary, state.codes, state.n_rounds
