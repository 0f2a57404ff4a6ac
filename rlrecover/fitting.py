"""Fit a table of datasets with one method, one summary row per dataset.

A grid cell's datasets share one truth (:func:`fit_cell`); simulation-based
calibration draws a truth per dataset (:func:`fit_datasets` with one
:class:`DatasetSpec` per replicate).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rlrecover.cancel import check_cancel
from rlrecover.config import Settings
from rlrecover.data import iter_datasets
from rlrecover.seeds import derive_seed
from rlrecover.summary import (
    METHODS,
    cell_label,
    corr_column,
    empty_row,
    interval_columns,
    summary_columns,
)

if TYPE_CHECKING:
    from rlrecover.inference.posterior import PosteriorFit
    from rlrecover.inference.sampling import ModelSpec
    from rlrecover.run.checkpoint import Checkpoints

__all__ = [
    "BAYES_KINDS",
    "DatasetSpec",
    "fit_cell",
    "fit_datasets",
    "sample_datasets",
    "summarize_posteriors",
]

#: The PyMC model each Bayesian method fits.
BAYES_KINDS = {"pymc_potential": "potential", "pymc_bernoulli": "bernoulli"}


@dataclass(frozen=True)
class DatasetSpec:
    """What a fit needs to know of one dataset besides its data.

    Attributes
    ----------
    truth : dict of str to float
        True value of each parameter.
    cell : str
        The ``cell`` label of its result row.
    seed_key : tuple
        Labels from which the fit's random stream is derived (with the configured
        seed and the method), e.g. the truth and the replicate number.
    """

    truth: dict[str, float]
    cell: str
    seed_key: tuple


def _fit_seed(settings: Settings, method: str, spec: DatasetSpec) -> int:
    parts = settings.model.stream_parts()
    seq = derive_seed(settings.seed, "fit", method, *parts, *spec.seed_key)
    return int(seq.generate_state(1, dtype=np.uint32)[0])


def _row(settings: Settings, levels, method, spec: DatasetSpec, rep: int, n_trials: int) -> dict:
    row = empty_row(settings.model.name, levels, method, spec.truth, rep, n_trials)
    row["cell"] = spec.cell
    return row


def _mle_rows(data, spec_of, settings, log) -> Iterator[dict]:
    from rlrecover.inference.mle import delta_sd, fit_mle

    model = settings.model
    levels = settings.coverage_levels
    for rep, actions, rewards in iter_datasets(data):
        check_cancel()
        spec = spec_of(rep)
        row = _row(settings, levels, "mle", spec, rep, len(actions))
        start = time.perf_counter()
        try:
            res = fit_mle(
                actions,
                rewards,
                model=model,
                consts=model.consts_of(settings.task.consts),
                n_starts=settings.mle.n_starts,
                method=settings.mle.method,
                levels=levels,
                rng=np.random.default_rng(_fit_seed(settings, "mle", spec)),
                truth=dict(spec.truth),
            )
            sd = delta_sd(res, model)
            for p, est in res.estimate.items():
                # The Wald distribution is symmetric on the unconstrained scale, so its
                # median maps back to the estimate itself.
                row[f"{p}_est"] = est
                row[f"{p}_median"] = est
                row[f"{p}_sd"] = sd[p]
                row[f"{p}_cdf_true"] = res.cdf_true[p]
                for level in levels:
                    lo, hi = interval_columns(p, level)
                    row[lo], row[hi] = res.intervals[(p, level)]
            for (p, q), r in res.corr.items():
                row[corr_column(p, q)] = r
            row.update(nll=res.nll, converged=res.converged, at_bound=res.at_bound)
            if not res.converged:
                row["error"] = res.message
            if res.status != "ok":
                # estimates and intervals stay in the row for inspection; the status
                # says which of them the summaries may use (rlrecover.inference.mle.usability)
                row["status"] = res.status
                row["error"] = "; ".join(e for e in (res.problem, row["error"]) if e)
        except Exception as exc:  # one bad dataset must not lose the others
            row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        row["seconds"] = time.perf_counter() - start
        yield row


def sample_datasets(
    method: str,
    data: pd.DataFrame,
    spec_of: Callable[[int], DatasetSpec],
    settings: Settings,
    log: Callable[[str], None] = print,
    cores: int = 1,
    checkpoints: Checkpoints | None = None,
    before_compile: Callable[[ModelSpec], object] | None = None,
) -> list[PosteriorFit]:
    """Sample the posterior of every dataset of a table with one Bayesian method.

    Parameters
    ----------
    method : {"pymc_potential", "pymc_bernoulli"}
        Bayesian method.
    data : pandas.DataFrame
        Datasets, columns ``replicate, trial, action, reward``.
    spec_of : callable
        ``spec_of(replicate)`` -> :class:`DatasetSpec`.
    settings : Settings
        Seed, model, task, priors and sampler settings (coverage levels are not used).
    log : callable, default print
        Receives one line per dataset.
    cores : int, default 1
        Threads per fit (see :func:`rlrecover.inference.sampling.sample_posteriors`); the draws do
        not depend on it.
    checkpoints : Checkpoints, optional
        Where each finished dataset is saved and looked up first, so that a job
        stopped half-way fits only the missing datasets when it runs again.
    before_compile : callable, optional
        Passed to :func:`rlrecover.inference.sampling.sample_posteriors`.

    Returns
    -------
    list of PosteriorFit
        One per replicate, in table order; a failed fit has ``error`` set.

    Raises
    ------
    rlrecover.cancel.Cancelled
        If the run is stopped (Ctrl-C); the datasets finished so far are checkpointed.
    """
    from rlrecover.inference.sampling import sample_posteriors

    if method not in BAYES_KINDS:
        raise ValueError(f"not a Bayesian method: {method!r}; choose from {list(BAYES_KINDS)}")
    datasets = list(iter_datasets(data))
    done: dict[int, PosteriorFit] = {}
    if checkpoints is not None:
        for rep, actions, rewards in datasets:
            fit = checkpoints.load(rep, actions, rewards)
            if fit is not None:
                done[rep] = fit
        if done:
            log(f"{method}: {len(done)} datasets taken from checkpoints of an earlier run")
    todo = [
        (rep, actions, rewards, _fit_seed(settings, method, spec_of(rep)))
        for rep, actions, rewards in datasets
        if rep not in done
    ]
    data_of = {rep: (actions, rewards) for rep, actions, rewards in datasets}
    model = settings.model
    fits = sample_posteriors(
        model,
        BAYES_KINDS[method],
        todo,
        settings.sampler,
        priors=settings.priors,
        consts=model.consts_of(settings.task.consts),
        log=log,
        cores=cores,
        before_compile=before_compile,
    )
    for fit in fits:
        if fit.compile_seconds:
            log(
                f"{method}: model ready in {fit.compile_seconds:.2f} s "
                "(built and compiled once per process)"
            )
        if checkpoints is not None and not fit.error:
            checkpoints.save(fit, *data_of[fit.key])
        line = f"{method} {spec_of(fit.key).cell} replicate {fit.key}: {fit.seconds:.3f} s, "
        line += f"failed ({fit.error})" if fit.error else "sampled"
        log(line)
        done[fit.key] = fit
    return [done[rep] for rep, _, _ in datasets]


def summarize_posteriors(
    settings: Settings,
    method: str,
    fits: Sequence[PosteriorFit],
    spec_of: Callable[[int], DatasetSpec],
    n_trials: int | Mapping[int, int],
    levels: Sequence[float],
) -> pd.DataFrame:
    """Result rows of posterior fits: estimates, intervals at ``levels``, diagnostics.

    Parameters
    ----------
    settings : Settings
        Its ``model`` (the rest is not used).
    method : {"pymc_potential", "pymc_bernoulli"}
        The method that produced the fits.
    fits : sequence of PosteriorFit
        One per dataset (``key`` is the replicate number).
    spec_of : callable
        ``spec_of(replicate)`` -> :class:`DatasetSpec`.
    n_trials : int or mapping of int to int
        Trials per dataset, the same for all or by replicate.
    levels : sequence of float
        Levels of the central intervals.

    Returns
    -------
    pandas.DataFrame
        One row per fit, columns :func:`rlrecover.summary.summary_columns`.
    """
    from rlrecover.inference.posterior import posterior_summary

    rows = []
    for fit in fits:
        spec = spec_of(fit.key)
        n = n_trials if isinstance(n_trials, int) else n_trials[fit.key]
        row = _row(settings, levels, method, spec, fit.key, n)
        if fit.error:
            row.update(status="failed", error=fit.error)
        else:
            row.update(posterior_summary(fit.draws, spec.truth, levels))
            row.update(
                rhat_max=fit.rhat_max,
                ess_bulk_min=fit.ess_bulk_min,
                ess_tail_min=fit.ess_tail_min,
                divergences=fit.divergences,
            )
        row["seconds"] = fit.seconds
        rows.append(row)
    return pd.DataFrame(rows, columns=summary_columns(settings.model.param_names, levels))


def fit_datasets(
    method: str,
    data: pd.DataFrame,
    spec_of: Callable[[int], DatasetSpec],
    settings: Settings,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Fit every dataset of a table with one method.

    PyMC models are built and compiled once for all datasets of a number of trials;
    only the data change between datasets. A dataset whose fit raises gets
    ``status = "failed"`` and the exception text; the other datasets are still fitted.
    A maximum-likelihood fit whose standard errors are unusable gets ``status =
    "unusable_se"``, one whose estimate is not finite ``"nonfinite"``, the reason
    in ``error`` (:func:`rlrecover.inference.mle.usability`).

    Parameters
    ----------
    method : {"mle", "pymc_potential", "pymc_bernoulli"}
        Fitting method.
    data : pandas.DataFrame
        Datasets, columns ``replicate, trial, action, reward``.
    spec_of : callable
        ``spec_of(replicate)`` -> :class:`DatasetSpec` (truth, cell label, seed key).
    settings : Settings
        Seeds, task, priors, sampler, MLE settings and coverage levels.
    log : callable, default print
        Receives one line per dataset: which one, seconds, status.

    Returns
    -------
    pandas.DataFrame
        One row per replicate, columns :func:`rlrecover.summary.summary_columns`.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {list(METHODS)}")
    if method != "mle":
        fits = sample_datasets(method, data, spec_of, settings, log)
        n_trials = {rep: len(actions) for rep, actions, _ in iter_datasets(data)}
        return summarize_posteriors(
            settings, method, fits, spec_of, n_trials, settings.coverage_levels
        )
    rows = _mle_rows(data, spec_of, settings, log)
    out = []
    for row in rows:
        line = f"{method} {row['cell']} replicate {row['replicate']}: {row['seconds']:.3f} s, "
        line += str(row["status"])
        if row["error"]:
            line += f" ({row['error']})"
        log(line)
        out.append(row)
    return pd.DataFrame(
        out, columns=summary_columns(settings.model.param_names, settings.coverage_levels)
    )


def fit_cell(
    method: str,
    data: pd.DataFrame,
    truth: Mapping[str, float],
    settings: Settings,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Fit all replicates of one grid cell with one method.

    Parameters
    ----------
    method : {"mle", "pymc_potential", "pymc_bernoulli"}
        Fitting method.
    data : pandas.DataFrame
        The cell's datasets, columns ``replicate, trial, action, reward``.
    truth : mapping of str to float
        True value of each model parameter (the cell), in the model's order.
    settings : Settings
        Seeds, task, priors, sampler, MLE settings and coverage levels.
    log : callable, default print
        Receives one line per dataset.

    Returns
    -------
    pandas.DataFrame
        As :func:`fit_datasets`; each fit's random stream depends on the cell's truth
        and the replicate number.
    """
    truth = {p: float(v) for p, v in truth.items()}
    cell = cell_label(truth)

    def spec_of(rep: int) -> DatasetSpec:
        return DatasetSpec(truth, cell, (*truth.values(), int(rep)))

    return fit_datasets(method, data, spec_of, settings, log)
