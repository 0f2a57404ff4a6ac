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
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from rlrecover.summary import read_recovery, summary_columns

__all__ = [
    "EXACT_COLUMNS",
    "aggregate_job",
    "exact_job",
    "exact_table_job",
    "fit_job",
    "job_log",
    "plots_job",
    "report_job",
    "rmse_targets",
    "sbc_fit_job",
    "sbc_plots_job",
    "sbc_simulate_job",
    "sbc_tables_job",
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


def _fit_tables(data_path, outputs, methods, settings, spec_of, what, replicates, log) -> None:
    """Fit every dataset of a data table with each method; one result table per method.

    The table is first checked against the config (the replicates and trials it must
    hold), so a damaged file fails the job with the file, replicate and problem named.
    """
    from rlrecover.data import check_datasets
    from rlrecover.fitting import fit_datasets

    columns = summary_columns(settings.coverage_levels)
    data = pd.read_csv(data_path, sep="\t")
    check_datasets(data, replicates, settings.task.n_trials, str(data_path))
    for method, path in zip(methods, outputs, strict=True):
        n = data["replicate"].nunique()
        log(f"fitting {n} datasets of {what} with {method}")
        result = fit_datasets(method, data, spec_of, settings, log)
        if list(result.columns) != columns:
            raise ValueError(f"fit_datasets returned columns {list(result.columns)}")
        result.to_csv(path, sep="\t", index=False)
        log(f"wrote {len(result)} rows to {path}")


def fit_job(
    data_path: PathLike,
    outputs: Sequence[PathLike],
    methods: Sequence[str],
    fit_config: Mapping[str, Any],
    truth: Mapping[str, float],
    log_path: PathLike,
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
        The validated config sections a fit depends on (``seed``, ``task`` with this
        job's number of trials, ``replicates``, ``priors``, ``sampler``, ``mle``,
        ``coverage_levels``).
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
    from rlrecover.fitting import DatasetSpec
    from rlrecover.summary import cell_label

    settings = Settings.from_config(fit_config)
    truth = {p: float(v) for p, v in truth.items()}
    cell = cell_label(truth)

    def spec_of(rep: int) -> DatasetSpec:
        return DatasetSpec(truth, cell, (*truth.values(), int(rep)))

    what = ", ".join(f"{p}={v}" for p, v in truth.items())
    replicates = range(int(fit_config["replicates"]))
    with job_log(log_path) as log, single_thread_blas():
        _fit_tables(data_path, outputs, methods, settings, spec_of, what, replicates, log)


def sbc_simulate_job(
    output: PathLike, sbc_config: Mapping[str, Any], indices: Sequence[int], log_path: PathLike
) -> None:
    """Simulate a batch of SBC datasets: truths drawn from the priors, one dataset each.

    Parameters
    ----------
    output : path-like
        The batch's data table (``results/sbc/data/batch~K.tsv``).
    sbc_config : mapping
        The validated ``seed``, ``task`` (with the SBC number of trials) and ``priors``.
    indices : sequence of int
        ``(start, stop)``: the batch's SBC indices are ``range(start, stop)``.
    log_path : path-like
        The job's log.
    """
    from rlrecover.config import TaskSettings
    from rlrecover.data import simulate_sbc
    from rlrecover.qlearning import Priors

    start, stop = (int(i) for i in indices)
    with job_log(log_path) as log:
        log(f"simulating SBC datasets {start}..{stop - 1}")
        data = simulate_sbc(
            int(sbc_config["seed"]),
            range(start, stop),
            TaskSettings.from_config(sbc_config["task"]),
            Priors.from_config(sbc_config["priors"]),
        )
        data.to_csv(output, sep="\t", index=False)
        log(f"wrote {len(data)} rows to {output}")


def sbc_fit_job(
    data_path: PathLike,
    outputs: Sequence[PathLike],
    methods: Sequence[str],
    fit_config: Mapping[str, Any],
    indices: Sequence[int],
    log_path: PathLike,
) -> None:
    """Fit a batch of SBC datasets with every configured method.

    Each dataset's truth is drawn again from its own generator, as when it was
    simulated; its result rows have ``cell`` "sbc" and ``replicate`` its SBC index.

    Parameters
    ----------
    data_path : path-like
        The batch's data table.
    outputs : sequence of path-like
        One fit table per method, in the order of ``methods``.
    methods : sequence of str
        Fitting methods.
    fit_config : mapping
        As :func:`fit_job` (``task`` with the SBC number of trials).
    indices : sequence of int
        ``(start, stop)``: the batch's SBC indices are ``range(start, stop)``.
    log_path : path-like
        The job's log.
    """
    from rlrecover.config import Settings
    from rlrecover.data import sbc_truth
    from rlrecover.fitting import DatasetSpec

    settings = Settings.from_config(fit_config)

    def spec_of(rep: int) -> DatasetSpec:
        truth = sbc_truth(settings.seed, rep, settings.priors)
        return DatasetSpec(truth, "sbc", ("sbc", int(rep)))

    start, stop = (int(i) for i in indices)
    with job_log(log_path) as log, single_thread_blas():
        _fit_tables(data_path, outputs, methods, settings, spec_of, "SBC", range(start, stop), log)


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
    design: Mapping[str, Any],
    log_path: PathLike,
) -> None:
    """Every table of a recovery study, from its recovery table.

    Parameters
    ----------
    recovery_path : path-like
        ``results/recovery.tsv``.
    outputs : mapping of str to path-like
        Paths of ``recovery_metrics``, ``coverage``, ``coverage_curve``,
        ``diagnostics``, ``runtime``, ``grid_map``, ``tradeoff``, ``design`` and
        ``design_cells``.
    levels : sequence of float
        Coverage levels of the interval columns.
    design : mapping
        The validated ``design`` section (``min_correlation``, ``rmse_target``).
    log_path : path-like
        The job's log.
    """
    from rlrecover import analysis, sbc

    with job_log(log_path) as log:
        recovery = read_recovery(recovery_path)
        log(f"read {len(recovery)} fits")
        targets = rmse_targets(design)
        tables = {
            "recovery_metrics": analysis.recovery_metrics(recovery),
            "coverage": analysis.coverage_table(recovery, [float(x) for x in levels]),
            "coverage_curve": sbc.coverage_curve(recovery),
            "diagnostics": analysis.diagnostics(recovery),
            "runtime": analysis.runtime_table(recovery),
            "grid_map": analysis.grid_map_table(recovery),
            "tradeoff": analysis.tradeoff_table(recovery),
            "design": analysis.design_table(
                recovery, rmse_targets=targets, min_corr=float(design["min_correlation"])
            ),
            "design_cells": analysis.design_cells_table(recovery, rmse_targets=targets),
        }
        for name, table in tables.items():
            table.to_csv(outputs[name], sep="\t", index=False)
            log(f"wrote {len(table)} rows to {outputs[name]}")


def rmse_targets(design: Mapping[str, Any]) -> dict[str, tuple[str, float]]:
    """The config's RMSE targets with their kind: ``{"alpha": ("absolute", 0.1), ...}``.

    Parameters
    ----------
    design : mapping
        The validated ``design`` section.

    Returns
    -------
    dict
    """
    from rlrecover.qlearning import RMSE_TARGET_KIND

    return {p: (RMSE_TARGET_KIND[p], float(v)) for p, v in design["rmse_target"].items()}


def sbc_tables_job(
    recovery_path: PathLike,
    outputs: Mapping[str, PathLike],
    log_path: PathLike,
) -> None:
    """The SBC table (uniformity of the CDF at the truth) and the SBC coverage curve.

    Parameters
    ----------
    recovery_path : path-like
        ``results/sbc/recovery.tsv``.
    outputs : mapping of str to path-like
        Paths of ``sbc`` and ``sbc_coverage_curve``.
    log_path : path-like
        The job's log.
    """
    from rlrecover import sbc

    with job_log(log_path) as log:
        recovery = read_recovery(recovery_path)
        log(f"read {len(recovery)} SBC fits")
        tables = {
            "sbc": sbc.sbc_table(recovery),
            "sbc_coverage_curve": sbc.coverage_curve(recovery),
        }
        for name, table in tables.items():
            table.to_csv(outputs[name], sep="\t", index=False)
            log(f"wrote {len(table)} rows to {outputs[name]}")


def plots_job(
    inputs: Mapping[str, PathLike],
    outputs: Mapping[str, PathLike],
    log_path: PathLike,
) -> None:
    """Every figure of a recovery study.

    Parameters
    ----------
    inputs : mapping of str to path-like
        ``recovery``, ``coverage``, ``coverage_curve``, ``tradeoff``, ``design``.
    outputs : mapping of str to path-like
        ``recovery_{param}`` for each parameter, ``coverage``, ``coverage_curve``,
        ``map_bias``, ``map_rmse``, ``map_coverage90``, ``map_flagged``, ``tradeoff``
        and ``design``.
    log_path : path-like
        The job's log.
    """
    from rlrecover import plots, sbc
    from rlrecover.qlearning import PARAMS

    def table(name: str) -> pd.DataFrame:
        return pd.read_csv(inputs[name], sep="\t")

    with job_log(log_path) as log:
        recovery = read_recovery(inputs["recovery"])
        figures = {f"recovery_{p}": (plots.plot_recovery, (recovery, p)) for p in PARAMS}
        figures["coverage"] = (plots.plot_coverage, (table("coverage"),))
        figures["coverage_curve"] = (sbc.plot_coverage_curve, (table("coverage_curve"),))
        for metric in ("bias", "rmse", "coverage90", "flagged"):
            figures[f"map_{metric}"] = (plots.plot_grid_map, (recovery, metric))
        figures["tradeoff"] = (plots.plot_tradeoff, (table("tradeoff"),))
        figures["design"] = (plots.plot_design, (table("design"),))
        for name, (plot, args) in figures.items():
            plot(*args, outputs[name])
            log(f"wrote {outputs[name]}")


def sbc_plots_job(
    inputs: Mapping[str, PathLike], outputs: Mapping[str, PathLike], log_path: PathLike
) -> None:
    """SBC rank histogram, ECDF difference and coverage curve.

    Parameters
    ----------
    inputs : mapping of str to path-like
        ``recovery`` (the SBC recovery table) and ``coverage_curve``.
    outputs : mapping of str to path-like
        ``sbc_ranks``, ``sbc_ecdf``, ``sbc_coverage_curve``.
    log_path : path-like
        The job's log.
    """
    from rlrecover import sbc

    with job_log(log_path) as log:
        recovery = read_recovery(inputs["recovery"])
        sbc.plot_sbc_ranks(recovery, outputs["sbc_ranks"])
        sbc.plot_sbc_ecdf(recovery, outputs["sbc_ecdf"])
        curve = pd.read_csv(inputs["coverage_curve"], sep="\t")
        sbc.plot_coverage_curve(curve, outputs["sbc_coverage_curve"])
        for name in ("sbc_ranks", "sbc_ecdf", "sbc_coverage_curve"):
            log(f"wrote {outputs[name]}")


#: Columns of an exact-check table (one row per PyMC fit and parameter).
EXACT_COLUMNS = [
    "method",
    "cell",
    "n_trials",
    "replicate",
    "parameter",
    "true_value",
    "exact_mean",
    "exact_sd",
    "exact_cdf_true",
    "mcmc_mean",
    "mcmc_mcse",
    "mcmc_cdf_true",
    "z",
    "cdf_diff",
    "divergences",
    "status",
]


def exact_job(
    data_path: PathLike,
    fit_paths: Mapping[str, PathLike],
    output: PathLike,
    exact_config: Mapping[str, Any],
    replicates: Sequence[int],
    truth: Mapping[str, float] | None,
    log_path: PathLike,
) -> None:
    """Compute the exact posterior of some datasets and compare each PyMC fit with it.

    Parameters
    ----------
    data_path : path-like
        A data table (a grid cell's, or an SBC batch's).
    fit_paths : mapping of str to path-like
        The PyMC fit tables of those datasets, by method.
    output : path-like
        The check's table (columns :data:`EXACT_COLUMNS`).
    exact_config : mapping
        The validated ``seed``, ``task`` (this job's number of trials) and ``priors``.
    replicates : sequence of int
        The datasets to check.
    truth : mapping of str to float, optional
        The cell's truth; None for SBC datasets, whose truths are drawn again.
    log_path : path-like
        The job's log.
    """
    from rlrecover.config import TaskSettings
    from rlrecover.data import iter_datasets, sbc_truth
    from rlrecover.exact import compare_with_mcmc, exact_posterior
    from rlrecover.qlearning import PARAMS, Priors

    task = TaskSettings.from_config(exact_config["task"])
    priors = Priors.from_config(exact_config["priors"])
    seed = int(exact_config["seed"])
    wanted = {int(r) for r in replicates}
    with job_log(log_path) as log:
        data = pd.read_csv(data_path, sep="\t")
        fits = {m: read_recovery(p) for m, p in fit_paths.items()}
        rows = []
        for rep, actions, rewards in iter_datasets(data[data["replicate"].isin(wanted)]):
            true = dict(truth) if truth is not None else sbc_truth(seed, rep, priors)
            start = time.perf_counter()
            exact = exact_posterior(actions, rewards, priors, task.q_init, truth=true)
            log(f"replicate {rep}: exact posterior in {time.perf_counter() - start:.2f} s")
            for method, table in fits.items():
                fit = table[table["replicate"] == rep]
                if fit.empty:
                    raise ValueError(f"{fit_paths[method]} has no row for replicate {rep}")
                fit = fit.iloc[0]
                est = {p: float(fit[f"{p}_est"]) for p in PARAMS}
                mcse = {p: float(fit[f"{p}_mcse"]) for p in PARAMS}
                cdf = {p: float(fit[f"{p}_cdf_true"]) for p in PARAMS}
                cmp = compare_with_mcmc(exact, est, mcse, cdf)
                for p in PARAMS:
                    rows.append(
                        {
                            "method": method,
                            "cell": fit["cell"],
                            "n_trials": int(fit["n_trials"]),
                            "replicate": rep,
                            "parameter": p,
                            "true_value": true[p],
                            "exact_mean": exact.mean[p],
                            "exact_sd": exact.sd[p],
                            "exact_cdf_true": exact.cdf_true[p],
                            "mcmc_mean": est[p],
                            "mcmc_mcse": mcse[p],
                            "mcmc_cdf_true": cdf[p],
                            "z": cmp[f"{p}_z"],
                            "cdf_diff": cmp[f"{p}_cdf_diff"],
                            "divergences": fit["divergences"],
                            "status": fit["status"],
                        }
                    )
        out = pd.DataFrame(rows, columns=EXACT_COLUMNS)
        out.to_csv(output, sep="\t", index=False)
        log(f"wrote {len(out)} rows to {output}")


def exact_table_job(
    inputs: Sequence[PathLike], table_path: PathLike, plot_path: PathLike, log_path: PathLike
) -> None:
    """Stack the exact-check tables; plot the distribution of z.

    Parameters
    ----------
    inputs : sequence of path-like
        Exact-check tables (possibly none).
    table_path, plot_path : path-like
        ``results/tables/exact_check.tsv`` and its figure.
    log_path : path-like
        The job's log.
    """
    from rlrecover.plots import plot_exact_check

    with job_log(log_path) as log:
        frames = [pd.read_csv(p, sep="\t") for p in inputs]
        table = (
            pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=EXACT_COLUMNS)
        )
        table.to_csv(table_path, sep="\t", index=False)
        log(f"wrote {len(table)} rows to {table_path}")
        plot_exact_check(table, plot_path)
        log(f"wrote {plot_path}")


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
        The tables by name: ``recovery`` (the recovery table) and any of the names
        :func:`rlrecover.report.render_report` shows.
    images : mapping of str to path-like
        Figure files by name.
    config : mapping
        The validated config, shown in the report.
    log_path : path-like
        The job's log.
    """
    from rlrecover.report import package_versions, write_report

    with job_log(log_path) as log:
        frames = {
            name: read_recovery(path)
            if name in ("recovery", "sbc_recovery")
            else pd.read_csv(path, sep="\t")
            for name, path in tables.items()
        }
        versions = package_versions()
        write_report(
            output, config=dict(config), tables=frames, images=dict(images), versions=versions
        )
        log(f"wrote {output}")
        log("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
