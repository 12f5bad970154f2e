"""The sparse autoencoder (SAE) of the study: its kinds, the Flax model, its blocked encoder.

Implements the SAE bullet of section 3 of the protocol (arXiv 2603.28744):
one tied-initialisation autoencoder with four sparsity mechanisms
(``PROTOCOL_KINDS``),

* ``relu``: ``f = ReLU``, penalty = L1 norm of the codes;
* ``topk``: keep the ``k`` largest pre-activations, ReLU them, zero the rest;
* ``jumprelu``: ``f(pre) = ReLU(pre) * (ReLU(pre) > theta)`` with a learned
  per-latent threshold and straight-through gradients (rectangle kernel),
  penalty = number of codes above threshold;
* ``mp``: matching pursuit on the unit-normalised decoder atoms (no encoder);

and two variants from the SAE literature, not part of the protocol, that test
whether TopK's training is what limits the learned dictionary:

* ``topk_auxk``: TopK plus the auxiliary dead-latent loss of Gao et al. 2024
  (section A.2; the loss is ``sparsecomp.sae.train.loss_fn``'s);
* ``batchtopk``: BatchTopK of Bussmann et al. 2024. In training the
  ``k * B`` largest pre-activations of the batch's ``B`` real rows are kept,
  ReLU'd (padding rows never); at inference ``codes = ReLU(pre) * (pre > theta)``
  with one global threshold ``theta``, the parameter ``threshold`` that
  training sets (``sparsecomp.sae.train.update_threshold``).

The registered method of a kind is ``sae_<label>`` with ``kind_label(kind)``
(``sae_relu``, ..., ``sae_MP``, ``sae_batchtopk``).

MP returns the unit-normalised decoder as its ``decoder`` (the atoms it
reconstructs with); the other kinds return ``W_d`` as trained. MP picks its
atoms without gradient and differentiates the codes with a hand-written VJP
(``sparsecomp.coding.pursuit``).

References:
  Gao et al. 2024, "Scaling and evaluating sparse autoencoders" (TopK, AuxK;
  arXiv 2406.04093).
  Bussmann, Leask & Nanda 2024, "BatchTopK Sparse Autoencoders"
  (arXiv 2412.06410).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from sparsecomp.blocking import map_rows
from sparsecomp.coding.pursuit import dense_codes, pursue
from sparsecomp.linalg import unit_columns
from sparsecomp.sae.activations import batch_topk_mask, jumprelu, kth_largest, step

# Every kind of SAE, in the order their methods are registered.
SAE_KINDS = ("relu", "topk", "jumprelu", "mp", "topk_auxk", "batchtopk")
# The protocol's four (section 3); the other two are literature variants.
PROTOCOL_KINDS = ("relu", "topk", "jumprelu", "mp")
# Kinds that keep k codes per sample (on average over a batch, for batchtopk).
K_SPARSE_KINDS = ("topk", "mp", "topk_auxk", "batchtopk")
# The encoder and decoder products in full float32, not TF32 on accelerators: the
# reference trains in float32 (PyTorch's default), TopK's and JumpReLU's choices
# turn on small differences of pre-activations, and at the study's sizes these
# products are too small for TF32 to save time. Gradients inherit the precision.
_HIGHEST = jax.lax.Precision.HIGHEST

Params = dict[str, jax.Array]


def kind_label(kind: str) -> str:
    """The SAE type as method names spell it (``sae_<label>``): ``"MP"`` for ``"mp"``.

    Every other kind is its own label, as in the reference results.
    """
    return "MP" if kind == "mp" else kind


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

    Raises:
      ValueError: when built with a kind not in ``SAE_KINDS``, or a
        ``K_SPARSE_KINDS`` kind with ``k`` outside ``1 .. width``.
    """

    input_dim: int  # m
    width: int  # dictionary size (num_latents in every sweep)
    kind: str  # one of SAE_KINDS
    k: int  # kept codes (per sample, or per sample on average for batchtopk) / steps of mp
    bandwidth: float = 1e-3  # jumprelu kernel width
    init_threshold: float = 1e-3  # jumprelu initial theta

    def __post_init__(self):
        # Refuse bad sizes when the model is built, not when it is first traced.
        if self.kind not in SAE_KINDS:
            raise ValueError(f"kind={self.kind!r} is invalid: choose one of {SAE_KINDS}")
        if self.kind in K_SPARSE_KINDS and not 1 <= self.k <= self.width:
            raise ValueError(
                f"k={self.k} is invalid: it must satisfy 1 <= k <= width={self.width}"
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
            picks, coefs, residual = pursue(centred, atom_rows, self.k)
            # x_hat = x - r_k: only k atoms per sample, no dense decoder product.
            x_hat = x - residual
            return SAEOutput(x_hat, dense_codes(picks, coefs, self.width).T, no_penalty)
        pre = jnp.matmul(centred, self.W_e.T, precision=_HIGHEST) + self.b_e  # [batch, width]
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
        x_hat = jnp.matmul(codes, self.W_d.T, precision=_HIGHEST) + self.b_d
        return SAEOutput(x_hat, codes, penalty, pre)

    def encode(self, x: jax.Array) -> jax.Array:
        """Codes of ``x`` ([batch, input_dim] float32): [batch, width] float32."""
        return self(x).codes

    def decoder(self) -> jax.Array:
        """The dictionary the reconstruction uses: [input_dim, width] float32.

        ``W_d`` itself, except for ``mp``, which reconstructs with unit atoms.
        """
        return unit_columns(self.W_d) if self.kind == "mp" else self.W_d


def encode_rows(model: SparseAutoencoder, params: Params, y: jax.Array) -> jax.Array:
    """The codes of many rows, encoded in cache-sized row blocks (``map_rows``).

    Args:
      model: the SAE; params: its parameters.
      y: [rows, input_dim] float32.

    Returns:
      [rows, width] float32.
    """
    variables = {"params": params}
    return map_rows(lambda x: model.apply(variables, x, method=model.encode), y)


def decoder(model: SparseAutoencoder, params: Params) -> jax.Array:
    """``model.decoder`` of ``params``: the [input_dim, width] float32 dictionary."""
    return model.apply({"params": params}, method=model.decoder)


__all__ = [
    "K_SPARSE_KINDS",
    "PROTOCOL_KINDS",
    "SAE_KINDS",
    "Params",
    "SAEOutput",
    "SparseAutoencoder",
    "decoder",
    "encode_rows",
    "kind_label",
]
