"""What methods compute from a trained SAE: the oracle-norm decoder, the amortisation gap."""

import jax.numpy as jnp
import numpy as np

from sparsecomp.coding.fista import fista
from sparsecomp.sae.analysis import amortisation_gap, oracle_norm_dictionary


def test_oracle_norms_take_the_matched_true_norm():
    mixing = jnp.asarray([[2.0, 0.0], [0.0, 0.5]])
    decoder = jnp.asarray([[0.1, 3.0], [1.0, 0.1]])  # column 0 ~ atom 1, column 1 ~ atom 0
    out = np.asarray(oracle_norm_dictionary(decoder, mixing))
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), [0.5, 2.0], rtol=1e-6)
    np.testing.assert_allclose(out[:, 1] / np.linalg.norm(out[:, 1]),
                               np.asarray(decoder[:, 1]) / np.linalg.norm(decoder[:, 1]),
                               rtol=1e-6)


def test_amortisation_gap_is_zero_for_fista_codes_and_positive_for_worse_ones():
    rng = np.random.default_rng(2)
    decoder = jnp.asarray(rng.normal(size=(8, 12)), jnp.float32)
    bias = jnp.asarray(rng.normal(size=8), jnp.float32)
    y = jnp.asarray(rng.normal(size=(6, 8)), jnp.float32)
    codes = fista(y - bias, decoder, 0.1, n_iter=50)
    gap = amortisation_gap(y, codes, decoder, bias, lam=0.1, n_iter=50)
    np.testing.assert_allclose(gap, 0.0, atol=1e-7)
    worse = amortisation_gap(y, jnp.zeros_like(codes), decoder, bias, lam=0.1, n_iter=50)
    assert float(worse) > 0 and jnp.ndim(worse) == 0
