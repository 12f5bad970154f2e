"""Where a CLI command's time goes: compile, run, evaluate, restore, and the rest.

Runs whole ``python -m sparsecomp`` commands as subprocesses, each in a fresh
temporary workdir, and reads the time split that every row carries
(``sparsecomp.run.schema.TIMING_FIELDS``). Two jobs:

(a) ``sae_topk`` alone at n = 1000 with 32 seeds (one vmapped call)::

      python -m sparsecomp --config experiments/vary_latents.py --workdir W \\
        --config.sweep.num_latents='(1000,)' --config.methods='("sae_topk",)' \\
        --config.seeds='(0, 1, ..., 31)'

(b) the paper's ``vary_latents`` methods at n in (100, 1000), seeds 0-2::

      python -m sparsecomp --config experiments/vary_latents.py --workdir W \\
        --config.sweep.num_latents='(100,1000)' --config.methods='("fista_oracle",
        "linear_probe","sae_relu","sae_topk","sae_jumprelu","sae_MP")'

Each command runs twice with one fresh compilation cache directory: *cold*
(the cache starts empty, everything compiles) and *warm* (the same command
again in a new workdir: every program should load from the cache). Methods
run one at a time (``concurrent_methods = 1``), so each group's parts add up
to its ``wall_s``; ``--concurrent-methods 2`` measures the CLI's default, two
at a time, where the groups overlap.

The first table gives, per job, cache state and method, the median over the
method's groups (sweep points) of ``compile_s``, ``run_s``, ``eval_s``,
``restore_s`` and ``wall_s``. The second gives, per command, its whole wall
time (interpreter and JAX start-up, data generation and commits included),
the groups' ``wall_s`` summed, the rest (the whole minus the groups: start-up,
data, commits), and the programs the command compiled and those it loaded
from the cache (the CLI's ``compilation cache`` line), with the seconds spent
in XLA compilation or cache loads, summed over threads, in brackets.

Run::

    python benchmarks/bench_job.py [--jobs a b] [--epochs 500] [--a-seeds 32]
        [--b-num-latents 100 1000] [--concurrent-methods 1] [--json FILE]

``--epochs`` sets ``sae.epochs`` in both jobs (the protocol's 500 by
default; ``--epochs 50`` for a check on a small CPU); ``--json FILE`` also
writes every measurement as JSON, after each command
(``benchmarks/accelerator_check.sh`` reads it). Medians are over groups, so
(a), one group, reports that group. The cold and warm commands are two runs
of one command: the script says whether their rows are bitwise equal (every
field but timings and versions), the determinism check of a GPU.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's sparsecomp, as the subprocesses use

from sparsecomp.run.schema import (  # noqa: E402
    RESULTS_FILE,
    RUN_FIELDS,
    TIMING_FIELDS,
    point_of,
)

CONFIG = "experiments/vary_latents.py"
B_METHODS = ("fista_oracle", "linear_probe", "sae_relu", "sae_topk", "sae_jumprelu", "sae_MP")
CACHE_LINE = re.compile(
    r"compilation cache .*: (\d+) programs compiled, (\d+) loaded from the cache \(([\d.]+) s\)")


def job_overrides(job: str, args) -> list[str]:
    """The ``--config.*`` overrides of job ``a`` or ``b``."""
    if job == "a":
        seeds, num_latents, methods = tuple(range(args.a_seeds)), (args.a_num_latents,), (
            "sae_topk",)
    else:
        seeds, num_latents, methods = tuple(range(args.b_seeds)), tuple(args.b_num_latents), tuple(
            args.b_methods)
    return [f"--config.sweep.num_latents={num_latents!r}", f"--config.methods={methods!r}",
            f"--config.seeds={seeds!r}", f"--config.sae.epochs={args.epochs}",
            f"--config.concurrent_methods={args.concurrent_methods}"]


def run_command(overrides: list[str], cache: Path, timeout: float) -> dict:
    """Runs one command in a fresh workdir; its wall time, cache counts and group timings."""
    with tempfile.TemporaryDirectory(prefix="bench_job_") as tmp:
        workdir = Path(tmp) / "w"
        command = [sys.executable, "-m", "sparsecomp", "--config", CONFIG, "--workdir",
                   str(workdir), f"--compilation_cache={cache}", *overrides]
        start = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                                timeout=timeout)
        command_s = time.perf_counter() - start
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
        rows = [json.loads(line) for line in (workdir / RESULTS_FILE).read_text().splitlines()]
    counts = CACHE_LINE.search(result.stdout)
    groups: dict = {}
    for row in rows:  # the rows of a group share its timings
        groups.setdefault((point_of(row), row["method"]), row)
    return {
        "command_s": command_s,
        "rows_sha256": rows_digests(rows),
        "programs_compiled": int(counts[1]) if counts else None,
        "programs_loaded": int(counts[2]) if counts else None,
        "xla_compile_s": float(counts[3]) if counts else None,
        "groups": [{"method": method, "num_latents": dict(point)["num_latents"],
                    **{field: row.get(field) for field in TIMING_FIELDS}}
                   for (point, method), row in groups.items()],
    }


def rows_digests(rows: list[dict]) -> dict[str, str]:
    """Per method: SHA-256 of its rows but for timings and versions, in file order.

    Two runs of one command give equal digests exactly when every metric of
    every row is bitwise equal (JSON writes each float's shortest exact form).
    """
    by_method: dict[str, list[dict]] = {}
    for row in rows:
        kept = {k: v for k, v in row.items() if k not in RUN_FIELDS}
        by_method.setdefault(row["method"], []).append(kept)
    return {method: hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()
            for method, kept in by_method.items()}


def medians(groups: list[dict]) -> dict[str, dict]:
    """Per method: the number of groups and the median of each timing field over them."""
    by_method: dict[str, list[dict]] = {}
    for group in groups:
        by_method.setdefault(group["method"], []).append(group)
    return {method: {"groups": len(rows),
                     **{f: statistics.median(r[f] for r in rows) for f in TIMING_FIELDS}}
            for method, rows in by_method.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", nargs="+", choices=("a", "b"), default=["a", "b"])
    parser.add_argument("--epochs", type=int, default=500, help="sae.epochs in both jobs")
    parser.add_argument("--a-seeds", type=int, default=32)
    parser.add_argument("--a-num-latents", type=int, default=1000)
    parser.add_argument("--b-num-latents", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--b-seeds", type=int, default=3)
    parser.add_argument("--b-methods", nargs="+", default=list(B_METHODS))
    parser.add_argument("--concurrent-methods", type=int, default=1,
                        help="config.concurrent_methods: 1 (default) for a split that adds up, "
                             "2 for the CLI's default")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per command")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    results = []
    for job in args.jobs:
        overrides = job_overrides(job, args)
        print(f"({job}) python -m sparsecomp --config {CONFIG} " + " ".join(overrides),
              flush=True)
        with tempfile.TemporaryDirectory(prefix="bench_job_cache_") as cache:
            for state in ("cold", "warm"):
                measured = run_command(overrides, Path(cache), args.timeout)
                results.append({"job": job, "cache": state, "overrides": overrides,
                                **measured, "medians": medians(measured["groups"])})
                print(f"  {state}: {measured['command_s']:.1f} s", flush=True)
                if args.json:  # after every command, so a run cut short keeps what it measured
                    args.json.write_text(json.dumps(
                        {"args": vars(args) | {"json": str(args.json)}, "results": results},
                        indent=1))

    for job in args.jobs:  # the cold and warm runs of a command are two runs of it
        cold, warm = ([r["rows_sha256"] for r in results if r["job"] == job and r["cache"] == c]
                      for c in ("cold", "warm"))
        if cold and warm:
            differ = sorted(m for m in cold[0] if cold[0][m] != warm[0].get(m))
            print(f"({job}) rows of the two runs: "
                  + (f"DIFFER for {', '.join(differ)}" if differ else "bitwise equal"))
    print("\nmedian over each method's groups, seconds\n")
    print("| job | cache | method | groups | " + " | ".join(TIMING_FIELDS) + " |")
    print("|---|---|---|---|" + "---|" * len(TIMING_FIELDS))
    for result in results:
        for method, m in result["medians"].items():
            print(f"| ({result['job']}) | {result['cache']} | {method} | {m['groups']} | "
                  + " | ".join(f"{m[f]:.2f}" for f in TIMING_FIELDS) + " |")
    print("\nwhole commands, seconds\n")
    print("| job | cache | command | groups' wall_s | rest | programs compiled | loaded |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        groups_s = sum(group["wall_s"] for group in result["groups"])
        # Groups that run side by side overlap: their sum is no part of the command.
        rest = f"{result['command_s'] - groups_s:.1f}" if args.concurrent_methods == 1 else "–"
        xla = f" ({result['xla_compile_s']:.1f} s)" if result["xla_compile_s"] is not None else ""
        print(f"| ({result['job']}) | {result['cache']} | {result['command_s']:.1f} | "
              f"{groups_s:.1f} | {rest} | {result['programs_compiled']}{xla} | "
              f"{result['programs_loaded']} |")


if __name__ == "__main__":
    main()
