"""Command line: ``python -m sparsecomp --config experiments/X.py[:arg] --workdir DIR``.

Fields are overridden with ``--config.FIELD=VALUE`` (ml-collections), e.g.
``--config.sweep.num_latents='(100,1000)' --config.seeds='(0,1,2)'``.
"""

from __future__ import annotations

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from sparsecomp.errors import ConfigError
from sparsecomp.report.summary import summarise
from sparsecomp.run import distributed
from sparsecomp.run.trainer import train_and_evaluate

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file[:arg].")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for results, curves and checkpoints.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)  # Orbax logs every file it writes at INFO
    distributed.initialize_from_environment()
    try:
        rows = train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    except ConfigError as error:
        sys.exit(f"sparsecomp: invalid config: {error}")
    if distributed.is_writer():
        print(summarise(rows))


if __name__ == "__main__":
    app.run(main)
