"""Stopping a run cleanly: Ctrl-C cancels running fits, and a killed run leaves no lock.

Snakemake runs the jobs of the default profile as threads of its own process. On
Ctrl-C it stops scheduling and waits for the running jobs, which would otherwise
sample to the end and then be discarded. :func:`install_sigint_handler` makes the
first Ctrl-C also set :data:`rlrecover.cancel.CANCEL`; the fit loops check it between
datasets and while nutpie samples
(:func:`rlrecover.inference.sampling.sample_posteriors`), abort the sampler and raise
:class:`Cancelled`, so the running jobs end within a second. Each finished
dataset was already saved as a checkpoint, so the rerun fits only what is missing.
A second Ctrl-C while fits are still being stopped (or within
:data:`GRACE_SECONDS` of the first) is ignored with a message: leaving the interpreter
under a running nutpie sampler crashes it. A third one interrupts as usual.

A run killed with SIGKILL leaves Snakemake's lock files behind, and the next run
stops with a ``LockException``. :func:`hold_run_lock` takes an operating-system lock
(``flock``) that the kernel releases however the process ends; whoever holds it knows
no other run of this workflow is active in the directory, so leftover Snakemake locks
are stale and :func:`clear_stale_snakemake_locks` removes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from rlrecover.cancel import CANCEL, Cancelled, active_fit, check_cancel, fits_running

__all__ = [
    "CANCEL",
    "GRACE_SECONDS",
    "Cancelled",
    "active_fit",
    "check_cancel",
    "clear_stale_snakemake_locks",
    "hold_run_lock",
    "install_sigint_handler",
]

_RUN_LOCKS: dict[Path, IO[str]] = {}


#: Seconds after the first Ctrl-C in which a second one is ignored: the run is stopping.
GRACE_SECONDS = 10.0


def _handler(previous: Callable | int | None, write: Callable[[str], None]):
    presses: list[float] = []

    def handle(signum, frame):
        now = time.monotonic()
        presses.append(now)
        CANCEL.set()
        if len(presses) == 2 and (fits_running() > 0 or now - presses[0] < GRACE_SECONDS):
            write(
                "rlrecover: still stopping (running fits stop within a second); "
                "press Ctrl-C again only if nothing happens.\n"
            )
            return
        if len(presses) == 1:
            write("rlrecover: stopping the running fits; finished datasets are kept.\n")
        if callable(previous):
            previous(signum, frame)
        else:
            raise KeyboardInterrupt

    return handle


def install_sigint_handler(write: Callable[[str], None] | None = None) -> bool:
    """Make Ctrl-C set :data:`CANCEL` before Python's usual ``KeyboardInterrupt``.

    Parameters
    ----------
    write : callable, optional
        Receives the messages printed on Ctrl-C (default: standard error).

    Returns
    -------
    bool
        False when not called from the main thread (signal handlers can only be set
        there), True otherwise. Installing twice keeps one handler.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    previous = signal.getsignal(signal.SIGINT)
    if getattr(previous, "_rlrecover", False):
        return True
    handle = _handler(previous, write or sys.stderr.write)
    handle._rlrecover = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGINT, handle)
    return True


def hold_run_lock(directory: str | os.PathLike[str]) -> bool:
    """Take the run lock of a working directory for the life of this process.

    Parameters
    ----------
    directory : path-like
        The workflow's working directory; the lock is ``.snakemake/rlrecover.lock``.

    Returns
    -------
    bool
        True if this process holds the lock (now or from an earlier call); False if
        another process holds it, or the file system does not support ``flock``.
    """
    directory = Path(directory).resolve()
    if directory in _RUN_LOCKS:
        return True
    path = directory / ".snakemake" / "rlrecover.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # held open for the life of the process
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _RUN_LOCKS[directory] = handle
    return True


def clear_stale_snakemake_locks(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove Snakemake's lock files left by a run that was killed.

    Call only while holding :func:`hold_run_lock`: then no other run of the workflow is
    active in ``directory``, and any lock file is stale.

    Parameters
    ----------
    directory : path-like
        The workflow's working directory.

    Returns
    -------
    list of pathlib.Path
        The lock files removed.

    Raises
    ------
    RuntimeError
        If this process does not hold the run lock.
    """
    directory = Path(directory).resolve()
    if directory not in _RUN_LOCKS:
        raise RuntimeError("clear_stale_snakemake_locks needs the run lock (hold_run_lock)")
    removed = []
    for lock in sorted((directory / ".snakemake" / "locks").glob("*.lock")):
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
            removed.append(lock)
    return removed
