"""Whether two workdirs' rows are bitwise equal, group by group (timings and versions aside).

    python benchmarks/compare_rows.py results/vary_latents runs/rerun [--method sae_relu ...]

Compares every (point, method) group both workdirs hold: the rows of each
seed and variant, every field but ``RUN_FIELDS`` (timings, versions). Prints
one line per group, ``equal`` or the fields that differ with the largest
absolute difference, and exits with status 1 when a group differs. This is
how a rerun from ``requirements-lock.txt`` is checked against committed rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sparsecomp.report.load import load_workdir  # noqa: E402
from sparsecomp.run.schema import RUN_FIELDS, group_key, point_label, variant_of  # noqa: E402


def by_group(rows: list[dict], methods) -> dict:
    """``group_key -> {(seed, variant): row}`` of the rows of ``methods`` (all if empty)."""
    groups: dict = {}
    for row in rows:
        if not methods or row["method"] in methods:
            groups.setdefault(group_key(row), {})[row["seed"], variant_of(row)] = row
    return groups


def differences(a: dict, b: dict) -> dict[str, float]:
    """``field -> largest |a - b|`` (inf where not both numbers) over the rows of a group."""
    found: dict[str, float] = {}
    for key in a.keys() | b.keys():
        row_a, row_b = a.get(key, {}), b.get(key, {})
        for field in (row_a.keys() | row_b.keys()) - RUN_FIELDS:
            x, y = row_a.get(field), row_b.get(field)
            if x == y or (field == "fingerprint" and None in (x, y)):
                continue
            numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y))
            found[field] = max(found.get(field, 0.0), abs(x - y) if numbers else float("inf"))
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
