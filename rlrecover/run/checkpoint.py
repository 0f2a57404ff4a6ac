"""Per-dataset checkpoints of posterior fits, so an interrupted job loses no finished fit.

A sampling job of one cell samples its datasets one after the other. Snakemake deletes the
outputs of a job that did not finish, so without checkpoints an interruption (Ctrl-C,
SIGKILL, a cluster's time limit) throws away every dataset the job had finished. Each
finished fit is therefore also saved as its own file, named by a digest of everything
its draws depend on: the method, the config sections the job received, the versions of
the sampling libraries, and the dataset's own actions and rewards. A rerun looks each
dataset up first, so it fits only the missing ones, and a file made under another
config, other software or other data is never used. The job deletes its checkpoints
once its outputs are written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from rlrecover.inference.posterior import PosteriorFit, load_fits, save_fits

__all__ = ["Checkpoints"]

# Libraries whose version can change the draws of a given seed.
_SAMPLING_LIBRARIES = ("nutpie", "pymc", "pytensor", "numba", "numpy")


def _versions() -> dict[str, str]:
    out = {}
    for name in _SAMPLING_LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


class Checkpoints:
    """Finished posterior fits of one job, one file per dataset.

    Parameters
    ----------
    directory : path-like
        The job's checkpoint directory (created when the first fit is saved).
    method : str
        The method whose fits are stored (one instance per method).
    context : mapping
        Everything else the draws depend on, JSON-serialisable (the config sections of
        the job). Checkpoints made with another context are ignored.
    """

    def __init__(
        self, directory: str | os.PathLike[str], method: str, context: Mapping[str, Any]
    ) -> None:
        self.directory = Path(directory)
        self.method = method
        text = json.dumps(
            {"method": method, "context": context, "versions": _versions()},
            sort_keys=True,
            default=str,
        )
        self._context = hashlib.sha256(text.encode()).digest()

    def path(self, rep: int, actions: np.ndarray, rewards: np.ndarray) -> Path:
        """The file of one dataset's fit under this context.

        Parameters
        ----------
        rep : int
            Replicate (dataset) number.
        actions, rewards : numpy.ndarray
            The dataset.

        Returns
        -------
        pathlib.Path
            ``<directory>/<method>/rep~<rep>.<digest>.npz``.
        """
        h = hashlib.sha256(self._context)
        h.update(str(int(rep)).encode())
        for x in (actions, rewards):
            h.update(np.ascontiguousarray(x, dtype=np.int64).tobytes())
        return self.directory / self.method / f"rep~{int(rep)}.{h.hexdigest()[:20]}.npz"

    def load(self, rep: int, actions: np.ndarray, rewards: np.ndarray) -> PosteriorFit | None:
        """The saved fit of a dataset, or None if there is none (or it is unreadable).

        Parameters
        ----------
        rep : int
            Replicate number.
        actions, rewards : numpy.ndarray
            The dataset, as it will be fitted.

        Returns
        -------
        PosteriorFit or None
        """
        path = self.path(rep, actions, rewards)
        if not path.exists():
            return None
        try:
            (fit,) = load_fits(path)
        except Exception:  # a damaged checkpoint is refitted, not trusted
            return None
        return fit if fit.key == int(rep) and not fit.error else None

    def save(self, fit: PosteriorFit, actions: np.ndarray, rewards: np.ndarray) -> Path:
        """Save one finished fit (atomically).

        Parameters
        ----------
        fit : PosteriorFit
            The fit; ``key`` is the replicate number.
        actions, rewards : numpy.ndarray
            The dataset it was fitted to.

        Returns
        -------
        pathlib.Path
            The checkpoint file.
        """
        path = self.path(int(fit.key), actions, rewards)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_fits(path, [fit])
        return path

    def clear(self) -> None:
        """Delete this method's checkpoints, and the directories left empty."""
        shutil.rmtree(self.directory / self.method, ignore_errors=True)
        with contextlib.suppress(OSError):
            # Also the parent directories left empty (os.removedirs stops at the
            # first one that is not).
            os.removedirs(self.directory)
