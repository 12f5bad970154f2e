"""Resuming a workdir: claiming it, what its rows and checkpoints say is finished, recomputations.

The unit of completion is a (group, seed): a group's rows of one seed, all
its variants (``seed_of``). On a resume the trainer claims the workdir
(``claim``: every file read strictly, rows checked against the config's
fingerprints, torn lines dropped), runs the groups short of a configured
seed, and recomputes a finished required method whose checkpoint cannot be
used (``unusable_requirements``); ``report_recomputed`` compares what it
computed again with the committed rows.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import jax
import numpy as np

from sparsecomp.data import DataSpec
from sparsecomp.methods.registry import computed_as, method_info
from sparsecomp.run import checkpoints
from sparsecomp.run import workdir as wd
from sparsecomp.run.defaults import base_config
from sparsecomp.run.identity import check_rows
from sparsecomp.run.schema import (
    CONFIG_FILE,
    METRICS_FILE,
    RESULTS_FILE,
    RUN_FIELDS,
    RUNS_FILE,
    check_unique_rows,
    group_key,
    point_label,
    point_name,
    point_tags,
)
from sparsecomp.run.sweep import saved_config_json


def claim(config, workdir: Path, groups: dict, complete, log) -> list[dict]:
    """Checks the workdir's rows against ``config``, claims it, and drops torn groups' lines.

    Refused before anything is written: a line of the workdir's files that is
    not a JSON object (but a torn last one), rows written twice
    (``check_unique_rows``, ``complete``), rows that ``config`` gives another
    fingerprint (``identity.check_rows``).
    Then ``config.json`` is written (``workdir.claim_workdir``, which checks
    it against ``config`` while rows without a fingerprint remain), and the
    lines of (group, seed)s that lack rows (a torn last write) are dropped
    from ``results.jsonl`` and ``metrics.jsonl``.

    Args:
      groups: ``group_key`` -> ``(spec, name, GroupIdentity)`` of the groups ``config`` runs.
      complete: rows -> the rows of complete (group, seed)s.

    Returns:
      The workdir's rows.
    """
    config_path = workdir / CONFIG_FILE
    paths = workdir / RESULTS_FILE, workdir / METRICS_FILE, workdir / RUNS_FILE
    # Every file is read, so validated, before any is written.
    results, metrics, runs = (wd.read_jsonl(path) for path in paths)
    check_unique_rows(results.objects, paths[0])
    legacy = check_rows(config, workdir, results.objects, groups,
                        config_path.read_text() if config_path.exists() else None)
    complete(results.objects)
    wd.claim_workdir(workdir, saved_config_json(config),
                     base_config().to_json(sort_keys=True), check=legacy)
    rows = wd.repair(paths[0], results, complete, log)
    finished = {seed_of(row) for row in rows}
    wd.repair(paths[1], metrics, lambda objs: [o for o in objs if seed_of(o) in finished], log)
    wd.repair(paths[2], runs, list, log)
    return rows


def group_of(spec: DataSpec, name: str) -> tuple:
    """The ``group_key`` of method ``name``'s rows at sweep point ``spec``."""
    return group_key({**point_tags(spec), "method": name})


def seed_of(obj: dict) -> tuple:
    """``(group_key, seed)`` of a row or curve line: the unit completed on resume."""
    return group_key(obj), obj["seed"]


def describe_seed(key: tuple) -> str:
    """``seed_of``'s key in words: ``"fista_oracle at num_latents=16, ..., seed 0"``."""
    (point, method), seed = key
    return f"{method} at {point_label(point)}, seed {seed}"


def unusable_requirements(workdir: Path, spec: DataSpec, todo: list[str], seeds: tuple,
                           committed: dict, log) -> dict[str, str]:
    """The finished required methods of the point's methods to run that must run again.

    Each finished method that a method in ``todo`` requires is restored from
    its checkpoint (and verified: ``restore_inputs``). Returns what was wrong
    (missing, unreadable, corrupt, incomplete) with each checkpoint that could
    not be used, by method. Their rows are committed; rerunning them
    (deterministic: the same keys, the same data) gives their params back,
    and ``report_recomputed`` checks that it gave their rows back too. The
    requirements of a method to recompute are checked in turn.
    """
    point = point_name(spec)
    usable: set = set()
    unusable: dict = {}

    def check(name):
        for required in method_info(computed_as(name)).requires:
            if required in todo or required in usable or required in unusable:
                continue
            try:
                restore_inputs(workdir, point, required, seeds,
                                committed.get(group_of(spec, required), {}))
                usable.add(required)
            except checkpoints.CheckpointError as error:
                unusable[required] = str(error)
                log(f"  checkpoint of {required} at {point} is {error}: recomputing it "
                    "(its rows stay as committed)", flush=True)
                check(required)

    for name in todo:
        check(name)
    return unusable


