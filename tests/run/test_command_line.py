"""The config flag through absl's and ml-collections' real parsing, in process.

``tests/test_main.py`` runs the same errors through ``python -m sparsecomp``.
"""

import json
from pathlib import Path

import pytest
from absl import flags

from sparsecomp.run.command_line import define_config_flag, parse_command_line
from sparsecomp.run.sweep import saved_config_json

ROOT = Path(__file__).resolve().parents[2]


def parse(*args, config="experiments/frozen_decoder.py:smoke"):
    """The config of ``--config CONFIG ARGS...``, parsed as ``python -m sparsecomp`` does."""
    argv = ["sparsecomp", "--config", str(ROOT / config), *args]
    flag_values = flags.FlagValues()
    holder = define_config_flag("config", "config file", flag_values=flag_values, sys_argv=argv)
    parse_command_line(argv, flag_values)
    return holder.value


def refusal(*args, **kwargs) -> str:
    """The one line ``parse`` exits with."""
    with pytest.raises(SystemExit) as exit_info:
        parse(*args, **kwargs)
    message = str(exit_info.value.code)
    assert message.startswith("sparsecomp: ") and "\n" not in message
    return message


def test_a_limit_of_any_registered_method_can_be_set():
    config = parse("--config.limits.softplus_adam.num_latents=100",
                   "--config.limits.dl_fista.noise=0.5")
    assert config.limits.softplus_adam.num_latents == 100
    assert config.limits.dl_fista.noise == 0.5
    # config.json holds the limits that are set, as a config that named them would.
    assert json.loads(saved_config_json(config))["limits"] == {
        "softplus_adam": {"num_latents": 100}, "dl_fista": {"noise": 0.5}}
    assert json.loads(saved_config_json(parse()))["limits"] == {}


def test_limits_set_by_the_config_file_can_be_changed_and_extended():
    # dictionary_scaling assigns config.limits whole (a dict, no placeholders).
    config = parse("--config.limits.itkrm.n_samples=400", "--config.limits.itkrm.k=5",
                   config="experiments/dictionary_scaling.py:smoke")
    assert config.limits.itkrm.to_dict() == {"n_samples": 400, "k": 5}
    assert config.limits.dl_fista_resample.n_samples == 200  # the file's, untouched


@pytest.mark.parametrize(
    "args, config, message",
    [
        (("--config.foo=1",), None, "--config.foo: the config has no field 'foo'"),
        (("--config.sae.bath_size=3",), None, "did you mean sae.batch_size?"),
        (("--config.data.k.x=3",), None, "data.k is a value"),
        (("--config.limits.nope.n_samples=3",), None, "limits.nope: unknown method 'nope'"),
        (("--config.limits.dl_fista.c=3",), None, "limits.dl_fista.c: not a limitable field"),
        ((), "experiments/nope.py", "no config file"),
        ((), "experiments/quickstart.py:bogus", "unknown config argument 'bogus'"),
        (("--config.sae.epochs=x",), None, "--config.sae.epochs=x"),  # absl's own message
        (("--nonsense",), None, "Unknown command line flag 'nonsense'"),
    ],
)
def test_user_errors_are_one_line(args, config, message):
    assert message in refusal(*args, **({"config": config} if config else {}))


def test_a_bug_in_a_config_file_keeps_its_traceback(tmp_path):
    buggy = tmp_path / "buggy.py"
    buggy.write_text("def get_config(arg=None):\n    return int('x')\n")
    with pytest.raises(RuntimeError, match="loading the config failed") as error_info:
        parse(config=str(buggy))
    assert isinstance(error_info.value.__cause__, ValueError)
