"""``fista_oracle``: FISTA with the true mixing matrix as dictionary.

The upper bound of per-sample inference: no dictionary is learned, so any gap
to it is the cost of learning one (protocol section 3).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparsecomp.coding.fista import fista
from sparsecomp.coding.working_set import working_set_lasso
from sparsecomp.methods.registry import MethodOutput, register_method
from sparsecomp.methods.sections import lam_variants, solver_options


def encode_val_and_ood(data, dictionary, *, lam, n_iter, z_init=None):
    """FISTA codes of the val and OOD observations, one solve per split.

    Two solves rather than one of the stacked splits: slicing the stacked
    codes apart copies them (with 3 seeds at width 100,000 the compiled
    oracle's temporary memory was 6.4 GiB with one solve, 2.8 GiB with two).

    Args:
      z_init: optional [n_val + n_ood, width] warm start, val rows first.

    Returns:
      (codes_val [n_val, width], codes_ood [n_ood, width]) float32.
    """
    n_val = data.y_val.shape[0]
    starts = (None, None) if z_init is None else (z_init[:n_val], z_init[n_val:])
    return tuple(fista(y, dictionary, lam, n_iter=n_iter, z_init=start)
                 for y, start in zip((data.y_val, data.y_ood), starts, strict=True))


def working_set_val_and_ood(data, dictionary, *, lam, options: dict):
    """Val and OOD codes at the Lasso optimum by ``working_set_lasso``.

    Args:
      data: one seed's dataset.
      dictionary: [input_dim, width] float32.
      lam: the L1 weight (may be traced).
      options: ``working_set_lasso``'s keyword arguments (``sections.working_set_options``).

    Returns:
      ``((codes_val, codes_ood), scalars)``: [n_val, width] and [n_ood, width]
      float32 codes; ``solver_rounds`` and ``kkt_violation`` (relative to
      lam), each the largest over val and OOD.
    """
    val, ood = (working_set_lasso(y, dictionary, lam, **options)
                for y in (data.y_val, data.y_ood))
    scalars = {"solver_rounds": jnp.maximum(val.rounds.max(), ood.rounds.max()),
               "kkt_violation": jnp.maximum(val.kkt_violation.max(), ood.kkt_violation.max())}
    return (val.codes, ood.codes), scalars


@register_method("fista_oracle", variants=lam_variants)
def make_fista_oracle(config, spec):
    """Reads ``config.fista`` (``lam``, ``n_iter``, ``lam_sweep``, ``solver``).

    ``solver="working_set"`` (with ``config.working_set``) gives the Lasso
    optimum instead of ``n_iter`` FISTA steps, and its rows carry
    ``solver_rounds`` and ``kkt_violation`` (largest over the seed's val and
    OOD samples, relative to lam).
    """
    lam, n_iter = float(config.fista.lam), int(config.fista.n_iter)
    options = solver_options("fista.solver", config.fista.get("solver", "fista"), config, spec)
    sweep = lam_variants(config)

    def encode(data, lam):
        if options is None:
            return encode_val_and_ood(data, data.mixing, lam=lam, n_iter=n_iter), None
        return working_set_val_and_ood(data, data.mixing, lam=lam, options=options)

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
