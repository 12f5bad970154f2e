"""The trainer end to end: rows, checkpoints, resumption, shared computations, refused configs,
and the workdir's integrity (strict files, the lock, provenance, how runs end)."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import sparsecomp
from sparsecomp.errors import ConfigError, WorkdirError
from sparsecomp.methods import registry
from sparsecomp.run import checkpoints, trainer
from sparsecomp.run.schema import (
    CONFIG_FILE,
    LOCK_FILE,
    METRICS_FILE,
    RESULTS_FILE,
    RESULTS_TABLE,
    RUNS_FILE,
    TIMING_FIELDS,
    point_name,
)
from sparsecomp.run.termination import Terminated
from sparsecomp.run.workdir import lock_workdir

ROOT = Path(__file__).resolve().parents[2]


def tiny_config():
    from sparsecomp.run.defaults import base_config

    config = base_config()
    config.data.k = 3
    config.data.n_samples = 200
    config.sweep.num_latents = (16, 24)
    config.seeds = (0, 1)
    return config


def _rows(workdir):
    lines = (Path(workdir) / RESULTS_FILE).read_text().splitlines()
    return [json.loads(line) for line in lines]


def _without_timing(rows):
    return sorted(
        json.dumps({k: v for k, v in row.items() if k not in TIMING_FIELDS}, sort_keys=True)
         for row in rows
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    sparsecomp.train_and_evaluate(tiny_config(), workdir)
    return workdir


def test_rows_tags_and_metrics(finished_run):
    rows = _rows(finished_run)
    assert len(rows) == 2 * 2 * 2  # points x methods x seeds
    for row in rows:
        for field in ("num_latents", "k", "input_dim", "width", "n_samples", "seed", "method",
                      "mcc_iid", "mcc_ood", "acc_iid", "acc_ood", "auc_iid", "auc_ood", "wall_s"):
            assert field in row, field
        assert row["width"] == row["num_latents"]
        assert 0 <= row["mcc_ood"] <= 1
    oracle = [row for row in rows if row["method"] == "fista_oracle"]
    assert all("dict_mean_cosine" in row and row["dict_mean_cosine"] > 0.999 for row in oracle)
    assert (Path(finished_run) / "config.json").exists()
    assert "| fista_oracle |" in (Path(finished_run) / RESULTS_TABLE).read_text()


def test_checkpoint_restores_the_learned_probe(finished_run):
    config = tiny_config()
    spec = sparsecomp.make_spec(num_latents=16, k=3, n_samples=200)
    restored = checkpoints.restore_params(
        checkpoints.checkpoint_dir(finished_run, point_name(spec), "linear_probe")
    )
    weights = np.asarray(restored["weights"])
    assert weights.shape == (2, spec.input_dim, 16)  # seed axis first
    keys = jax.vmap(jax.random.key)(np.arange(2, dtype=np.uint32))
    data = sparsecomp.make_datasets(keys, spec)
    run = jax.vmap(sparsecomp.get_method("linear_probe")(config, spec))
    np.testing.assert_allclose(weights, run(keys, data).params["weights"], rtol=1e-5, atol=1e-6)


def test_rerun_on_a_finished_workdir_adds_nothing(finished_run):
    before = _rows(finished_run)
    sparsecomp.train_and_evaluate(tiny_config(), finished_run)
    assert _rows(finished_run) == before
    # runs.jsonl logs the invocation that ran groups, not the one with nothing to do.
    (run,) = [json.loads(line) for line in (finished_run / "runs.jsonl").read_text().splitlines()]
    assert run["completed"] and run["groups"] == 4 and run["wall_s"] > 0
    assert (run["devices"], run["concurrent_methods"]) == (1, 2)


def test_resume_after_interruption_equals_uninterrupted(finished_run, tmp_path, monkeypatch):
    real_commit = trainer._commit
    calls = []

    def interrupted(*args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(1)
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(trainer, "_commit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sparsecomp.train_and_evaluate(tiny_config(), tmp_path)
    assert len(_rows(tmp_path)) == 3 * 2
    # A kill -9 in the middle of the last append leaves a torn line behind.
    with open(tmp_path / RESULTS_FILE, "a") as handle:
        handle.write('{"num_latents": 24, "k": 3, "inp')
    monkeypatch.setattr(trainer, "_commit", real_commit)
    sparsecomp.train_and_evaluate(tiny_config(), tmp_path)
    assert _without_timing(_rows(tmp_path)) == _without_timing(_rows(finished_run))


def test_incomplete_group_is_recomputed(finished_run, tmp_path):
    lines = (finished_run / RESULTS_FILE).read_text().splitlines(keepends=True)
    (tmp_path / RESULTS_FILE).write_text("".join(lines[:-1]))  # last group lost a seed
    (tmp_path / "config.json").write_text((finished_run / "config.json").read_text())
    sparsecomp.train_and_evaluate(tiny_config(), tmp_path)
    assert _without_timing(_rows(tmp_path)) == _without_timing(_rows(finished_run))


def test_one_method_at_a_time_gives_the_same_rows_in_the_same_order(finished_run, tmp_path):
    config = tiny_config()
    config.concurrent_methods = 1
    rows = sparsecomp.train_and_evaluate(config, tmp_path)
    def untimed(rows):
        return [{k: v for k, v in row.items() if k not in TIMING_FIELDS} for row in rows]

    assert untimed(rows) == untimed(_rows(finished_run))
    # How a run executes is not part of what it computes: resuming with
    # another concurrency (or device count) is allowed.
    config.concurrent_methods, config.devices = 2, 1
    assert sparsecomp.train_and_evaluate(config, tmp_path) == rows


def test_a_failing_method_stops_its_dependants_without_hanging(tmp_path):
    @sparsecomp.register_method("test_failing", replace=True)
    def make_failing(config, spec):
        def run(key, data):
            raise ValueError("test_failing broke")

        return run

    @sparsecomp.register_method("test_dependant", requires=("test_failing",), replace=True)
    def make_dependant(config, spec):
        def run(key, data, inputs):
            return sparsecomp.MethodOutput(codes_val=data.z_val, codes_ood=data.z_ood)

        return run

    config = tiny_config()
    config.sweep.num_latents = (16,)
    config.methods = ("test_failing", "test_dependant", "fista_oracle")
    with pytest.raises(ValueError, match="test_failing broke"):
        sparsecomp.train_and_evaluate(config, tmp_path)
    assert not (tmp_path / RESULTS_FILE).exists() or not _rows(tmp_path)


@pytest.mark.parametrize(
    "field, value, message",
    [("sae.batch_size", 0, "sae.batch_size=0"), ("sae.epochs", 0, "sae.epochs=0"),
     # one val and one OOD sample: every MCC would be undefined (null in the rows)
     ("data.n_samples", 2, "n_samples=2")],
)
def test_values_methods_read_are_refused_before_the_workdir_is_made(
        tmp_path, field, value, message):
    config = tiny_config()
    config.methods = ("fista_oracle", "sae_relu")
    section, name = field.split(".")
    config[section][name] = value
    with pytest.raises(ConfigError, match=message):
        sparsecomp.train_and_evaluate(config, tmp_path / "w")
    assert not (tmp_path / "w").exists()  # so the corrected config may use it


def test_an_unwritable_workdir_is_refused_before_anything_runs(finished_run, monkeypatch):
    before = {path: path.read_bytes() for path in finished_run.rglob("*") if path.is_file()}

    def read_only(path, data):  # root ignores permissions: fake a read-only filesystem
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(Path, "write_bytes", read_only)
    with pytest.raises(WorkdirError, match="Read-only file system"):
        sparsecomp.train_and_evaluate(tiny_config(), finished_run)
    assert {path: path.read_bytes() for path in finished_run.rglob("*") if path.is_file()} == before


def test_workdir_with_another_config_is_refused(finished_run):
    config = tiny_config()
    config.fista.lam = 0.2
    with pytest.raises(ConfigError, match="fista.lam"):
        sparsecomp.train_and_evaluate(config, finished_run)


def test_workdir_from_before_a_field_existed_resumes(finished_run, tmp_path):
    workdir = tmp_path / "old"
    shutil.copytree(finished_run, workdir)
    saved = json.loads((workdir / CONFIG_FILE).read_text())
    del saved["dl_fista"]["inner_tol"]  # as written before the field existed
    (workdir / CONFIG_FILE).write_text(json.dumps(saved))
    sparsecomp.train_and_evaluate(tiny_config(), workdir)
    assert _rows(workdir) == _rows(finished_run)  # nothing rerun
    assert json.loads((workdir / CONFIG_FILE).read_text())["dl_fista"]["inner_tol"] == 0.0


@pytest.mark.parametrize(
    "override, message",
    [
        ("--config.data.k=40", "k=40"),
        ("--config.methods=('fista_oracle','no_such_method')", "no_such_method"),
        ("--config.seeds=()", "seeds"),
        ("--config.concurrent_methods=0", "concurrent_methods=0"),
    ],
)
def test_cli_refuses_invalid_configs_without_traceback(tmp_path, override, message):
    workdir = tmp_path / "w"
    result = subprocess.run(
        [sys.executable, "-m", "sparsecomp", "--config", "experiments/quickstart.py:smoke",
         "--workdir", str(workdir), override],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not workdir.exists()


def test_nonfinite_seed_is_flagged_not_averaged(tmp_path, capsys):
    @sparsecomp.register_method("test_diverging", replace=True)
    def make_diverging(config, spec):
        def run(key, data):  # "diverges" on a random half of the seeds
            codes_val = data.z_val * jax.random.uniform(key, ())
            return sparsecomp.MethodOutput(
                codes_val=codes_val,
                codes_ood=data.z_ood,
                scalars={"nonfinite": jax.random.uniform(key, ()) > 0.5},
            )

        return run

    config = tiny_config()
    config.sweep.num_latents = (16,)
    config.methods = ("test_diverging",)
    config.seeds = (0, 1, 2, 3, 4, 5)
    rows = sparsecomp.train_and_evaluate(config, tmp_path)
    bad = [row for row in rows if row["nonfinite"]]
    good = [row for row in rows if not row["nonfinite"]]
    assert bad and good
    assert all("mcc_ood" not in row for row in bad)
    assert all(row["mcc_ood"] > 0.9 for row in good)
    assert "NON-FINITE seeds" in capsys.readouterr().out
    assert f"{len(good)} (+{len(bad)} non-finite)" in (tmp_path / RESULTS_TABLE).read_text()


def test_limits_skip_a_method_at_larger_points(tmp_path):
    config = tiny_config()
    config.limits = {"linear_probe": {"num_latents": 16}}
    rows = sparsecomp.train_and_evaluate(config, tmp_path)
    points = {(row["method"], row["num_latents"]) for row in rows}
    assert points == {("fista_oracle", 16), ("fista_oracle", 24), ("linear_probe", 16)}


@pytest.mark.parametrize(
    "limits, message",
    [({"linear_probe": {"c": 2.0}}, "limits.linear_probe.c"),
     ({"linear_probe": {"n_samples": "many"}}, "limits.linear_probe.n_samples"),
     ({"no_such_method": {"n_samples": 10}}, "no_such_method")],
)
def test_bad_limits_are_refused_naming_the_field(tmp_path, limits, message):
    config = tiny_config()
    config.limits = limits
    with pytest.raises(ConfigError, match=message):
        sparsecomp.train_and_evaluate(config, tmp_path)


def test_a_noise_sweep_gets_a_results_table_per_point(tmp_path, capsys):
    config = tiny_config()
    config.sweep.num_latents = (16,)
    config.sweep.noise = (0.0, 0.1)
    config.methods = ("fista_oracle",)
    rows = sparsecomp.train_and_evaluate(config, tmp_path)
    assert {row.get("noise", 0.0) for row in rows} == {0.0, 0.1}
    table = (tmp_path / RESULTS_TABLE).read_text()
    assert table.count("### ") == 2 and table.count("| fista_oracle | 2 |") == 2
    assert "n_samples=200, noise=0.1\n" in table
    log = capsys.readouterr().out
    assert "_s200 | fista_oracle" in log and "_s200_noise0.1 | fista_oracle" in log


def _register_shared(monkeypatch, counts):
    """``toy_base`` and two methods registered as the same computation, in a scratch registry."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    def make(config, spec):
        counts["factory"] += 1

        def run(key, data):
            counts["traced"] += 1
            scale = jax.random.uniform(key, ())  # the rows depend on the PRNG key
            return sparsecomp.MethodOutput(codes_val=data.z_val * scale,
                                           codes_ood=data.z_ood * scale,
                                           scalars={"scale": scale})

        return run

    registry.register_method("toy_base", replace=True)(make)
    for name in ("toy_copy_a", "toy_copy_b"):
        registry.register_method(name, same_as="toy_base", replace=True)(make)


