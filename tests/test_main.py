"""``python -m sparsecomp``: user errors end in one line on stderr, before the workdir is touched.

Each case is a subprocess (a JAX import, a few seconds), so only those that
need the real command line are here; ``tests/run/test_command_line.py``
covers the parsing in process, ``tests/run/test_trainer.py`` invalid values.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "config, extra, workdir_is_a_file, message",
    [
        ("experiments/quickstart.py:smoke", ["--config.foo=1"], False, "--config.foo"),
        ("experiments/no_such_file.py", [], False, "experiments/no_such_file.py"),
        ("experiments/quickstart.py:bogus", [], False, "unknown config argument 'bogus'"),
        ("experiments/quickstart.py:smoke", [], True, "is a file"),
    ],
    ids=["unknown_field", "missing_config_file", "get_config_error", "workdir_is_a_file"],
)
def test_user_errors_are_one_line_and_touch_nothing(
        tmp_path, config, extra, workdir_is_a_file, message):
    workdir = tmp_path / "w"
    if workdir_is_a_file:
        workdir.write_text("not a workdir")
    result = subprocess.run(
        [sys.executable, "-m", "sparsecomp", "--config", config, "--workdir", str(workdir),
         "--compilation_cache=", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert result.stderr.startswith("sparsecomp: ") and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""
    if workdir_is_a_file:
        assert workdir.read_text() == "not a workdir"
    else:
        assert not workdir.exists()
    assert len(list(tmp_path.iterdir())) == int(workdir_is_a_file)
