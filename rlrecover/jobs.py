"""The workflow's jobs as plain functions: what one Snakemake job does, without Snakemake.

The fit rule calls :func:`fit_job` from a ``run:`` block, so that with the default
workflow profile (``force-use-threads``) it runs as a thread of the Snakemake
process and shares that process's compiled models; see the fit rule's docstring in
``workflow/rules/fit.smk`` for the whole contract.
"""

from __future__ import annotations

import contextlib
import os
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from rlrecover.summary import summary_columns

__all__ = ["fit_job", "single_thread_blas"]

_BLAS_LOCK = threading.Lock()
_BLAS_USERS = 0
_BLAS_LIMITER: Any = None


@contextlib.contextmanager
def single_thread_blas() -> Iterator[None]:
    """Limit BLAS and OpenMP pools to one thread while any caller is inside.

    Each fit job uses one core (``threads: 1``), and the BLAS work of a fit is tiny;
    a multi-threaded BLAS would only oversubscribe the cores the other jobs use.
    Several jobs may run as threads of one process and the pools are process-wide,
    so the limit is counted: the first job in sets it, the last one out restores the
    previous sizes.
    """
    global _BLAS_USERS, _BLAS_LIMITER
    from threadpoolctl import threadpool_limits

    with _BLAS_LOCK:
        if _BLAS_USERS == 0:
            _BLAS_LIMITER = threadpool_limits(limits=1)
        _BLAS_USERS += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_USERS -= 1
            if _BLAS_USERS == 0:
                _BLAS_LIMITER.restore_original_limits()
                _BLAS_LIMITER = None


def fit_job(
    data_path: str | os.PathLike[str],
    outputs: Sequence[str | os.PathLike[str]],
    methods: Sequence[str],
    fit_config: Mapping[str, Any],
    truth: Mapping[str, float],
    log_path: str | os.PathLike[str],
) -> None:
    """Fit one grid cell with every configured method; write one table per method.

    Parameters
    ----------
    data_path : path-like
        The cell's datasets (``results/data/...tsv``).
    outputs : sequence of path-like
        One fit table per method, in the order of ``methods``.
    methods : sequence of str
        Fitting methods.
    fit_config : mapping
        The validated config sections a fit depends on (``seed``, ``task``,
        ``priors``, ``sampler``, ``mle``, ``coverage_levels``).
    truth : mapping of str to float
        True value of each parameter (the cell).
    log_path : path-like
        The job's log: one line per dataset, and the traceback if the job fails.

    Raises
    ------
    Exception
        Whatever made the job fail, after its traceback was written to the log.
    """
    from rlrecover.config import Settings
    from rlrecover.fitting import fit_cell

    settings = Settings.from_config(fit_config)
    truth = {p: float(v) for p, v in truth.items()}
    columns = summary_columns(settings.coverage_levels)
    with open(log_path, "w", encoding="utf-8") as stream, single_thread_blas():

        def log(line: str) -> None:
            stream.write(f"{line.rstrip()}\n")
            stream.flush()

        try:
            data = pd.read_csv(data_path, sep="\t")
            cell = ", ".join(f"{p}={v}" for p, v in truth.items())
            for method, path in zip(methods, outputs, strict=True):
                n = data["replicate"].nunique()
                log(f"fitting {n} datasets of {cell} with {method}")
                result = fit_cell(method, data, truth, settings, log)
                if list(result.columns) != columns:
                    raise ValueError(f"fit_cell returned columns {list(result.columns)}")
                result.to_csv(path, sep="\t", index=False)
                log(f"wrote {len(result)} rows to {path}")
        except Exception:
            log(traceback.format_exc())
            raise
