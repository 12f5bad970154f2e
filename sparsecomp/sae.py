"""Sparse autoencoders (SAEs) of the study, trained entirely on-device.

Implements the SAE bullet of section 3 of the protocol (arXiv 2603.28744):
one tied-initialisation autoencoder with four sparsity mechanisms,

* ``relu``: ``f = ReLU``, penalty = L1 norm of the codes;
* ``topk``: keep the ``k`` largest pre-activations, ReLU them, zero the rest;
* ``jumprelu``: ``f(pre) = ReLU(pre) * (ReLU(pre) > theta)`` with a learned
  per-latent threshold and straight-through gradients (rectangle kernel),
  penalty = number of codes above threshold;
* ``mp``: matching pursuit on the unit-normalised decoder atoms (no encoder);

registered as the methods ``sae_relu``, ``sae_topk``, ``sae_jumprelu`` and
``sae_MP``. The loss is ``MSE(x, x_hat) + gamma * mean(penalty)``, the MSE
averaged over batch and features.

Two variants from the SAE literature, not part of the protocol, test whether
TopK's training is what limits the learned dictionary:

* ``topk_auxk`` (``sae_topk_auxk``): TopK plus the auxiliary dead-latent loss
  of Gao et al. 2024 (section A.2). A latent is dead when it has had no code
  > 0 on any of the last ``auxk_dead_after`` real training samples (counted in
  whole batches, the current one included, as their code counts steps;
  padding rows do not count). With the residual ``e = x - x_hat`` held fixed
  (stop-gradient, as in their ``train.py``: the auxiliary loss must not pull
  the main reconstruction), the ``auxk_k`` largest pre-activations among dead
  latents, ReLU'd, reconstruct it without bias, ``e_hat = z_aux W_d^T``, and
  the loss gains ``auxk_alpha * MSE(e, e_hat)`` (0 when no latent is dead);
* ``batchtopk`` (``sae_batchtopk``): BatchTopK of Bussmann et al. 2024. In
  training the ``k * B`` largest pre-activations of the batch's ``B`` real
  rows are kept, ReLU'd (padding rows never); at inference (val/OOD codes and
  the curves) ``codes = ReLU(pre) * (pre > theta)`` with one global threshold
  ``theta``, the exponential moving average over training batches of the
  smallest kept positive code (the paper's estimate averages it over batches;
  the moving average forgets the untrained encoder of the first epochs).
  ``theta`` is the parameter ``threshold`` (so checkpoints and the methods
  built on a trained SAE see it), excluded from AdamW (no step, no decay) and
  set by the moving average after each step.

Training is one pure function of a PRNG key: a ``lax.scan`` over epochs whose
body is a ``lax.scan`` over mini-batches, so ``jax.jit(jax.vmap(run))`` trains
every seed in one compiled call with no host round trip.

Hyper-parameters live in the ``config.sae`` section (``methods.sections.sae_section``)::

    epochs=500                  # passes over Y_train
    batch_size=64               # last partial batch is kept (masked), as in
                                # PyTorch's DataLoader(drop_last=False)
    lr=5e-4                     # AdamW, betas (0.9, 0.999), eps 1e-8
    weight_decay=0.01           # decoupled (AdamW), on every parameter
    gamma=1e-4                  # weight of the sparsity penalty
    renorm_every=50             # decoder columns -> unit norm after epochs
                                # 0, renorm_every, 2 * renorm_every, ...
    log_every=10                # curves after epochs 0, log_every, ... and
                                # the last one (as the reference logs)
    jumprelu_bandwidth=1e-3     # width of the rectangle kernel
    jumprelu_init_threshold=1e-3  # initial theta = exp(log_theta)
    auxk_alpha=1/32             # topk_auxk: weight of the auxiliary loss (paper)
    auxk_k=None                 # topk_auxk: dead latents per sample;
                                # None = input_dim // 2 (paper: d_model / 2),
                                # capped at the width
    auxk_dead_after=2500        # topk_auxk: real samples without a code > 0
                                # after which a latent is dead
    batchtopk_threshold_decay=0.999  # batchtopk: decay of theta's moving average

``auxk_dead_after = 2500`` is one epoch of the protocol's 2500 training
samples: a dead latent has fired on no sample of a whole pass over the data.
An alive latent firing at the average rate ``k / n`` is expected to fire
``2500 k / n`` times in that window (250 at n = 100, 5 at n = 5000 with
k = 10), against ~20 for Gao et al.'s 10M tokens at k = 32 and n = 16M.
``batchtopk_threshold_decay = 0.999`` is the decay of Marks et al.'s
``dictionary_learning`` BatchTopK trainer: a time constant of 1000 steps, 25
of the protocol's 40-step epochs, 5% of its 20,000 steps.

``k`` (TopK, MP and the two variants) is the data sparsity ``spec.k`` and the
width is ``spec.num_latents``.

Design notes (what differs from a literal transcription, and why):

* The last partial batch (2500 samples: 39 batches of 64 and one of 4) is
  kept, as the reference's DataLoader does, by padding it to 64 rows with a
  mask; the masked loss equals the loss of the real rows, and shapes stay
  static.
* XLA:CPU runs a training step as a few dozen small kernels whose launch
  cost, not arithmetic, dominates at these sizes. Hence: TopK thresholds at
  the k-th largest value instead of calling ``lax.top_k`` (a full sort on
  CPU; ties at the threshold, measure-zero, would all be kept); MP picks its
  atoms without gradient, updating inner products through the Gram matrix,
  and differentiates the codes with a hand-written VJP of the residual
  recurrence (the gradient autograd takes through the reference's loop);
  epochs shuffle with one-array sorts (``shuffle``); whole splits are
  encoded in cache-sized row blocks (``map_rows``); loops are rolled
  ``lax.scan``/``fori_loop`` (unrolling measured no faster and compiles
  slower).
* MP returns the unit-normalised decoder as its ``dictionary`` (the atoms it
  reconstructs with); the other kinds return ``W_d`` as trained.

References:
  Rajamanoharan et al. 2024, "Jumping Ahead: Improving Reconstruction Fidelity
  with JumpReLU Sparse Autoencoders" (arXiv 2407.14435).
  Gao et al. 2024, "Scaling and evaluating sparse autoencoders" (TopK, AuxK;
  arXiv 2406.04093).
  Bussmann, Leask & Nanda 2024, "BatchTopK Sparse Autoencoders"
  (arXiv 2412.06410).
  Mallat & Zhang 1993, "Matching pursuits with time-frequency dictionaries".
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from sparsecomp.blocking import map_rows
from sparsecomp.coding.fista import fista
from sparsecomp.data import Dataset, DataSpec, sample_tags
from sparsecomp.errors import ConfigError, require_choice
from sparsecomp.linalg import unit_columns
from sparsecomp.methods.registry import MethodOutput, register_method

SAE_KINDS = ("relu", "topk", "jumprelu", "mp", "topk_auxk", "batchtopk")
# Registered method name of each kind, spelled as in the reference results.
METHOD_NAMES = {"relu": "sae_relu", "topk": "sae_topk", "jumprelu": "sae_jumprelu", "mp": "sae_MP",
                "topk_auxk": "sae_topk_auxk", "batchtopk": "sae_batchtopk"}
# Kinds that keep k codes per sample (on average over a batch, for batchtopk).
K_SPARSE_KINDS = ("topk", "mp", "topk_auxk", "batchtopk")
# Activity threshold of the logged L0, the same as the reconstruction metric's.
L0_THRESHOLD = 0.01

Params = dict[str, jax.Array]


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
# Matching pursuit and the model.
# --------------------------------------------------------------------------


def _first_argmax(score: jax.Array, axis: int) -> jax.Array:
    """Index of the first maximum along ``axis`` (int32, that axis removed).

    Two plain reductions, which XLA:CPU runs several times faster than the
    variadic (value, index) reduction that ``jnp.argmax`` lowers to.
    """
    top = jnp.max(score, axis=axis, keepdims=True)
    index = jax.lax.broadcasted_iota(jnp.int32, score.shape, axis % score.ndim)
    return jnp.min(jnp.where(score == top, index, score.shape[axis]), axis=axis)


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
    return jnp.where(dead_pre >= kth_largest(dead_pre, k), nn.relu(dead_pre), 0.0)


# Matching pursuit updates its inner products through the Gram matrix
# ``atoms^T atoms`` when that is cheaper (width <= k * batch) and small enough to
# hold; beyond this width it recomputes them from the residual.
GRAM_MAX_WIDTH = 4096


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
    gram = atom_rows @ atom_rows.T if use_gram else None
    row = jax.lax.broadcasted_iota(jnp.int32, (width, batch), 0)

    def greedy_step(carry, _):
        residual, inner, score = carry
        pick = _first_argmax(score, axis=0)  # [batch]
        coef = jnp.take_along_axis(inner, pick[None, :], axis=0)  # [1, batch]
        if use_gram:
            inner = inner - coef * jnp.take(gram, pick, axis=1)
        else:
            residual = residual - coef.T * atom_rows[pick]
            inner = atom_rows @ residual.T  # [width, batch]
        # |inner| >= 0, so a score of -1 marks a chosen atom that never wins.
        score = jnp.where((row == pick) | (score < 0), -1.0, jnp.abs(inner))
        return (residual, inner, score), (pick, coef[0])

    inner = atom_rows @ x.T  # [width, batch]
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
    residual = x - jnp.einsum("tb,tbm->bm", coefs, selected)
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


def _pursue(x: jax.Array, atom_rows: jax.Array, k: int):
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
    picks, coefs, _ = _pursue(x, atoms.T, k)
    return _dense_codes(picks, coefs, atoms.shape[1]).T


def _dense_codes(picks: jax.Array, coefs: jax.Array, width: int) -> jax.Array:
    """Scatters ``coefs`` ([k, batch]) to rows ``picks`` of a [width, batch] array."""
    batch = picks.shape[1]
    columns = jnp.broadcast_to(jnp.arange(batch), picks.shape)
    return jnp.zeros((width, batch), coefs.dtype).at[picks, columns].set(coefs)


class SAEOutput(NamedTuple):
    """Forward pass of a batch."""

    x_hat: jax.Array  # [batch, input_dim] float32, reconstruction
    codes: jax.Array  # [batch, width] float32
    penalty: jax.Array  # [batch] float32, per-sample sparsity penalty
    pre: jax.Array | None = None  # [batch, width] float32 pre-activations (None for mp)


class SparseAutoencoder(nn.Module):
    """Tied-initialisation SAE with a choice of sparsity mechanism.

    ``x' = x - b_d``, ``pre = x' W_e^T + b_e``, ``codes = f(pre)``,
    ``x_hat = codes W_d^T + b_d``. Parameters (``variables["params"]``) form a
    plain dict: ``W_e`` [width, input_dim], ``b_e`` [width], ``W_d``
    [input_dim, width] (atoms are columns), ``b_d`` [input_dim], for
    ``jumprelu`` ``log_theta`` [width] and for ``batchtopk`` ``threshold`` []
    (the inference threshold, set by training, not by gradients); all
    float32. ``mp`` keeps (and ignores) ``W_e``/``b_e`` so that every kind has
    the same parameters.
    MP's atom search is feature-major (``[width, batch]``), the layout in
    which XLA:CPU reduces over the width fastest.
    """

    input_dim: int  # m
    width: int  # dictionary size (num_latents in every sweep)
    kind: str  # one of SAE_KINDS
    k: int  # kept codes (per sample, or per sample on average for batchtopk) / steps of mp
    bandwidth: float = 1e-3  # jumprelu kernel width
    init_threshold: float = 1e-3  # jumprelu initial theta

    def __post_init__(self):
        # Refuse bad sizes when the model is built, not when it is first traced.
        require_choice("sae kind", self.kind, SAE_KINDS)
        if self.kind in K_SPARSE_KINDS and not 1 <= self.k <= self.width:
            raise ConfigError(
                f"sae k={self.k} is invalid: it must satisfy 1 <= k <= width={self.width}"
            )
        super().__post_init__()

    def setup(self):
        bound = 1.0 / math.sqrt(self.input_dim)
        self.W_e = self.param(
            "W_e",
            lambda key: jax.random.uniform(
                key, (self.width, self.input_dim), jnp.float32, -bound, bound
            ),
        )
        self.b_e = self.param("b_e", nn.initializers.zeros, (self.width,), jnp.float32)
        # Decoder starts as the normalised transpose of the encoder (protocol).
        self.W_d = self.param("W_d", lambda key: unit_columns(self.W_e.T))
        self.b_d = self.param("b_d", nn.initializers.zeros, (self.input_dim,), jnp.float32)
        if self.kind == "jumprelu":
            self.log_theta = self.param(
                "log_theta",
                nn.initializers.constant(math.log(self.init_threshold)),
                (self.width,),
                jnp.float32,
            )
        if self.kind == "batchtopk":
            # Negative until the first training batch sets it (kept codes are > 0).
            self.threshold = self.param(
                "threshold", nn.initializers.constant(-1.0), (), jnp.float32
            )

    def __call__(self, x: jax.Array, mask: jax.Array | None = None) -> SAEOutput:
        """Encodes and reconstructs ``x`` ([batch, input_dim] float32).

        Args:
          x: [batch, input_dim] float32.
          mask: [batch] float32 of a training batch (1 real row, 0 padding), or
            None at inference. Only ``batchtopk`` reads it: it keeps the top
            ``k * B`` codes of the ``B`` real rows in training and those above
            ``threshold`` at inference.

        Returns:
          ``SAEOutput``; ``penalty`` is the L1 norm of the codes (relu), their
          number above threshold (jumprelu) or 0 (the other kinds).
        """
        centred = x - self.b_d
        no_penalty = jnp.zeros(x.shape[:1], x.dtype)
        if self.kind == "mp":
            atom_rows = self.W_d.T / jnp.linalg.norm(self.W_d, axis=0)[:, None]
            picks, coefs, residual = _pursue(centred, atom_rows, self.k)
            # x_hat = x - r_k: only k atoms per sample, no dense decoder product.
            x_hat = x - residual
            return SAEOutput(x_hat, _dense_codes(picks, coefs, self.width).T, no_penalty)
        pre = centred @ self.W_e.T + self.b_e  # [batch, width]
        if self.kind == "relu":
            codes = nn.relu(pre)
            penalty = jnp.sum(jnp.abs(codes), axis=-1)
        elif self.kind in ("topk", "topk_auxk"):
            kth = kth_largest(pre, self.k)  # [batch, 1]
            codes = jnp.where(pre >= kth, nn.relu(pre), 0.0)
            penalty = no_penalty
        elif self.kind == "batchtopk":
            keep = pre > self.threshold if mask is None else batch_topk_mask(pre, mask, self.k)
            codes = jnp.where(keep, nn.relu(pre), 0.0)
            penalty = no_penalty
        else:
            theta = jnp.exp(self.log_theta)
            active = nn.relu(pre)
            codes = jumprelu(active, theta, self.bandwidth)
            penalty = jnp.sum(step(active, theta, self.bandwidth), axis=-1)
        return SAEOutput(codes @ self.W_d.T + self.b_d, codes, penalty, pre)

    def encode(self, x: jax.Array) -> jax.Array:
        """Codes of ``x`` ([batch, input_dim] float32): [batch, width] float32."""
        return self(x).codes

    def decoder(self) -> jax.Array:
        """The dictionary the reconstruction uses: [input_dim, width] float32.

        ``W_d`` itself, except for ``mp``, which reconstructs with unit atoms.
        """
        return unit_columns(self.W_d) if self.kind == "mp" else self.W_d


def make_model(config: ml_collections.ConfigDict, spec: DataSpec, kind: str) -> SparseAutoencoder:
    """The SAE of one sweep point (width = ``spec.num_latents``, k = ``spec.k``)."""
    return SparseAutoencoder(
        input_dim=spec.input_dim,
        width=spec.num_latents,
        kind=kind,
        k=spec.k,
        bandwidth=config.jumprelu_bandwidth,
        init_threshold=config.jumprelu_init_threshold,
    )


# --------------------------------------------------------------------------
# Training.
# --------------------------------------------------------------------------


class TrainState(NamedTuple):
    """Everything a training step carries (leading seed axis under vmap)."""

    # W_e [width, m], b_e [width], W_d [m, width], b_d [m] (+ log_theta [width]
    # for jumprelu, threshold [] for batchtopk)
    params: Params
    opt_state: optax.OptState  # AdamW moments, same shapes as params, and a [] int32 count
    nonfinite: jax.Array  # [] bool, a training loss has been NaN/inf
    # [width] int32 for topk_auxk, else None: real training samples since each
    # latent last had a code > 0, counted in whole batches (AuxK's dead latents).
    since_fired: jax.Array | None = None


class AuxK(NamedTuple):
    """Static settings of TopK's auxiliary dead-latent loss (``topk_auxk``)."""

    alpha: float  # weight of the auxiliary MSE in the loss
    k: int  # dead latents each sample reconstructs its residual with, 1 <= k <= width
    dead_after: int  # real samples without a code > 0 after which a latent is dead


