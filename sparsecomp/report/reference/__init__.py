"""The paper's published per-seed results, shipped as package data, found by experiment.

``results/exp_*.json`` are the raw results that the authors of arXiv
2603.28744 published with their PyTorch implementation (MIT licence),
byte for byte (provenance in ``README.md`` beside them). An experiment's files
are ``exp_<experiment>.json``, ``exp_<experiment>_10k.json`` (the same at
n = 10000), ``exp_<experiment>_n<N>.json`` (one per n) and
``exp_<experiment>_diagnostics_n<N>.json`` (per-SAE diagnostics, no ``method``:
the report skips their rows with a note).

A workdir's experiment is read from its directory name: the experiment of
that name, or the longest experiment name the directory name starts with
followed by ``_`` (``results/vary_latents_large`` -> ``vary_latents``). The
config does not record which ``experiments/*.py`` file made it.

``--reference`` of ``python -m sparsecomp.report`` takes a file, ``paper``
(this workdir's experiment) or ``paper:EXPERIMENT`` (``reference_sources``).
"""

from __future__ import annotations

import re
from importlib import resources
from importlib.resources.abc import Traversable

from sparsecomp.errors import ConfigError

PAPER = "paper"  # the ``--reference`` value naming the packaged results
# exp_<experiment><suffix>.json; the suffix kinds in the order their files are read.
_FILE = re.compile(r"^exp_(?P<name>.+?)(?P<suffix>|_10k|_n(?P<n>\d+)"
                   r"|_diagnostics_n(?P<dn>\d+))\.json$")


def results_dir() -> Traversable:
    """The packaged ``results/`` directory (a real directory in a normal install)."""
    return resources.files(__name__) / "results"


def _files() -> dict[str, list[tuple[tuple, Traversable]]]:
    """``{experiment: [(order key, file), ...]}`` over the packaged files."""
    found: dict = {}
    for entry in results_dir().iterdir():
        match = _FILE.match(entry.name)
        if match is None:
            continue
        suffix = match["suffix"]
        kind = (0 if not suffix else 1 if suffix == "_10k" else 3 if match["dn"] else 2)
        order = (kind, int(match["n"] or match["dn"] or 0))
        found.setdefault(match["name"], []).append((order, entry))
    return found


def experiments() -> tuple[str, ...]:
    """Names of the experiments the packaged results cover, sorted."""
    return tuple(sorted(_files()))


def reference_for(experiment: str) -> list[Traversable]:
    """The packaged files of ``experiment``: main, ``_10k``, per n, diagnostics per n.

    Earlier files win where two hold the same (point, method, variant, seed)
    (``sparsecomp.report.aggregate.reference_groups``).

    Raises:
      ConfigError: for an experiment without packaged results, listing those with.
    """
    files = _files().get(experiment)
    if not files:
        raise ConfigError(f"reference: no published results for experiment {experiment!r}; "
                          f"the paper's experiments are {', '.join(experiments())}")
    return [entry for _, entry in sorted(files, key=lambda item: item[0])]


def experiment_of(workdir_name: str) -> str | None:
    """The experiment of a workdir directory name (exact, else longest ``name_`` prefix)."""
    names = experiments()
    if workdir_name in names:
        return workdir_name
    prefixes = [name for name in names if workdir_name.startswith(name + "_")]
    return max(prefixes, key=len) if prefixes else None


def reference_sources(specs, workdir_name: str) -> tuple[list, str | None]:
    """The reference files that ``--reference`` values name, and the experiment used.

    Args:
      specs: ``--reference`` values: a path, ``paper`` or ``paper:EXPERIMENT``;
        empty: the packaged results of the workdir's experiment, if it has any.
      workdir_name: the workdir's directory name (``experiment_of``).

    Returns:
      ``(files, experiment)``: paths and packaged files in order, and the
      experiment whose packaged files are among them (``None``: none are).

    Raises:
      ConfigError: ``paper`` for a workdir whose experiment is unknown, or an
        unknown ``paper:EXPERIMENT``.
    """
    if not specs:
        experiment = experiment_of(workdir_name)
        return (reference_for(experiment) if experiment else []), experiment
    files, used = [], None
    for spec in specs:
        name, colon, experiment = str(spec).partition(":")
        if name != PAPER:
            files.append(spec)
            continue
        if not colon:
            experiment = experiment_of(workdir_name)
            if experiment is None:
                raise ConfigError(
                    f"reference: no experiment matches the workdir name {workdir_name!r}; "
                    f"name one with --reference {PAPER}:EXPERIMENT ({', '.join(experiments())})")
        files += reference_for(experiment)
        used = experiment
    return files, used
