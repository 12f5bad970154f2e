"""The one trainer: a config goes in; rows, curves and checkpoints come out.

For each sweep point the trainer draws the data of all seeds at once, runs
each configured method as one compiled call over the seed axis
(``jit(vmap(run))``, sharded over devices by ``sparsecomp.run.sharding``),
evaluates every seed, then commits the (point, method) group: checkpoint,
curves, and finally the rows (see ``sparsecomp.run.workdir`` for why that order
makes any interruption resumable).

Within a point, ``config.concurrent_methods`` methods run at the same time,
each compiled, run and evaluated in its own thread; a method that builds on
another starts once that one's checkpoint is written. XLA:CPU runs one call
of these small programs on about one core, so two threads on a 2-core CPU
nearly halve a point's time; on an accelerator the calls queue on the device
while compilation and host-side metrics overlap them. Groups are committed in
the configured order whatever order they finish in.

Methods registered with ``same_as`` (``sparsecomp.methods.registry.computed_as``)
are computed once per point: the first of them the point runs is computed
with the factory, required inputs and PRNG key of the method it is the same
as (whether or not that one is configured), and each of them is committed
under its own name, in its configured place, with the same rows but for
``method``.

In a multi-process run (``sparsecomp.run.distributed``) every process runs this
same loop on its share of the seeds, all in the main thread and one method
at a time: running, gathering outputs and saving checkpoints all issue
cross-process collectives (Orbax's barriers are device collectives too), and
every process must issue them in the same order, which a method running in
a worker thread while the main thread commits the previous one does not
guarantee (the likely cause of a two-process hang seen in CI). Process 0
alone writes files and prints; all take part in saving checkpoints.

Process 0 holds the workdir's lock for the whole run
(``sparsecomp.run.workdir.lock_workdir``), so a second run on the same
workdir stops at once, and reads (so validates) every file of the workdir
before it rewrites any. Every new row is stamped with ``versions``
(``sparsecomp.run.provenance``), and ``runs.jsonl`` gets a line for every
invocation that ran something, however it ended (SIGTERM included:
``sparsecomp.run.termination``).
"""

from __future__ import annotations

import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import jax
import ml_collections
import numpy as np

from sparsecomp.data import DataSpec, make_datasets
from sparsecomp.methods.registry import (
    MethodOutput,
    computed_as,
    method_info,
    method_variants,
    rows_per_seed,
    with_requirements,
)
from sparsecomp.metrics.group import clear_programs, evaluate_group
from sparsecomp.metrics.rows import dictionary_curves, plain
from sparsecomp.report.summary import summarise
from sparsecomp.run import checkpoints, distributed, provenance, resume
from sparsecomp.run import workdir as wd
from sparsecomp.run.compilation_cache import COMPILE_LOCK
from sparsecomp.run.identity import (
    GroupIdentity,
    check_late_reads,
    point_identities,
)
from sparsecomp.run.schema import (
    METRICS_FILE,
    RESULTS_FILE,
    RESULTS_TABLE,
    RUNS_FILE,
    TIMING_FIELDS,
    group_key,
    point_name,
    point_tags,
)
from sparsecomp.run.sharding import SeedSharding
from sparsecomp.run.sweep import build_sweep, concurrent_methods, runs_at
from sparsecomp.run.termination import Terminated, sigterm_as_exception
from sparsecomp.run.threads import single_blas_thread


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> list[dict]:
    """Runs every (sweep point, method) of ``config`` not yet finished in ``workdir``.

    Args:
      config: an experiment config (see ``sparsecomp.run.sweep``).
      workdir: directory for ``config.json``, ``results.jsonl``,
        ``metrics.jsonl``, ``results.md`` and ``checkpoints/``.

    Returns:
      All rows of the workdir, finished earlier or now.

    Raises:
      ConfigError: before anything is written, for an invalid config or a
        workdir whose rows were made with a different one (their
        ``fingerprint``: ``sparsecomp.run.identity``); seeds, methods and
        points may be added.
      WorkdirError: before anything is written, when another run holds the
        workdir, or a line of its files (other than a torn last line) is not
        a JSON object, or ``results.jsonl`` holds a row twice.
        A workdir that is a file or where nothing can be written is refused
        the same way.
      Terminated: on SIGTERM (in the main thread), after logging the run.

    OpenBLAS (which jaxlib's CPU LAPACK kernels call) runs on one thread
    until the call returns (``sparsecomp.run.threads``).
    """
    with ExitStack() as held, sigterm_as_exception(), single_blas_thread():
        return _train_and_evaluate(config, Path(workdir), held)


