"""Held-out codes on a learned dictionary: FISTA from zero on val and OOD."""

import chex
import jax
import numpy as np

from sparsecomp.coding.fista import fista
from sparsecomp.dictionary.atoms import random_dictionary
from sparsecomp.dictionary.held_out import fista_val_and_ood


def test_val_and_ood_codes_are_fista_codes_of_each_split():
    k_val, k_ood, k_dict = jax.random.split(jax.random.key(0), 3)
    y_val, y_ood = jax.random.normal(k_val, (30, 6)), jax.random.normal(k_ood, (20, 6))
    d = random_dictionary(k_dict, 6, 10)
    codes_val, codes_ood = fista_val_and_ood(d, y_val, y_ood, lam=0.1, n_iter=40)
    chex.assert_shape((codes_val, codes_ood), ((30, 10), (20, 10)))
    np.testing.assert_allclose(codes_val, fista(y_val, d, 0.1, n_iter=40), atol=1e-6)
    np.testing.assert_allclose(codes_ood, fista(y_ood, d, 0.1, n_iter=40), atol=1e-6)
