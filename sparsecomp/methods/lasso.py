"""Held-out codes at the Lasso optimum on a learner's dictionary (``lasso+<learner>``).

Every learner of the scaling study codes val and OOD with ``config.fista``'s
100 FISTA steps from zero, the paper's inference. At n = 10,000 those steps
are far from converged (``||D||^2 ~ 90``), so a learned dictionary can be
right while its codes are not. ``lasso+<learner>`` restores the learner's
dictionary from its checkpoint (no retraining) and codes val and OOD with
``sparsecomp.coding.working_set`` (``config.working_set``, ``config.fista.lam``), as
``fista_oracle`` does with ``fista.solver = "working_set"``
(``coding.held_out.working_set_val_and_ood``). Rows carry the
learner's dictionary metrics, ``solver_rounds`` and ``kkt_violation``
(largest over val and OOD, relative to lam).
"""

from __future__ import annotations

import jax.numpy as jnp

from sparsecomp.coding.held_out import working_set_val_and_ood
from sparsecomp.methods.registry import MethodOutput, register_method
from sparsecomp.methods.sections import fista_options, working_set_options

# Learners whose ``params["dictionary"]`` is the learned [input_dim, width] dictionary.
LEARNERS = ("dl_fista", "dl_fista_data", "dl_fista_resample", "itkrm", "itkrm_stream",
            "dl_online", "dl_online_ws")


def _make(learner: str):
    def make(config, spec):
        options = working_set_options(config, spec)
        lam = fista_options(config)["lam"]

        def run(key, data, inputs):
            del key  # deterministic given the dictionary and the data
            dictionary = jnp.asarray(inputs[learner]["dictionary"])
            (codes_val, codes_ood), scalars = working_set_val_and_ood(
                data.y_val, data.y_ood, dictionary, lam=lam, **options)
            return MethodOutput(codes_val=codes_val, codes_ood=codes_ood, dictionary=dictionary,
                                scalars=scalars)

        return run

    return make


for _learner in LEARNERS:
    register_method(f"lasso+{_learner}", requires=(_learner,), family="lasso")(_make(_learner))