def _train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path,
                        held: ExitStack) -> list[dict]:
    """``train_and_evaluate``; the writer's workdir lock is entered into ``held``."""
    sweep = build_sweep(config)  # everything validated, every method built
    specs = sweep.specs
    seeds = tuple(config.seeds)
    layout = SeedSharding(len(seeds), config.devices)
    single_process = jax.process_count() == 1
    workers = concurrent_methods(config) if single_process else 1
    writer = distributed.is_writer()
    log = print if writer else _silent
    methods = with_requirements(config.methods)
    added = [name for name in methods if name not in config.methods]
    per_seed = {name: rows_per_seed(name, config) for name in methods}
    # What makes each group's rows (the methods were built, and so checked, by build_sweep).
    groups = {
        resume.group_of(spec, name): (spec, name, identity)
        for spec in specs
        for name, identity in point_identities(
            config, spec, [m for m in methods if runs_at(config, m, spec)], sweep.runs).items()
    }
    runs_path = workdir / RUNS_FILE

    def complete(objs):
        """The rows of every (group, seed) with all its rows; other methods' rows all."""
        return wd.complete_groups(objs, resume.seed_of, lambda key: per_seed.get(key[0][1]),
                                  resume.describe_seed)

    if writer:
        wd.check_writable(workdir)
        held.enter_context(wd.lock_workdir(workdir))
        rows = resume.claim(config, workdir, groups, complete, log)
    distributed.barrier("sparsecomp:workdir-claimed")
    if not writer:  # the workdir as process 0 left it
        rows = complete(wd.read_lines(workdir / RESULTS_FILE))
    committed: dict = {}  # group key -> {seed: its rows, in file order}
    for row in rows:
        committed.setdefault(group_key(row), {}).setdefault(row["seed"], []).append(row)
    if added:
        log(f"also running {', '.join(added)}: required by the configured methods", flush=True)

    seed_keys = layout.place(
        jax.vmap(jax.random.key)(np.asarray(layout.pad_seeds(seeds), np.uint32))
    )
    # A group runs when a configured seed has no rows (all of them: a new group, or seeds
    # added to the config); its committed seeds are then recomputed and compared.
    pending = [
        (spec, [m for m in methods if resume.group_of(spec, m) in groups
                and set(seeds) - committed.get(resume.group_of(spec, m), {}).keys()])
        for spec in specs
    ]
    pending = [(spec, todo) for spec, todo in pending if todo]
    total = sum(len(todo) for _, todo in pending)
    log(f"{len(specs)} sweep points x {len(methods)} methods x {len(seeds)} seeds "
          f"on {layout.num_devices} {jax.default_backend()} device(s)"
          + (f" of {jax.process_count()} processes" if jax.process_count() > 1 else "") + "; "
          f"{total} (point, method) groups to run", flush=True)
    environment = provenance.environment()
    stamp = {"versions": environment["versions"]}  # on every new row, never on old ones
    start, done = time.perf_counter(), 0
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    error = None
    try:
        # Several processes: no pool; collectives are issued by the main thread only.
        with ThreadPoolExecutor(max_workers=workers) if single_process else nullcontext() as pool:
            for index, (spec, todo) in enumerate(pending):
                point = point_name(spec)
                # Finished required methods' checkpoints, verified (restored) now: one that
                # is missing or damaged puts its method among those to run, recomputed.
                recomputed = resume.unusable_requirements(workdir, spec, todo, seeds, committed,
                                                          log)
                todo = [m for m in methods if m in todo or m in recomputed]
                total += len(recomputed)
                data = layout.place(make_datasets(seed_keys, spec))
                # The true atoms on the host, once per point: curves of learned dictionaries.
                mixing = layout.unpad(distributed.fetch(data.mixing))
                # computed_as(name) -> the first of the point's methods computed as it,
                # which runs the computation; the others copy its group.
                runner: dict = {}
                for name in todo:
                    runner.setdefault(computed_as(name), name)
                computed: dict = {}

                def inputs_of(name, spec=spec, point=point):
                    """A required method's params, restored (verified) for ``seeds``."""
                    return resume.restore_inputs(workdir, point, name, seeds,
                                                 committed.get(resume.group_of(spec, name), {}))

                def work(name, spec=spec, data=data, mixing=mixing, runner=runner,
                         computed=computed, inputs_of=inputs_of):
                    first = runner[computed_as(name)]
                    if first != name:  # committed before this runs (``waits_for``)
                        return _copy(computed[first], name)
                    identity = groups[resume.group_of(spec, name)][2]
                    computed[name] = _timed_group(
                        lambda: _prepare(spec, name, identity, sweep.runs, seed_keys, data,
                                         inputs_of, layout),
                        lambda prepared: _run_and_evaluate(config, spec, name, identity, seeds,
                                                           mixing, prepared, layout))
                    return computed[name]

                def waits_for(name, runner=runner):
                    first = runner[computed_as(name)]
                    return method_info(name).requires + ((first,) if first != name else ())

                summaries = []
                # closing(): an error while committing also releases the waiting methods.
                with closing(_in_order(pool, work, todo, waits_for)) as results:
                    for finished in results:
                        before = committed.get(resume.group_of(spec, finished.name), {})
                        new_rows, summary = _commit(finished, workdir, writer, seeds, before,
                                                         stamp)
                        rows.extend(new_rows)
                        summaries.append(summary)
                        done += 1
                        log(f"  {point} {summary}", flush=True)
                        resume.report_recomputed(finished, before,
                                                 recomputed.get(finished.name), log)
                if writer:
                    (workdir / RESULTS_TABLE).write_text(summarise(rows, seeds=seeds))
                _release_programs()
                elapsed = time.perf_counter() - start
                eta = elapsed / done * (total - done)
                log(f"[{index + 1}/{len(pending)}] {point} | " + " | ".join(summaries)
                      + f" | elapsed {elapsed:.1f}s, ETA {eta:.1f}s", flush=True)
    except BaseException as caught:
        error = caught
        raise
    finally:
        if pending and writer:
            _log_run(runs_path, {
                "started": started_at, "wall_s": round(time.perf_counter() - start, 1),
                "groups": done, "completed": error is None, "ended": _how_ended(error),
                "devices": layout.num_devices, "concurrent_methods": workers, **environment,
            }, error)
    if writer:
        (workdir / RESULTS_TABLE).write_text(summarise(rows, seeds=seeds))
    return rows