class Batch(NamedTuple):
    """A mini-batch padded to a static size; padding rows have ``mask == 0``."""

    y: jax.Array  # [batch_size, input_dim] float32
    mask: jax.Array  # [batch_size] float32, 1 for real samples, 0 for padding


def make_optimizer(
    config: ml_collections.ConfigDict, frozen: tuple[str, ...] = ()
) -> optax.GradientTransformation:
    """AdamW as in the reference (PyTorch defaults: decay on every parameter).

    Parameters named in ``frozen`` get no update at all (no step, no decay):
    BatchTopK's ``threshold``, which training sets by a moving average.
    """
    adamw = optax.adamw(config.lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=config.weight_decay)
    if not frozen:
        return adamw
    return optax.multi_transform(
        {"adamw": adamw, "frozen": optax.set_to_zero()},
        lambda params: {name: "frozen" if name in frozen else "adamw" for name in params},
    )


def init_state(
    key: jax.Array, model: SparseAutoencoder, optimizer: optax.GradientTransformation
) -> TrainState:
    """Initial parameters (protocol init) and optimiser state of one seed."""
    params = dict(model.init(key, jnp.zeros((1, model.input_dim), jnp.float32))["params"])
    since_fired = jnp.zeros(model.width, jnp.int32) if model.kind == "topk_auxk" else None
    return TrainState(params, optimizer.init(params), jnp.array(False), since_fired)