def test_same_as_methods_are_computed_once_with_the_named_methods_key(tmp_path, monkeypatch):
    counts = {"factory": 0, "traced": 0}
    _register_shared(monkeypatch, counts)
    config = tiny_config()
    config.sweep.num_latents = (16,)
    config.methods = ("toy_copy_a", "fista_oracle", "toy_copy_b")
    rows = sparsecomp.train_and_evaluate(config, tmp_path / "copies")
    assert counts == {"factory": 1, "traced": 1}  # one compiled call for both names
    assert [row["method"] for row in rows] == ["toy_copy_a"] * 2 + ["fista_oracle"] * 2 + [
        "toy_copy_b"] * 2

    def as_method(rows, name):
        return [{**row, "method": "-"} for row in rows if row["method"] == name]

    assert as_method(rows, "toy_copy_a") == as_method(rows, "toy_copy_b")  # timings too
    # toy_base is not configured, yet its key is the one used: the rows are its own.
    config.methods = ("toy_base",)
    base = sparsecomp.train_and_evaluate(config, tmp_path / "base")
    assert _without_timing(as_method(rows, "toy_copy_a")) == _without_timing(
        as_method(base, "toy_base"))
    assert len({row["scale"] for row in base}) == 2  # the seeds' keys differ

    # Resuming: a copy whose rows were lost is computed again, alone, to the same rows.
    workdir = tmp_path / "copies"
    kept = [row for row in _rows(workdir) if row["method"] != "toy_copy_b"]
    (workdir / RESULTS_FILE).write_text("".join(json.dumps(row) + "\n" for row in kept))
    counts.update(factory=0, traced=0)
    config.methods = ("toy_copy_a", "fista_oracle", "toy_copy_b")
    resumed = sparsecomp.train_and_evaluate(config, workdir)
    assert counts == {"factory": 1, "traced": 1}
    assert _without_timing(resumed) == _without_timing(rows)