def _release_programs() -> None:
    """Frees the point's compiled programs once it is committed.

    Every XLA:CPU executable keeps memory mappings of its code (25 for a small
    op, about 300 for an evaluation program), and the programs of a point
    (data, each method, the metrics, the eager ops of their shapes) stayed in
    JAX's caches and ``evaluate_group``'s: measured at smoke size, about 2,200
    mappings per point of 4 methods, so a sweep of some 30 points reached
    Linux's default limit of 65,530 (``vm.max_map_count``) and LLVM aborted
    the process ("Unable to allocate section memory"). The next point's
    programs have other shapes anyway; those that do not are loaded again
    from the persistent compilation cache. ``jax.clear_caches`` also empties
    the caches of the caller's own jitted functions (they compile again, or
    load, on their next call).
    """
    jax.clear_caches()
    clear_programs()


def _how_ended(error: BaseException | None) -> str:
    """``runs.jsonl``'s ``ended``: completed, interrupted (SIGINT), terminated
    (SIGTERM) or ``error: <exception type>``."""
    if error is None:
        return "completed"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    if isinstance(error, Terminated):
        return "terminated"
    return f"error: {type(error).__name__}"


def _log_run(path: Path, entry: dict, error: BaseException | None) -> None:
    """Appends the invocation's line to ``runs.jsonl``.

    When the run is already ending in ``error`` (a full disk, say), failing
    to write the line is reported on stderr rather than hiding that error.
    """
    try:
        wd.append_lines(path, [entry])
    except OSError as write_error:
        if error is None:
            raise
        print(f"sparsecomp: could not log the run in {path}: {write_error}", file=sys.stderr)


