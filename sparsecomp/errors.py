"""The one exception type for configurations that the library refuses."""


class ConfigError(ValueError):
    """A configuration value is outside its valid range.

    The message names the field, the value given and the valid range, so the
    command line can print it as one line without a traceback.
    """