def test_group_timings_add_up_when_methods_run_one_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @sparsecomp.register_method("test_after_probe", requires=("linear_probe",))
    def make_after_probe(config, spec):
        def run(key, data, inputs):
            weights = inputs["linear_probe"]["weights"]
            return sparsecomp.MethodOutput(codes_val=data.y_val @ weights,
                                           codes_ood=data.y_ood @ weights)

        return run

    config = tiny_config()
    config.sweep.num_latents = (16,)
    config.concurrent_methods = 1
    config.methods = ("fista_oracle", "test_after_probe")  # linear_probe runs first, required
    rows = sparsecomp.train_and_evaluate(config, tmp_path)
    groups = {}
    for row in rows:
        groups.setdefault(row["method"], []).append({f: row[f] for f in TIMING_FIELDS})
    assert set(groups) == {"fista_oracle", "linear_probe", "test_after_probe"}
    for method, timings in groups.items():
        assert all(t == timings[0] for t in timings), method  # one set per group
        t = timings[0]
        assert all(t[f] >= 0 for f in TIMING_FIELDS), t
        # No work hides outside the timed windows (generous bounds: no speed asserts).
        parts = t["compile_s"] + t["run_s"] + t["eval_s"] + t["restore_s"]
        assert parts <= t["wall_s"] * (1 + 1e-6)
        assert parts >= 0.95 * t["wall_s"] - 0.05, t
    assert groups["test_after_probe"][0]["restore_s"] > 0  # the probe's checkpoint
    assert groups["fista_oracle"][0]["restore_s"] < groups["test_after_probe"][0]["restore_s"]
    assert all("metrics_s" not in row for row in rows)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="counts Linux memory mappings")
