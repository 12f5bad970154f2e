"""The files of a run's working directory, written so that no result is lost.

* ``config.json``: the resolved config of the latest run. The workdir's
  identity is in its rows' fingerprints (``sparsecomp.run.identity``); rows
  from before fingerprints are checked against this file (``claim_workdir``).
* ``results.jsonl``: one JSON object per (sweep point, seed, method). All seeds
  of a (point, method) pair are appended in one ``write`` followed by
  ``fsync``, so a kill at any moment leaves at worst a torn last line (one
  without its newline) and an unfinished last group, which ``repair`` drops.
* ``metrics.jsonl``: training curves, one object per logged step.
* ``runs.jsonl``: one object per trainer invocation (start time, wall seconds,
  groups run, how it ended, versions, devices and concurrency).
* ``workdir.lock``: held (``fcntl.flock``) by the run writing the workdir.

Every line is strict JSON (``allow_nan=False``; a non-finite float is written
as ``null``). Reading is strict too: a line that is not a JSON object stops
the reader with ``file:line`` unless it is the torn last line, so a hand
edit or a sync conflict never makes a resume silently drop the lines after
it. The file names are those of ``sparsecomp.run.schema``.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from sparsecomp.errors import ConfigError, WorkdirError
from sparsecomp.run.schema import CONFIG_FILE, LOCK_FILE, RESULTS_FILE

# Fields that say how a run executes, not what it computes: a run may resume
# with other values (e.g. on a machine with more devices).
EXECUTION_FIELDS = ("devices", "concurrent_methods")
# Fields that say which (point, method) groups and seeds run, not how a group
# is computed: changing them extends a workdir (or runs a part of it).
EXTENT_FIELDS = ("seeds", "methods", "sweep", "limits", "data")


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


@contextmanager
def lock_workdir(workdir: Path) -> Iterator[None]:
    """Holds the workdir's lock (``fcntl.flock`` on ``workdir.lock``) for the block.

    Creates ``workdir`` if needed. The lock is the open file's, so the OS
    releases it however the process ends: a lock file left by a killed run
    does not block. The holder's pid, host and start time are written into
    the file for the message another run gets.

    Raises:
      WorkdirError: at once, when another run (or another open of the lock in
        this process) holds it, or when the workdir cannot be created.
    """
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(workdir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise WorkdirError(f"cannot use workdir {workdir}: {error.strerror or error}"
                           + (f" ({error.filename})" if error.filename else "")) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 256, 0).decode("utf-8", "replace").strip() or "pid unknown"
            raise WorkdirError(
                f"workdir {workdir} is in use by another run ({holder}); wait for it to end "
                "or use another --workdir") from None
        holder = (f"pid {os.getpid()} on host {socket.gethostname()}, since "
                  f"{datetime.now(UTC).isoformat(timespec='seconds')}")
        os.ftruncate(fd, 0)
        os.pwrite(fd, (holder + "\n").encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _json_line(obj: dict) -> str:
    """One line of strict JSON: non-finite floats (at any depth) as ``null``."""
    return json.dumps(_finite_or_none(obj), sort_keys=True, allow_nan=False) + "\n"


def _finite_or_none(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    return value


def append_lines(path: Path, objects: list[dict]) -> None:
    """Appends JSON lines in one write and makes them durable (fsync)."""
    if not objects:
        return
    text = "".join(_json_line(obj) for obj in objects)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


class JsonLines(NamedTuple):
    """The lines of a JSONL file, parsed."""

    objects: list  # one dict per complete line, in order: line i + 1 is objects[i]
    torn: bool  # the file ends in a line without its newline (an interrupted append), left out


def read_jsonl(path: Path) -> JsonLines:
    """Parses a JSONL file strictly; an absent file has no lines.

    Only the last line may be malformed, and only when it has no newline
    (a torn append): it is left out and ``torn`` says so. ``NaN`` and
    ``Infinity``, which older versions wrote, are read as ``None``, as
    non-finite values are written now.

    Raises:
      WorkdirError: naming ``path`` and the line, for any other line that is
        not a JSON object.
    """
    if not path.exists():
        return JsonLines([], False)
    *complete, last = path.read_bytes().split(b"\n")
    return JsonLines([_parse_line(path, number, line) for number, line in enumerate(complete, 1)],
                     torn=bool(last))


def _parse_line(path: Path, number: int, line: bytes) -> dict:
    try:
        obj = json.loads(line.decode("utf-8"), parse_constant=lambda constant: None)
    except UnicodeDecodeError:
        reason = "not UTF-8 text"
    except json.JSONDecodeError as error:
        reason = f"{error.msg} at column {error.colno}"
    else:
        if isinstance(obj, dict):
            return obj
        reason = f"a JSON {type(obj).__name__}, not an object"
    raise WorkdirError(f"{path}:{number}: not a JSON object ({reason}); fix or delete that line "
                       "and run again (nothing was changed)")


def read_lines(path: Path) -> list[dict]:
    """The objects of a JSONL file (``read_jsonl``), a torn last line left out."""
    return read_jsonl(path).objects


def rewrite_lines(path: Path, objects: list[dict]) -> None:
    """Atomically replaces a JSONL file's content."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(_json_line(obj) for obj in objects))
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


def repair(path: Path, lines: JsonLines, keep, log=print) -> list[dict]:
    """Rewrites ``path`` with the objects ``keep(lines.objects)`` retains; returns them.

    ``lines`` is ``read_jsonl(path)``, read (and so validated) before
    anything of the workdir is rewritten. The file is rewritten, and ``log``
    says what was dropped, only when something was: a torn last line, or
    lines ``keep`` leaves out (those of unfinished groups), so an interrupted
    run resumes with exactly its finished groups.
    """
    kept = keep(lines.objects)
    dropped = len(lines.objects) - len(kept)
    if dropped or lines.torn:
        rewrite_lines(path, kept)
        what = [f"{dropped} line(s) of unfinished groups"] if dropped else []
        what += ["a torn last line"] if lines.torn else []
        log(f"{path}: dropped {' and '.join(what)}, left by an interrupted run", flush=True)
    return kept
