"""Deterministic GPU runs: the XLA flag, and that the CLI can still set it when it does."""

import subprocess
import sys
from pathlib import Path

from sparsecomp.run.determinism import enable_deterministic_gpu, with_deterministic_gpu

ROOT = Path(__file__).resolve().parents[2]


def test_the_flag_is_added_to_other_flags_and_a_users_choice_wins():
    assert with_deterministic_gpu("") == "--xla_gpu_deterministic_ops=true"
    assert (with_deterministic_gpu("--xla_dump_to=/tmp/d")
            == "--xla_dump_to=/tmp/d --xla_gpu_deterministic_ops=true")
    chosen = "--xla_gpu_deterministic_ops=false --xla_dump_to=/tmp/d"
    assert with_deterministic_gpu(chosen) == chosen
    environ = {}
    enable_deterministic_gpu(environ)
    enable_deterministic_gpu(environ)  # idempotent
    assert environ == {"XLA_FLAGS": "--xla_gpu_deterministic_ops=true"}


def test_no_backend_starts_before_the_cli_sets_xla_flags():
    """XLA reads XLA_FLAGS when the first backend starts: importing sparsecomp and
    parsing the command line (which loads the config) must not start one."""
    probe = (
        "import sparsecomp.__main__ as cli\n"
        "cli.parse_command_line(['sparsecomp', '--config', 'experiments/quickstart.py:smoke',"
        " '--workdir', 'unused'])\n"
        "from jax._src import xla_bridge\n"
        "print(xla_bridge.backends_are_initialized())\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, check=True)
    assert result.stdout.strip() == "False"
