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
field is within its limit (``limits = {"dl_fista": {"n_samples": 40000}}``); a
limit of ``None`` is no limit (``limit_placeholder``).

Validation covers every field a run reads: the data sizes of every point, and
every section the configured methods (and the methods they require) read, by
building each method at each point where it runs, as the trainer will.
"""

from __future__ import annotations

import itertools
import json
from typing import NamedTuple

import ml_collections

from sparsecomp.data import DataSpec, make_spec
from sparsecomp.errors import ConfigError
from sparsecomp.methods.registry import (
    MethodFn,
    computed_as,
    get_method,
    method_info,
    method_variants,
    registered_methods,
    with_requirements,
)
from sparsecomp.run.defaults import DEFAULT_CONCURRENT_METHODS
from sparsecomp.run.identity import ConfigReads, recorded_factory
from sparsecomp.run.schema import point_name

DATA_FIELDS = ("num_latents", "k", "n_samples", "input_dim", "c", "noise", "n_eval")
# Fields of the DataSpec a method's limits may name (c only derives input_dim).
LIMIT_FIELDS = tuple(field for field in DATA_FIELDS if field != "c")


class Sweep(NamedTuple):
    """A validated config's sweep points and the method computations built for them."""

    specs: list[DataSpec]  # one per distinct sweep point, in sweep order
    # (computed_as(name), spec) -> (run(key, data[, inputs]), the config fields its
    # factory read: ``identity.ConfigReads``) of every method that runs at spec
    # (``runs_at``), each computation built once per point.
    runs: dict[tuple[str, DataSpec], tuple[MethodFn, ConfigReads]]


def build_sweep(config: ml_collections.ConfigDict) -> Sweep:
    """Validates ``config``: its points, and every method built at every point where it runs.

    Each method is built as the trainer runs it (the factory of its
    ``computed_as``, and its variants), so every section it reads is checked,
    before anything runs; the trainer then uses these builds. Factories only
    read and check the config (nothing is compiled or put on a device), so
    this is cheap.

    Raises:
      ConfigError: for the first invalid field, naming it and its valid range
        (and, for a method's field, the method and the point).
    """
    specs = _distinct_points(config)
    runs = {}
    for spec in specs:
        runs.update(_build_methods_at(config, spec))
    return Sweep(specs, runs)


def sweep_points(config: ml_collections.ConfigDict) -> list[DataSpec]:
    """Validates ``config`` (``build_sweep``) and returns one ``DataSpec`` per distinct point.

    Raises:
      ConfigError: for the first invalid field, naming it and its valid range.
    """
    return build_sweep(config).specs


def _distinct_points(config: ml_collections.ConfigDict) -> list[DataSpec]:
    """The distinct sweep points, with the data sizes, seeds, methods and limits validated.

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


def _build_methods_at(config: ml_collections.ConfigDict, spec: DataSpec) -> dict:
    """``{(computed_as(name), spec): (run, reads)}`` for every method that runs at ``spec``.

    Raises:
      ConfigError: naming the field, the method and the point.
    """
    runs = {}
    for name in with_requirements(config.methods):
        if not runs_at(config, name, spec):
            continue
        source = computed_as(name)
        try:
            if (source, spec) not in runs:
                runs[source, spec] = recorded_factory(config, source, spec)
            method_variants(name, config)
        except ConfigError as error:
            raise ConfigError(f"{error} (method {name}, sweep point {point_name(spec)})") from None
    return runs


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
        check_limit_field(name)
        for field, largest in fields.items():
            check_limit_field(name, field)
            if largest is not None and (
                    isinstance(largest, bool) or not isinstance(largest, (int, float))):
                raise ConfigError(
                    f"limits.{name}.{field}={largest!r} is invalid: it must be a number "
                    "(or None: no limit)"
                )


def check_limit_field(name: str, field: str | None = None) -> None:
    """Raises ``ConfigError`` unless ``name`` is a registered method and ``field``
    (unless ``None``) one of ``LIMIT_FIELDS``."""
    if name not in registered_methods():
        raise ConfigError(f"limits.{name}: unknown method {name!r}; registered methods are "
                          f"{', '.join(registered_methods())}")
    if field is not None and field not in LIMIT_FIELDS:
        raise ConfigError(
            f"limits.{name}.{field}: not a limitable field; limits apply to "
            f"{', '.join(LIMIT_FIELDS)}"
        )


def limit_placeholder(field: str) -> ml_collections.FieldReference:
    """An unset limit on ``field`` (``None``: no limit), typed so that a flag can set it.

    The command line adds one for every ``--config.limits.<method>.<field>``
    the config lacks (``sparsecomp.run.command_line``).
    """
    return ml_collections.config_dict.placeholder(float if field == "noise" else int)


def saved_config_json(config: ml_collections.ConfigDict) -> str:
    """``config`` as ``config.json`` holds it: unset (``None``) limits left out.

    A limit of ``None`` is no limit, as is no entry, so both save alike and a
    workdir claimed without the entry accepts a config with it.
    """
    resolved = json.loads(config.to_json())
    if isinstance(resolved.get("limits"), dict):
        limits = {name: {field: largest for field, largest in fields.items()
                         if largest is not None}
                  for name, fields in resolved["limits"].items()}
        resolved["limits"] = {name: fields for name, fields in limits.items() if fields}
    return json.dumps(resolved, sort_keys=True, indent=2)


def runs_at(config: ml_collections.ConfigDict, name: str, spec: DataSpec) -> bool:
    """Whether method ``name`` runs at sweep point ``spec`` under ``config.limits``.

    A method runs where every field its limits name is at most the limit
    (``None``: no limit), and where every method it requires runs (it needs
    their checkpoints).
    """
    limits = config.get("limits", {}).get(name, {})
    within = all(
        largest is None or getattr(spec, field) is None or getattr(spec, field) <= largest
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

