"""The files of a run's working directory, written so that no result is lost.

* ``config.json``: the resolved config of the latest run. The workdir's
  identity is in its rows' fingerprints (``sparsecomp.run.identity``); rows
  from before fingerprints are checked against this file (``claim_workdir``).
* ``results.jsonl``: one JSON object per (sweep point, seed, method). All seeds
  of a (point, method) pair are appended in one ``write`` followed by
  ``fsync``, so a kill at any moment leaves at worst a torn last line, which
  ``load_rows`` drops together with any incomplete group.
* ``metrics.jsonl``: training curves, one object per logged step.
* ``runs.jsonl``: one object per trainer invocation (start time, wall seconds,
  groups run, whether it finished, devices and concurrency).

The file names are those of ``sparsecomp.run.schema``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sparsecomp.errors import ConfigError, WorkdirError
from sparsecomp.run.schema import CONFIG_FILE, RESULTS_FILE

# Fields that say how a run executes, not what it computes: a run may resume
# with other values (e.g. on a machine with more devices).
EXECUTION_FIELDS = ("devices", "concurrent_methods")
# Fields that say which (point, method) groups and seeds run, not how a group
# is computed: changing them extends a workdir (or runs a part of it).
EXTENT_FIELDS = ("seeds", "methods", "sweep", "limits", "data")


def claim_workdir(workdir: Path, config_json: str, defaults_json: str = "{}", *,
                  check: bool = True) -> None:
    """Creates ``workdir`` with ``config.json``, or checks and updates the existing one.

    The rows' fingerprints (``sparsecomp.run.identity``) are the workdir's
    identity; ``config.json`` records the latest run's config. The trainer
    asks for the ``check`` only while the workdir holds rows without a
    fingerprint (written before rows had one): they are accepted while the
    saved config agrees with the new one on every field but
    ``EXECUTION_FIELDS`` and ``EXTENT_FIELDS`` (which say which groups and
    seeds run, not how a group is computed), so the saved config keeps
    describing them. A field the saved config lacks (one added to the library
    after that run started) counts as unchanged when the new config holds its
    default (from ``defaults_json``): the saved run computed what that default
    computes.

    The file is then rewritten with the new config, keeping the saved
    ``EXECUTION_FIELDS`` (a rerun on another machine changes nothing), and
    only when that changes it.

    Raises:
      ConfigError: when ``check`` finds a different config.
    """
    path = workdir / CONFIG_FILE
    new_all = json.loads(config_json)
    if path.exists():
        saved_all = json.loads(path.read_text())
        if check:
            saved, new = (
                {key: value for key, value in config.items()
                 if key not in EXECUTION_FIELDS + EXTENT_FIELDS}
                for config in (saved_all, new_all)
            )
            completed = _with_defaults(saved, new, json.loads(defaults_json))
            if completed != new:
                changed = sorted(differing_fields(completed, new))
                raise ConfigError(
                    f"workdir {workdir} holds rows (without fingerprints, from before rows had "
                    f"one) of a run with a different config (fields {', '.join(changed)}); use "
                    "a new --workdir or the saved config"
                )
        new_all = {**new_all, **{key: value for key, value in saved_all.items()
                                 if key in EXECUTION_FIELDS}}
        if new_all == saved_all:
            return
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(new_all, sort_keys=True, indent=2))
    os.replace(tmp, path)


def _with_defaults(saved: dict, new: dict, defaults: dict) -> dict:
    """``saved`` plus the fields only ``new`` has, where ``new`` holds their default."""
    if not isinstance(defaults, dict):
        defaults = {}
    completed = dict(saved)
    for key, value in new.items():
        if key not in saved:
            if key in defaults and value == defaults[key]:
                completed[key] = value
        elif isinstance(saved[key], dict) and isinstance(value, dict):
            completed[key] = _with_defaults(saved[key], value, defaults.get(key))
    return completed


def differing_fields(a, b, prefix=""):
    """Yields the dotted paths (``prefix`` first) where nested dicts ``a`` and ``b`` differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a.keys() | b.keys():
            yield from differing_fields(a.get(key), b.get(key), f"{prefix}{key}.")
    elif a != b:
        yield prefix.rstrip(".")


def append_lines(path: Path, objects: list[dict]) -> None:
    """Appends JSON lines in one write and makes them durable (fsync)."""
    if not objects:
        return
    text = "".join(json.dumps(obj, sort_keys=True) + "\n" for obj in objects)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def read_lines(path: Path) -> list[dict]:
    """Parses a JSONL file, ignoring a torn last line; ``[]`` if it is absent."""
    if not path.exists():
        return []
    objects = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # torn final write
        try:
            objects.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return objects


def rewrite_lines(path: Path, objects: list[dict]) -> None:
    """Atomically replaces a JSONL file's content."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(obj, sort_keys=True) + "\n" for obj in objects))
    os.replace(tmp, path)


def complete_groups(rows: list[dict], group_key, group_size, describe=str) -> list[dict]:
    """The rows of groups (``group_key(row)``) that have all their rows.

    Args:
      group_size: rows of a complete group; an int, or a function of the key
        that may give ``None`` (any number of rows is complete).
      describe: a group's key in words, for the error.

    Raises:
      WorkdirError: for a group with more rows than ``group_size`` (written twice).
    """
    size = group_size if callable(group_size) else lambda key: group_size
    counts: dict = {}
    for row in rows:
        counts[group_key(row)] = counts.get(group_key(row), 0) + 1
    for key, count in counts.items():
        if size(key) is not None and count > size(key):
            raise WorkdirError(
                f"{RESULTS_FILE} holds {count} rows of {describe(key)} where {size(key)} are "
                "expected: written twice (two runs on one workdir?); remove the duplicated lines")
    return [row for row in rows
            if size(group_key(row)) is None or counts[group_key(row)] == size(group_key(row))]


def repair(path: Path, keep) -> list[dict]:
    """Keeps the intact lines of ``path`` for which ``keep(objects)`` says so.

    ``keep`` maps the list of intact objects to the list to retain. The file is
    rewritten only when something was dropped, so an interrupted run resumes
    with exactly its finished groups.
    """
    objects = read_lines(path)
    kept = keep(objects)
    if path.exists() and (len(kept) != len(objects) or not _ends_cleanly(path)):
        rewrite_lines(path, kept)
    return kept


def _ends_cleanly(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    return text == "" or (text.endswith("\n") and len(text.splitlines()) == len(read_lines(path)))