def test_a_sweep_frees_each_points_programs(finished_run, tmp_path):
    """XLA:CPU executables keep memory mappings; a long sweep must not pile them up.

    Kept across points, each point of this config added ~1,600 mappings, and
    a long sweep ended at the kernel's limit (65,530) with LLVM aborting.
    """
    def mappings():
        return len(Path("/proc/self/maps").read_text().splitlines())

    config = tiny_config()
    config.sweep.num_latents = (10, 12, 14, 18)
    before = mappings()
    sparsecomp.train_and_evaluate(config, tmp_path)
    assert mappings() - before < 1000


# ------------------------------------------------- workdir integrity (issue 22)


def _files(workdir) -> dict:
    """The bytes of every file directly in ``workdir`` but the lock."""
    return {path.name: path.read_bytes() for path in Path(workdir).iterdir()
            if path.is_file() and path.name != LOCK_FILE}


def _copy_of(finished_run, tmp_path):
    """A copy of the finished workdir with curves (its methods log none) of its groups."""
    workdir = tmp_path / "copy"
    shutil.copytree(finished_run, workdir)
    tags = ("num_latents", "k", "input_dim", "n_samples", "method", "seed")
    curves = [{**{tag: row[tag] for tag in tags}, "step": step, "loss": 1.0 / (1 + step)}
              for row in _rows(workdir)[:3] for step in (0, 10)]
    (workdir / METRICS_FILE).write_text("".join(json.dumps(c) + "\n" for c in curves))
    return workdir


