"""The method registry: names in configs map to pure per-seed functions.

A method is registered as a *factory* ``make(config, spec) -> run`` where
``config`` is the experiment's ``ml_collections.ConfigDict`` (the method reads
its own section, e.g. ``config.fista``) and ``spec`` the ``DataSpec`` of the
sweep point. Everything the factory reads is static. ``run(key, data)`` is a
pure function of one seed's PRNG key and ``Dataset``; the trainer compiles it
once per shape as ``jax.jit(jax.vmap(run))`` so all seeds run in one call.

A notebook adds a method without editing the library::

    @sparsecomp.register_method("my_solver")
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

from sparsecomp.data import Dataset, DataSpec
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
    # Training curves: name -> [n_logged] arrays, one entry must be "step".
    curves: dict[str, jax.Array] | None = None


MethodFn = Callable[[jax.Array, Dataset], MethodOutput]
MethodFactory = Callable[[ml_collections.ConfigDict, DataSpec], MethodFn]

_REGISTRY: dict[str, MethodFactory] = {}


def register_method(name: str) -> Callable[[MethodFactory], MethodFactory]:
    """Decorator registering ``make(config, spec) -> run`` under ``name``.

    Re-registering a name replaces the previous entry (handy in notebooks).
    """

    def decorator(factory: MethodFactory) -> MethodFactory:
        _REGISTRY[name] = factory
        return factory

    return decorator


def get_method(name: str) -> MethodFactory:
    """The factory registered under ``name``.

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


def registered_methods() -> tuple[str, ...]:
    """Names of all registered methods, sorted."""
    return tuple(sorted(_REGISTRY))