def _silent(*args, **kwargs) -> None:
    """``print`` for the processes that do not write (multi-process runs)."""


def _in_order(pool: ThreadPoolExecutor | None, work, names: list[str], waits_for):
    """Runs ``work(name)`` for every name on ``pool``; yields the results in order.

    A method waits for the methods ``waits_for(name)`` names (those it
    requires, and the one whose computation it copies; earlier in ``names``)
    to be committed, i.e. for the caller to come back for the next result
    after receiving theirs, so their checkpoints and results exist when it
    uses them. The pool starts work in submission order, so the wait cannot
    deadlock. When a method fails, the methods still waiting are released and
    fail fast.
    Without a pool, each method runs in the caller's thread when the caller
    asks for its result (after committing the previous one).
    """
    if pool is None:
        for name in names:
            yield work(name)
        return
    committed = {name: threading.Event() for name in names}
    aborted = threading.Event()

    def after_requirements(name):
        for requirement in waits_for(name):
            if requirement in committed:
                committed[requirement].wait()
        if aborted.is_set():
            raise RuntimeError(f"{name} not run: an earlier method of the point failed")
        return work(name)

    futures = {name: pool.submit(after_requirements, name) for name in names}
    try:
        for name in names:
            yield futures[name].result()
            committed[name].set()
    except BaseException:
        aborted.set()
        for event in committed.values():
            event.set()
        for future in futures.values():
            future.cancel()
        raise


class _Prepared(NamedTuple):
    """A compiled method call of one point, ready to dispatch."""

    executable: jax.stages.Compiled  # jit(layout.map_seeds(run)) for these arguments
    args: tuple  # (method keys, data[, inputs]), seed axis first, placed by the layout
    restore_s: float  # seconds restoring the required methods' checkpoints (0 if none)
    compile_s: float  # seconds deriving the keys, tracing and compiling (~0 when cached)


class _Finished(NamedTuple):
    """One method's evaluated group of one point, ready to commit."""

    name: str
    point: str  # point_name of the sweep point
    rows: list  # one dict per (seed, variant), seeds in config order
    params: object  # learned parameters (seed axis first) to checkpoint, or None
    curve_lines: list  # metrics.jsonl lines
    timings: dict  # seconds: run_s, eval_s; then all of TIMING_FIELDS (``_timed_group``)
    copy_of: str | None = None  # the method of the point whose computation these are


def _timed_group(prepare, run_and_evaluate) -> _Finished:
    """``run_and_evaluate(prepare())`` with the group's timings in each row.

    Every row of the group gets ``restore_s`` and ``compile_s`` (from
    ``prepare``, plus the evaluation programs' compilation), ``run_s`` and
    ``eval_s`` (from ``run_and_evaluate``) and
    ``wall_s``, measured here around both: the whole group from
    preparing to evaluated, wall clock. Run alone (``concurrent_methods = 1``)
    the four parts add up to ``wall_s``; beside other methods they share the
    machine, so none is a solo timing. Committing (checkpoint and rows) is
    not included.
    """
    tic = time.perf_counter()
    prepared = prepare()
    finished = run_and_evaluate(prepared)
    wall_s = time.perf_counter() - tic
    parts = {**finished.timings, "restore_s": prepared.restore_s, "wall_s": wall_s,
             "compile_s": prepared.compile_s + finished.timings["eval_compile_s"]}
    timings = {field: parts[field] for field in TIMING_FIELDS}
    return finished._replace(rows=[{**row, **timings} for row in finished.rows], timings=timings)


def _copy(finished: _Finished, name: str) -> _Finished:
    """``finished`` (a ``same_as`` computation) as the group of method ``name``."""
    return finished._replace(
        name=name, rows=[{**row, "method": name} for row in finished.rows],
        curve_lines=[{**line, "method": name} for line in finished.curve_lines],
        copy_of=finished.name)


