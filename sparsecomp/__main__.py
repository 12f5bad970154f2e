"""Command line: ``python -m sparsecomp --config experiments/X.py[:arg] --workdir DIR``.

The ``sparsecomp`` console script (``run``) is the same command.

Fields are overridden with ``--config.FIELD=VALUE`` (ml-collections), e.g.
``--config.sweep.num_latents='(100,1000)' --config.seeds='(0,1,2)'``.

``--config.limits.<method>.<field>=V`` works for every registered method.
User errors (an unknown field, a missing config file, an invalid value, a
workdir that is a file or not writable) end in one line ``sparsecomp: ...``
and exit status 1, before anything is written (``sparsecomp.run.command_line``).

JAX's persistent compilation cache is on, so a second run of a command loads
its programs instead of compiling them: ``--compilation_cache DIR`` (or
``SPARSECOMP_COMPILATION_CACHE``) moves it from ``~/.cache/sparsecomp/jax``,
``--compilation_cache=`` turns it off (``sparsecomp.run.compilation_cache``).

GPU runs are deterministic (two runs of a command give bitwise-equal rows):
``--nodeterministic_gpu`` lets XLA use its faster nondeterministic ops
(``sparsecomp.run.determinism``).
"""

from __future__ import annotations

import sys

from absl import app, flags, logging

from sparsecomp.errors import ConfigError, WorkdirError
from sparsecomp.report.summary import summarise
from sparsecomp.run import distributed
from sparsecomp.run.command_line import define_config_flag, parse_command_line
from sparsecomp.run.compilation_cache import (
    CompileCounter,
    cache_dir_from_flag,
    enable_compilation_cache,
)
from sparsecomp.run.determinism import enable_deterministic_gpu
from sparsecomp.run.termination import Terminated
from sparsecomp.run.trainer import train_and_evaluate

_CONFIG = define_config_flag("config", "Experiment config file[:arg].")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for results, curves and checkpoints.")
_CACHE = flags.DEFINE_string(
    "compilation_cache", None,
    "Directory of JAX's persistent compilation cache; empty for none. Default: "
    "$SPARSECOMP_COMPILATION_CACHE, else $JAX_COMPILATION_CACHE_DIR, else "
    "$XDG_CACHE_HOME/sparsecomp/jax (~/.cache/sparsecomp/jax).")
_DETERMINISTIC_GPU = flags.DEFINE_bool(
    "deterministic_gpu", True,
    "Deterministic XLA ops on a GPU (--xla_gpu_deterministic_ops): two runs give bitwise-equal "
    "rows. An XLA_FLAGS that sets that flag itself wins.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)  # Orbax logs every file it writes at INFO
    if _DETERMINISTIC_GPU.value:  # before JAX starts a backend, which reads XLA_FLAGS once
        enable_deterministic_gpu()
    cache_dir = cache_dir_from_flag(_CACHE.value)
    if cache_dir is not None:
        enable_compilation_cache(cache_dir)
    distributed.initialize_from_environment()
    try:
        with CompileCounter() as counter:
            rows = train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    except ConfigError as error:
        sys.exit(f"sparsecomp: invalid config: {error}")
    except WorkdirError as error:
        sys.exit(f"sparsecomp: {error}")
    except Terminated:
        print("sparsecomp: terminated (SIGTERM); the same command resumes the run",
              file=sys.stderr)
        sys.exit(128 + 15)  # the shell's status of a process ended by SIGTERM
    if distributed.is_writer():
        if cache_dir is not None:
            print(f"compilation cache {cache_dir}: {counter.summary()}")
        print(summarise(rows, seeds=tuple(_CONFIG.value.seeds)))


def run() -> None:
    """The ``sparsecomp`` console script, the same as ``python -m sparsecomp``."""
    app.run(main, flags_parser=parse_command_line)


if __name__ == "__main__":
    run()
