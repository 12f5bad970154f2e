"""Experiment configs: validation and the expansion of a sweep into points.

An experiment config (``experiments/*.py:get_config``) has at least

* ``data``: the default sizes (``num_latents, k, n_samples, input_dim, c, noise,
  n_eval``);
* ``sweep``: a ConfigDict of data fields, each a tuple of values; the points are
  their Cartesian product, in the order the fields are declared;
* ``seeds``: a tuple of non-negative ints (the vmapped axis);
* ``methods``: a tuple of registered method names;

and optionally ``limits``: method name -> {data field: largest value}, so that
a method too costly at the big points of a sweep runs only where every named
field is within its limit (``limits = {"dl_fista": {"n_samples": 40000}}``).
"""

from __future__ import annotations

import itertools

import ml_collections

from sparsecomp.data import DataSpec, make_spec
from sparsecomp.errors import ConfigError
from sparsecomp.methods.registry import get_method, method_info

DATA_FIELDS = ("num_latents", "k", "n_samples", "input_dim", "c", "noise", "n_eval")
# Fields of the DataSpec a method's limits may name (c only derives input_dim).
LIMIT_FIELDS = tuple(field for field in DATA_FIELDS if field != "c")
# Methods of a sweep point run at the same time when a config does not say.
DEFAULT_CONCURRENT_METHODS = 2


def sweep_points(config: ml_collections.ConfigDict) -> list[DataSpec]:
    """Validates ``config`` and returns one ``DataSpec`` per distinct sweep point.

    Raises:
      ConfigError: for the first invalid field, naming it and its valid range.
    """
    _validate_seeds(config.seeds)
    _validate_methods(config.methods)
    _validate_limits(config)
    sweep = config.sweep.to_dict()
    for field, values in sweep.items():
        if field not in DATA_FIELDS:
            raise ConfigError(
                f"sweep.{field}: not a data field; sweepable fields are {', '.join(DATA_FIELDS)}"
            )
        if not isinstance(values, (tuple, list)) or not values:
            raise ConfigError(f"sweep.{field}={values!r} is invalid: it must be a non-empty tuple")
    base = {field: config.data[field] for field in DATA_FIELDS}
    specs = []
    for combination in itertools.product(*sweep.values()):
        swept = dict(zip(sweep, combination, strict=True))
        try:
            spec = make_spec(**{**base, **swept})
        except ConfigError as error:
            where = ", ".join(f"{name}={value}" for name, value in swept.items())
            raise ConfigError(f"{error} (sweep point {where})" if where else str(error)) from None
        if spec not in specs:  # e.g. two values of c that both give input_dim = num_latents
            specs.append(spec)
    return specs


def _validate_seeds(seeds) -> None:
    if (
        not isinstance(seeds, (tuple, list))
        or not seeds
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds)
    ):
        raise ConfigError(f"seeds={seeds!r} is invalid: it must be a non-empty tuple of ints >= 0")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds={seeds!r} is invalid: seeds must be distinct")


def _validate_methods(methods) -> None:
    if isinstance(methods, str) or not isinstance(methods, (tuple, list)) or not methods:
        raise ConfigError(
            f"methods={methods!r} is invalid: it must be a non-empty tuple of method names"
        )
    if len(set(methods)) != len(methods):
        raise ConfigError(f"methods={methods!r} is invalid: names must be distinct")
    for name in methods:
        get_method(name)


def _validate_limits(config: ml_collections.ConfigDict) -> None:
    for name, fields in config.get("limits", {}).items():
        get_method(name)
        for field, largest in fields.items():
            if field not in LIMIT_FIELDS:
                raise ConfigError(
                    f"limits.{name}.{field}: not a limitable field; limits apply to "
                    f"{', '.join(LIMIT_FIELDS)}"
                )
            if isinstance(largest, bool) or not isinstance(largest, (int, float)):
                raise ConfigError(
                    f"limits.{name}.{field}={largest!r} is invalid: it must be a number"
                )


def runs_at(config: ml_collections.ConfigDict, name: str, spec: DataSpec) -> bool:
    """Whether method ``name`` runs at sweep point ``spec`` under ``config.limits``.

    A method runs where every field its limits name is at most the limit, and
    where every method it requires runs (it needs their checkpoints).
    """
    limits = config.get("limits", {}).get(name, {})
    within = all(
        getattr(spec, field) is None or getattr(spec, field) <= largest
        for field, largest in limits.items()
    )
    return within and all(runs_at(config, required, spec)
                          for required in method_info(name).requires)


def concurrent_methods(config: ml_collections.ConfigDict) -> int:
    """``config.concurrent_methods`` (default ``DEFAULT_CONCURRENT_METHODS``), validated.

    Raises:
      ConfigError: unless it is an int >= 1.
    """
    value = config.get("concurrent_methods", DEFAULT_CONCURRENT_METHODS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"concurrent_methods={value!r} is invalid: it must be an int >= 1 (methods of a "
            "sweep point run at the same time; 1 runs them one after another)"
        )
    return value

