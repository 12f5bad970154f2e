"""The exception types of user errors: a refused configuration, an unusable workdir."""


class ConfigError(ValueError):
    """A configuration value is outside its valid range.

    The message names the field, the value given and the valid range, so the
    command line can print it as one line without a traceback.
    """


class WorkdirError(ValueError):
    """A workdir cannot be used as it is.

    It is a file, nothing can be written there, another run holds it
    (``workdir.lock``), a line of its files is malformed, or rows are written
    twice. The message names the path (and line), what is wrong and what to
    do, so the command line can print it as one line without a traceback.
    Nothing has been changed in the workdir when it is raised.
    """


def require_int(field: str, value, *, lower: int) -> None:
    """Raises ``ConfigError`` naming ``field`` unless ``value`` is an int >= ``lower``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < lower:
        raise ConfigError(f"{field}={value!r} is invalid: it must be an integer >= {lower}")


def require_choice(field: str, value, choices: tuple) -> None:
    """Raises ``ConfigError`` naming ``field`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{field}={value!r} is invalid: choose one of {choices}")


def require_positive(field: str, value) -> None:
    """Raises ``ConfigError`` naming ``field`` unless ``value`` is a number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{field}={value!r} is invalid: it must be a number > 0")


def require_interval(
    field: str, value, low: float, high: float, *, include_low: bool = False,
    include_high: bool = False,
) -> None:
    """Raises ``ConfigError`` naming ``field`` unless ``value`` is a number between ``low`` and
    ``high`` (each end included only if ``include_low`` / ``include_high``)."""
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    if not (number and (low <= value if include_low else low < value)
            and (value <= high if include_high else value < high)):
        interval = f"{'[' if include_low else '('}{low}, {high}{']' if include_high else ')'}"
        raise ConfigError(f"{field}={value!r} is invalid: it must lie in {interval}")
