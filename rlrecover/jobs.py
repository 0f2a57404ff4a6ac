"""The workflow's jobs as plain functions: what one Snakemake job does, without Snakemake.

Every rule's ``run:`` block is one call of a function here, with plain paths, config
sections and values. With the default workflow profile (``force-use-threads``) the
jobs run as threads of the Snakemake process, so the fit jobs share that process's
compiled models; see the fit rule's docstring in ``workflow/rules/fit.smk`` for the
whole contract. Each job writes its log (one line per step, and the traceback if it
fails) to the rule's ``log:`` file.
"""

from __future__ import annotations

import contextlib
import os
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from rlrecover.summary import read_recovery, summary_columns

__all__ = [
    "aggregate_job",
    "fit_job",
    "plots_job",
    "report_job",
    "simulate_job",
    "single_thread_blas",
    "tables_job",
]

PathLike = str | os.PathLike[str]


@contextlib.contextmanager
def job_log(path: PathLike) -> Iterator[Callable[[str], None]]:
    """Open a job's log; yield ``log(line)``; on an exception, log its traceback and re-raise.

    Parameters
    ----------
    path : path-like
        The rule's log file (overwritten).

    Yields
    ------
    callable
        Writes one line and flushes it, so a running job's log can be followed.
    """
    with open(path, "w", encoding="utf-8") as stream:

        def log(line: str) -> None:
            stream.write(f"{line.rstrip()}\n")
            stream.flush()

        try:
            yield log
        except BaseException:
            log(traceback.format_exc())
            raise


_BLAS_LOCK = threading.Lock()
_BLAS_USERS = 0
_BLAS_ORIGINAL: list[dict[str, Any]] = []


@contextlib.contextmanager
def single_thread_blas() -> Iterator[None]:
    """Limit BLAS and OpenMP pools to one thread while any fit job is running.

    Each fit job uses one core (``threads: 1``) and its BLAS work is tiny; a
    multi-threaded BLAS would only compete with the other jobs for the cores. Jobs may
    run as threads of one process, and the pools are process-wide, so the limit is
    counted: every job sets it on entry (from its own thread), and the last job out
    puts back the sizes the pools had before the first job came in. The Snakemake
    process is left as it was.
    """
    global _BLAS_USERS
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    with _BLAS_LOCK:
        if _BLAS_USERS == 0:
            _BLAS_ORIGINAL[:] = controller.info()
        _BLAS_USERS += 1
        controller.limit(limits=1)
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_USERS -= 1
            if _BLAS_USERS == 0:
                for lib in _BLAS_ORIGINAL:
                    controller.select(filepath=lib["filepath"]).limit(limits=lib["num_threads"])


def simulate_job(
    output: PathLike, sim_config: Mapping[str, Any], truth: Mapping[str, float], log_path: PathLike
) -> None:
    """Simulate every replicate of one grid cell and write its data table.

    Parameters
    ----------
    output : path-like
        The cell's data table (``results/data/...tsv``).
    sim_config : mapping
        The validated config sections a simulation depends on (``seed``, ``task``,
        ``replicates``).
    truth : mapping of str to float
        True value of each parameter (the cell).
    log_path : path-like
        The job's log.
    """
    from rlrecover.config import TaskSettings
    from rlrecover.data import simulate_cell

    with job_log(log_path) as log:
        replicates = int(sim_config["replicates"])
        log(f"simulating {replicates} datasets of {dict(truth)}")
        task = TaskSettings.from_config(sim_config["task"])
        data = simulate_cell(int(sim_config["seed"]), truth, replicates, task)
        data.to_csv(output, sep="\t", index=False)
        log(f"wrote {len(data)} rows to {output}")


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
    with job_log(log_path) as log, single_thread_blas():
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


