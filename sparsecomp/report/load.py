"""Loading what the report reads: a workdir's files and the reference results.

A workdir holds ``config.json``, ``results.jsonl``, ``metrics.jsonl``,
``runs.jsonl`` and the researcher's ``notes.md`` (``sparsecomp.run.schema``).
Reference files (the paper's, packaged in ``sparsecomp.report.reference``, or
any others) are JSON lists of rows. The workdir's files are read as strictly as a resume reads them
(``sparsecomp.run.workdir.read_jsonl``): a malformed line other than a torn
last one, or a row that ``results.jsonl`` holds twice, is refused with
``WorkdirError`` rather than reading around it. A negative variant tag in a
reference row (their ``lam = -1`` on SAE rows) means "no variant" and is
dropped. Rows without ``method`` (per-SAE diagnostics) and curve rows
(``epoch``/``round``) are skipped with a note.
"""

from __future__ import annotations

import json
from pathlib import Path

from sparsecomp.run.schema import (
    CONFIG_FILE,
    METRICS_FILE,
    NOTES_FILE,
    RESULTS_FILE,
    RUNS_FILE,
    VARIANT_TAGS,
    check_unique_rows,
)
from sparsecomp.run.workdir import read_lines


def load_workdir(workdir: Path) -> tuple[dict, list[dict], list[dict]]:
    """``(config, results rows, curve rows)`` of a workdir (missing files: empty).

    Raises:
      WorkdirError: for a malformed line (but a torn last one) or a duplicated row.
    """
    config_path = workdir / CONFIG_FILE
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    rows = read_lines(workdir / RESULTS_FILE)
    check_unique_rows(rows, workdir / RESULTS_FILE)
    return config, rows, read_lines(workdir / METRICS_FILE)


def load_notes(workdir: Path) -> str:
    """The researcher's ``notes.md`` of the workdir, stripped (absent: empty)."""
    path = workdir / NOTES_FILE
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""


def load_runs(workdir: Path) -> list[dict]:
    """The trainer invocations logged in ``runs.jsonl`` (absent: empty)."""
    return read_lines(workdir / RUNS_FILE)


def load_reference(paths) -> tuple[list[dict], list[str]]:
    """Rows of the reference JSON files, normalised, and notes on what was skipped.

    Skips rows without ``method`` and curve rows (``epoch``/``round``/``step``);
    drops negative variant tags (the reference's "not applicable").

    Args:
      paths: file paths (``str``/``Path``) or packaged files (``Traversable``).
    """
    rows, notes = [], []
    for path in paths:
        source = path if hasattr(path, "read_text") else Path(path)
        data = json.loads(source.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError(f"{source}: a reference file must hold a JSON list of rows")
        no_method = curves = 0
        for row in data:
            if "method" not in row:
                no_method += 1
            elif any(tag in row for tag in ("epoch", "round", "step")):
                curves += 1
            else:
                rows.append({tag: value for tag, value in row.items()
                             if not (tag in VARIANT_TAGS and isinstance(value, (int, float))
                                     and value < 0)})
        if no_method:
            notes.append(f"{source.name}: skipped {no_method} rows without `method` "
                         "(diagnostics)")
        if curves:
            notes.append(f"{source.name}: skipped {curves} curve rows (epoch/round)")
    return rows, notes

