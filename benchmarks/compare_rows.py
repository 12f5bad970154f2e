"""Whether two workdirs' rows are bitwise equal, group by group (timings and versions aside).

    python benchmarks/compare_rows.py results/vary_latents runs/rerun [--method sae_relu ...]

Compares every (point, method) group both workdirs hold: the rows of each
seed and variant, every field but ``RUN_FIELDS`` (timings, versions). Prints
one line per group, ``equal`` or the fields that differ with the largest
relative difference, and exits with status 1 when a group differs. This is
how a rerun from ``requirements-lock.txt`` is checked against committed rows.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sparsecomp.report.load import load_workdir  # noqa: E402
from sparsecomp.run.resume import row_differences  # noqa: E402
from sparsecomp.run.schema import group_key, point_label  # noqa: E402


def by_group(rows: list[dict], methods) -> dict:
    """``group_key -> [row, ...]`` (file order) of the rows of ``methods`` (all if empty)."""
    groups: dict = {}
    for row in rows:
        if not methods or row["method"] in methods:
            groups.setdefault(group_key(row), []).append(row)
    return groups


def differences(first: list[dict], second: list[dict]) -> dict[str, float]:
    """``field -> largest relative difference`` over a group's rows (``resume.row_differences``;
    ``rows``: inf when the two hold other seeds or numbers of rows)."""
    if not all("fingerprint" in row for row in first + second):  # rows from before fingerprints
        first, second = ([{k: v for k, v in row.items() if k != "fingerprint"} for row in rows]
                         for rows in (first, second))
    by_seed: dict = {}
    for row in first:
        by_seed.setdefault(row["seed"], []).append(row)
    found = {"rows": math.inf} if {r["seed"] for r in second} != by_seed.keys() else {}
    for fields in row_differences(second, by_seed).values():
        for field, rel in fields.items():
            found[field] = max(rel, found.get(field, 0.0))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--method", nargs="*", default=(), help="only these methods")
    args = parser.parse_args()
    first, second = (by_group(load_workdir(path)[1], args.method)
                     for path in (args.first, args.second))
    shared = [key for key in first if key in second]
    differing = 0
    for key in shared:
        (point, method), found = key, differences(first[key], second[key])
        differing += bool(found)
        verdict = ("equal" if not found else "DIFFER: " + ", ".join(
            f"{field} ({delta:.1e})" for field, delta in sorted(found.items())))
        print(f"{method} at {point_label(point)}: {verdict}")
    print(f"{len(shared)} groups in both, {differing} differ")
    sys.exit(1 if differing or not shared else 0)


if __name__ == "__main__":
    main()
