"""Synthetic superposition data: sparse concepts mixed into fewer dimensions.

Implements section 2 of the protocol (arXiv 2603.28744). One PRNG key is one
draw of everything: the mixing matrix, the ID train/val samples and the OOD
samples. ``make_dataset`` is a pure function of the key, so
``jax.vmap(partial(make_dataset, num_latents=..., ...))(keys)`` draws many seeds
at once with the seed axis first.

Latent 0 is the probed concept. With ``n_ood = num_latents // 2`` the ID pool
is latents ``1 .. n - n_ood - 1`` and the OOD pool latents ``n - n_ood .. n - 1``.

* Setting A: latent 0 plus ``k - 1`` distinct latents of the ID pool.
* Setting B: ``k`` distinct latents of ``1 .. n - 1`` (latent 0 inactive).
* Setting C: latent 0 plus ``k - 1`` distinct latents of the OOD pool.

ID samples are A or B with probability 1/2 each; OOD samples are C.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sparsecomp.errors import ConfigError, require_int, require_interval

COMPRESSED_SENSING_C = 2.0
# Samples each split (train, val, OOD) needs at least: the MCC correlates
# latents with codes over a split's samples, and one sample has no variance
# (every latent would be dropped and the MCC undefined); ridge's
# leave-one-out needs two training samples.
MIN_SPLIT_SAMPLES = 2
# The train half is n_samples // 2 (and so is the OOD split when n_eval is None).
MIN_N_SAMPLES = 2 * MIN_SPLIT_SAMPLES


class DataSpec(NamedTuple):
    """The sizes of one sweep point; every field is static (sets shapes)."""

    num_latents: int  # n, number of ground-truth concepts
    k: int  # active concepts per sample
    input_dim: int  # m, observation dimension
    n_samples: int  # ID samples; half train, half val; n_samples // 2 OOD
    noise: float = 0.0  # std of additive Gaussian observation noise
    # Val and OOD samples each when set (the train half stays n_samples // 2),
    # so that evaluation stays the same size while the training set grows.
    n_eval: int | None = None

    @property
    def n_train(self) -> int:
        return self.n_samples // 2

    @property
    def n_val(self) -> int:
        return self.n_samples - self.n_samples // 2 if self.n_eval is None else self.n_eval

    @property
    def n_ood(self) -> int:
        return self.n_samples // 2 if self.n_eval is None else self.n_eval


class Dataset(NamedTuple):
    """One draw of the study's data (add a leading seed axis under vmap).

    The ground-truth codes are stored sparse, as the latent indices and values
    of each sample's active set (``support_*``, ``values_*``, [samples, k]):
    at n = 100,000 latents a dense split of 2500 samples is 1 GB per seed, its
    sparse form 0.2 MB. ``z_*`` give the dense codes on demand (numpy in,
    numpy out; inside ``jit``/``vmap`` a scatter). ``y_* = z_* @ mixing.T
    (+ noise)`` are the observations and ``label_* = z_*[:, 0] > 0.5`` the
    probe labels. ``dataset_from_dense`` builds one from dense codes.
    """

    mixing: jax.Array  # [input_dim, num_latents] float32, unit-norm columns
    support_train: jax.Array  # [n_train, k] int32 latent indices, distinct per row
    values_train: jax.Array  # [n_train, k] float32 code values (0 = inactive)
    y_train: jax.Array  # [n_train, input_dim] float32
    label_train: jax.Array  # [n_train] bool
    support_val: jax.Array  # [n_val, k] int32
    values_val: jax.Array  # [n_val, k] float32
    y_val: jax.Array  # [n_val, input_dim] float32
    label_val: jax.Array  # [n_val] bool
    support_ood: jax.Array  # [n_ood, k] int32
    values_ood: jax.Array  # [n_ood, k] float32
    y_ood: jax.Array  # [n_ood, input_dim] float32
    label_ood: jax.Array  # [n_ood] bool

    @property
    def z_train(self):
        """[..., n_train, num_latents] float32 dense ground-truth codes."""
        return dense_codes(self.support_train, self.values_train, self.mixing.shape[-1])

    @property
    def z_val(self):
        """[..., n_val, num_latents] float32 dense ground-truth codes."""
        return dense_codes(self.support_val, self.values_val, self.mixing.shape[-1])

    @property
    def z_ood(self):
        """[..., n_ood, num_latents] float32 dense ground-truth codes."""
        return dense_codes(self.support_ood, self.values_ood, self.mixing.shape[-1])


def dense_codes(support, values, num_latents: int):
    """Dense codes from active sets: ``z[..., i, support[..., i, j]] = values[..., i, j]``.

    Args:
      support: [..., samples, k] int latent indices, distinct within a row.
      values: [..., samples, k] float values.
      num_latents: width of the result.

    Returns:
      [..., samples, num_latents], numpy if both inputs are numpy, else JAX.
    """
    if isinstance(support, np.ndarray) and isinstance(values, np.ndarray):
        z = np.zeros(values.shape[:-1] + (num_latents,), values.dtype)
        np.put_along_axis(z, support.astype(np.intp), values, axis=-1)
        return z
    z = jnp.zeros(values.shape[:-1] + (num_latents,), values.dtype)
    return jnp.put_along_axis(z, support, values, axis=-1, inplace=False)


def dataset_from_dense(mixing, *, z_train, y_train, z_val, y_val, z_ood, y_ood) -> Dataset:
    """A ``Dataset`` of given dense codes and observations (e.g. codes of your own).

    Every latent is listed in every row's support (k = num_latents), so it
    holds any codes; labels are ``z[..., 0] > 0.5``. Arrays may carry leading
    batch axes (seeds).
    """
    def split(z, y):
        z = jnp.asarray(z)
        support = jnp.broadcast_to(jnp.arange(z.shape[-1], dtype=jnp.int32), z.shape)
        return support, z, jnp.asarray(y), z[..., 0] > 0.5

    return Dataset(jnp.asarray(mixing), *split(z_train, y_train), *split(z_val, y_val),
                   *split(z_ood, y_ood))


def sample_tags(spec: DataSpec, samples_seen: int) -> dict[str, jax.Array]:
    """Row scalars of how much data a learned dictionary saw, for the scaling study.

    Args:
      spec: the sweep point (``k`` and ``num_latents``).
      samples_seen: ID samples the learner drew or passed over (static).

    Returns:
      ``samples_seen`` ([] int32) and ``samples_per_atom`` ([] float32,
      ``samples_seen * k / num_latents``: the samples each atom is active in
      on average).
    """
    return {
        "samples_seen": jnp.asarray(samples_seen, jnp.int32),
        "samples_per_atom": jnp.asarray(samples_seen * spec.k / spec.num_latents, jnp.float32),
    }


def default_input_dim(num_latents: int, k: int, c: float = COMPRESSED_SENSING_C) -> int:
    """Compressed-sensing observation size ``max(k + 1, ceil(c k ln(n / k)))``."""
    return max(k + 1, math.ceil(c * k * math.log(num_latents / k)))


def make_spec(
    *,
    num_latents: int,
    k: int,
    n_samples: int,
    input_dim: int | None = None,
    c: float = COMPRESSED_SENSING_C,
    noise: float = 0.0,
    n_eval: int | None = None,
) -> DataSpec:
    """Validates sizes and resolves ``input_dim`` (from ``c`` when not given).

    A ``c`` so large that the derived ``input_dim`` would exceed
    ``num_latents`` gives ``input_dim = num_latents`` (no superposition left),
    as in the reference's phase-transition grid; an explicit ``input_dim``
    above ``num_latents`` is refused. Every split needs
    ``MIN_SPLIT_SAMPLES`` samples, so ``n_samples >= MIN_N_SAMPLES`` and
    ``n_eval >= MIN_SPLIT_SAMPLES``: with fewer, every metric of a split
    would be undefined.

    Raises:
      ConfigError: naming the field, the value and the valid range.
    """
    require_int("num_latents", num_latents, lower=2)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < MIN_N_SAMPLES:
        raise ConfigError(
            f"n_samples={n_samples!r} is invalid: it must be an integer >= {MIN_N_SAMPLES} "
            f"(the train half, n_samples // 2, and the val and OOD splits need "
            f"{MIN_SPLIT_SAMPLES} samples each for the metrics to be defined)")
    require_int("k", k, lower=1)
    if k >= num_latents:
        raise ConfigError(
            f"k={k} is invalid: it must satisfy 1 <= k < num_latents={num_latents}"
        )
    id_pool = num_latents - num_latents // 2 - 1
    if k - 1 > id_pool:
        raise ConfigError(
            f"k={k} is invalid: k - 1 latents must fit in the ID pool of "
            f"num_latents - num_latents // 2 - 1 = {id_pool} latents, so k <= {id_pool + 1}"
        )
    if input_dim is None:
        require_interval("c", c, 0, math.inf)
        input_dim = min(default_input_dim(num_latents, k, c), num_latents)
        bound = f"derived from c={c}"
    else:
        bound = "given"
    require_int("input_dim", input_dim, lower=1)
    if input_dim > num_latents:
        raise ConfigError(
            f"input_dim={input_dim} ({bound}) is invalid: superposition needs "
            f"1 <= input_dim <= num_latents={num_latents}"
        )
    require_interval("noise", noise, 0, math.inf, include_low=True)
    if n_eval is not None:
        require_int("n_eval", n_eval, lower=MIN_SPLIT_SAMPLES)
    return DataSpec(int(num_latents), int(k), int(input_dim), int(n_samples), float(noise),
                    n_eval)


def _distinct_indices(key: jax.Array, n: int, pool_size: int, count: int) -> jax.Array:
    """``n`` independent uniform ``count``-subsets of ``0 .. pool_size - 1``.

    Floyd's algorithm (Bentley & Floyd 1987): step ``j`` draws ``t`` from
    ``0 .. pool_size - count + j`` and takes ``t``, or the top value if ``t`` is
    already chosen. O(count^2) work per sample and no ``pool_size``-sized
    buffer, so it scales to pools of millions; all random draws happen up
    front so the loop is integer-only (fast to compile).

    Returns:
      [n, count] int32; each row a uniformly random subset (order not uniform).
    """
    tops = pool_size - count + jnp.arange(count, dtype=jnp.int32)  # [count]
    # Drawn flat: XLA:CPU compiles random bits of shape [n, small] very slowly.
    draws = jax.random.randint(
        key, (n * count,), 0, jnp.tile(tops + 1, n), dtype=jnp.int32
    ).reshape(n, count)

    def step(j, chosen):
        t = draws[:, j]
        taken = jnp.any(chosen == t[:, None], axis=1)
        return chosen.at[:, j].set(jnp.where(taken, tops[j], t))

    return jax.lax.fori_loop(0, count, step, jnp.full((n, count), -1, jnp.int32))


def _sample_codes(key: jax.Array, spec: DataSpec, n: int, setting: str):
    """Draws ``n`` code vectors of one setting family ("id" or "ood").

    Returns:
      ([n, k] int32 distinct latent indices per row, [n, k] float32 values in (0, 1]).
    """
    num_latents, k = spec.num_latents, spec.k
    n_ood_pool = num_latents // 2
    id_pool = num_latents - n_ood_pool - 1
    k_choice, k_a, k_b, k_val = jax.random.split(key, 4)

    def with_latent_zero(pool_size, offset):
        rest = _distinct_indices(k_a, n, pool_size, k - 1) + offset
        return jnp.concatenate([jnp.zeros((n, 1), jnp.int32), rest], axis=1)

    if setting == "ood":
        support = with_latent_zero(n_ood_pool, num_latents - n_ood_pool)
    else:
        support_a = with_latent_zero(id_pool, 1)
        support_b = _distinct_indices(k_b, n, num_latents - 1, k) + 1
        is_a = jax.random.bernoulli(k_choice, 0.5, (n,))[:, None]
        support = jnp.where(is_a, support_a, support_b)
    # Uniform(0, 1) with the zero excluded so that "active" always means > 0.
    values = jax.random.uniform(
        k_val, (n * k,), minval=jnp.finfo(jnp.float32).tiny, maxval=1.0
    ).reshape(n, k)
    return support, values


def make_mixing(key: jax.Array, input_dim: int, num_latents: int) -> jax.Array:
    """Gaussian mixing matrix with unit-norm columns.

    Returns:
      [input_dim, num_latents] float32.
    """
    a = jax.random.normal(key, (input_dim, num_latents), jnp.float32)
    return a / jnp.linalg.norm(a, axis=0, keepdims=True)


# Observations are computed from dense codes in blocks of rows whose dense codes
# take at most this many bytes; a split smaller than that is one block.
OBSERVE_BLOCK_BYTES = 256 * 2**20
# The observations in full float32 (no TF32 on accelerators, ~1e-3 relative): the
# protocol's data are noiseless, and the oracle's near-perfect recovery and the
# support metrics rely on it.
_HIGHEST = jax.lax.Precision.HIGHEST


def observe(support, values, mixing, noise: float, noise_key) -> jax.Array:
    """Observations ``y = z @ mixing.T (+ noise)`` of sparse codes.

    The dense codes exist only inside the compiled function, one block of at
    most ``OBSERVE_BLOCK_BYTES`` at a time (``lax.map`` over row blocks), so
    millions of samples at n = 10,000 need no dense [samples, n] array.

    Args:
      support, values: [n, k] int32 latent indices and float32 values.
      mixing: [input_dim, num_latents] float32.
      noise: std of additive Gaussian noise (static; 0 adds none).
      noise_key: PRNG key of the noise.

    Returns:
      [n, input_dim] float32.
    """
    n, num_latents = values.shape[0], mixing.shape[1]
    rows = max(1, OBSERVE_BLOCK_BYTES // (4 * num_latents))

    def block(sparse):
        return jnp.matmul(dense_codes(*sparse, num_latents), mixing.T, precision=_HIGHEST)

    if n <= rows:
        y = block((support, values))
    else:
        blocks = -(-n // rows)
        pad = ((0, blocks * rows - n), (0, 0))
        sparse = (jnp.pad(support, pad).reshape(blocks, rows, -1),
                  jnp.pad(values, pad).reshape(blocks, rows, -1))
        y = jax.lax.map(block, sparse).reshape(blocks * rows, -1)[:n]
    if noise > 0:
        y = y + noise * jax.random.normal(noise_key, y.shape, y.dtype)
    return y


def labels(support, values) -> jax.Array:
    """Probe labels ``z[:, 0] > 0.5`` of sparse codes: [n] bool."""
    return jnp.any((support == 0) & (values > 0.5), axis=-1)


def sample_observations(key: jax.Array, mixing: jax.Array, spec: DataSpec, n: int) -> jax.Array:
    """``n`` fresh ID observations with the given mixing matrix, for streaming learners.

    Drawn as the ID samples of ``make_dataset`` are (settings A and B, noise
    ``spec.noise``) but from ``key``, so a learner can draw as many as it has
    time for without holding them.

    Returns:
      [n, input_dim] float32.
    """
    k_codes, k_noise = jax.random.split(key)
    support, values = _sample_codes(k_codes, spec, n, "id")
    return observe(support, values, mixing, spec.noise, k_noise)


def make_dataset(key: jax.Array, spec: DataSpec) -> Dataset:
    """Draws the mixing matrix and the train, val and OOD samples of one seed.

    Args:
      key: PRNG key; everything below is a deterministic function of it.
      spec: validated sizes from ``make_spec`` (static).

    Returns:
      A ``Dataset``; vmap over keys for a leading seed axis.
    """
    k_mix, k_id, k_ood, k_noise = jax.random.split(key, 4)
    mixing = make_mixing(k_mix, spec.input_dim, spec.num_latents)
    support_id, values_id = _sample_codes(k_id, spec, spec.n_train + spec.n_val, "id")
    support_ood, values_ood = _sample_codes(k_ood, spec, spec.n_ood, "ood")
    k_noise_id, k_noise_ood = jax.random.split(k_noise)
    y_id = observe(support_id, values_id, mixing, spec.noise, k_noise_id)
    y_ood = observe(support_ood, values_ood, mixing, spec.noise, k_noise_ood)
    label_id, label_ood = labels(support_id, values_id), labels(support_ood, values_ood)
    n_train = spec.n_train
    return Dataset(
        mixing=mixing,
        support_train=support_id[:n_train],
        values_train=values_id[:n_train],
        y_train=y_id[:n_train],
        label_train=label_id[:n_train],
        support_val=support_id[n_train:],
        values_val=values_id[n_train:],
        y_val=y_id[n_train:],
        label_val=label_id[n_train:],
        support_ood=support_ood,
        values_ood=values_ood,
        y_ood=y_ood,
        label_ood=label_ood,
    )


@partial(jax.jit, static_argnums=1)
def make_datasets(keys: jax.Array, spec: DataSpec) -> Dataset:
    """``make_dataset`` for a batch of keys ([seeds]), seed axis first."""
    return jax.vmap(make_dataset, in_axes=(0, None))(keys, spec)
