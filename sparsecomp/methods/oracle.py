"""``fista_oracle``: FISTA with the true mixing matrix as dictionary.

The upper bound of per-sample inference: no dictionary is learned, so any gap
to it is the cost of learning one (protocol section 3).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparsecomp.coding.held_out import fista_val_and_ood, working_set_val_and_ood
from sparsecomp.errors import require_int, require_positive
from sparsecomp.methods.registry import MethodOutput, register_method
from sparsecomp.methods.sections import lam_variants, solver_options


@register_method("fista_oracle", variants=lam_variants, family="oracle")
def make_fista_oracle(config, spec):
    """Reads ``config.fista`` (``lam``, ``n_iter``, ``lam_sweep``, ``solver``).

    ``solver="working_set"`` (with ``config.working_set``) gives the Lasso
    optimum instead of ``n_iter`` FISTA steps, and its rows carry
    ``solver_rounds`` and ``kkt_violation`` (largest over the seed's val and
    OOD samples, relative to lam).

    Raises:
      ConfigError: naming the field and its valid range.
    """
    require_positive("fista.lam", config.fista.lam)
    require_int("fista.n_iter", config.fista.n_iter, lower=1)
    lam, n_iter = float(config.fista.lam), int(config.fista.n_iter)
    options = solver_options("fista.solver", config.fista.get("solver", "fista"), config, spec)
    sweep = lam_variants(config)

    def encode(data, lam):
        if options is None:
            return fista_val_and_ood(data.y_val, data.y_ood, data.mixing, lam=lam,
                                     n_iter=n_iter), None
        return working_set_val_and_ood(data.y_val, data.y_ood, data.mixing, lam=lam, **options)

    def run(key, data):
        del key  # deterministic given the data
        if not sweep:
            (codes_val, codes_ood), scalars = encode(data, lam)
            return MethodOutput(codes_val=codes_val, codes_ood=codes_ood, dictionary=data.mixing,
                                scalars=scalars)
        lams = jnp.asarray(sweep[1], jnp.float32)
        (codes_val, codes_ood), scalars = jax.vmap(lambda lam: encode(data, lam))(lams)
        return MethodOutput(
            codes_val=codes_val,
            codes_ood=codes_ood,
            dictionary=jnp.broadcast_to(data.mixing, (lams.shape[0], *data.mixing.shape)),
            variants={"lam": lams},
            scalars=scalars,
        )

    return run