def _prepare(spec: DataSpec, name: str, identity: GroupIdentity, runs: dict, seed_keys,
             data, inputs_of, layout: SeedSharding) -> _Prepared:
    """Compiles one method for all seeds, without running it.

    ``seed_keys`` and ``data`` are padded and placed by ``layout``; so are the
    required methods' parameters (``inputs_of(required)``, restored from
    their checkpoints). The computation is that of ``computed_as(name)``: its
    ``run`` (``runs[computed_as(name), spec]``, built by validation: ``build_sweep``),
    its required inputs, and its PRNG key (the seed's key folded with the
    CRC32 of its name). Tracing it checks that ``run`` reads no config section
    the group's fingerprint (``identity``) does not cover.
    """
    source = computed_as(name)
    info = method_info(source)
    tic = time.perf_counter()
    # Required methods ran earlier (``with_requirements`` orders them first and
    # they are committed before this is prepared), in this process or in an
    # interrupted one: their checkpoints are complete.
    inputs = [
        layout.place(layout.pad({required: inputs_of(required) for required in info.requires}))
    ] if info.requires else []
    restored = time.perf_counter()
    method_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(
        seed_keys, zlib.crc32(source.encode())
    )
    args = (method_keys, data, *inputs)
    run, reads = runs[source, spec]
    with COMPILE_LOCK:
        lowered = jax.jit(layout.map_seeds(run)).lower(*args)
        check_late_reads(name, reads, identity)
        executable = lowered.compile()
    return _Prepared(executable, args, restore_s=restored - tic,
                     compile_s=time.perf_counter() - restored)


def _run_and_evaluate(config, spec: DataSpec, name: str, identity: GroupIdentity, seeds, mixing,
                      prepared: _Prepared, layout: SeedSharding) -> _Finished:
    """Runs one prepared method call and evaluates every seed; writes nothing.

    ``mixing`` is the point's [seeds, m, n] true atoms on the host, padding
    seeds dropped. The metrics are computed where the output is
    (``evaluate_group``). Every row carries the group's fingerprint.

    Each row gets ``run_s``, the compiled call for all seeds until its output
    is ready on the device, and ``eval_s``, everything after it: every seed's
    metrics, fetching the output and the training curves, less the tracing
    and compiling of the evaluation programs, which ``_timed_group`` adds to
    ``compile_s`` (with the other timings).
    """
    tic = time.perf_counter()
    device_output = jax.block_until_ready(prepared.executable(*prepared.args))
    ran = time.perf_counter()
    data = prepared.args[1]
    variants = method_variants(name, config)
    # Every metric of every seed, on the device the output is on (padding seeds dropped).
    evaluation: dict = {}  # compile_s: tracing and compiling the evaluation programs
    metrics = evaluate_group(data, device_output, variants=variants is not None,
                             num_seeds=len(seeds), fetch=distributed.fetch, timings=evaluation,
                             compile_lock=COMPILE_LOCK)
    # The host needs the scalars, params and curves, not the codes (hundreds of MB).
    width = int(device_output.codes_val.shape[-1])
    output = layout.unpad(distributed.fetch(device_output._replace(
        codes_val=None, codes_ood=None, dictionary=None, decoder_bias=None)))

    tags = {**point_tags(spec), "method": name}
    fingerprint = {"fingerprint": identity.fingerprint}
    new_rows = []
    for i, seed in enumerate(seeds):
        seed_output = jax.tree.map(lambda x, i=i: x[i], output)
        for (variant_tags, row_output), row_metrics in zip(
                _variant_outputs(seed_output, variants), metrics[i], strict=True):
            row = {**tags, **variant_tags, "width": width, "seed": seed}
            row.update({key: plain(v) for key, v in (row_output.scalars or {}).items()})
            row.update(row_metrics)
            row.update(fingerprint)
            new_rows.append(row)
    expected = len(seeds) * rows_per_seed(name, config)
    if len(new_rows) != expected:
        raise RuntimeError(f"method {name!r} returned {len(new_rows)} rows, expected {expected}")
    params = output.params if output.params is not None and jax.tree.leaves(output.params) else None
    lines = _curve_lines(tags, seeds, output.curves, mixing) if output.curves else []
    eval_compile_s = evaluation.get("compile_s", 0.0)
    timings = {"run_s": ran - tic, "eval_s": time.perf_counter() - ran - eval_compile_s,
               "eval_compile_s": eval_compile_s}
    return _Finished(name, point_name(spec), new_rows, params, lines, timings)


