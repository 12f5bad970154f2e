"""The files of a run's working directory, written so that no result is lost.

* ``config.json``: the resolved config; a rerun with a different one is refused
  (fields added to the library since, at their defaults, are not a difference).
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
from sparsecomp.run.schema import CONFIG_FILE

# Fields that say how a run executes, not what it computes: a run may resume
# with other values (e.g. on a machine with more devices).
EXECUTION_FIELDS = ("devices", "concurrent_methods")


def check_writable(workdir: Path) -> None:
    """Creates ``workdir`` if needed and checks that a file can be written in it.

    Run before anything else touches the workdir, so that a path that is a
    file, a directory without write permission or a read-only filesystem stop
    the run at once, with one line, not after its first group.

    Raises:
      WorkdirError: naming the path and the reason.
    """
    probe = workdir / f".write-check-{os.getpid()}"
    try:
        if workdir.exists() and not workdir.is_dir():
            raise WorkdirError(f"workdir {workdir} is a file, not a directory; choose another "
                               "--workdir")
        workdir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        raise WorkdirError(f"workdir {workdir} is not writable ({error.strerror or error}"
                           f"{where}); choose another --workdir") from None


def claim_workdir(workdir: Path, config_json: str, defaults_json: str = "{}") -> None:
    """Creates ``workdir`` with ``config.json``, or checks the existing one.

    ``EXECUTION_FIELDS`` are left out of the check. A field the saved config
    lacks (one added to the library after that run started) counts as
    unchanged when the new config holds its default (from ``defaults_json``):
    the saved run computed what that default computes. The saved config is
    then completed, so the workdir records every field.

    Raises:
      ConfigError: when the workdir holds a run of a different config.
    """
    path = workdir / CONFIG_FILE
    if path.exists():
        saved_all = json.loads(path.read_text())
        saved, new = (
            {key: value for key, value in config.items() if key not in EXECUTION_FIELDS}
            for config in (saved_all, json.loads(config_json))
        )
        completed = _with_defaults(saved, new, json.loads(defaults_json))
        if completed != new:
            changed = sorted(_differing_fields(completed, new))
            raise ConfigError(
                f"workdir {workdir} holds a run with a different config (fields "
                f"{', '.join(changed)}); use a new --workdir or the saved config"
            )
        if completed == saved:
            return
        # Completed: the saved run's execution fields stay as they were.
        saved_execution = {key: value for key, value in saved_all.items()
                           if key in EXECUTION_FIELDS}
        config_json = json.dumps({**completed, **saved_execution}, sort_keys=True, indent=2)
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(config_json)
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


def _differing_fields(a, b, prefix=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a.keys() | b.keys():
            yield from _differing_fields(a.get(key), b.get(key), f"{prefix}{key}.")
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


def complete_groups(rows: list[dict], group_key, group_size) -> list[dict]:
    """The rows of groups (``group_key(row)``) that have all their rows.

    Args:
      group_size: rows of a complete group; an int, or a function of the key.
    """
    size = group_size if callable(group_size) else lambda key: group_size
    counts: dict = {}
    for row in rows:
        counts[group_key(row)] = counts.get(group_key(row), 0) + 1
    return [row for row in rows if counts[group_key(row)] == size(group_key(row))]


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
