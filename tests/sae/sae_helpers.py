"""A tiny SAE shared by the model and training tests (pytest puts this directory on sys.path)."""

import jax
import jax.numpy as jnp

from sparsecomp.data import make_spec
from sparsecomp.sae.model import SparseAutoencoder

SPEC = make_spec(num_latents=20, k=3, n_samples=200)  # input_dim 12, 100 train samples


def tiny_model(kind: str, **fields) -> SparseAutoencoder:
    """The ``kind`` SAE at ``SPEC``'s sizes (width 20, k 3, input_dim 12)."""
    return SparseAutoencoder(input_dim=SPEC.input_dim, width=SPEC.num_latents, kind=kind,
                             k=SPEC.k, **fields)


def tiny_params(kind: str, seed: int = 0):
    """``(model, params)``: ``tiny_model(kind)`` initialised from ``jax.random.key(seed)``."""
    model = tiny_model(kind)
    return model, model.init(jax.random.key(seed), jnp.zeros((1, SPEC.input_dim)))["params"]
