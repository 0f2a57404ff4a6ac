"""The workflow's jobs as plain functions: what one Snakemake job does, without Snakemake.

Every rule's ``run:`` block is one call of a function here, with plain paths, config
sections and values. With the default workflow profile (``force-use-threads``) the
jobs run as threads of the Snakemake process, so the fit jobs share that process's
compiled models; see the comment at the top of ``workflow/rules/fit.smk`` for the
whole contract. Each job writes its log (one line per step, and the traceback if it
fails) to the rule's ``log:`` file.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gc
import io
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlrecover.cancel import Cancelled, check_cancel
from rlrecover.summary import params_of, read_recovery, summary_columns

__all__ = [
    "EXACT_COLUMNS",
    "aggregate_job",
    "draw_figures",
    "exact_job",
    "exact_table_job",
    "fit_bayes_job",
    "fit_mle_job",
    "import_for_good",
    "job_log",
    "model_recovery",
    "model_specs",
    "one_blas_thread",
    "plots_job",
    "report_job",
    "sbc_plots_job",
    "sbc_simulate_job",
    "sbc_tables_job",
    "simulate_job",
    "single_thread_blas",
    "summarize_job",
    "summary_table_job",
    "table_or_none",
    "tables_job",
    "warm_up_models",
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
        except Cancelled as exc:
            log(str(exc))
            raise
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


def one_blas_thread() -> None:
    """Give every BLAS pool of this process one thread, for the rest of its life.

    For the Snakemake process of a threaded run, whose jobs are all its threads and
    each declares one thread. OpenBLAS's default pool has a thread per core, and
    after a call the pool's idle threads keep spinning for a while: in such a run
    every small BLAS call of a job (the maximum-likelihood fits' L-BFGS-B, through
    SciPy's own OpenBLAS, above all) kept the other core busy doing nothing. Measured
    on the shipped study from empty caches: the process used 305 core-seconds
    without the limit and 258-269 with it (the MLE jobs 13.4 and 7.2 s); the wall
    time moved only within the machine's noise. SciPy's
    linear algebra is imported first, so that its OpenBLAS, which NumPy's does not
    cover, is loaded and limited too. Call it from the main thread: OpenBLAS ignores
    a size set from another thread once the main thread has set one
    (:func:`single_thread_blas` is for jobs that are processes of their own).
    """
    import scipy.linalg  # noqa: F401  (loads SciPy's OpenBLAS, used by scipy.optimize)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def simulate_job(
    output: PathLike, sim_config: Mapping[str, Any], truth: Mapping[str, float], log_path: PathLike
) -> None:
    """Simulate every replicate of one grid cell and write its data table.

    Parameters
    ----------
    output : path-like
        The cell's data table (``results/data/...tsv``).
    sim_config : mapping
        The validated config sections a simulation depends on (``seed``, ``model``,
        ``task``, ``replicates``).
    truth : mapping of str to float
        True value of each parameter (the cell).
    log_path : path-like
        The job's log.
    """
    from rlrecover.config import Settings
    from rlrecover.data import simulate_cell

    settings = Settings.from_config(sim_config)
    with job_log(log_path) as log:
        replicates = int(sim_config["replicates"])
        log(f"simulating {replicates} datasets of {settings.model.name} at {dict(truth)}")
        data = simulate_cell(settings.model, settings.seed, truth, replicates, settings.task)
        _write_atomically(data, output)
        log(f"wrote {len(data)} rows to {output}")


def _write_atomically(table: pd.DataFrame, path: PathLike) -> None:
    """Write a TSV next to ``path`` and rename it into place.

    A data file is an input that later checks trust, so a job killed while writing it
    must leave no half-written file behind (only no file).
    """
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        table.to_csv(tmp, sep="\t", index=False)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


def _unit_specs(settings, unit: Mapping[str, Any]):
    """What a fit job needs to know of its datasets: ``(spec_of, what, replicates)``.

    ``unit`` is ``{"truth": {param: value}, "replicates": R}`` for a grid cell
    (replicates 0..R-1) or ``{"sbc": (start, stop)}`` for a batch of SBC datasets, whose
    truths are drawn again from the priors with each dataset's own generator.
    """
    from rlrecover.data import sbc_truth
    from rlrecover.fitting import DatasetSpec
    from rlrecover.summary import cell_label

    model = settings.model
    if "sbc" in unit:
        start, stop = (int(i) for i in unit["sbc"])

        def sbc_spec(rep: int) -> DatasetSpec:
            truth = sbc_truth(model, settings.seed, rep, settings.priors)
            return DatasetSpec(truth, "sbc", ("sbc", int(rep)))

        return sbc_spec, f"{model.name} SBC datasets {start}..{stop - 1}", range(start, stop)
    truth = {p: float(unit["truth"][p]) for p in model.param_names}
    cell = cell_label(truth)

    def cell_spec(rep: int) -> DatasetSpec:
        return DatasetSpec(truth, cell, (*truth.values(), int(rep)))

    what = f"{model.name} at " + ", ".join(f"{p}={v}" for p, v in truth.items())
    return cell_spec, what, range(int(unit["replicates"]))


def _checked_data(data_path: PathLike, settings, spec_of, replicates: range) -> pd.DataFrame:
    """The data table, checked against the config: its model, replicates, trials, truths.

    A damaged file fails the job with the file, replicate and problem named.
    """
    from rlrecover.data import check_datasets

    data = pd.read_csv(data_path, sep="\t")
    truths = {rep: spec_of(rep).truth for rep in replicates}
    check_datasets(
        data, settings.model, replicates, settings.task.n_trials, str(data_path), truths
    )
    return data


def _write_table(table: pd.DataFrame, path: PathLike, columns: list[str], log) -> None:
    if list(table.columns) != columns:
        raise ValueError(f"result table has columns {list(table.columns)}, not {columns}")
    table.to_csv(path, sep="\t", index=False)
    log(f"wrote {len(table)} rows to {path}")


def fit_mle_job(
    data_path: PathLike,
    output: PathLike,
    fit_config: Mapping[str, Any],
    unit: Mapping[str, Any],
    log_path: PathLike,
) -> None:
    """Fit the datasets of one grid cell or SBC batch by maximum likelihood.

    Parameters
    ----------
    data_path : path-like
        The datasets (``results/data/...tsv`` or ``results/sbc/data/batch~K.tsv``).
    output : path-like
        The result table (``results/fits/mle/...tsv``).
    fit_config : mapping
        The validated config sections the fit depends on: ``seed``, ``model``, ``task``
        with this job's number of trials, ``mle``, ``coverage_levels`` (the Wald
        intervals), and the model's ``priors`` for SBC (to draw the truths again).
        Nothing of the sampler.
    unit : mapping
        ``{"truth": {param: value}, "replicates": R}`` for a cell, or
        ``{"sbc": (start, stop)}`` for an SBC batch.
    log_path : path-like
        The job's log: one line per dataset, and the traceback if the job fails.
    """
    from rlrecover.config import Settings
    from rlrecover.fitting import fit_datasets

    settings = Settings.from_config(fit_config)
    spec_of, what, replicates = _unit_specs(settings, unit)
    with job_log(log_path) as log:
        data = _checked_data(data_path, settings, spec_of, replicates)
        log(f"fitting {len(replicates)} datasets of {what} with mle")
        table = fit_datasets("mle", data, spec_of, settings, log)
        columns = summary_columns(settings.model.param_names, settings.coverage_levels)
        _write_table(table, output, columns, log)


def fit_bayes_job(
    data_path: PathLike,
    outputs: Sequence[PathLike],
    methods: Sequence[str],
    fit_config: Mapping[str, Any],
    unit: Mapping[str, Any],
    checkpoint_dir: PathLike,
    threads: int,
    log_path: PathLike,
) -> None:
    """Sample the posterior of every dataset of a cell or SBC batch with each PyMC model.

    The draws and diagnostics go to one ``.npz`` file per method
    (:func:`rlrecover.inference.posterior.save_fits`); :func:`summarize_job` turns them into
    result rows. Each finished dataset is also checkpointed under ``checkpoint_dir``
    (:class:`rlrecover.checkpoint.Checkpoints`), so a job that was stopped refits only
    the datasets it had not finished; the checkpoints are deleted once the outputs
    are written. On Ctrl-C the job stops within a second
    (:class:`rlrecover.cancel.Cancelled`).

    Parameters
    ----------
    data_path : path-like
        The datasets.
    outputs : sequence of path-like
        One draws file per method, in the order of ``methods``.
    methods : sequence of str
        PyMC methods (``pymc_potential``, ``pymc_bernoulli``).
    fit_config : mapping
        The validated config sections the draws depend on: ``seed``, ``model``,
        ``task`` with this job's number of trials, the model's ``priors``, ``sampler``.
        Nothing of the MLE or of the coverage levels.
    unit : mapping
        As :func:`fit_mle_job`.
    checkpoint_dir : path-like
        The job's checkpoint directory.
    threads : int
        Threads nutpie runs a fit's chains on; the draws do not depend on it.
    log_path : path-like
        The job's log.
    """
    from rlrecover.config import Settings
    from rlrecover.fitting import sample_datasets
    from rlrecover.inference.posterior import save_fits
    from rlrecover.run import warmup
    from rlrecover.run.checkpoint import Checkpoints

    settings = Settings.from_config(fit_config)
    spec_of, what, replicates = _unit_specs(settings, unit)
    # A fit's seed depends on the config and on its cell's truth (or SBC batch) and
    # replicate; the number of replicates changes nothing of an existing dataset's fit.
    context = {**fit_config, "unit": {k: v for k, v in unit.items() if k != "replicates"}}
    with job_log(log_path) as log, single_thread_blas():
        data = _checked_data(data_path, settings, spec_of, replicates)
        stores = [Checkpoints(checkpoint_dir, m, context) for m in methods]
        for method, path, store in zip(methods, outputs, stores, strict=True):
            log(f"sampling {len(replicates)} datasets of {what} with {method}")
            fits = sample_datasets(
                method,
                data,
                spec_of,
                settings,
                log,
                cores=int(threads),
                checkpoints=store,
                before_compile=warmup.wait_for,
            )
            save_fits(path, fits)
            log(f"wrote the draws of {len(fits)} datasets to {path}")
        for store in stores:
            store.clear()


def summarize_job(
    draws_paths: Sequence[PathLike],
    outputs: Sequence[PathLike],
    methods: Sequence[str],
    summary_config: Mapping[str, Any],
    unit: Mapping[str, Any],
    log_path: PathLike,
) -> None:
    """Result tables of stored posterior draws: estimates, intervals and diagnostics.

    Only this job depends on the coverage levels, so changing them recomputes the
    summaries from the draws without sampling again.

    Parameters
    ----------
    draws_paths : sequence of path-like
        One draws file per method (written by :func:`fit_bayes_job`).
    outputs : sequence of path-like
        One result table per method (``results/fits/<method>/...tsv``).
    methods : sequence of str
        The PyMC methods, in the order of the paths.
    summary_config : mapping
        ``seed``, ``model``, ``task`` (this job's number of trials),
        ``coverage_levels``, and the model's ``priors`` for SBC (the truths).
    unit : mapping
        As :func:`fit_mle_job`.
    log_path : path-like
        The job's log.
    """
    from rlrecover.config import Settings
    from rlrecover.fitting import summarize_posteriors
    from rlrecover.inference.posterior import load_fits

    settings = Settings.from_config(summary_config)
    spec_of, what, replicates = _unit_specs(settings, unit)
    levels = settings.coverage_levels
    with job_log(log_path) as log:
        for method, source, path in zip(methods, draws_paths, outputs, strict=True):
            fits = load_fits(source)
            keys = [int(f.key) for f in fits]
            if keys != list(replicates):
                raise ValueError(
                    f"{source} holds datasets {keys}, the config asks for {list(replicates)}"
                )
            log(f"summarizing {len(fits)} {method} fits of {what}")
            table = summarize_posteriors(
                settings, method, fits, spec_of, settings.task.n_trials, levels
            )
            for row in table.itertuples():
                line = f"{method} {row.cell} replicate {row.replicate}: {row.seconds:.3f} s, "
                log(line + str(row.status) + (f" ({row.error})" if row.error else ""))
            _write_table(table, path, summary_columns(settings.model.param_names, levels), log)


def sbc_simulate_job(
    output: PathLike, sbc_config: Mapping[str, Any], indices: Sequence[int], log_path: PathLike
) -> None:
    """Simulate a batch of SBC datasets: truths drawn from the priors, one dataset each.

    Parameters
    ----------
    output : path-like
        The batch's data table (``results/sbc/data/batch~K.tsv``).
    sbc_config : mapping
        The validated ``seed``, ``model``, ``task`` (with the SBC number of trials) and
        the model's ``priors``.
    indices : sequence of int
        ``(start, stop)``: the batch's SBC indices are ``range(start, stop)``.
    log_path : path-like
        The job's log.
    """
    from rlrecover.config import Settings
    from rlrecover.data import simulate_sbc

    settings = Settings.from_config(sbc_config)
    start, stop = (int(i) for i in indices)
    with job_log(log_path) as log:
        log(f"simulating {settings.model.name} SBC datasets {start}..{stop - 1}")
        data = simulate_sbc(
            settings.model, settings.seed, range(start, stop), settings.task, settings.priors
        )
        _write_atomically(data, output)
        log(f"wrote {len(data)} rows to {output}")


def aggregate_job(inputs: Sequence[PathLike], output: PathLike, log_path: PathLike) -> None:
    """Stack the fit tables of every model, method and cell into the recovery table.

    The tables are stacked as text, so every value is copied exactly (no float
    re-formatting). A fit table has the columns of its model's parameters
    (:func:`rlrecover.summary.summary_columns`); the stack has those of the union of
    the models' parameters (:func:`rlrecover.summary.union_params`), a row's fields of
    another model's parameters left empty. Each table is checked first: its header
    must be that of a fit table at the first table's coverage levels and, on every
    row, it must have as many fields as columns.

    Parameters
    ----------
    inputs : sequence of path-like
        Fit tables (tab-separated, as written by the fit jobs).
    output : path-like
        ``results/recovery.tsv``.
    log_path : path-like
        The job's log.

    Raises
    ------
    ValueError
        Naming the table whose columns are not those of a fit table, or the table and
        number of a row with the wrong number of fields.
    """
    from rlrecover.summary import levels_of, union_columns

    sep = "\t"
    with job_log(log_path) as log:
        tables = []
        levels = None
        for path in inputs:
            text = Path(path).read_text()
            first, _, body = text.partition("\n")
            columns = first.split(sep)
            if levels is None:
                levels = levels_of(columns)
            expected = summary_columns(params_of(columns), levels)
            if columns != expected:
                raise ValueError(f"{path} has columns {columns}, expected {expected}")
            # csv parses quoted fields (with tabs or line breaks) as pandas wrote them
            rows = list(csv.reader(io.StringIO(body), delimiter=sep))
            for k, row in enumerate(rows, 1):
                if len(row) != len(columns):
                    raise ValueError(
                        f"{path}, row {k}: {len(row)} fields, expected {len(columns)}"
                    )
            tables.append((columns, body, rows))
        if levels is None:
            raise ValueError("no fit tables to stack")
        header = union_columns([params_of(c) for c, _, _ in tables], levels)
        out = io.StringIO()
        out.write(sep.join(header) + "\n")
        writer = csv.writer(out, delimiter=sep, lineterminator="\n")
        n_rows = 0
        for columns, body, rows in tables:
            n_rows += len(rows)
            if columns == header:  # the common case of one model: copied as it is
                out.write(body if not body or body.endswith("\n") else body + "\n")
                continue
            where = [columns.index(c) if c in columns else None for c in header]
            for row in rows:
                writer.writerow(["" if i is None else row[i] for i in where])
        Path(output).write_text(out.getvalue())
        log(f"wrote {n_rows} rows from {len(tables)} tables to {output}")


def model_recovery(path: PathLike, model) -> pd.DataFrame:
    """The rows of one model in a recovery table, with exactly that model's columns.

    Parameters
    ----------
    path : path-like
        ``results/recovery.tsv`` or ``results/sbc/recovery.tsv``.
    model : Model
        The model.

    Returns
    -------
    pandas.DataFrame
        Columns :func:`rlrecover.summary.summary_columns` of the model's parameters.
    """
    from rlrecover.summary import levels_of

    recovery = read_recovery(path)
    columns = summary_columns(model.param_names, levels_of(recovery.columns))
    rows = recovery[recovery["model"].astype(str) == model.name]
    return rows[columns].reset_index(drop=True)


def _write_tables(tables: Mapping[str, pd.DataFrame], outputs, log) -> None:
    for name, table in tables.items():
        table.to_csv(outputs[name], sep="\t", index=False)
        log(f"wrote {len(table)} rows to {outputs[name]}")


def tables_job(
    recovery_path: PathLike,
    outputs: Mapping[str, PathLike],
    model_name: str,
    design_kind: str,
    levels: Sequence[float],
    design: Mapping[str, Any],
    log_path: PathLike,
) -> None:
    """Every table of one model's recovery study, from the recovery table.

    Parameters
    ----------
    recovery_path : path-like
        ``results/recovery.tsv``.
    outputs : mapping of str to path-like
        The path of each table of :func:`rlrecover.report.layout.table_names`.
    model_name : str
        The model.
    design_kind : {"grid", "sobol", "prior"}
        How its truths are given (:func:`rlrecover.truths.design_kind`).
    levels : sequence of float
        Coverage levels of the interval columns.
    design : mapping
        ``min_correlation`` (the config's ``design``) and ``rmse_target`` (the model's).
    log_path : path-like
        The job's log.
    """
    from rlrecover import models
    from rlrecover.analysis import coverage, metrics, sbc, tradeoff
    from rlrecover.analysis import design as design_tables
    from rlrecover.report.layout import table_names

    model = models.get(model_name)
    with job_log(log_path) as log:
        recovery = model_recovery(recovery_path, model)
        log(f"read {len(recovery)} fits of {model.name}")
        targets = design_tables.rmse_targets(model, design["rmse_target"])
        makers = {
            "recovery_metrics": lambda: metrics.recovery_metrics(recovery, model),
            "coverage": lambda: coverage.coverage_table(
                recovery, model, [float(x) for x in levels]
            ),
            "coverage_curve": lambda: sbc.coverage_curve(recovery, model),
            "diagnostics": lambda: metrics.diagnostics(recovery, model),
            "runtime": lambda: metrics.runtime_table(recovery),
            "grid_map": lambda: metrics.grid_map_table(recovery, model),
            "design": lambda: design_tables.design_table(
                recovery, model, targets, float(design["min_correlation"])
            ),
            "design_cells": lambda: design_tables.design_cells_table(recovery, model, targets),
            "tradeoff": lambda: tradeoff.tradeoff_table(recovery, model),
            "correlations": lambda: tradeoff.correlation_table(recovery, model),
            "error_dependence": lambda: tradeoff.error_dependence_table(recovery, model),
        }
        names = table_names(model, design_kind)
        _write_tables({name: makers[name]() for name in names}, outputs, log)


def sbc_tables_job(
    recovery_path: PathLike,
    outputs: Mapping[str, PathLike],
    model_name: str,
    log_path: PathLike,
) -> None:
    """One model's SBC table (uniformity of the CDF at the truth) and SBC coverage curve.

    Parameters
    ----------
    recovery_path : path-like
        ``results/sbc/recovery.tsv``.
    outputs : mapping of str to path-like
        Paths of ``sbc`` and ``sbc_coverage_curve``.
    model_name : str
        The model.
    log_path : path-like
        The job's log.
    """
    from rlrecover import models
    from rlrecover.analysis import sbc

    model = models.get(model_name)
    with job_log(log_path) as log:
        recovery = model_recovery(recovery_path, model)
        log(f"read {len(recovery)} SBC fits of {model.name}")
        tables = {
            "sbc": sbc.sbc_table(recovery, model),
            "sbc_coverage_curve": sbc.coverage_curve(recovery, model),
        }
        _write_tables(tables, outputs, log)


def _draw(plot: Callable[..., Any], args: tuple, path: PathLike) -> str:
    plot(*args, path)
    return str(path)


#: Seconds between checks for Ctrl-C while the figure workers draw.
_FIGURE_WAIT_SLICE = 0.2

#: Modules a figure worker needs, imported once by the fork server of the workers.
FIGURE_MODULES = ("rlrecover.report.figures",)


def _figure_context():
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(FIGURE_MODULES))
    return context


def start_figure_workers() -> None:
    """Start the fork server of :func:`draw_figures`' workers in the background.

    The server imports :data:`FIGURE_MODULES` (matplotlib, pandas; about 1.3 s of
    one core), so that a later :func:`draw_figures` gets workers that draw at once,
    forked from it in milliseconds. Returns without waiting for the imports; does
    nothing where there is no fork server, or if it is already running.
    """
    import multiprocessing.forkserver

    if _figure_context().get_start_method() == "forkserver":
        multiprocessing.forkserver.ensure_running()


def warm_up_models(
    specs: Sequence[Any],
    on_ready: Callable[[Any], None] | None = None,
    kernels: Sequence[str] = (),
) -> bool:
    """Compile the PyMC models ``specs`` in a process of their own, and import PyMC here.

    Nothing is done if a warm-up has compiled these models into the current caches
    before (:func:`rlrecover.run.warmup.compiled`). Else the compile fills the PyTensor
    and numba caches on the core that would otherwise wait for it
    (:mod:`rlrecover.run.warmup`); the sampling jobs of this process then load the
    models from there. PyMC is imported here meanwhile, so the first sampling job does
    not pay for it.

    Parameters
    ----------
    specs : sequence of rlrecover.inference.sampling.ModelSpec
        The run's PyMC models, the first sampled first.
    on_ready : callable, optional
        Called from another thread with each model's specification once it is in the
        caches, and with those left when the process ends (also if it failed).
    kernels : sequence of str, optional
        Numba functions of later jobs the warm-up compiles after the models
        (names in :data:`rlrecover.run.warmup.KERNELS`).

    Returns
    -------
    bool
        Whether a warm-up process was started (if not, ``on_ready`` is not called and
        PyMC is not imported here).
    """
    from rlrecover.run import warmup

    if warmup.compiled(specs):
        return False  # the models load from the caches in under a second
    started = warmup.start(specs, on_ready, kernels)
    import_for_good("rlrecover.inference.sampling")  # PyMC: seconds, off the sampling jobs
    return started


def model_specs(methods: Sequence[str], model_config: Mapping[str, Any]) -> list[Any]:
    """The compiled PyMC models a model's sampling jobs need, one per PyMC method.

    Parameters
    ----------
    methods : sequence of str
        The PyMC methods (``pymc_potential``, ``pymc_bernoulli``).
    model_config : mapping
        ``model`` (the model's name), its ``priors`` and the ``task``.

    Returns
    -------
    list of rlrecover.inference.sampling.ModelSpec
    """
    from rlrecover import models
    from rlrecover.config import TaskSettings
    from rlrecover.fitting import BAYES_KINDS
    from rlrecover.inference.sampling import ModelSpec

    model = models.get(str(model_config["model"]))
    priors = model.priors_from_config(model_config["priors"])
    task = model_config["task"]
    consts = model.consts_of(TaskSettings.from_config({**task, "n_trials": 2}).consts)
    return [ModelSpec(model.name, BAYES_KINDS[m], priors, consts) for m in methods]


def import_for_good(name: str) -> None:
    """Import module ``name`` without garbage collections, then freeze every object.

    For a process that keeps what it imports to its end (Snakemake's, in a threaded
    run). Importing PyMC creates about 280,000 objects that Python's collector
    tracks, and it traversed them several times during the import (measured: 1.6 s
    with collections, 1.05 s without) and in every later full collection (the full
    collections of a run of the shipped study: 1.44 s before, 0.76 s with this
    function). :func:`gc.freeze` moves every object that
    exists now (the imported modules, Snakemake's graph of jobs) out of the
    collector's sight, so later collections only traverse what the jobs create.
    Objects are still freed when no longer referenced; only a reference cycle among
    frozen objects would stay in memory.

    Parameters
    ----------
    name : str
        The module to import.
    """
    import importlib

    enabled = gc.isenabled()
    gc.disable()
    try:
        importlib.import_module(name)
    finally:
        if enabled:
            gc.enable()
    gc.freeze()


def draw_figures(
    figures: Mapping[str, tuple[Callable[..., Any], tuple]],
    outputs: Mapping[str, PathLike],
    processes: int,
    log: Callable[[str], None],
    here: bool = True,
) -> None:
    """Draw figures in ``processes`` processes side by side, this one included or not.

    Matplotlib is Python code that holds the interpreter lock, so figures drawn by
    threads of one process take turns; worker processes draw them side by side. The
    workers are forked by a fork server (not by this process, which may be running
    sampler threads) that has imported the plotting modules, so they start drawing at
    once if the server was started earlier (:func:`start_figure_workers`); else it
    starts now and this process draws meanwhile. Where there is no fork server (not
    POSIX), the workers are spawned. On Ctrl-C (:mod:`rlrecover.run.interrupt`) the
    workers are stopped within a fraction of a second; a figure being drawn here is
    finished first.

    Parameters
    ----------
    figures : mapping of str to (callable, tuple)
        Name of each figure and the module-level function that draws it with its
        arguments; it is called as ``plot(*args, path)``. Most expensive first.
    outputs : mapping of str to path-like
        Where each figure goes.
    processes : int
        Processes drawing at once: with ``here``, this one and ``processes - 1``
        workers (1 draws every figure here); else ``processes`` workers while this
        one waits (0 draws every figure here).
    log : callable
        Receives a line per figure written, in the order they are finished.
    here : bool, default True
        Whether this process draws too. A job that runs as a thread of a process
        whose other threads sample leaves it to the workers, so as not to hold
        Python's lock, which those threads need between datasets.

    Raises
    ------
    rlrecover.cancel.Cancelled
        If the run is asked to stop while workers draw.
    """
    todo = list(figures.items())
    workers = min(processes, len(todo)) - (1 if here else 0)
    if workers < 1:
        for name, (plot, args) in todo:
            log(f"wrote {_draw(plot, args, outputs[name])}")
        return
    # A worker's objects as forked (matplotlib, pandas, ...) live as long as it does:
    # frozen, the collector no longer traverses them (the study's ten figures in one
    # process: 10.0 s frozen, 10.6-11.4 s not).
    pool = _figure_context().Pool(workers, initializer=gc.freeze)
    try:
        running: dict[str, Any] = {}
        while todo or running:
            while todo and len(running) < workers:
                name, (plot, args) = todo.pop(0)
                running[name] = pool.apply_async(_draw, (plot, args, outputs[name]))
            if todo and here:  # draw the next one here while the workers draw theirs
                name, (plot, args) = todo.pop(0)
                log(f"wrote {_draw(plot, args, outputs[name])}")
            else:  # Ctrl-C is seen within a slice, and the workers are stopped
                next(iter(running.values())).wait(_FIGURE_WAIT_SLICE)
            check_cancel()
            for name in [n for n, result in running.items() if result.ready()]:
                log(f"wrote {running.pop(name).get()}")  # a worker's error is raised here
    finally:
        pool.terminate()  # the workers are idle unless the job failed or was cancelled
        pool.join()


def plots_job(
    inputs: Mapping[str, PathLike],
    outputs: Mapping[str, PathLike],
    model_name: str,
    design_kind: str,
    log_path: PathLike,
    processes: int = 1,
    here: bool = True,
) -> None:
    """Every figure of one model's recovery study (:func:`rlrecover.report.layout.figure_names`).

    Parameters
    ----------
    inputs : mapping of str to path-like
        ``recovery`` and the model's tables by name.
    outputs : mapping of str to path-like
        Where each figure goes.
    model_name : str
        The model.
    design_kind : {"grid", "sobol", "prior"}
        How its truths are given.
    log_path : path-like
        The job's log.
    processes : int, default 1
        Processes drawing the figures side by side (:func:`draw_figures`).
    here : bool, default True
        Whether this process draws too (:func:`draw_figures`).
    """
    from rlrecover import models
    from rlrecover.report import figures as fig
    from rlrecover.report.layout import figure_names

    model = models.get(model_name)

    def table(name: str) -> pd.DataFrame:
        return pd.read_csv(inputs[name], sep="\t")

    with job_log(log_path) as log:
        recovery = model_recovery(inputs["recovery"], model)
        makers = {
            **{
                f"map_{metric}": (fig.plot_grid_map, (recovery, model, metric))
                for metric in ("bias", "rmse", "coverage90", "flagged")
            },
            **{
                f"recovery_{p}": (
                    functools.partial(fig.plot_recovery, design_kind=design_kind),
                    (recovery, model, p),
                )
                for p in model.param_names
            },
            "error_dependence": (
                fig.plot_error_dependence,
                (table_or_none(inputs, "error_dependence"), model),
            ),
            "correlations": (
                fig.plot_correlations,
                (table_or_none(inputs, "correlations"), model),
            ),
            "tradeoff": (fig.plot_tradeoff, (table_or_none(inputs, "tradeoff"), model)),
            "design": (fig.plot_design, (table("design"), model)),
            "coverage": (fig.plot_coverage, (table("coverage"), model)),
            "coverage_curve": (fig.plot_coverage_curve, (table("coverage_curve"), model)),
        }
        # the maps and recovery figures take longest; started first, they finish first
        names = figure_names(model, design_kind)
        order = sorted(names, key=lambda n: not n.startswith(("map_", "recovery_")))
        draw_figures({n: makers[n] for n in order}, outputs, processes, log, here)


def table_or_none(inputs: Mapping[str, PathLike], name: str) -> pd.DataFrame | None:
    """Table ``name`` of a job's inputs, or None when the job has no such input.

    ``inputs`` may be Snakemake's named list of input files, whose ``in`` looks at the
    paths, not the names: the names are its keys.
    """
    return pd.read_csv(inputs[name], sep="\t") if name in list(inputs.keys()) else None


def sbc_plots_job(
    inputs: Mapping[str, PathLike],
    outputs: Mapping[str, PathLike],
    model_name: str,
    log_path: PathLike,
    processes: int = 1,
) -> None:
    """One model's SBC rank histogram, ECDF difference and coverage curve.

    Parameters
    ----------
    inputs : mapping of str to path-like
        ``recovery`` (the SBC recovery table) and ``coverage_curve``.
    outputs : mapping of str to path-like
        ``sbc_ranks``, ``sbc_ecdf``, ``sbc_coverage_curve``.
    model_name : str
        The model.
    log_path : path-like
        The job's log.
    processes : int, default 1
        Processes drawing the figures side by side, this one included
        (:func:`draw_figures`).
    """
    from rlrecover import models
    from rlrecover.report import figures as fig

    model = models.get(model_name)
    with job_log(log_path) as log:
        recovery = model_recovery(inputs["recovery"], model)
        curve = pd.read_csv(inputs["coverage_curve"], sep="\t")
        # With two processes the first goes to a worker and the second is drawn here:
        # the ECDF figure needs the simultaneous band, which the SBC tables job
        # computed in this process in a threaded run (a worker computes it again:
        # 0.55 s of the figure's 1.2 s).
        figures = {
            "sbc_ranks": (fig.plot_sbc_ranks, (recovery, model)),
            "sbc_ecdf": (fig.plot_sbc_ecdf, (recovery, model)),
            "sbc_coverage_curve": (fig.plot_coverage_curve, (curve, model)),
        }
        draw_figures(figures, outputs, processes, log)


#: Columns of an exact-check table (one row per PyMC fit and parameter).
EXACT_COLUMNS = [
    "model",
    "method",
    "cell",
    "n_trials",
    "replicate",
    "parameter",
    "true_value",
    "exact_mean",
    "exact_sd",
    "exact_mean_se",
    "exact_cdf_true",
    "mcmc_mean",
    "mcmc_mcse",
    "mcmc_cdf_true",
    "z",
    "cdf_diff",
    "divergences",
    "status",
    "reference",
    "reference_reliable",
    "reference_note",
]


def exact_job(
    data_path: PathLike,
    draws_paths: Mapping[str, PathLike],
    output: PathLike,
    exact_config: Mapping[str, Any],
    replicates: Sequence[int],
    truth: Mapping[str, float] | None,
    log_path: PathLike,
) -> None:
    """Compute the reference posterior of some datasets and compare each PyMC fit with it.

    The reference is the exact posterior by quadrature for models of up to three
    parameters and importance sampling from the mode for four
    (:func:`rlrecover.inference.exact.exact_posterior`); each row names it and says
    whether its own accuracy check passed.

    Parameters
    ----------
    data_path : path-like
        A data table (a grid cell's, or an SBC batch's).
    draws_paths : mapping of str to path-like
        The posterior draws of those datasets, by PyMC method (written by
        :func:`fit_bayes_job`). The MCMC mean, its Monte Carlo error and the CDF at
        the truth are computed from them as in the result tables
        (:func:`rlrecover.inference.posterior.posterior_summary`), so the check does
        not depend on the coverage levels.
    output : path-like
        The check's table (columns :data:`EXACT_COLUMNS`).
    exact_config : mapping
        The validated ``seed``, ``model``, ``task`` (this job's number of trials) and
        the model's ``priors``.
    replicates : sequence of int
        The datasets to check.
    truth : mapping of str to float, optional
        The cell's truth; None for SBC datasets, whose truths are drawn again.
    log_path : path-like
        The job's log.
    """
    from rlrecover.config import Settings
    from rlrecover.data import iter_datasets, sbc_truth
    from rlrecover.inference.exact import compare_with_mcmc, exact_posterior
    from rlrecover.inference.posterior import load_fits, posterior_summary
    from rlrecover.summary import cell_label

    settings = Settings.from_config(exact_config)
    model, priors = settings.model, settings.priors
    consts = model.consts_of(settings.task.consts)
    params = model.param_names
    wanted = {int(r) for r in replicates}
    with job_log(log_path) as log:
        data = pd.read_csv(data_path, sep="\t")
        fits = {m: {int(f.key): f for f in load_fits(p)} for m, p in draws_paths.items()}
        rows = []
        for rep, actions, rewards in iter_datasets(data[data["replicate"].isin(wanted)]):
            check_cancel()
            if truth is not None:
                true = {p: float(truth[p]) for p in params}
            else:
                true = sbc_truth(model, settings.seed, rep, priors)
            start = time.perf_counter()
            exact = exact_posterior(model, actions, rewards, priors, consts, truth=true)
            log(
                f"replicate {rep}: reference posterior in {time.perf_counter() - start:.2f} s "
                f"({exact.description}{'' if exact.reliable else '; NOT reliable'})"
            )
            for method, by_rep in fits.items():
                fit = by_rep.get(rep)
                if fit is None:
                    raise ValueError(f"{draws_paths[method]} has no fit of replicate {rep}")
                if fit.error:
                    summary = {f"{p}_{k}": np.nan for p in params for k in ("est", "mcse")}
                    summary.update({f"{p}_cdf_true": np.nan for p in params})
                else:
                    summary = posterior_summary(fit.draws, true, ())
                est = {p: float(summary[f"{p}_est"]) for p in params}
                mcse = {p: float(summary[f"{p}_mcse"]) for p in params}
                cdf = {p: float(summary[f"{p}_cdf_true"]) for p in params}
                cmp = compare_with_mcmc(exact, est, mcse, cdf)
                for p in params:
                    rows.append(
                        {
                            "model": model.name,
                            "method": method,
                            "cell": "sbc" if truth is None else cell_label(true),
                            "n_trials": settings.task.n_trials,
                            "replicate": rep,
                            "parameter": p,
                            "true_value": true[p],
                            "exact_mean": exact.mean[p],
                            "exact_sd": exact.sd[p],
                            "exact_mean_se": exact.mean_se[p],
                            "exact_cdf_true": exact.cdf_true[p],
                            "mcmc_mean": est[p],
                            "mcmc_mcse": mcse[p],
                            "mcmc_cdf_true": cdf[p],
                            "z": cmp[f"{p}_z"],
                            "cdf_diff": cmp[f"{p}_cdf_diff"],
                            "divergences": float(fit.divergences),
                            "status": "failed" if fit.error else "ok",
                            "reference": exact.method,
                            "reference_reliable": bool(exact.reliable),
                            "reference_note": exact.description,
                        }
                    )
        out = pd.DataFrame(rows, columns=EXACT_COLUMNS)
        out.to_csv(output, sep="\t", index=False)
        log(f"wrote {len(out)} rows to {output}")


def exact_table_job(
    inputs: Sequence[PathLike],
    table_path: PathLike,
    plot_path: PathLike,
    model_name: str,
    log_path: PathLike,
) -> None:
    """Stack one model's exact-check tables; plot the distribution of z.

    Parameters
    ----------
    inputs : sequence of path-like
        Exact-check tables (possibly none).
    table_path, plot_path : path-like
        ``results/tables/{model}/exact_check.tsv`` and its figure.
    model_name : str
        The model.
    log_path : path-like
        The job's log.
    """
    from rlrecover import models
    from rlrecover.report.figures import plot_exact_check

    model = models.get(model_name)
    with job_log(log_path) as log:
        frames = [pd.read_csv(p, sep="\t") for p in inputs]
        table = (
            pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=EXACT_COLUMNS)
        )
        table.to_csv(table_path, sep="\t", index=False)
        log(f"wrote {len(table)} rows to {table_path}")
        plot_exact_check(table, model, plot_path)
        log(f"wrote {plot_path}")


def summary_table_job(
    inputs: Mapping[str, PathLike], output: PathLike, log_path: PathLike
) -> None:
    """The headline table of every model: the report's first screen, as a table.

    Parameters
    ----------
    inputs : mapping of str to path-like
        ``{model}__{name}`` for each model's ``recovery_metrics``, ``coverage``,
        ``design``, ``exact_check`` and (with SBC) ``sbc`` tables, models in study order.
    output : path-like
        ``results/tables/summary.tsv``.
    log_path : path-like
        The job's log.
    """
    from rlrecover import models
    from rlrecover.analysis.headline import headline_table

    with job_log(log_path) as log:
        by_model: dict[str, dict[str, pd.DataFrame]] = {}
        for key, path in inputs.items():
            model, _, name = str(key).partition("__")
            by_model.setdefault(model, {})[name] = pd.read_csv(path, sep="\t")
        frames = [headline_table(models.get(m), tables) for m, tables in by_model.items()]
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        table.to_csv(output, sep="\t", index=False)
        log(f"wrote {len(table)} rows to {output}")


def report_job(
    output: PathLike,
    tables: Mapping[str, Any],
    images: Mapping[str, Mapping[str, PathLike]],
    config: Mapping[str, Any],
    log_path: PathLike,
) -> None:
    """The self-contained HTML report.

    Parameters
    ----------
    output : path-like
        ``results/report.html``.
    tables : mapping
        ``recovery`` (the recovery table), ``summary`` (the headline table), and
        ``models``: each model's tables by name (``{model: {name: path}}``).
    images : mapping of str to mapping
        Each model's figure files by name.
    config : mapping
        The validated config, shown in the report.
    log_path : path-like
        The job's log.
    """
    from rlrecover import models
    from rlrecover.report.html import package_versions, write_report

    with job_log(log_path) as log:
        parts = {}
        for name, paths in tables["models"].items():
            model = models.get(name)
            frames = {t: pd.read_csv(p, sep="\t") for t, p in paths.items()}
            frames["recovery"] = model_recovery(tables["recovery"], model)
            parts[name] = {"tables": frames, "images": dict(images.get(name, {}))}
        versions = package_versions()
        write_report(
            output,
            config=dict(config),
            models=parts,
            summary=pd.read_csv(tables["summary"], sep="\t") if "summary" in tables else None,
            versions=versions,
        )
        log(f"wrote {output}")
        log("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
