"""The run's stop request: what the fit loops check to stop within a second on Ctrl-C.

:data:`CANCEL` is set by the Ctrl-C handler of :mod:`rlrecover.run.interrupt`; the fit
loops call :func:`check_cancel` between datasets and while nutpie samples, and mark
running samplers with :func:`active_fit` so that a second Ctrl-C waits for them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

__all__ = ["CANCEL", "Cancelled", "active_fit", "check_cancel", "fits_running"]

#: Set when the user asked the run to stop (first Ctrl-C).
CANCEL = threading.Event()

_ACTIVE = 0
_ACTIVE_LOCK = threading.Lock()


class Cancelled(Exception):
    """A job stopped because the user asked the run to stop (Ctrl-C)."""


def check_cancel() -> None:
    """Raise :class:`Cancelled` if the run was asked to stop.

    Raises
    ------
    Cancelled
        If :data:`CANCEL` is set.
    """
    if CANCEL.is_set():
        raise Cancelled("stopped on user request (Ctrl-C); finished datasets are kept")


@contextlib.contextmanager
def active_fit() -> Iterator[None]:
    """Mark a sampler as running, so that a second Ctrl-C waits for it to stop."""
    global _ACTIVE
    with _ACTIVE_LOCK:
        _ACTIVE += 1
    try:
        yield
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE -= 1


def fits_running() -> int:
    """How many samplers are running now (inside :func:`active_fit`)."""
    return _ACTIVE