def restore_inputs(workdir: Path, point: str, name: str, seeds: tuple, committed_seeds):
    """Method ``name``'s checkpointed params at ``point`` for ``seeds`` (seed axis first).

    The checkpoint's seeds are those its checksum file records; a checkpoint
    from before checksums holds those of its group's rows (``committed_seeds``,
    in the order they were written).

    Raises:
      CheckpointError: missing, unreadable or corrupt (``checkpoints.restore_params``),
        or lacking some of ``seeds``.
    """
    directory = checkpoints.checkpoint_dir(workdir, point, name)
    params = checkpoints.restore_params(directory)
    saved = checkpoints.saved_seeds(directory) or tuple(committed_seeds)
    lacking = [seed for seed in seeds if seed not in saved]
    sizes = {np.shape(leaf)[0] for leaf in jax.tree.leaves(params)}
    if lacking or sizes != {len(saved)}:
        raise checkpoints.CheckpointError(
            f"incomplete (it holds seeds {list(saved)}, this run needs {list(seeds)})")
    index = np.asarray([saved.index(seed) for seed in seeds])
    return jax.tree.map(lambda leaf: np.asarray(leaf)[index], params)


def report_recomputed(finished, committed: dict, reason: str | None, log) -> None:
    """Says which committed seeds a group recomputed, and warns if their rows changed.

    Recomputed with the seeds they were computed with, rows must be
    identical (training and evaluation are deterministic). With seeds added,
    the seed axis is longer, and XLA may sum in another order: float32
    rounding (``ROUNDING_RTOL``) is then expected; anything more is warned
    about on stderr. The committed rows are kept either way.

    Args:
      committed: seed -> the rows the workdir held for it.
      reason: why the group ran again although its rows were committed (its
        checkpoint's state), or ``None`` when it ran for seeds added since.
    """
    seeds = [row["seed"] for row in finished.rows]
    redone = [seed for seed in committed if seed in seeds]
    if not redone:
        return
    where = f"{finished.name} at {finished.point}"
    differences = row_differences(finished.rows, committed)
    worst = max((rel for fields in differences.values() for rel in fields.values()), default=0.0)
    same_batch = set(committed) == set(seeds)
    if worst == 0:
        outcome = "identical to the committed ones"
    elif not same_batch and worst <= ROUNDING_RTOL:
        outcome = (f"equal to the committed ones up to float32 rounding, relative {worst:.0e}: "
                   f"a batch of {len(set(seeds))} seeds sums in another order")
    else:
        described = "; ".join(f"seed {seed}: {', '.join(sorted(fields))}"
                              for seed, fields in differences.items())
        print(f"WARNING: the recomputed rows of {where} differ from its committed rows "
              f"({described}): the committed rows are kept, but the checkpoint now holds the "
              "recomputed parameters", file=sys.stderr, flush=True)
        outcome = "DIFFERENT, see the warning"
    if reason is not None:
        log(f"  checkpoint of {where} was {reason}: recomputed (rows {outcome})", flush=True)
    else:
        added = [seed for seed in seeds if seed not in committed]
        log(f"  {where}: seeds {sorted(set(added))} added; seeds {redone} recomputed with "
            f"them (rows {outcome})", flush=True)


# Relative differences of recomputed float32 metrics that rounding explains
# (a longer seed axis reorders XLA's sums: about 1e-7 seen).
ROUNDING_RTOL = 1e-5


def row_differences(rows: list[dict], committed: dict) -> dict:
    """``{seed: {field: relative difference}}`` of the recomputed rows that differ.

    Rows are compared in order (a seed's variants are written in order),
    field by field but for timings and versions; ``fingerprint`` only where
    the committed rows have one; non-finite values (``NaN``, JSON ``null``)
    are equal. A difference that is not between two numbers is ``inf``.
    """
    differences: dict = {}
    for seed, old_rows in committed.items():
        new_rows = [row for row in rows if row["seed"] == seed]
        if not new_rows:
            continue  # a committed seed this run does not compute
        fields = {"rows": math.inf} if len(new_rows) != len(old_rows) else {}
        for new, old in zip(new_rows, old_rows, strict=False):
            ignored = RUN_FIELDS | ({"fingerprint"} if "fingerprint" not in old else set())
            for field in (new.keys() | old.keys()) - ignored:
                rel = _relative_difference(new.get(field), old.get(field))
                if rel > 0:
                    fields[field] = max(rel, fields.get(field, 0.0))
        if fields:
            differences[seed] = fields
    return differences


def _relative_difference(a, b) -> float:
    """0 for equal values (non-finite ones: NaN, None), ``|a - b| / max(|a|, |b|)`` for
    other numbers, ``inf`` otherwise."""
    def nonfinite(x):
        return x is None or (isinstance(x, float) and not math.isfinite(x))

    if a == b or (nonfinite(a) and nonfinite(b)):
        return 0.0
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) and not nonfinite(x)
                  for x in (a, b))
    return abs(a - b) / max(abs(a), abs(b)) if numbers else math.inf