def _insert_line(path, index, text):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:index] + [text] + lines[index:]))


@pytest.mark.parametrize("name", [RESULTS_FILE, METRICS_FILE, RUNS_FILE])
def test_a_bad_line_in_the_middle_stops_the_run_and_changes_nothing(finished_run, tmp_path,
                                                                     name):
    workdir = _copy_of(finished_run, tmp_path)
    # The last group lost a row: a repair would rewrite results.jsonl, were it allowed to.
    lines = (workdir / RESULTS_FILE).read_text().splitlines(keepends=True)
    (workdir / RESULTS_FILE).write_text("".join(lines[:-1]))
    _insert_line(workdir / name, 1, '{"method": "fista_oracle", "seed": 0,\n')  # a hand edit
    before = _files(workdir)
    with pytest.raises(WorkdirError, match=rf"{name}:2: not a JSON object .*fix or delete"):
        sparsecomp.train_and_evaluate(tiny_config(), workdir)
    assert _files(workdir) == before


def test_a_line_that_is_not_an_object_is_refused(finished_run, tmp_path):
    workdir = _copy_of(finished_run, tmp_path)
    _insert_line(workdir / RESULTS_FILE, 3, "[1, 2]\n")
    with pytest.raises(WorkdirError, match=rf"{RESULTS_FILE}:4: .*a JSON list"):
        sparsecomp.train_and_evaluate(tiny_config(), workdir)


def test_a_torn_last_line_is_dropped_and_said(finished_run, tmp_path, capsys):
    workdir = _copy_of(finished_run, tmp_path)
    curves = _strict_lines(workdir / METRICS_FILE)
    with open(workdir / METRICS_FILE, "a") as handle:
        handle.write('{"method": "linear_pro')
    sparsecomp.train_and_evaluate(tiny_config(), workdir)
    assert _strict_lines(workdir / METRICS_FILE) == curves
    assert f"{METRICS_FILE}: dropped a torn last line" in capsys.readouterr().out


def test_duplicated_rows_are_refused_not_dropped(finished_run, tmp_path):
    workdir = _copy_of(finished_run, tmp_path)
    lines = (workdir / RESULTS_FILE).read_text().splitlines(keepends=True)
    (workdir / RESULTS_FILE).write_text("".join(lines + lines[:2]))  # two writers, one group
    before = _files(workdir)
    with pytest.raises(WorkdirError, match=rf"{RESULTS_FILE}: lines 1 and 9 hold the same row "
                                           r"\(`fista_oracle` at num_latents=16.*seed 0\)"):
        sparsecomp.train_and_evaluate(tiny_config(), workdir)
    assert _files(workdir) == before


def test_a_second_run_on_a_held_workdir_stops_before_writing(tmp_path):
    workdir = tmp_path / "w"
    with lock_workdir(workdir):
        with pytest.raises(WorkdirError, match=rf"workdir {workdir} is in use by another run "
                                               rf"\(pid {os.getpid()} on host "):
            sparsecomp.train_and_evaluate(tiny_config(), workdir)
        assert _files(workdir) == {}
    # A lock file left behind (a killed run's) does not block.
    (workdir / LOCK_FILE).write_text("pid 999999999 on host gone, since 2020-01-01\n")
    config = tiny_config()
    config.sweep.num_latents = (16,)
    config.methods = ("fista_oracle",)
    assert len(sparsecomp.train_and_evaluate(config, workdir)) == 2


def test_cli_on_a_held_workdir_says_so_in_one_line(tmp_path):
    workdir = tmp_path / "w"
    with lock_workdir(workdir):
        result = subprocess.run(
            [sys.executable, "-m", "sparsecomp", "--config", "experiments/quickstart.py:smoke",
             "--workdir", str(workdir), "--compilation_cache="],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"sparsecomp: workdir {workdir} is in use by another run "
                                     f"({(workdir / LOCK_FILE).read_text().strip()}); wait for "
                                     "it to end or use another --workdir")
    assert _files(workdir) == {}


