"""What made a group's rows: the fingerprint every row carries.

The rows of a (sweep point, method) group are determined by the point's data
(its ``DataSpec``), the config sections the method reads, what the methods
it ``requires`` learned, the seed (a row field) and the code (the rows'
versions). Each row carries ``fingerprint``, the first 16 hex digits of the
SHA-256 of the canonical JSON (sorted keys) of::

    {"method": computed_as(name),       # the computation (same_as methods share it)
     "point": point_tags(spec),         # the data; defaults left out, as in rows
     "sections": {section: fields},     # the config sections the method reads
     "requires": {name: fingerprint}}   # the groups whose params it receives

so a workdir's identity lives in its rows, not in ``config.json``, and groups
computed by several runs (other methods, other sections) sit side by side.

Which sections a method reads is recorded, not declared: its factory and its
``variants`` function see the config through ``ConfigReads``, which records
every top-level field read. ``run`` may read the config too when it is
traced (``TrainedSAE(config, ...)`` inside ``run`` reads ``sae``), but only
sections its fingerprint already covers (those of the methods it requires);
the trainer checks this as it compiles (``check_late_reads``), because a
finished group's fingerprint is recomputed from the factory alone.

A section's fields at their library default (``base_config``) are left out,
so that a field added to the library later, at its default (which computes
what the code computed before: docs/architecture.md), leaves fingerprints
unchanged. Changing a default is a change of code, not of config.
``EXECUTION_FIELDS`` (``devices``, ``concurrent_methods``) never count.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any, NamedTuple

import ml_collections

from sparsecomp.data import DataSpec
from sparsecomp.errors import ConfigError
from sparsecomp.methods.registry import computed_as, method_info, with_requirements
from sparsecomp.run.defaults import base_config
from sparsecomp.run.schema import CONFIG_FILE, group_key, point_name, point_tags
from sparsecomp.run.workdir import EXECUTION_FIELDS, differing_fields

FINGERPRINT_HEX = 16  # hex digits of the SHA-256 a fingerprint keeps (64 bits)


class ConfigReads:
    """A read-only view of a config that records which top-level fields are read.

    ``config.fista``, ``config["fista"]``, ``config.get("fista")`` and
    ``"fista" in config`` record ``fista``; anything that sees the whole
    config (``to_dict``, ``items``, iteration, ...) records every field.
    Reads after ``seal()`` are recorded apart, in ``late``.
    """

    def __init__(self, config: ml_collections.ConfigDict):
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "read", set())  # fields read before seal()
        object.__setattr__(self, "late", None)  # fields read after seal(), once sealed

    def seal(self) -> None:
        """Records later reads in ``late`` (the factory has returned)."""
        object.__setattr__(self, "late", set())

    def _record(self, *fields: str) -> None:
        target = self.read if self.late is None else self.late
        target.update(field for field in fields if field not in EXECUTION_FIELDS)

    def __getattr__(self, field: str):
        if field.startswith("__"):  # copy, pickle, ... probing: not a config field
            raise AttributeError(field)
        config = self._config
        if field in config:
            self._record(field)
            return config[field]
        self._record(*config.keys())  # a ConfigDict method: it may see every field
        return getattr(config, field)

    def __getitem__(self, field: str):
        self._record(field)
        return self._config[field]

    def get(self, field: str, default=None):
        self._record(field)
        return self._config.get(field, default)

    def __contains__(self, field: str) -> bool:
        self._record(field)
        return field in self._config

    def __iter__(self):
        self._record(*self._config.keys())
        return iter(self._config)

    def __setattr__(self, field: str, value) -> None:
        raise TypeError(f"a method must not change the config (it set {field!r})")

    __setitem__ = __setattr__


def recorded_factory(config: ml_collections.ConfigDict, name: str, spec: DataSpec):
    """``(run, reads)``: the factory of ``name``'s computation called through ``ConfigReads``.

    The factory is that of ``computed_as(name)``. ``reads`` is sealed: reads
    made later, while ``run`` is traced, land in ``reads.late``.

    Raises:
      ConfigError: from the factory, for an invalid section.
    """
    reads = ConfigReads(config)
    run = method_info(computed_as(name)).factory(reads, spec)
    reads.seal()
    return run, reads


def variant_reads(config: ml_collections.ConfigDict, name: str) -> set[str]:
    """The config fields ``name``'s ``variants`` function reads (the rows' tags)."""
    reads = ConfigReads(config)
    variants = method_info(name).variants
    if variants is not None:
        variants(reads)
    return reads.read


class GroupIdentity(NamedTuple):
    """What made a (point, method) group's rows."""

    fingerprint: str  # FINGERPRINT_HEX hex digits of sha256(canonical_json(content))
    sections: frozenset  # config sections it covers: its method's and its requirements'
    content: dict  # what was hashed (the module docstring)


