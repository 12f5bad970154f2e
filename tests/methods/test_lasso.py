"""lasso+<learner>: a learner's dictionary restored, held-out codes at the Lasso optimum."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparsecomp.coding.working_set import working_set_lasso
from sparsecomp.data import make_datasets, make_spec
from sparsecomp.methods.lasso import LEARNERS
from sparsecomp.methods.registry import get_method, method_info
from sparsecomp.run.defaults import base_config, shrink_for_smoke

SPEC = make_spec(num_latents=20, k=3, n_samples=600)
KEYS = jax.random.split(jax.random.key(0), 2)


@pytest.fixture(scope="module")
def two_seeds():
    return make_datasets(KEYS, SPEC)


def _config():
    return shrink_for_smoke(base_config())


def test_lasso_on_a_learned_dictionary_codes_held_out_samples_at_the_optimum(two_seeds):
    config = _config()
    learned = jax.jit(jax.vmap(get_method("itkrm")(config, SPEC)))(KEYS, two_seeds)
    run = get_method("lasso+itkrm")(config, SPEC)
    out = jax.jit(jax.vmap(run))(KEYS, two_seeds, {"itkrm": learned.params})
    np.testing.assert_array_equal(out.dictionary, learned.dictionary)
    assert float(jnp.max(out.scalars["kkt_violation"])) <= config.working_set.tol
    direct = working_set_lasso(two_seeds.y_ood[1], learned.dictionary[1], config.fista.lam,
                               size=min(config.working_set.size, SPEC.num_latents))
    np.testing.assert_allclose(out.codes_ood[1], direct.codes, atol=1e-5)


@pytest.mark.parametrize("learner", LEARNERS)
def test_every_lasso_method_requires_its_learner(learner):
    info = method_info(f"lasso+{learner}")
    assert (info.family, info.sae_type, info.requires) == ("lasso", None, (learner,))
