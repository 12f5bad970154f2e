"""The method registry: names in configs map to pure per-seed functions.

A method is registered as a *factory* ``make(config, spec) -> run`` where
``config`` is the experiment's ``ml_collections.ConfigDict`` (the method reads
its own section, e.g. ``config.fista``) and ``spec`` the ``DataSpec`` of the
sweep point. Everything the factory reads is static, and it reads and
checks the config only (a ``ConfigError`` naming the field for a value out of
range; nothing compiled, nothing put on a device): validation calls it at
every point before the workdir is touched (``sparsecomp.run.sweep``), and
the sections it reads are recorded into its rows' fingerprint
(``sparsecomp.run.identity``).
``run(key, data)`` is a pure function of one seed's PRNG key and
``Dataset``; the trainer compiles it once per shape as
``jax.jit(jax.vmap(run))`` so all seeds run in one call.

A method that builds on what another one learned (FISTA on a trained SAE's
decoder, say) names it in ``requires``; its ``run(key, data, inputs)`` then
also receives ``inputs[name]``, the required method's ``params`` for the same
seed, which the trainer restores from that method's checkpoint in the same
workdir (training it first if needed). A method that returns several rows per
seed (one per lambda, iteration budget, ...) declares ``variants(config) ->
(tag, values)``; its output then carries a variant axis (see
``MethodOutput.variants``) and each row is tagged ``tag=value``.

A notebook adds a method without editing the library::

    @sparsecomp.register_method("my_solver", replace=True)  # replace: re-running the cell
    def make_my_solver(config, spec):
        def run(key, data):
            ...
            return sparsecomp.MethodOutput(codes_val=..., codes_ood=..., dictionary=D)
        return run
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import ml_collections

from sparsecomp.data import DataSpec
from sparsecomp.errors import ConfigError


class MethodOutput(NamedTuple):
    """What one method produced for one seed (leading seed axis under vmap).

    The trainer computes every metric from this; methods never compute metrics.
    """

    codes_val: jax.Array  # [n_val, width] float32, codes of the ID (val) samples
    codes_ood: jax.Array  # [n_ood, width] float32, codes of the OOD samples
    # [input_dim, width] float32 or None; atoms are columns and the
    # reconstruction is ``codes @ dictionary.T + decoder_bias``.
    dictionary: jax.Array | None = None
    decoder_bias: jax.Array | None = None  # [input_dim] float32 or None
    params: Any = None  # pytree of what was learned; saved to the Orbax checkpoint
    scalars: dict[str, jax.Array] | None = None  # extra row fields, each a scalar
    # Training curves: name -> [n_logged] arrays, one entry must be "step". A
    # curve named "dictionary" holds [n_logged, input_dim, width] snapshots; the
    # trainer logs their match to the true mixing matrix (dict_mean_cosine, ...).
    curves: dict[str, jax.Array] | None = None
    # For methods with variants: tag -> [n_variants] values. Then codes_val,
    # codes_ood, dictionary, decoder_bias and scalars have a leading
    # [n_variants] axis (after the seed axis); params and curves do not.
    variants: dict[str, jax.Array] | None = None


MethodFn = Callable[..., MethodOutput]  # run(key, data) or run(key, data, inputs)
MethodFactory = Callable[[ml_collections.ConfigDict, DataSpec], MethodFn]
# variants(config) -> (tag, values), or None when the config asks for one row per seed.
VariantsFn = Callable[[ml_collections.ConfigDict], tuple[str, tuple] | None]


# What a method is, for reports and figures (which never parse method names).
FAMILIES = (
    "oracle",  # FISTA on the true dictionary
    "probe",  # the supervised linear baseline
    "sae",  # an SAE's own encoder
    "fista_on_sae",  # FISTA from zero on a dictionary derived from an SAE's decoder
    "refined",  # FISTA on an SAE's decoder, warm-started from its codes
    "support_lstsq",  # an SAE's support, magnitudes re-fitted
    "warmstart_encoder",  # FISTA budgets from an SAE's codes / from zero
    "warmstart_decoder",  # DL-FISTA round budgets from an SAE's decoder / from random
    "dictionary_learning",  # a learned dictionary coded per sample
    "lasso",  # a learner's dictionary coded at the Lasso optimum
    "lista",  # a learned unrolled encoder
    "custom",  # registered by a user (notebooks)
)


class MethodInfo(NamedTuple):
    """A registry entry."""

    factory: MethodFactory
    requires: tuple[str, ...]  # methods whose params ``run`` receives as ``inputs``
    variants: VariantsFn | None  # rows per seed beyond one, from the config
    family: str  # one of FAMILIES
    sae_type: str | None  # the SAE type (``sae_<type>``) a method is or builds on
    # A method whose rows this one's equal (same factory, config and PRNG key):
    # the trainer computes it once per point and writes the rows under both names.
    same_as: str | None
    curve_step: str = "step"  # what its curves' ``step`` counts, for figure axes


_REGISTRY: dict[str, MethodInfo] = {}


def register_method(
    name: str,
    *,
    requires: tuple[str, ...] = (),
    variants: VariantsFn | None = None,
    family: str = "custom",
    sae_type: str | None = None,
    same_as: str | None = None,
    curve_step: str = "step",
    replace: bool = False,
) -> Callable[[MethodFactory], MethodFactory]:
    """Decorator registering ``make(config, spec) -> run`` under ``name``.

    Args:
      name: the method name used in configs and rows.
      requires: names of methods whose learned ``params`` ``run`` needs; it is
        then called as ``run(key, data, inputs)`` with ``inputs[required]``.
      variants: ``variants(config) -> (tag, values)`` for methods that emit one
        row per value (e.g. ``("lam", (0.01, 0.1))``), or ``None`` for one row.
      family: what the method is (one of ``FAMILIES``), for reports and figures.
      sae_type: the SAE type it is or builds on (``"relu"``, ..., ``"MP"``).
      same_as: a method whose rows this one's equal by construction (same
        requires and variants); the trainer computes them once per point, with
        that method's factory and PRNG key, and writes them under each
        configured name (``computed_as``).
      curve_step: what the ``step`` of its training curves counts
        (``"epoch"``, ``"round"``, ``"samples drawn"``, ...): the x-axis label
        of its curve figures.
      replace: allow replacing an existing entry (notebooks re-running a cell).

    Raises:
      ValueError: for a name already registered (unless ``replace``), or an
        unknown family.
    """
    if family not in FAMILIES:
        raise ValueError(f"family={family!r} is invalid: choose one of {FAMILIES}")
    if name in _REGISTRY and not replace:
        raise ValueError(f"method {name!r} is already registered; pass replace=True to "
                         "replace it")

    def decorator(factory: MethodFactory) -> MethodFactory:
        _REGISTRY[name] = MethodInfo(factory, tuple(requires), variants, family, sae_type,
                                     same_as, curve_step)
        return factory

    return decorator


def method_info(name: str) -> MethodInfo:
    """The registry entry of ``name``.

    Raises:
      ConfigError: for an unknown name, listing the known ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"methods: unknown method {name!r}; registered methods are "
            f"{', '.join(sorted(_REGISTRY))}"
        ) from None