def point_identities(config: ml_collections.ConfigDict, spec: DataSpec, names,
                     runs: dict | None = None) -> dict[str, GroupIdentity]:
    """The identity of each group of one sweep point.

    Args:
      names: methods running at ``spec``, each after the methods it requires
        (``with_requirements`` order).
      runs: ``(computed_as(name), spec) -> (run, reads)``, each built by
        ``recorded_factory`` (``sparsecomp.run.sweep.build_sweep``), so that
        the trainer runs what was recorded; None builds them here.

    Raises:
      ConfigError: from a method's factory (when ``runs`` is None).
    """
    if runs is None:
        runs = {}
        for name in names:
            key = computed_as(name), spec
            if key not in runs:
                runs[key] = recorded_factory(config, name, spec)
    identities: dict[str, GroupIdentity] = {}
    for name in names:
        source = computed_as(name)
        read = runs[source, spec][1].read | variant_reads(config, name)
        required = {req: identities[req] for req in method_info(source).requires}
        content = {
            "method": source,
            "point": point_tags(spec),
            "sections": {section: section_content(config, section) for section in sorted(read)},
            "requires": {req: identity.fingerprint for req, identity in required.items()},
        }
        sections = frozenset(read).union(*(i.sections for i in required.values()))
        identities[name] = GroupIdentity(fingerprint(content), sections, content)
    return identities