def _commit(finished: _Finished, workdir: Path, writer: bool, seeds: tuple,
            committed: dict, stamp: dict) -> tuple[list[dict], str]:
    """Writes one evaluated group: checkpoint, curves, then rows (the commit).

    ``committed`` maps the seeds whose rows are already in the workdir to
    those rows: their recomputed rows and curves are not written again
    (``resume.report_recomputed`` compares them). The checkpoint holds every seed
    of ``seeds``. Every process takes part in the checkpoint; only the
    ``writer`` appends. Every row gets the fields of ``stamp`` (``versions``).
    Returns the new rows and the group's progress summary.
    """
    finished = finished._replace(rows=[{**row, **stamp} for row in finished.rows])
    if finished.params is not None:
        checkpoints.save_params(
            checkpoints.checkpoint_dir(workdir, finished.point, finished.name), finished.params,
            seeds)
    new_rows = [row for row in finished.rows if row["seed"] not in committed]
    if writer:
        wd.append_lines(workdir / METRICS_FILE, [line for line in finished.curve_lines
                                                 if line["seed"] not in committed])
        wd.append_lines(workdir / RESULTS_FILE, new_rows)
    label = finished.name + (f" (rows of {finished.copy_of})" if finished.copy_of else "")
    return new_rows, _summary(label, finished.rows, finished.timings["wall_s"])


def _variant_outputs(output: MethodOutput, variants: tuple[str, tuple] | None):
    """``(tags, output)`` per row of one seed's output: one, or one per variant.

    Tags take the config's values (``variants``, exact Python numbers), which
    must be those the method returned in ``output.variants``.
    """
    if variants is None:
        yield {}, output
        return
    tag, values = variants
    returned = np.asarray(output.variants[tag])
    if not np.allclose(returned, np.asarray(values, returned.dtype)):
        raise RuntimeError(f"method returned {tag}={returned.tolist()}, config asks {values}")
    per_variant = output._replace(params=None, curves=None, variants=None)
    for j, value in enumerate(values):
        yield {tag: value}, jax.tree.map(lambda x, j=j: x[j], per_variant)


def _curve_lines(tags: dict, seeds, curves: dict, mixing) -> list[dict]:
    """One JSON object per (seed, logged step); ``mixing``: [seeds, m, n] true matrices."""
    steps = np.asarray(curves["step"])
    lines = []
    values = {name: np.asarray(v) for name, v in curves.items()
              if name not in ("step", "dictionary")}
    if "dictionary" in curves:
        snapshots = np.asarray(curves["dictionary"])
        for name, v in dictionary_curves(mixing, snapshots).items():
            values[name] = v
    for i, seed in enumerate(seeds):
        for j, step in enumerate(steps[i]):
            # Fixed-size curve buffers hold NaN where a run stopped early; strict
            # JSON has no NaN, so those entries (and empty lines) are left out.
            logged = {name: float(v[i, j]) for name, v in values.items() if np.isfinite(v[i, j])}
            if logged:
                lines.append({**tags, "seed": seed, "step": int(step), **logged})
    return lines


def _summary(name: str, rows: list[dict], wall_s: float) -> str:
    """A group's progress line: method, wall time, mean ``mcc_ood``, non-finite seeds."""
    finite = [row["mcc_ood"] for row in rows if not row.get("nonfinite")]
    text = f"{name} {wall_s:.1f}s"
    if finite:
        text += f" mcc_ood={np.mean(finite):.3f}"
    if len(finite) < len(rows):
        bad = [row["seed"] for row in rows if row.get("nonfinite")]
        text += f" NON-FINITE seeds {bad}"
    return text