def _strict_lines(path):
    def refuse(constant):
        raise ValueError(f"{path}: bare {constant}")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


def test_nonfinite_values_are_written_as_null(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @sparsecomp.register_method("test_nan_loss")
    def make(config, spec):
        def run(key, data):
            return sparsecomp.MethodOutput(codes_val=data.z_val, codes_ood=data.z_ood,
                                           scalars={"loss_train": jax.numpy.nan})

        return run

    config = tiny_config()
    config.sweep.num_latents = (16,)
    config.methods = ("test_nan_loss",)
    rows = sparsecomp.train_and_evaluate(config, tmp_path)
    assert [row["loss_train"] for row in rows] == [None, None]
    assert [row["loss_train"] for row in _strict_lines(tmp_path / RESULTS_FILE)] == [None, None]
    for name in (METRICS_FILE, RUNS_FILE):
        if (tmp_path / name).exists():
            _strict_lines(tmp_path / name)


def test_new_rows_and_runs_record_versions_old_rows_stay_unstamped(finished_run, tmp_path):
    rows = _rows(finished_run)
    for row in rows:
        assert set(row["versions"]) >= {"python", "jax", "jaxlib", "numpy", "scipy",
                                        "sparsecomp"}
        assert all(isinstance(value, str) for value in row["versions"].values())
    (run,) = _strict_lines(finished_run / RUNS_FILE)
    assert run["ended"] == "completed" and run["versions"] == rows[0]["versions"]
    assert run["backend"] == "cpu" and run["device_kind"] == jax.devices()[0].device_kind
    assert ("git_dirty" in run) == ("git" in run["versions"])
    # Rows from before versions were recorded are never stamped with today's.
    workdir = _copy_of(finished_run, tmp_path)
    old = [{k: v for k, v in row.items() if k != "versions"} for row in rows[:-2]]
    (workdir / RESULTS_FILE).write_text("".join(json.dumps(row) + "\n" for row in old))
    resumed = sparsecomp.train_and_evaluate(tiny_config(), workdir)
    assert _rows(workdir) == resumed
    assert [row.get("versions") for row in resumed] == [None] * 6 + [rows[0]["versions"]] * 2


def _stopped_after_one_commit(monkeypatch, stop):
    real_commit = trainer._commit
    calls = []

    def commit_then_stop(*args, **kwargs):
        if calls:
            stop()
        calls.append(1)
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(trainer, "_commit", commit_then_stop)


def test_sigterm_ends_the_run_with_a_runs_entry(tmp_path, monkeypatch):
    _stopped_after_one_commit(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGTERM))
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        sparsecomp.train_and_evaluate(tiny_config(), tmp_path)
    assert signal.getsignal(signal.SIGTERM) is handler  # restored
    (run,) = _strict_lines(tmp_path / RUNS_FILE)
    assert (run["ended"], run["completed"], run["groups"]) == ("terminated", False, 1)
    assert len(_rows(tmp_path)) == 2


def test_an_io_error_ends_the_run_with_a_runs_entry(tmp_path, monkeypatch):
    def disk_full():
        raise OSError(errno.ENOSPC, "No space left on device")

    _stopped_after_one_commit(monkeypatch, disk_full)
    with pytest.raises(OSError, match="No space left"):
        sparsecomp.train_and_evaluate(tiny_config(), tmp_path)
    (run,) = _strict_lines(tmp_path / RUNS_FILE)
    assert (run["ended"], run["groups"]) == ("error: OSError", 1)


@pytest.mark.slow
def test_cli_terminated_by_sigterm_logs_the_run_and_says_so_in_one_line(tmp_path):
    workdir = tmp_path / "w"
    command = [sys.executable, "-m", "sparsecomp", "--config", "experiments/quickstart.py:smoke",
               "--workdir", str(workdir), "--compilation_cache="]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        for line in process.stdout:
            if line.startswith("  n30_"):  # the first group is committed
                process.send_signal(signal.SIGTERM)
                break
        stderr = process.communicate(timeout=300)[1]
    assert process.returncode == 143
    assert stderr.strip().splitlines()[-1].startswith("sparsecomp: terminated (SIGTERM)")
    assert "Traceback" not in stderr
    (run,) = _strict_lines(workdir / RUNS_FILE)
    assert run["ended"] == "terminated" and 1 <= run["groups"] < 6
    assert len(_rows(workdir)) == 2 * run["groups"]  # whole groups only
