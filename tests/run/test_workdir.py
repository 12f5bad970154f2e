"""The workdir's files: a saved config is completed with new fields at their defaults; lines
are strict JSON, read strictly (only a torn last line is dropped); the lock; a workdir that
cannot be written is refused at once."""

import errno
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sparsecomp.errors import ConfigError, WorkdirError
from sparsecomp.run.schema import CONFIG_FILE, LOCK_FILE
from sparsecomp.run.workdir import (
    JsonLines,
    append_lines,
    check_writable,
    claim_workdir,
    complete_groups,
    lock_workdir,
    read_jsonl,
    read_lines,
    repair,
    rewrite_lines,
)


def test_fields_added_since_a_run_resume_only_at_their_defaults(tmp_path):
    """A workdir from before a config field existed resumes iff the field is at its default."""
    defaults = {"dl_fista": {"lam": 0.1, "inner_tol": 0.0}, "new_group": {"on": False}}
    new = {"dl_fista": {"lam": 0.1, "inner_tol": 0.0}, "new_group": {"on": False}, "devices": 2}
    saved = {"dl_fista": {"lam": 0.1}, "devices": 1}
    (tmp_path / CONFIG_FILE).write_text(json.dumps(saved))
    claim_workdir(tmp_path, json.dumps(new), json.dumps(defaults))
    # Completed; the saved run's execution fields (devices) stay as they were.
    assert json.loads((tmp_path / CONFIG_FILE).read_text()) == {**new, "devices": 1}
    (tmp_path / CONFIG_FILE).write_text(json.dumps(saved))
    off_default = {**new, "dl_fista": {"lam": 0.1, "inner_tol": 1e-4}}
    with pytest.raises(ConfigError, match=r"fields dl_fista\.inner_tol\)"):
        claim_workdir(tmp_path, json.dumps(off_default), json.dumps(defaults))
    assert json.loads((tmp_path / CONFIG_FILE).read_text()) == saved  # untouched


def _strict(text):
    def refuse(constant):
        raise ValueError(f"bare {constant}")

    return [json.loads(line, parse_constant=refuse) for line in text.splitlines()]


def test_lines_are_strict_json_with_nonfinite_values_as_null(tmp_path):
    path = tmp_path / "rows.jsonl"
    append_lines(path, [{"a": float("nan"), "b": [1.0, float("-inf")], "c": {"d": float("inf")}}])
    rewrite_lines(path, read_lines(path) + [{"a": 1.5}])
    assert _strict(path.read_text()) == [{"a": None, "b": [1.0, None], "c": {"d": None}},
                                         {"a": 1.5}]


def test_bare_nan_of_older_files_reads_as_null(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"loss_train": NaN, "x": Infinity}\n')
    assert read_lines(path) == [{"loss_train": None, "x": None}]


@pytest.mark.parametrize("line, reason", [
    ('{"seed": 0,', "Expecting"), ("[1, 2]", "a JSON list, not an object"), ("", "Expecting"),
])
def test_only_a_torn_last_line_may_be_malformed(tmp_path, line, reason):
    path = tmp_path / "rows.jsonl"
    path.write_text(f'{{"seed": 0}}\n{line}\n{{"seed": 1}}\n')
    with pytest.raises(WorkdirError, match=rf"rows.jsonl:2: not a JSON object \({reason}"):
        read_jsonl(path)
    path.write_text(f'{{"seed": 0}}\n{line}')  # the same line, torn: no newline
    assert read_jsonl(path) == JsonLines([{"seed": 0}], torn=bool(line))


def test_invalid_utf8_is_refused_with_its_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"seed": 0}\n{"seed": "\xff"}\n')
    with pytest.raises(WorkdirError, match=r"rows.jsonl:2: not a JSON object \(not UTF-8"):
        read_jsonl(path)


def test_repair_rewrites_only_when_it_drops_something_and_says_what(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"g": 1}\n{"g": 1}\n{"g": 2}\n{"g"')
    said = []
    kept = repair(path, read_jsonl(path),
                  lambda objs: complete_groups(objs, lambda row: row["g"], 2),
                  log=lambda text, **kwargs: said.append(text))
    assert kept == [{"g": 1}, {"g": 1}] and read_lines(path) == kept
    assert said == [f"{path}: dropped 1 line(s) of unfinished groups and a torn last line, "
                    "left by an interrupted run"]
    before = path.stat().st_mtime_ns
    repair(path, read_jsonl(path), list, log=said.append)
    assert path.stat().st_mtime_ns == before and len(said) == 1


def test_the_lock_refuses_a_second_holder_and_is_released_on_exit(tmp_path):
    workdir = tmp_path / "w"
    with lock_workdir(workdir):
        holder = (workdir / LOCK_FILE).read_text().strip()
        assert holder.startswith(f"pid {os.getpid()} on host ")
        in_use = rf"is in use by another run \({re.escape(holder)}\)"
        with pytest.raises(WorkdirError, match=in_use):
            with lock_workdir(workdir):
                pass
    with pytest.raises(RuntimeError), lock_workdir(workdir):
        raise RuntimeError  # released however the block ends
    with lock_workdir(workdir):
        pass


def test_a_lock_held_by_another_process_is_refused(tmp_path):
    code = ("import sys, time; from pathlib import Path; "
            "from sparsecomp.run.workdir import lock_workdir\n"
            "with lock_workdir(Path(sys.argv[1])):\n"
            "    print('held', flush=True); sys.stdin.read()")
    with subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(WorkdirError, match=rf"\(pid {holder.pid} on host "), \
                lock_workdir(tmp_path):
            pass
        holder.stdin.close()  # the holder exits, the OS releases its lock
        holder.wait(timeout=60)
    with lock_workdir(tmp_path):
        pass


def test_a_workdir_that_is_a_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises(WorkdirError, match=f"cannot use workdir {path}: File exists"), \
            lock_workdir(path):
        pass


def test_check_writable_creates_the_workdir_and_leaves_nothing(tmp_path):
    check_writable(tmp_path / "a" / "w")
    assert list((tmp_path / "a" / "w").iterdir()) == []


@pytest.mark.parametrize(
    "where, message",
    [("w", r"workdir .*w is a file"), ("w/sub", r"is not writable \(Not a directory")],
)
def test_a_workdir_under_or_at_a_file_is_refused(tmp_path, where, message):
    (tmp_path / "w").write_text("a file")
    with pytest.raises(WorkdirError, match=message):
        check_writable(tmp_path / where)
    assert (tmp_path / "w").read_text() == "a file"


def test_a_read_only_workdir_is_refused(tmp_path, monkeypatch):
    # Tests may run as root, for whom permissions do not stop a write: fake the filesystem's answer.
    def read_only(path, data):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(Path, "write_bytes", read_only)
    with pytest.raises(WorkdirError, match=r"is not writable \(Read-only file system"):
        check_writable(tmp_path)