def get_method(name: str) -> MethodFactory:
    """The factory registered under ``name`` (``ConfigError`` if unknown)."""
    return method_info(name).factory


def method_variants(name: str, config: ml_collections.ConfigDict) -> tuple[str, tuple] | None:
    """``(tag, values)`` of the rows ``name`` emits per seed under ``config``, or ``None``."""
    variants = method_info(name).variants
    return None if variants is None else variants(config)


def rows_per_seed(name: str, config: ml_collections.ConfigDict) -> int:
    """How many rows ``name`` writes per seed under ``config`` (its variants, or 1)."""
    variants = method_variants(name, config)
    return 1 if variants is None else len(variants[1])


def with_requirements(methods) -> tuple[str, ...]:
    """``methods`` with every required method inserted before its first user.

    Order is otherwise kept and each name appears once, so running the result
    in order always finds a requirement's checkpoint in place.
    """
    ordered: list[str] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in chain:
            raise ConfigError(f"methods: {name!r} requires itself via {' -> '.join(chain)}")
        for required in method_info(name).requires:
            visit(required, chain + (name,))
        if name not in ordered:
            ordered.append(name)

    for name in methods:
        visit(name, ())
    return tuple(ordered)


def computed_as(name: str) -> str:
    """The method whose computation gives ``name``'s rows: ``name``, or its ``same_as``.

    A chain of ``same_as`` is followed to its end.

    Raises:
      ConfigError: for an unknown name or a ``same_as`` cycle.
    """
    chain = [name]
    while (target := method_info(chain[-1]).same_as) is not None:
        if target in chain:
            raise ConfigError(f"methods: {name!r} is the same as itself via "
                              f"{' -> '.join(chain + [target])}")
        chain.append(target)
    return chain[-1]


def family_members(family: str, sae_type: str | None) -> tuple[str, ...]:
    """Names registered with ``family`` and ``sae_type``, in registration order."""
    return tuple(name for name, info in _REGISTRY.items()
                 if info.family == family and info.sae_type == sae_type)


def registered_methods() -> tuple[str, ...]:
    """Names of all registered methods, sorted."""
    return tuple(sorted(_REGISTRY))
