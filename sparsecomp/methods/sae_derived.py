"""Methods built on a trained SAE: they locate where the SAE's failure lies.

Each method here ``requires`` one SAE (``sae_<type>``, for every kind of
``sparsecomp.sae.model.SAE_KINDS``, ``<type>`` its ``kind_label``) and
receives its trained parameters, restored by the trainer from the SAE's
checkpoint in the same workdir, so an SAE is trained once per (point, seed)
however many of these run on it. Names are the reference's
(protocol section 5; ``<type>`` as in ``sae_<type>``):

* ``fista+<type>``: FISTA from zero with the SAE's decoder as the dictionary,
  on the input shifted by minus the decoder bias (frozen_decoder). Its rows,
  and those of the other methods that run FISTA on one dictionary derived
  from the SAE's decoder (``oracle_norms_`` borrows the true atoms' norms
  too), carry the SAE's ``samples_seen`` / ``samples_per_atom``.
* ``refined_<type>``: the same FISTA, warm-started from the SAE's codes.
* ``frozen_<type>``, ``renormed_<type>``, ``oracle_norms_<type>``: FISTA
  with the raw decoder ``W_d``, with its columns at unit norm, and with its
  directions but the norms of the true atoms they match best (dict_quality).
* ``support_lstsq_<type>``: the SAE's support, magnitudes re-estimated by
  non-negative least squares on that support (support_recovery).
* ``warm_<type>`` / ``cold_<type>``: FISTA from the SAE's codes / from zero,
  one row per iteration budget ``n_iter`` (warmstart_encoder).
* ``warm_dl_<type>`` / ``cold_dl_<type>``: DL-FISTA from the SAE's decoder /
  from a random dictionary, one row per round budget ``n_outer``
  (warmstart_decoder). ``cold_dl_<type>`` does not use the SAE, so every
  type's is registered ``same_as="cold_dl_relu"``.

Every FISTA here reads ``config.fista`` (``lam``, ``n_iter``); the methods
that solve with one dictionary and ``fista.lam`` also accept
``config.fista.lam_sweep`` (lambda_sensitivity: one row per ``lam``, the
lambdas a vmapped axis).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparsecomp.coding.fista import fista
from sparsecomp.coding.refine import fista_at_budgets, nonneg_least_squares_on_support
from sparsecomp.data import sample_tags
from sparsecomp.dictionary.atoms import random_dictionary
from sparsecomp.dictionary.dl_fista import dictionary_learning_run
from sparsecomp.errors import ConfigError, require_int
from sparsecomp.linalg import unit_columns
from sparsecomp.methods.registry import MethodOutput, register_method
from sparsecomp.methods.sections import (
    dl_fista_options,
    fista_options,
    lam_variants,
    sae_model_options,
)
from sparsecomp.sae.analysis import oracle_norm_dictionary
from sparsecomp.sae.model import SAE_KINDS, SparseAutoencoder, decoder, encode_rows, kind_label


class TrainedSAE:
    """A trained SAE's dictionary, bias and codes on one seed's val and OOD data."""

    def __init__(self, config, spec, kind: str, params, data):
        """Encodes one seed's val and OOD rows with the ``kind`` SAE of ``params``.

        Args:
          config: the experiment config (its ``sae`` section builds the model).
          spec: the sweep point's ``DataSpec``.
          kind: one of ``SAE_KINDS``.
          params: the trained SAE's parameters (``inputs["sae_<type>"]``).
          data: the seed's ``Dataset``.
        """
        model = SparseAutoencoder(kind=kind, **sae_model_options(config, spec))
        y = jnp.concatenate([data.y_val, data.y_ood])
        # [n_val + n_ood, width]: the SAE's codes of the val rows, then the OOD rows.
        self.codes = encode_rows(model, params, y)
        self.decoder = decoder(model, params)  # [m, width]
        self.raw_decoder = params["W_d"]  # [m, width]
        self.bias = params["b_d"]  # [m]
        self.y = y - self.bias  # shifted input
        self.n_val = data.y_val.shape[0]

    def split(self, codes):
        """(val, OOD) halves of codes of ``self.y`` (rows or leading variant axis)."""
        return codes[..., : self.n_val, :], codes[..., self.n_val :, :]


# cold_dl_<type> does not use the SAE: one computation, registered under every
# type's name; the trainer runs it once per point, with this method's PRNG key.
COLD_DL = "cold_dl_relu"


def _sae_method(kind: str) -> str:
    """The registered name of the ``kind`` SAE, whose params a method here requires."""
    return f"sae_{kind_label(kind)}"


def _solve_over_lams(y, dictionary, lams, *, n_iter, z_init=None):
    """FISTA codes for each lambda: [n_lams, rows, width], lambdas vmapped."""
    return jax.vmap(lambda lam: fista(y, dictionary, lam, n_iter=n_iter, z_init=z_init))(lams)


def _fista_method(kind: str, dictionary_of, *, warm: bool):
    """Factory of a method that runs FISTA on a dictionary derived from the SAE.

    Args:
      dictionary_of: ``(trained, data) -> [m, width]`` dictionary.
      warm: start from the SAE's codes instead of zero.
    """

    def make(config, spec):
        options = fista_options(config)
        n_iter = options["n_iter"]
        sweep = lam_variants(config)
        lam_values = sweep[1] if sweep else (options["lam"],)

        def run(key, data, inputs):
            del key
            lams = jnp.asarray(lam_values, jnp.float32)  # traced: no device work in make
            trained = TrainedSAE(config, spec, kind, inputs[_sae_method(kind)], data)
            d = dictionary_of(trained, data)
            z_init = trained.codes if warm else None
            codes = _solve_over_lams(trained.y, d, lams, n_iter=n_iter, z_init=z_init)
            if not sweep:
                codes = codes[0]
            codes_val, codes_ood = trained.split(codes)
            n = lams.shape[0] if sweep else None
            return MethodOutput(
                codes_val=codes_val,
                codes_ood=codes_ood,
                dictionary=_tile(d, n),
                decoder_bias=_tile(trained.bias, n),
                variants={"lam": lams} if sweep else None,
                # The dictionary's training samples: the SAE's (scaling study).
                scalars={name: _tile(value, n) for name, value in
                         sample_tags(spec, spec.n_train).items()},
            )

        return run

    return make


def _tile(x, n):
    """``x`` repeated along a new leading axis of length ``n`` (``x`` if ``n`` is None)."""
    return x if n is None else jnp.broadcast_to(x, (n, *x.shape))


def _support_lstsq_method(kind: str):
    def make(config, spec):
        require_int("support_recovery.n_iter", config.support_recovery.n_iter, lower=1)
        n_iter = config.support_recovery.n_iter

        def run(key, data, inputs):
            del key
            trained = TrainedSAE(config, spec, kind, inputs[_sae_method(kind)], data)
            codes = trained.codes
            refit = nonneg_least_squares_on_support(
                trained.y, trained.decoder, codes != 0, n_iter=n_iter,
                z_init=jnp.maximum(codes, 0.0),
            )
            codes_val, codes_ood = trained.split(refit)
            return MethodOutput(codes_val=codes_val, codes_ood=codes_ood,
                                dictionary=trained.decoder, decoder_bias=trained.bias)

        return run

    return make


def _budgets(field: str, values, warm: bool) -> tuple[int, ...]:
    """Sorted distinct budgets of ``warmstart.<field>``; budget 0 (the start itself) only warm.

    Raises:
      ConfigError: unless ``values`` is a tuple of ints >= 0 that leaves a budget.
    """
    if not isinstance(values, (tuple, list)) or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values):
        raise ConfigError(f"warmstart.{field}={values!r} is invalid: it must be a tuple of "
                          "integers >= 0")
    budgets = tuple(sorted({v for v in values if warm or v > 0}))
    if not budgets:
        raise ConfigError(f"warmstart.{field}={values!r} is invalid: it must hold a budget"
                          + ("" if warm else " > 0 (cold starts skip budget 0)"))
    return budgets


def _warmstart_encoder_method(kind: str, *, warm: bool):
    def make(config, spec):
        lam = fista_options(config)["lam"]
        budgets = _budgets("n_iters", config.warmstart.n_iters, warm)

        def run(key, data, inputs):
            del key
            trained = TrainedSAE(config, spec, kind, inputs[_sae_method(kind)], data)
            codes = fista_at_budgets(trained.y, trained.decoder, lam, budgets,
                                     z_init=trained.codes if warm else None)
            codes_val, codes_ood = trained.split(codes)
            n = len(budgets)
            return MethodOutput(
                codes_val=codes_val, codes_ood=codes_ood,
                dictionary=_tile(trained.decoder, n), decoder_bias=_tile(trained.bias, n),
                variants={"n_iter": jnp.asarray(budgets)},
            )

        return run

    return make


def _warmstart_decoder_method(kind: str, *, warm: bool):
    """DL-FISTA from the SAE decoder (warm) or a random one (cold), per round budget.

    The dictionary is learned as ``dl_fista`` does (on ``y_val``, with every
    ``config.dl_fista`` option, its stopping rule and ``inner_tol`` included)
    with snapshots at every budget; a budget past the stop gets
    the final dictionary. Each snapshot's val and OOD codes are FISTA codes
    from zero (``config.fista``). The SAE's bias is not used: DL-FISTA fits
    the raw observations.
    """

    def make(config, spec):
        options = dl_fista_options(config)
        budgets = _budgets("n_outer", config.warmstart.n_outer, warm)
        if budgets[-1] > options["max_rounds"]:
            raise ConfigError(f"warmstart.n_outer={config.warmstart.n_outer!r} is invalid: "
                              f"budgets must be at most dl_fista.max_rounds="
                              f"{options['max_rounds']}")
        held_out = fista_options(config)

        def run(key, data, inputs=None):  # cold runs require nothing
            if warm:
                trained = TrainedSAE(config, spec, kind, inputs[_sae_method(kind)], data)
                d_init = trained.decoder
            else:
                d_init = random_dictionary(key, spec.input_dim, spec.num_latents)
            state = dictionary_learning_run(data.y_val, d_init, snapshot_rounds=budgets,
                                            **options)
            reached = jnp.asarray(budgets) <= state.n_rounds
            snapshots = jnp.where(reached[:, None, None], state.snapshots, state.dictionary)
            y = jnp.concatenate([data.y_val, data.y_ood])
            codes = jax.vmap(lambda d: fista(y, d, **held_out))(snapshots)
            n_val = data.y_val.shape[0]
            return MethodOutput(
                codes_val=codes[:, :n_val], codes_ood=codes[:, n_val:], dictionary=snapshots,
                scalars={name: jnp.broadcast_to(value, (len(budgets),)) for name, value in
                         (("n_rounds", state.n_rounds), ("n_inner_iter", state.n_inner))},
                variants={"n_outer": jnp.asarray(budgets)},
            )

        return run

    return make


def _register_all() -> None:
    families = {"fista+": "fista_on_sae", "refined_": "refined", "frozen_": "fista_on_sae",
                "renormed_": "fista_on_sae", "oracle_norms_": "fista_on_sae"}
    dictionaries = {
        "fista+": lambda t, data: t.decoder,
        "refined_": lambda t, data: t.decoder,
        "frozen_": lambda t, data: t.raw_decoder,
        "renormed_": lambda t, data: unit_columns(t.raw_decoder),
        "oracle_norms_": lambda t, data: oracle_norm_dictionary(t.raw_decoder, data.mixing),
    }
    for kind in SAE_KINDS:
        label = kind_label(kind)
        requires = (_sae_method(kind),)
        for prefix, dictionary_of in dictionaries.items():
            register_method(f"{prefix}{label}", requires=requires, variants=lam_variants,
                            family=families[prefix], sae_type=label)(
                _fista_method(kind, dictionary_of, warm=prefix == "refined_")
            )
        register_method(f"support_lstsq_{label}", requires=requires, family="support_lstsq",
                        sae_type=label)(_support_lstsq_method(kind))
        for warm, prefix in ((True, "warm"), (False, "cold")):
            register_method(f"{prefix}_{label}", requires=requires,
                            variants=_n_iter_variants(warm), family="warmstart_encoder",
                            sae_type=label)(
                _warmstart_encoder_method(kind, warm=warm))
            name = f"{prefix}_dl_{label}"
            same_as = None if warm or name == COLD_DL else COLD_DL
            register_method(name, requires=requires if warm else (),
                            variants=_n_outer_variants(warm), family="warmstart_decoder",
                            sae_type=label, same_as=same_as)(
                _warmstart_decoder_method(kind, warm=warm))


def _n_iter_variants(warm: bool):
    return lambda config: ("n_iter", _budgets("n_iters", config.warmstart.n_iters, warm))


def _n_outer_variants(warm: bool):
    return lambda config: ("n_outer", _budgets("n_outer", config.warmstart.n_outer, warm))


_register_all()

__all__ = ["TrainedSAE"]
