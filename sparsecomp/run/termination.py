"""SIGTERM as an exception, so that a terminated run ends like an interrupted one.

By default SIGTERM (what ``kill``, schedulers and containers send first) ends
the process at once, skipping ``finally`` blocks: the trainer's last line in
``runs.jsonl`` would be lost. Inside ``sigterm_as_exception`` it raises
``Terminated`` in the main thread instead, which unwinds like
``KeyboardInterrupt`` (SIGINT) does.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class Terminated(BaseException):
    """The process received SIGTERM (a ``BaseException``, like ``KeyboardInterrupt``,
    so that ``except Exception`` does not swallow it)."""


def _raise_terminated(signum, frame):
    raise Terminated("terminated by SIGTERM")


@contextmanager
def sigterm_as_exception():
    """Within the block, SIGTERM raises ``Terminated`` in the main thread.

    The previous handler is restored on exit. Outside the main thread (where
    Python cannot install handlers), or when the current handler was not
    installed from Python (it could not be restored), nothing changes.
    """
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