def aggregate_job(inputs: Sequence[PathLike], output: PathLike, log_path: PathLike) -> None:
    """Stack the fit tables of every method and cell into the recovery table.

    Tables are read as text, so every value is copied exactly (no float re-formatting).

    Parameters
    ----------
    inputs : sequence of path-like
        Fit tables, all with the same columns.
    output : path-like
        ``results/recovery.tsv``.
    log_path : path-like
        The job's log.
    """
    with job_log(log_path) as log:
        frames = []
        columns = None
        for path in inputs:
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
            if columns is None:
                columns = list(frame.columns)
            elif list(frame.columns) != columns:
                raise ValueError(f"{path} has columns {list(frame.columns)}, expected {columns}")
            frames.append(frame)
        recovery = pd.concat(frames, ignore_index=True)
        recovery.to_csv(output, sep="\t", index=False)
        log(f"wrote {len(recovery)} rows from {len(frames)} tables to {output}")


def tables_job(
    recovery_path: PathLike,
    outputs: Mapping[str, PathLike],
    levels: Sequence[float],
    log_path: PathLike,
) -> None:
    """Recovery metrics, coverage, diagnostics and run-time tables of a recovery table.

    Parameters
    ----------
    recovery_path : path-like
        ``results/recovery.tsv``.
    outputs : mapping of str to path-like
        Paths of ``recovery_metrics``, ``coverage``, ``diagnostics`` and ``runtime``.
    levels : sequence of float
        Coverage levels.
    log_path : path-like
        The job's log.
    """
    from rlrecover.analysis import coverage_table, diagnostics, recovery_metrics, runtime_table

    with job_log(log_path) as log:
        recovery = read_recovery(recovery_path)
        log(f"read {len(recovery)} fits")
        tables = {
            "recovery_metrics": recovery_metrics(recovery),
            "coverage": coverage_table(recovery, [float(x) for x in levels]),
            "diagnostics": diagnostics(recovery),
            "runtime": runtime_table(recovery),
        }
        for name, table in tables.items():
            table.to_csv(outputs[name], sep="\t", index=False)
            log(f"wrote {len(table)} rows to {outputs[name]}")


def plots_job(
    recovery_path: PathLike,
    coverage_path: PathLike,
    outputs: Mapping[str, PathLike],
    log_path: PathLike,
) -> None:
    """The recovery plot of each parameter and the coverage plot.

    Parameters
    ----------
    recovery_path : path-like
        ``results/recovery.tsv``.
    coverage_path : path-like
        The coverage table.
    outputs : mapping of str to path-like
        Paths of ``recovery_{param}`` for each parameter and of ``coverage``.
    log_path : path-like
        The job's log.
    """
    from rlrecover.plots import plot_coverage, plot_recovery
    from rlrecover.qlearning import PARAMS

    with job_log(log_path) as log:
        recovery = read_recovery(recovery_path)
        for param in PARAMS:
            path = outputs[f"recovery_{param}"]
            plot_recovery(recovery, param, path)
            log(f"wrote {path}")
        plot_coverage(pd.read_csv(coverage_path, sep="\t"), outputs["coverage"])
        log(f"wrote {outputs['coverage']}")


def report_job(
    output: PathLike,
    tables: Mapping[str, PathLike],
    images: Mapping[str, PathLike],
    config: Mapping[str, Any],
    log_path: PathLike,
) -> None:
    """The self-contained HTML report.

    Parameters
    ----------
    output : path-like
        ``results/report.html``.
    tables : mapping of str to path-like
        Paths of ``recovery`` (the recovery table), ``metrics``, ``coverage``,
        ``diagnostics`` and ``runtime``.
    images : mapping of str to path-like
        Figure files by caption, in display order.
    config : mapping
        The validated config, shown in the report.
    log_path : path-like
        The job's log.
    """
    from rlrecover.report import write_report

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(tables[name], sep="\t")

    with job_log(log_path) as log:
        write_report(
            output,
            config=dict(config),
            recovery=read_recovery(tables["recovery"]),
            metrics=read("metrics"),
            coverage=read("coverage"),
            diagnostics=read("diagnostics"),
            runtime=read("runtime"),
            images=dict(images),
        )
        log(f"wrote {output}")
