"""SIGTERM as an exception within ``sigterm_as_exception``, the previous handler restored."""

import os
import signal
import threading

import pytest

from sparsecomp.run.termination import Terminated, sigterm_as_exception


def test_sigterm_raises_terminated_inside_and_the_handler_is_restored():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with pytest.raises(Terminated), sigterm_as_exception():
            os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # the previous handler again
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_terminated_is_not_an_exception_that_except_exception_swallows():
    assert not issubclass(Terminated, Exception)


def test_outside_the_main_thread_nothing_changes():
    handlers = []

    def body():
        with sigterm_as_exception():
            handlers.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert handlers == [signal.getsignal(signal.SIGTERM)]