def fingerprint(content: Any) -> str:
    """The first ``FINGERPRINT_HEX`` hex digits of the SHA-256 of ``content``'s canonical JSON."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:FINGERPRINT_HEX]


def section_content(config: ml_collections.ConfigDict, section: str):
    """``config[section]`` as JSON values, fields at their ``base_config`` default left out.

    A section the config lacks gives ``None``; one the library does not
    define (a notebook's own) keeps every field.
    """
    if section not in config:
        return None
    return without_defaults(as_json(config[section]), library_defaults().get(section))


def as_json(value):
    """``value`` (a ConfigDict, tuple, number, ...) as parsed JSON: dicts, lists, scalars."""
    if isinstance(value, ml_collections.ConfigDict):
        return json.loads(value.to_json(sort_keys=True))
    return json.loads(json.dumps(value))


def without_defaults(value, default):
    """``value`` less the dict fields equal to their ``default`` (recursively)."""
    if not isinstance(value, dict) or not isinstance(default, dict):
        return value
    return {key: without_defaults(item, default.get(key)) for key, item in value.items()
            if key not in default or item != default[key]}


@functools.cache
def library_defaults() -> dict:
    """``base_config()`` as JSON values (cached: the library's defaults do not change)."""
    return as_json(base_config())


def check_late_reads(name: str, reads: ConfigReads, identity: GroupIdentity) -> None:
    """Raises unless ``run`` read (while traced) only sections ``identity`` covers.

    Raises:
      RuntimeError: naming the method and the sections it read too late; a bug
        of the method: its factory must read them, so that its rows'
        fingerprint covers them.
    """
    uncovered = sorted((reads.late or set()) - identity.sections)
    if uncovered:
        raise RuntimeError(
            f"method {name!r} reads config section(s) {', '.join(uncovered)} only while its "
            "run is traced; read them in its factory (make(config, spec)) so that the rows' "
            "fingerprint covers them")



def check_rows(config: ml_collections.ConfigDict, workdir: Path, rows: list[dict],
               expected: dict, saved_json: str | None) -> bool:
    """Refuses rows that ``config`` would not make; says whether some carry no fingerprint.

    Args:
      config: the config of this run.
      workdir: for messages.
      rows: the workdir's rows.
      expected: ``group_key`` -> ``(spec, name, GroupIdentity)`` of every group
        the config runs; rows of other groups are not checked.
      saved_json: the text of ``config.json``, or ``None`` when there is none.
        It names the fields that differ when it reproduces a row's
        fingerprint (it is that run's config), and it is what rows without a
        fingerprint are checked against (``workdir.claim_workdir``).

    Returns:
      Whether any row (of any group) has no fingerprint.

    Raises:
      ConfigError: naming the groups whose rows carry another fingerprint and
        what differs; or when rows without a fingerprint have no ``config.json``
        to be checked against.
    """
    conflicts: dict = {}  # group key -> the fingerprint its rows carry
    legacy = 0
    for row in rows:
        key = group_key(row)
        if "fingerprint" not in row:
            legacy += 1
        elif key in expected and row["fingerprint"] != expected[key][2].fingerprint:
            conflicts.setdefault(key, row["fingerprint"])
    if conflicts:
        saved = saved_config(saved_json) if saved_json is not None else None
        described = [_conflict(config, *expected[key], stored, saved)
                     for key, stored in conflicts.items()]
        more = f"; and {len(described) - 4} more groups" if len(described) > 4 else ""
        raise ConfigError(
            f"workdir {workdir} holds rows made with a different config: "
            f"{'; '.join(described[:4])}{more}. Use a new --workdir, or the config those rows "
            "were made with (seeds, methods and sweep points may be added)")
    if legacy and saved_json is None:
        raise ConfigError(
            f"workdir {workdir} holds {legacy} rows without a fingerprint (written before rows "
            f"had one) and no {CONFIG_FILE} to check them against; put back the {CONFIG_FILE} "
            "they were made with, or use a new --workdir")
    return legacy > 0


def _conflict(config: ml_collections.ConfigDict, spec: DataSpec, name: str,
              identity: GroupIdentity, stored: str,
              saved: ml_collections.ConfigDict | None) -> str:
    """One group's part of the conflict message: the fields that differ, where known.

    The saved config names them when it gives the rows' fingerprint (it is
    the config they were made with); otherwise the message lists what the
    fingerprint covers.
    """
    label = f"{name} at {point_name(spec)}"
    before = None
    if saved is not None:
        try:
            before = point_identities(saved, spec, with_requirements((name,)))[name]
        except (ConfigError, TypeError, ValueError, AttributeError, KeyError):
            pass  # config.json is not a config these methods accept
    if before is not None and before.fingerprint == stored:
        fields = sorted(
            field for section in before.sections | identity.sections
            for field in differing_fields(section_content(saved, section),
                                          section_content(config, section), f"{section}."))
        if fields:
            return f"{label} (this config changes {', '.join(fields)})"
    return (f"{label} (rows fingerprinted {stored}, this config gives {identity.fingerprint}; "
            f"a fingerprint covers the point and sections {', '.join(sorted(identity.sections))})")


def saved_config(text: str) -> ml_collections.ConfigDict:
    """A config from the text of a ``config.json``: JSON lists as tuples, missing fields at
    their library defaults (a field added since that run computes what it computed)."""
    return ml_collections.ConfigDict(_tuples(_merged(library_defaults(), json.loads(text))))


def _merged(defaults, saved):
    if not isinstance(defaults, dict) or not isinstance(saved, dict):
        return saved
    return {**defaults, **{key: _merged(defaults.get(key), value) for key, value in saved.items()}}


def _tuples(value):
    if isinstance(value, dict):
        return {key: _tuples(item) for key, item in value.items()}
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    return value
