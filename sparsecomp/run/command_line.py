"""The command line's config flag: ``--config FILE[:arg]`` and ``--config.FIELD=VALUE``.

ml-collections' config flag loads the file and applies the overrides; this
module puts a parser in front of it that does what a user of the command line
needs first:

* a config file that does not exist, defines no ``get_config``, or whose
  ``get_config`` raises ``ConfigError`` (an unknown ``:arg``), and an override
  that names no field of the config (``--config.foo=1``), are refused with a
  ``ConfigError`` naming the file or the field; ml-collections would end in a
  traceback;
* ``--config.limits.<method>.<field>=V`` works for every registered method
  and every ``LIMIT_FIELDS`` field, whether or not the config names that
  limit: ml-collections overrides existing fields only, so the parser adds an
  unset limit (``sweep.limit_placeholder``) for each such flag first. Only
  the limits set on the command line are added, so ``config.json`` keeps the
  limits it had.

``parse_command_line`` parses every flag and prints such errors, and absl's
own (an unknown flag, a value that does not parse, a missing ``--workdir``),
as one line ``sparsecomp: ...`` with exit status 1; a bug in a config file
keeps its traceback.
"""

from __future__ import annotations

import difflib
import importlib.machinery
import importlib.util
import re
import sys
from pathlib import Path

import ml_collections
from absl import flags
from ml_collections import config_flags

from sparsecomp.errors import ConfigError
from sparsecomp.run.sweep import check_limit_field, limit_placeholder


class ExperimentConfigParser(flags.ArgumentParser):
    """Loads ``FILE[:arg]`` and prepares it for the command line's ``--<name>.FIELD`` flags."""

    def __init__(self, name: str, sys_argv: list[str] | None = None):
        """Args:
        name: the flag's name (``config``).
        sys_argv: the command line the overrides are read from; ``None``:
          ``sys.argv`` when parsing, as ml-collections reads it.
        """
        self.name = name
        self._sys_argv = sys_argv

    def parse(self, argument: str) -> ml_collections.ConfigDict:
        """The locked config of ``argument``, an unset limit added for each limit override.

        Raises:
          ConfigError: naming the file or the field (absl reports it as an
            ``IllegalFlagValueError`` whose ``__context__`` it is).
        """
        try:
            config = load_config(argument)
        except ConfigError:
            raise
        except (TypeError, ValueError) as error:  # absl would print a bug as one line
            raise RuntimeError(f"--config={argument}: loading the config failed") from error
        argv = sys.argv if self._sys_argv is None else self._sys_argv
        for path in override_paths(self.name, flags.FLAGS.read_flags_from_files(
                argv, force_gnu=False)):
            prepare_override(config, path, self.name)
        config.lock()
        return config

    def flag_type(self) -> str:
        return "config object"


def define_config_flag(
    name: str, help_string: str, flag_values: flags.FlagValues = flags.FLAGS,
    sys_argv: list[str] | None = None,
):
    """``config_flags.DEFINE_config_file(name)`` parsed by ``ExperimentConfigParser``.

    Returns:
      The flag's holder; ``.value`` is the config with the overrides applied.
    """
    holder = config_flags.DEFINE_config_file(name, None, help_string, flag_values=flag_values,
                                             sys_argv=sys_argv)
    flag_values[name].parser = ExperimentConfigParser(name, sys_argv)
    return holder


def parse_command_line(argv: list[str], flag_values: flags.FlagValues = flags.FLAGS) -> list[str]:
    """``flag_values(argv)`` for ``absl.app.run(main, flags_parser=...)``.

    A user error exits with one line ``sparsecomp: <message>`` (status 1):
    the ``ConfigError`` of ``ExperimentConfigParser`` as it is, absl's errors
    with absl's message.

    Returns:
      The arguments that are not flags (the program name first).
    """
    try:
        return flag_values(argv)
    except flags.Error as error:
        cause = error.__context__
        sys.exit(f"sparsecomp: {cause if isinstance(cause, ConfigError) else error}")


def load_config(argument: str) -> ml_collections.ConfigDict:
    """``get_config(arg)`` of the config file of ``argument`` (``FILE[:arg]``), unlocked.

    Raises:
      ConfigError: for a file that does not exist or defines no
        ``get_config``, and a ``ConfigError`` of ``get_config``, naming the file.
    """
    path, colon, arg = argument.partition(":")
    if not Path(path).is_file():
        raise ConfigError(f"--config={argument}: no config file {path}")
    loader = importlib.machinery.SourceFileLoader("sparsecomp_experiment_config", path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    if not callable(getattr(module, "get_config", None)):
        raise ConfigError(f"--config={argument}: {path} defines no get_config(arg=None)")
    try:
        return module.get_config(*([arg] if colon else []))
    except ConfigError as error:
        raise ConfigError(f"--config={argument}: {error}") from None


def override_paths(name: str, argv: list[str]) -> list[str]:
    """The paths of the ``--<name>.PATH[=VALUE]`` flags in ``argv`` (ml-collections' match)."""
    pattern = re.compile(rf"^-{{1,2}}(?:no)?{re.escape(name)}\.([^=]+)")
    return [match.group(1) for arg in argv if (match := pattern.match(arg))]


def prepare_override(config: ml_collections.ConfigDict, path: str, name: str = "config") -> None:
    """Makes ``--<name>.<path>`` an override ml-collections can apply to ``config``.

    ``limits.<method>.<field>`` gets an unset limit where ``config`` has none;
    any other path must name a field of ``config``. Paths with indices
    (``a[0]``) are left to ml-collections.

    Raises:
      ConfigError: for an unknown field, method or limit field, naming the flag.
    """
    parts = path.split(".")
    if any("[" in part for part in parts):
        return
    if parts[0] == "limits" and len(parts) == 3:
        _add_limit(config, *parts[1:])  # its errors name limits.<method>.<field>
    try:
        _check_field(config, parts)
    except ConfigError as error:
        raise ConfigError(f"--{name}.{path}: {error}") from None


def _add_limit(config: ml_collections.ConfigDict, method: str, field: str) -> None:
    """An unset ``config.limits.<method>.<field>`` unless it is there."""
    check_limit_field(method, field)
    if "limits" not in config:
        config.limits = ml_collections.ConfigDict()
    if method not in config.limits:
        config.limits[method] = ml_collections.ConfigDict()
    if field not in config.limits[method]:
        config.limits[method][field] = limit_placeholder(field)


def _check_field(config: ml_collections.ConfigDict, parts: list[str]) -> None:
    """Raises ``ConfigError`` unless ``config.<parts>`` is a field (a close name suggested)."""
    node = config
    for depth, part in enumerate(parts):
        parent = ".".join(parts[:depth]) or "the config"
        if not isinstance(node, ml_collections.ConfigDict):
            raise ConfigError(f"{parent} is a value, not a section with fields")
        if part not in node:
            close = difflib.get_close_matches(part, list(node.keys()), n=1)
            hint = f"; did you mean {'.'.join(parts[:depth] + close)}?" if close else ""
            raise ConfigError(f"{parent} has no field {part!r}{hint}")
        node = node[part]
