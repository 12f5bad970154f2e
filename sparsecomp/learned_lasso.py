"""Held-out codes at the Lasso optimum on a learner's dictionary (``lasso+<learner>``).

Every learner of the scaling study codes val and OOD with ``config.fista``'s
100 FISTA steps from zero, the paper's inference. At n = 10,000 those steps
are far from converged (``||D||^2 ~ 90``), so a learned dictionary can be
right while its codes are not. ``lasso+<learner>`` restores the learner's
dictionary from its checkpoint (no retraining) and codes val and OOD with
``sparsecomp.working_set`` (``config.working_set``, ``config.fista.lam``), as
``fista_oracle`` does with ``fista.solver = "working_set"``. Rows carry the
learner's dictionary metrics, ``solver_rounds`` and ``kkt_violation``
(largest over val and OOD, relative to lam).
"""

from __future__ import annotations

import jax.numpy as jnp

from sparsecomp.methods import MethodOutput, register_method
from sparsecomp.working_set import solver_options, working_set_lasso

# Learners whose ``params["dictionary"]`` is the learned [input_dim, width] dictionary.
LEARNERS = ("dl_fista", "dl_fista_data", "dl_fista_resample", "itkrm", "itkrm_stream",
            "dl_online", "dl_online_ws")


def _make(learner: str):
    def make(config, spec):
        options = solver_options("working_set", "working_set", config, spec)
        lam = float(config.fista.lam)

        def run(key, data, inputs):
            del key  # deterministic given the dictionary and the data
            dictionary = jnp.asarray(inputs[learner]["dictionary"])
            val, ood = (working_set_lasso(y, dictionary, lam, **options)
                        for y in (data.y_val, data.y_ood))
            scalars = {"solver_rounds": jnp.maximum(val.rounds.max(), ood.rounds.max()),
                       "kkt_violation": jnp.maximum(val.kkt_violation.max(),
                                                    ood.kkt_violation.max())}
            return MethodOutput(codes_val=val.codes, codes_ood=ood.codes, dictionary=dictionary,
                                scalars=scalars)

        return run

    return make


for _learner in LEARNERS:
    register_method(f"lasso+{_learner}", requires=(_learner,))(_make(_learner))