def loss_fn(
    params: Params,
    model: SparseAutoencoder,
    batch: Batch,
    gamma: float,
    since_fired: jax.Array | None = None,
    auxk: AuxK | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Masked ``MSE + gamma * penalty`` of one batch, plus AuxK's term for topk_auxk.

    ``loss = sum_i mask_i (||x_i - x_hat_i||^2 / m + gamma * penalty_i) / sum_i mask_i``,
    i.e. the MSE averaged over real samples and features plus the batch mean of
    the penalty, exactly the unmasked loss of the real samples.

    With ``auxk``, ``since_fired`` first counts this batch (reset where a real
    row has a code > 0, else increased by the number of real rows), latents
    at ``auxk.dead_after`` or more are dead, and the loss gains
    ``auxk.alpha * sum_i mask_i ||e_i - e_hat_i||^2 / m / sum_i mask_i`` with
    ``e = stop_gradient(x - x_hat)`` and
    ``e_hat = auxk_codes(pre, dead, auxk.k) @ W_d^T`` (no bias); the term is 0
    when no latent is dead.

    Args:
      since_fired: [width] int32 for topk_auxk (see ``TrainState``), else None.
      auxk: the AuxK settings for topk_auxk, else None.

    Returns:
      ``(loss, aux)``: loss [] float32; aux holds [] float32 ``mse`` and
      ``penalty``; for topk_auxk also [] float32 ``aux_mse`` and the updated
      ``since_fired``; for batchtopk [] float32 ``min_kept``, the batch's
      smallest positive code (inf if none).
    """
    out = model.apply({"params": params}, batch.y, batch.mask)
    count = jnp.sum(batch.mask)
    mse = jnp.sum(batch.mask * jnp.mean((out.x_hat - batch.y) ** 2, axis=-1)) / count
    penalty = jnp.sum(batch.mask * out.penalty) / count
    loss, aux = mse + gamma * penalty, {"mse": mse, "penalty": penalty}
    if model.kind == "batchtopk":
        codes = jax.lax.stop_gradient(out.codes)
        aux["min_kept"] = jnp.min(jnp.where(codes > 0, codes, jnp.inf))
    if auxk is not None:
        fired = jnp.any((out.codes > 0) & (batch.mask[:, None] > 0), axis=0)
        since_fired = jnp.where(fired, 0, since_fired + count.astype(jnp.int32))
        dead = since_fired >= auxk.dead_after
        residual = jax.lax.stop_gradient(batch.y - out.x_hat)
        residual_hat = auxk_codes(out.pre, dead, auxk.k) @ params["W_d"].T
        aux_mse = jnp.sum(batch.mask * jnp.mean((residual - residual_hat) ** 2, axis=-1)) / count
        aux_mse = jnp.where(jnp.any(dead), aux_mse, 0.0)
        loss = loss + auxk.alpha * aux_mse
        aux.update(aux_mse=aux_mse, since_fired=since_fired)
    return loss, aux


def update_threshold(threshold: jax.Array, min_kept: jax.Array, decay: float) -> jax.Array:
    """One step of BatchTopK's estimate of its inference threshold.

    ``theta <- decay * theta + (1 - decay) * min_kept``: an exponential moving
    average of each batch's smallest kept positive code, started at the first
    batch's value (``theta < 0`` marks it unset) and left unchanged by a batch
    that kept no positive code (``min_kept = inf``).

    Args:
      threshold: [] float32; min_kept: [] float32; decay: static, in [0, 1).

    Returns:
      [] float32.
    """
    average = jnp.where(threshold < 0, min_kept, decay * threshold + (1 - decay) * min_kept)
    return jnp.where(jnp.isfinite(min_kept), average, threshold)


def _project_decoder_grad(grad: jax.Array, decoder: jax.Array) -> jax.Array:
    """Removes from each column of ``grad`` its component along that decoder column.

    Keeps steps tangent to the atom norms, so the optimiser spends no effort on
    a scale the renormalisation would undo (``g_j -= (g_j . d_j) d_j / ||d_j||^2``).
    """
    along = jnp.sum(grad * decoder, axis=0) / jnp.sum(decoder * decoder, axis=0)
    return grad - along * decoder


def renormalise_decoder(params: Params) -> Params:
    """``params`` with the decoder columns scaled to unit norm."""
    return {**params, "W_d": unit_columns(params["W_d"])}


def make_train_step(
    model: SparseAutoencoder,
    optimizer: optax.GradientTransformation,
    gamma: float,
    *,
    auxk: AuxK | None = None,
    threshold_decay: float | None = None,
):
    """Builds the pure ``train_step(state, batch) -> (state, metrics)``.

    One AdamW step on the masked loss, with the decoder gradient projected
    orthogonal to the decoder columns first. ``metrics`` holds [] float32
    ``loss``, ``mse`` and ``penalty`` (and ``aux_mse`` for topk_auxk) of the
    batch before the step. topk_auxk needs ``auxk`` and carries
    ``since_fired``; batchtopk needs ``threshold_decay`` and then sets its
    ``threshold`` by ``update_threshold`` (``optimizer`` must leave it alone).
    """

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array]]:
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, model, batch, gamma, state.since_fired, auxk
        )
        grads = {**grads, "W_d": _project_decoder_grad(grads["W_d"], state.params["W_d"])}
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        if model.kind == "batchtopk":
            threshold = state.params["threshold"]
            params = {**params, "threshold": update_threshold(threshold, aux.pop("min_kept"),
                                                              threshold_decay)}
        nonfinite = state.nonfinite | ~jnp.isfinite(loss)
        state = TrainState(params, opt_state, nonfinite, aux.pop("since_fired", None))
        return state, {"loss": loss, **aux}

    return train_step




def evaluate(
    params: Params, model: SparseAutoencoder, splits: dict[str, jax.Array], gamma: float
) -> dict[str, jax.Array]:
    """Loss, MSE and mean L0 (``|code| > 0.01``) on whole data splits.

    All splits go through one blocked forward pass (``map_rows``).

    Args:
      splits: name -> [n_name, input_dim] float32.

    Returns:
      ``loss_<name>``, ``mse_<name>`` and ``l0_<name>``, each [] float32.
    """

    def per_sample(y):
        out = model.apply({"params": params}, y)
        return {
            "mse": jnp.mean((out.x_hat - y) ** 2, axis=-1),
            "penalty": out.penalty,
            "l0": jnp.sum(jnp.abs(out.codes) > L0_THRESHOLD, axis=-1).astype(jnp.float32),
        }

    stats = map_rows(per_sample, jnp.concatenate(list(splits.values())))
    metrics, start = {}, 0
    for name, split in splits.items():
        part = {k: jnp.mean(v[start : start + split.shape[0]]) for k, v in stats.items()}
        metrics[f"loss_{name}"] = part["mse"] + gamma * part["penalty"]
        metrics[f"mse_{name}"] = part["mse"]
        metrics[f"l0_{name}"] = part["l0"]
        start += split.shape[0]
    return metrics


def _require_positive_int(field: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"sae.{field}={value!r} is invalid: it must be an integer >= 1")


def auxk_settings(config: ml_collections.ConfigDict, model: SparseAutoencoder) -> AuxK:
    """AuxK's settings from ``config.sae``; ``auxk_k=None`` gives ``input_dim // 2``.

    Raises:
      ConfigError: for a non-positive ``auxk_k`` or ``auxk_dead_after``.
    """
    k = max(1, model.input_dim // 2) if config.auxk_k is None else config.auxk_k
    _require_positive_int("auxk_k", k)
    _require_positive_int("auxk_dead_after", config.auxk_dead_after)
    return AuxK(float(config.auxk_alpha), min(k, model.width), config.auxk_dead_after)


def _variant_options(config: ml_collections.ConfigDict, model: SparseAutoencoder) -> dict:
    """``make_train_step``'s keyword arguments for topk_auxk and batchtopk."""
    if model.kind == "topk_auxk":
        return {"auxk": auxk_settings(config, model)}
    if model.kind == "batchtopk":
        decay = config.batchtopk_threshold_decay
        if not 0 <= decay < 1:
            raise ConfigError(f"sae.batchtopk_threshold_decay={decay!r} is invalid: "
                              "it must be in [0, 1)")
        return {"threshold_decay": float(decay)}
    return {}


def shuffle(key: jax.Array, n: int) -> jax.Array:
    """A uniformly random permutation of ``0 .. n-1``, faster on CPU.

    JAX's algorithm (``jax.random.permutation``): sort by random keys for
    ``ceil(3 log2(n) / key_bits)`` rounds, so that ties in one round are broken
    by the (random) order of the previous ones. Here each key carries its index
    in its low ``ceil(log2 n)`` bits, which makes every round a sort of one
    uint32 array (XLA:CPU sorts that ~3.5x faster than the (key, index) pairs
    of ``jnp.argsort``), at ``32 - ceil(log2 n)`` random bits per round.

    Args:
      key: PRNG key.
      n: static, 2 <= n <= 2^24.

    Returns:
      [n] int32.
    """
    index_bits = max(1, (n - 1).bit_length())
    rounds = math.ceil(3 * math.log2(n) / (32 - index_bits))
    index = jnp.arange(n, dtype=jnp.uint32)
    order = jnp.arange(n, dtype=jnp.int32)
    for bits in jax.random.bits(key, (rounds, n), jnp.uint32):
        keyed = (bits >> index_bits << index_bits) | index
        order = order[(jax.lax.sort(keyed) & ((1 << index_bits) - 1)).astype(jnp.int32)]
    return order


def make_train(config: ml_collections.ConfigDict, model: SparseAutoencoder):
    """Builds ``train(key, y_train, y_val, y_ood) -> (state, curves, loss_train_last)``.

    The whole run is a ``lax.scan`` over epochs. Each epoch shuffles the
    training samples (``shuffle``), cuts them into
    ``ceil(n_train / batch_size)`` batches and scans
    ``train_step`` over them. The last batch is padded and masked, so every
    step has a static shape and the short batch still trains, as with PyTorch's
    ``DataLoader(drop_last=False)`` of the reference (2500 samples: 39 batches
    of 64 and one of 4). After epochs ``e`` with ``e % renorm_every == 0`` the
    decoder columns are renormalised; after epochs with ``e % log_every == 0``
    and after the last epoch (after the renormalisation, as in the reference's
    learning-dynamics logs: epochs 0, 10, ..., 490, 499) the curves are
    evaluated on val and OOD.

    Returns:
      ``train``; its ``curves`` map ``step`` ([n_logged] int32 epoch),
      ``loss_train`` (mean over that epoch) and ``loss``/``mse``/``l0`` on
      ``val`` and ``ood`` ([n_logged] float32, suffixes ``_val``/``_ood``),
      where ``n_logged = ceil(epochs / log_every)``, plus one when the last
      epoch is not a multiple of ``log_every``; and ``loss_train_last``,
      the [] float32 mean loss of the last epoch. With ``log_dictionary`` the
      curves also hold ``dictionary``: [n_logged, input_dim, width] float32,
      the decoder (``model.decoder``) at each logged epoch.
    """
    epochs, batch_size = config.epochs, config.batch_size
    renorm_every, log_every, gamma = config.renorm_every, config.log_every, config.gamma
    log_dictionary = bool(config.log_dictionary)
    for field in ("epochs", "batch_size", "renorm_every", "log_every"):
        _require_positive_int(field, config[field])
    optimizer = make_optimizer(config, ("threshold",) if model.kind == "batchtopk" else ())
    train_step = make_train_step(model, optimizer, gamma, **_variant_options(config, model))
    logged_epochs = sorted({*range(0, epochs, log_every), epochs - 1})
    slot_of_epoch = np.full(epochs, len(logged_epochs), np.int32)
    slot_of_epoch[logged_epochs] = np.arange(len(logged_epochs))

    def train(key, y_train, y_val, y_ood):
        n_train, input_dim = y_train.shape
        n_batches = -(-n_train // batch_size)
        padding = n_batches * batch_size - n_train
        mask = (jnp.arange(n_batches * batch_size) < n_train).astype(jnp.float32)
        mask = mask.reshape(n_batches, batch_size)
        # One split for everything: each threefry call site compiles to ~25 kernels.
        keys = jax.random.split(key, epochs + 1)
        state = init_state(keys[0], model, optimizer)
        splits = {"val": y_val, "ood": y_ood}
        n_snapshots = len(logged_epochs) if log_dictionary else 0
        snapshots = jnp.zeros((n_snapshots, input_dim, model.width), jnp.float32)

        def log(params):
            return evaluate(params, model, splits, gamma)

        def skip_log(params):
            return jax.tree.map(jnp.zeros_like, jax.eval_shape(log, params))

        def epoch(carry, inputs):
            state, snapshots = carry
            e, epoch_key, slot = inputs
            # Padding rows point at sample 0; their mask is 0, so they add nothing.
            order = jnp.pad(shuffle(epoch_key, n_train), (0, padding))
            batches = Batch(y_train[order].reshape(n_batches, batch_size, input_dim), mask)
            state, metrics = jax.lax.scan(train_step, state, batches)
            loss_train = jnp.sum(metrics["loss"] * jnp.sum(mask, axis=1)) / n_train
            # The epoch index is not batched under vmap, so these stay real
            # branches: the evaluation runs only on logged epochs.
            params = jax.lax.cond(
                e % renorm_every == 0, renormalise_decoder, lambda p: p, state.params
            )
            logged = jax.lax.cond((e % log_every == 0) | (e == epochs - 1), log, skip_log, params)
            if log_dictionary:  # slot == n_snapshots on epochs that are not logged: dropped
                decoder = model.apply({"params": params}, method=model.decoder)
                snapshots = snapshots.at[slot].set(decoder, mode="drop")
            return (state._replace(params=params), snapshots), {"loss_train": loss_train, **logged}

        (state, snapshots), per_epoch = jax.lax.scan(
            epoch, (state, snapshots), (jnp.arange(epochs), keys[1:], jnp.asarray(slot_of_epoch))
        )
        curves = {"step": jnp.array(logged_epochs, jnp.int32)}
        curves.update({name: v[jnp.array(logged_epochs)] for name, v in per_epoch.items()})
        if log_dictionary:
            curves["dictionary"] = snapshots
        return state, curves, per_epoch["loss_train"][-1]

    return train


# --------------------------------------------------------------------------
# Registered methods.
# --------------------------------------------------------------------------


def decoder_sample_tags(spec: DataSpec) -> dict[str, jax.Array]:
    """``samples_seen`` / ``samples_per_atom`` of an SAE's decoder: it learns
    from the train half (``spec.n_train`` samples), for the scaling study."""
    return sample_tags(spec, spec.n_train)


def amortisation_gap(
    y: jax.Array, codes: jax.Array, decoder: jax.Array, bias: jax.Array, *, lam: float, n_iter: int
) -> jax.Array:
    """Reconstruction MSE of an encoder's codes minus that of FISTA's on its decoder.

    FISTA (from zero) codes ``y - bias`` with ``decoder``; both reconstruct as
    ``codes @ decoder.T + bias``. A positive gap is what amortised inference
    loses against per-sample inference with the same dictionary.

    Args:
      y: [n, input_dim] float32; codes: [n, width] float32;
      decoder: [input_dim, width] float32; bias: [input_dim] float32.

    Returns:
      [] float32, MSE(codes) - MSE(FISTA codes), in squared input units.
    """
    fista_codes = fista(y - bias, decoder, lam, n_iter=n_iter)

    def mse(z):
        return jnp.mean((y - z @ decoder.T - bias) ** 2)

    return mse(codes) - mse(fista_codes)



def _make_method(kind: str):
    def make(config: ml_collections.ConfigDict, spec: DataSpec):
        """``run(key, data)`` training the ``{kind}`` SAE on ``data.y_train``.

        Reads ``config.sae`` (``methods.sections.sae_section``), ``spec.k`` and, for the
        amortisation gap, ``config.fista.lam`` and ``config.fista.n_iter``.
        """
        model = make_model(config.sae, spec, kind)
        train = make_train(config.sae, model)
        lam, n_iter = float(config.fista.lam), int(config.fista.n_iter)

        def run(key: jax.Array, data: Dataset) -> MethodOutput:
            state, curves, loss_train_last = train(key, data.y_train, data.y_val, data.y_ood)
            variables = {"params": state.params}
            # One blocked encoder pass for both splits: one set of kernels to compile.
            codes = map_rows(
                lambda y: model.apply(variables, y, method=model.encode),
                jnp.concatenate([data.y_val, data.y_ood]),
            )
            codes_val, codes_ood = jnp.split(codes, [data.y_val.shape[0]])
            nonfinite = state.nonfinite | ~jnp.all(jnp.isfinite(codes))
            decoder = model.apply(variables, method=model.decoder)
            gap = amortisation_gap(data.y_val, codes_val, decoder, state.params["b_d"],
                                   lam=lam, n_iter=n_iter)
            scalars = {"nonfinite": nonfinite, "loss_train": loss_train_last,
                       "amortisation_gap_mse": gap, **decoder_sample_tags(spec)}
            if kind == "topk_auxk":  # latents dead at the end of training
                dead_after = auxk_settings(config.sae, model).dead_after
                scalars["dead_latents"] = jnp.sum(state.since_fired >= dead_after)
            if kind == "batchtopk":
                scalars["threshold"] = state.params["threshold"]
            return MethodOutput(
                codes_val=codes_val,
                codes_ood=codes_ood,
                dictionary=decoder,
                decoder_bias=state.params["b_d"],
                params=state.params,
                scalars=scalars,
                curves=curves,
            )

        return run

    make.__name__ = f"make_{METHOD_NAMES[kind]}"
    make.__doc__ = make.__doc__.format(kind=kind)
    return make


for _kind in SAE_KINDS:
    register_method(METHOD_NAMES[_kind])(_make_method(_kind))


__all__ = [
    "SAE_KINDS",
    "METHOD_NAMES",
    "K_SPARSE_KINDS",
    "AuxK",
    "Batch",
    "SAEOutput",
    "SparseAutoencoder",
    "amortisation_gap",
    "auxk_codes",
    "auxk_settings",
    "batch_topk_mask",
    "TrainState",
    "evaluate",
    "init_state",
    "jumprelu",
    "kth_largest",
    "loss_fn",
    "make_model",
    "make_optimizer",
    "make_train",
    "make_train_step",
    "matching_pursuit",
    "mp_residuals",
    "mp_select",
    "renormalise_decoder",
    "shuffle",
    "step",
    "update_threshold",
]
