"""Online dictionary learning (Mairal et al. 2010) on a stream of fresh samples.

Each mini-batch of ``batch_size`` new ID samples (drawn from the data
generator, so nothing is stored) is coded by non-negative FISTA on the
current dictionary; the codes update running sufficient statistics

    A <- beta A + Z^T Z / batch_size,    B <- beta B + Y^T Z / batch_size,

with the forgetting weight ``beta`` of scikit-learn's
``MiniBatchDictionaryLearning``, and one pass of block-coordinate descent
moves every atom to the minimiser of the surrogate ``tr(D^T D A)/2 -
tr(D^T B)`` given the others, projected onto the unit ball:

    d_j <- d_j + (b_j - D a_j) / A_jj,    d_j <- d_j / max(||d_j||, 1).

An atom with ``A_jj < 1e-6`` (almost never used) is replaced by a sample of
the current batch with a little noise, as scikit-learn does. Registered as
``dl_online``; val and OOD are coded by FISTA on the final (normalised)
dictionary.

References:
  Mairal, Bach, Ponce & Sapiro (2010), "Online learning for matrix
  factorization and sparse coding", JMLR 11 (Algorithms 1 and 2).
  scikit-learn's ``sklearn.decomposition.MiniBatchDictionaryLearning``
  (forgetting weight and dead-atom resampling).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from sparsecomp.data import sample_observations
from sparsecomp.dictionary_learning import normalise_columns
from sparsecomp.errors import ConfigError, require_int
from sparsecomp.learners import data_dictionary, learner_output
from sparsecomp.methods import register_method
from sparsecomp.solvers import fista

DEAD_ATOM_USAGE = 1e-6  # A_jj below this: the atom is resampled


class OnlineState(NamedTuple):
    """Carry of the mini-batch loop."""

    atoms: jax.Array  # [width, input_dim] float32, D^T (atoms are rows), norms <= 1
    a: jax.Array  # [width, width] float32, running sum of Z^T Z / batch_size
    b: jax.Array  # [input_dim, width] float32, running sum of Y^T Z / batch_size
    step: jax.Array  # [] int32, mini-batches seen
    n_resampled: jax.Array  # [] int32, dead atoms replaced so far


def forgetting_weight(step: jax.Array, batch_size: int) -> jax.Array:
    """scikit-learn's ``beta`` for mini-batch ``step`` (0-based): old statistics' weight."""
    step = step.astype(jnp.float32)
    theta = jnp.where(step < batch_size - 1, (step + 1) * batch_size,
                      batch_size**2 + step + 1 - batch_size)
    return (theta + 1 - batch_size) / (theta + 1)


def block_coordinate_pass(
    atoms: jax.Array, a: jax.Array, b: jax.Array, fallback: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """One sweep of Mairal's dictionary update over all atoms, in order.

    Args:
      atoms: [width, input_dim] float32 current atoms (rows).
      a: [width, width] float32 statistics ``A``.
      b: [input_dim, width] float32 statistics ``B``.
      fallback: [width, input_dim] float32 replacement for each dead atom.

    Returns:
      ``(atoms [width, input_dim] float32 with norms <= 1, dead [] int32)``.
    """
    a, b, fallback = jnp.asarray(a), jnp.asarray(b), jnp.asarray(fallback)

    def update(j, carry):
        atoms, dead = carry
        usage = a[j, j]
        moved = atoms[j] + (b[:, j] - a[j] @ atoms) / jnp.maximum(usage, DEAD_ATOM_USAGE)
        is_dead = usage < DEAD_ATOM_USAGE
        atom = jnp.where(is_dead, fallback[j], moved)
        atom = atom / jnp.maximum(jnp.linalg.norm(atom), 1.0)
        return atoms.at[j].set(atom), dead + is_dead.astype(jnp.int32)

    return jax.lax.fori_loop(0, atoms.shape[0], update, (atoms, jnp.zeros((), jnp.int32)))


def online_dictionary_learning(
    key: jax.Array, mixing: jax.Array, spec, *, lam: float, n_iter: int, batch_size: int,
    n_batches: int,
) -> OnlineState:
    """Mairal's online dictionary learning on ``n_batches`` fresh mini-batches.

    Args:
      key: PRNG key of the stream, the initial atoms and the resampling.
      mixing: [input_dim, num_latents] float32, used only to draw samples
        (``sparsecomp.data.sample_observations``).
      spec: the sweep point (sizes, noise); width = ``spec.num_latents``.
      lam: FISTA's L1 weight for the mini-batch codes.
      n_iter: FISTA iterations per mini-batch, from zero (static).
      batch_size, n_batches: the stream (static).

    Returns:
      The final ``OnlineState``; the initial atoms took ``width`` samples of
      their own (``data_dictionary``).
    """
    width, input_dim = spec.num_latents, spec.input_dim
    k_draw, k_pick, k_stream = jax.random.split(key, 3)
    d0 = data_dictionary(k_pick, sample_observations(k_draw, mixing, spec, width), width)
    state = OnlineState(
        atoms=d0.T,
        a=jnp.zeros((width, width), jnp.float32),
        b=jnp.zeros((input_dim, width), jnp.float32),
        step=jnp.zeros((), jnp.int32),
        n_resampled=jnp.zeros((), jnp.int32),
    )

    def mini_batch(state, batch_key):
        k_y, k_pick, k_noise = jax.random.split(batch_key, 3)
        y = sample_observations(k_y, mixing, spec, batch_size)  # [batch, input_dim]
        codes = fista(y, state.atoms.T, lam, n_iter=n_iter)  # [batch, width]
        beta = forgetting_weight(state.step, batch_size)
        a = beta * state.a + codes.T @ codes / batch_size
        b = beta * state.b + y.T @ codes / batch_size
        picks = y[jax.random.randint(k_pick, (width,), 0, batch_size)]
        fallback = picks + 0.01 * jnp.std(picks, axis=1, keepdims=True) * jax.random.normal(
            k_noise, picks.shape)
        atoms, dead = block_coordinate_pass(state.atoms, a, b, fallback)
        return OnlineState(atoms, a, b, state.step + 1, state.n_resampled + dead), None

    state, _ = jax.lax.scan(mini_batch, state, jax.random.split(k_stream, n_batches))
    return state


def _options(config, spec) -> dict:
    cfg = config.dl_online
    for field in ("n_iter", "batch_size"):
        require_int(f"dl_online.{field}", cfg[field], lower=1)
    if not cfg.lam > 0:
        raise ConfigError(f"dl_online.lam={cfg.lam} is invalid: it must be > 0")
    batch_size = min(int(cfg.batch_size), spec.n_train)
    return dict(lam=float(cfg.lam), n_iter=int(cfg.n_iter), batch_size=batch_size,
                n_batches=max(1, spec.n_train // batch_size))


@register_method("dl_online")
def make_dl_online(config, spec):
    """Online DL on ``n_train`` fresh samples; reads ``config.dl_online``.

    The point's ``n_samples // 2`` sets how many samples it draws (rows then
    sit beside the batch learners' at the same ``samples_seen``), not what it
    holds: ``n_train // batch_size`` mini-batches, each new. Rows carry
    ``n_resampled`` (dead atoms replaced), ``samples_seen`` (all it drew,
    including the ``width`` samples of the initial atoms) and
    ``samples_per_atom``.
    """
    options = _options(config, spec)

    def run(key, data):
        state = online_dictionary_learning(key, data.mixing, spec, **options)
        d = normalise_columns(state.atoms.T, state.atoms.T)
        drawn = spec.num_latents + options["n_batches"] * options["batch_size"]
        return learner_output(d, data, spec, lam=float(config.fista.lam),
                              n_iter=int(config.fista.n_iter), samples_seen=drawn,
                              scalars={"n_resampled": state.n_resampled})

    return run
