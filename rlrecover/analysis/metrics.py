"""Recovery metrics, per-cell summaries, flagged fits and run times of one model.

Every function takes one model's recovery table (one row per method and dataset,
columns :func:`rlrecover.summary.summary_columns` of the model's parameters) and
returns a tidy :class:`pandas.DataFrame`; row order and the handling of numbers of
trials follow :mod:`rlrecover.analysis.common`.

Fits with ``status != "ok"`` are listed by :func:`diagnostics` with the reason and
counted by :func:`runtime_table`. One non-ok status keeps the estimate: a
maximum-likelihood fit with ``status == "unusable_se"`` (finite estimate, but standard
errors that are not finite or absurdly large, see
:func:`rlrecover.inference.mle.usability`) counts in the error metrics (bias, RMSE,
correlations; :func:`rlrecover.analysis.common.estimate_mask`) but never in coverage
(:func:`rlrecover.analysis.common.ok_mask`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rlrecover.analysis.common import (
    ALL_CELLS,
    ESS_MIN,
    RHAT_MAX,
    cells_of,
    coverage_column,
    coverage_hits,
    error_stats,
    estimate_mask,
    flag_reasons,
    flagged_mask,
    is_missing,
    method_order,
    n_trials_values,
    numeric_column,
    ok_mask,
    pearson,
    read_flag,
    require_columns,
    spearman,
    statuses,
    trial_mask,
    true_columns,
    whole_numbers,
)
from rlrecover.inference.mle import STATUS_NONFINITE, STATUS_UNUSABLE_SE
from rlrecover.models.base import Model, Param

__all__ = [
    "RUNTIME_COLUMNS",
    "diagnostic_columns",
    "diagnostics",
    "grid_map_columns",
    "grid_map_table",
    "metric_columns",
    "recovery_metrics",
    "runtime_table",
]

RUNTIME_COLUMNS = [
    "method",
    "n_fits",
    "n_ok",
    "n_unusable",
    "n_failed",
    "total_seconds",
    "mean_seconds",
    "median_seconds",
    "max_seconds",
]


def metric_columns(model: Model) -> list[str]:
    """Columns of :func:`recovery_metrics` for ``model``."""
    return [
        "method",
        "parameter",
        "n_trials",
        "cell",
        *true_columns(model),
        "n",
        "bias",
        "rmse",
        "pearson_r",
        "spearman_r",
        "log_bias",
        "ratio",
        "log_rmse",
    ]


def grid_map_columns(model: Model, level: float = 0.9) -> list[str]:
    """Columns of :func:`grid_map_table` for ``model`` (coverage at ``level``)."""
    return [
        "method",
        "parameter",
        "n_trials",
        "cell",
        *true_columns(model),
        "n",
        "bias",
        "rmse",
        "log_bias",
        "log_rmse",
        "rel_rmse",
        coverage_column(level),
        "n_interval",
        "n_fits",
        "n_flagged",
        "flagged_share",
    ]


def diagnostic_columns(model: Model) -> list[str]:
    """Columns of :func:`diagnostics` for ``model``."""
    return [
        "method",
        "cell",
        *true_columns(model),
        "n_trials",
        "replicate",
        "reason",
        "status",
        "rhat_max",
        "ess_bulk_min",
        "ess_tail_min",
        "divergences",
        "converged",
        "at_bound",
        *[f"{p}_est" for p in model.param_names],
        "error",
    ]


# --------------------------------------------------------------------------- metrics


def _metric_row(
    method: str,
    param: Param,
    n_trials: float,
    cell: str,
    true_values: dict[str, float],
    truth: np.ndarray,
    est: np.ndarray,
) -> dict[str, object]:
    stats = error_stats(param, truth, est)
    return {
        "method": method,
        "parameter": param.name,
        "n_trials": n_trials,
        "cell": cell,
        **true_values,
        "n": len(truth),
        "bias": stats["bias"],
        "rmse": stats["rmse"],
        "pearson_r": pearson(truth, est),
        "spearman_r": spearman(truth, est),
        "log_bias": stats["log_bias"],
        "ratio": stats["ratio"],
        "log_rmse": stats["log_rmse"],
    }


def recovery_metrics(recovery: pd.DataFrame, model: Model) -> pd.DataFrame:
    """Bias, RMSE and truth-estimate correlations per method, parameter, length and cell.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery table (one row per method and dataset).
    model : Model
        The model whose parameters are summarised.

    Returns
    -------
    pandas.DataFrame
        Columns ``method, parameter, n_trials, cell, {p}_true (each parameter), n,
        bias, rmse, pearson_r, spearman_r, log_bias, ratio, log_rmse``. For each
        method, parameter and number of trials there is one pooled row with ``cell ==
        "all"`` (true values NaN) and one row per cell (per distinct truth, also for
        space-filling or prior designs). ``bias`` is the mean of ``{p}_est -
        {p}_true``; ``rmse`` the root mean squared error. Only rows with ``status`` ok
        (or ``"unusable_se"``: :func:`rlrecover.analysis.common.estimate_mask`, their
        estimate is finite, only their interval is not usable) and finite truth and
        estimate count (``n``). The correlations are NaN when fewer than two rows
        count or when truth (always the case within a cell) or estimate is constant.
        A method or cell whose fits all failed gets a row with ``n == 0`` and NaN
        statistics.

        For positive parameters (inverse temperatures) ``log_bias`` is the mean of
        ``log(est / true)``, ``ratio = exp(log_bias)`` the geometric mean of ``est /
        true`` (1 is unbiased, 0.8 means 20% too small) and ``log_rmse`` the root mean
        square of ``log(est / true)`` (about the typical relative error when small).
        They are NaN for parameters in [0, 1], whose natural scale is already bounded
        (a logit scale would be dominated by maximum-likelihood estimates at the box
        edge, logit = +-12), and NaN when a counted estimate is not positive.
        ``n_trials`` is an integer column when every row has a number of trials.
    """
    truth_cols = true_columns(model)
    require_columns(recovery, ["method", "cell", *truth_cols])
    ok = estimate_mask(recovery)
    rows: list[dict[str, object]] = []
    nan_truth = dict.fromkeys(truth_cols, math.nan)
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        m_ok = ok[is_m]
        cells = cells_of(m_all, model)
        cell_col = m_all["cell"].astype(str).to_numpy()
        for param in model.params:
            truth = numeric_column(m_all, f"{param.name}_true")
            est = numeric_column(m_all, f"{param.name}_est")
            use = m_ok & np.isfinite(truth) & np.isfinite(est)
            for n_trials in n_trials_values(m_all):
                in_n = use & trial_mask(m_all, n_trials)
                rows.append(
                    _metric_row(
                        method, param, n_trials, ALL_CELLS, nan_truth, truth[in_n], est[in_n]
                    )
                )
                for cell, values in cells:
                    sel = in_n & (cell_col == cell)
                    true_values = dict(zip(truth_cols, values, strict=True))
                    rows.append(
                        _metric_row(
                            method, param, n_trials, cell, true_values, truth[sel], est[sel]
                        )
                    )
    out = pd.DataFrame(rows, columns=metric_columns(model)).astype({"n": "int64"})
    return whole_numbers(out, ["n_trials"])


# --------------------------------------------------------------------------- grid maps


def grid_map_table(
    recovery: pd.DataFrame,
    model: Model,
    *,
    level: float = 0.9,
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_MIN,
) -> pd.DataFrame:
    """Per-cell recovery summaries: the numbers behind the maps of a two-parameter grid.

    Works for any number of parameters and any design (a cell is a distinct truth);
    only a two-parameter grid is drawn as a map
    (:func:`rlrecover.report.maps.plot_grid_map`).

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery table.
    model : Model
        The model.
    level : float, default 0.9
        Nominal level of the intervals whose coverage is reported.
    rhat_max, ess_min : float
        Thresholds of :func:`diagnostics`, which decide which fits are flagged.

    Returns
    -------
    pandas.DataFrame
        One row per method, parameter, number of trials and cell (ordered so), columns
        ``method, parameter, n_trials, cell, {p}_true (each parameter), n, bias, rmse,
        log_bias, log_rmse, rel_rmse, coverage90, n_interval, n_fits, n_flagged,
        flagged_share`` (the coverage column is named by
        :func:`rlrecover.analysis.common.coverage_column`).

        ``n`` counts fits with a finite estimate whose status is ok or
        ``"unusable_se"``; ``bias``, ``rmse``, ``log_bias`` and ``log_rmse`` are those
        of :func:`recovery_metrics` and ``rel_rmse`` the root mean square of ``(est -
        true) / true``. ``coverage90`` is the share of the ``n_interval`` ok fits with
        a finite interval at ``level`` whose interval holds the truth (NaN when there
        is none, e.g. the table has no interval columns at that level). ``n_fits``
        counts every fit of the cell, failed ones included, ``n_flagged`` those
        :func:`diagnostics` lists and ``flagged_share = n_flagged / n_fits``; these
        three describe fits, not parameters, and repeat on each parameter's row.
    """
    truth_cols = true_columns(model)
    require_columns(recovery, ["method", "cell", *truth_cols])
    cov_col = coverage_column(level)
    ok = ok_mask(recovery)
    est_ok = estimate_mask(recovery)
    flagged = flagged_mask(recovery, model, rhat_max, ess_min)
    rows: list[dict[str, object]] = []
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        m_ok, m_flag, m_est = ok[is_m], flagged[is_m], est_ok[is_m]
        cells = cells_of(m_all, model)
        cell_col = m_all["cell"].astype(str).to_numpy()
        for param in model.params:
            truth = numeric_column(m_all, f"{param.name}_true")
            est = numeric_column(m_all, f"{param.name}_est")
            use = m_est & np.isfinite(truth) & np.isfinite(est)
            has, hit = coverage_hits(m_all, param.name, level, m_ok)
            for n_trials in n_trials_values(m_all):
                in_n = trial_mask(m_all, n_trials)
                for cell, values in cells:
                    in_cell = in_n & (cell_col == cell)
                    sel = use & in_cell
                    stats = error_stats(param, truth[sel], est[sel])
                    n_int = int((has & in_cell).sum())
                    n_fits = int(in_cell.sum())
                    n_flag = int((m_flag & in_cell).sum())
                    rows.append(
                        {
                            "method": method,
                            "parameter": param.name,
                            "n_trials": n_trials,
                            "cell": cell,
                            **dict(zip(truth_cols, values, strict=True)),
                            "n": int(sel.sum()),
                            **{k: stats[k] for k in ("bias", "rmse", "log_bias", "log_rmse")},
                            "rel_rmse": stats["rel_rmse"],
                            cov_col: (hit & in_cell).sum() / n_int if n_int else math.nan,
                            "n_interval": n_int,
                            "n_fits": n_fits,
                            "n_flagged": n_flag,
                            "flagged_share": n_flag / n_fits if n_fits else math.nan,
                        }
                    )
    out = pd.DataFrame(rows, columns=grid_map_columns(model, level))
    out = out.astype({c: "int64" for c in ("n", "n_interval", "n_fits", "n_flagged")})
    return whole_numbers(out, ["n_trials"])


# --------------------------------------------------------------------------- diagnostics


def diagnostics(
    recovery: pd.DataFrame, model: Model, rhat_max: float = RHAT_MAX, ess_min: float = ESS_MIN
) -> pd.DataFrame:
    """The fits worth a second look, one row per flagged fit.

    A fit is flagged when any of these holds (all reasons are joined with ``"; "`` in
    the ``reason`` column, :func:`rlrecover.analysis.common.flag_reasons`):

    - ``status`` is not ``"ok"`` (reason ``<status>: <error text>``, e.g. ``failed:
      ...``, or for maximum likelihood ``unusable_se: Hessian not positive
      definite`` or ``unusable_se: SE of log(beta) 2.3e+14 > 13.8, the width of its
      search box [...]`` (standard errors not finite or larger than the free search
      box is wide, :func:`rlrecover.inference.mle.usability`) and ``nonfinite:
      estimate of beta not finite``);
    - ``status`` is ok but an estimate is not finite;
    - ``rhat_max > rhat_max``;
    - ``ess_bulk_min < ess_min``;
    - ``divergences > 0``;
    - ``at_bound`` is true (maximum likelihood hit a box bound);
    - ``converged`` is false (the optimiser reported failure).

    Missing values (NaN) never flag a fit, so R-hat/ESS/divergences only act on PyMC
    rows and ``at_bound``/``converged`` only on MLE rows.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery table.
    model : Model
        The model.
    rhat_max : float, default 1.01
        Largest acceptable R-hat.
    ess_min : float, default 400
        Smallest acceptable bulk effective sample size.

    Returns
    -------
    pandas.DataFrame
        Columns ``method, cell, {p}_true (each parameter), n_trials, replicate,
        reason, status, rhat_max, ess_bulk_min, ess_tail_min, divergences, converged,
        at_bound, {p}_est (each parameter), error``; empty (with these columns) when
        nothing is flagged. ``n_trials`` is NaN when the table has no such column.
        Rows are ordered by method, then true values, cell, number of trials and
        replicate.
    """
    require_columns(recovery, ["method", "cell"])
    n = len(recovery)
    reasons = flag_reasons(recovery, model, rhat_max=rhat_max, ess_min=ess_min)
    truth_cols = true_columns(model)
    conv = [read_flag(x) for x in recovery.get("converged", pd.Series([None] * n))]
    bound = [read_flag(x) for x in recovery.get("at_bound", pd.Series([None] * n))]
    errors = recovery.get("error", pd.Series([""] * n)).tolist()
    status = recovery.get("status", pd.Series(["ok"] * n)).tolist()
    flagged = np.array([bool(r) for r in reasons], dtype=bool)
    data: dict[str, object] = {
        "method": recovery["method"].astype(str).to_numpy(),
        "cell": recovery["cell"].astype(str).to_numpy(),
        **{c: numeric_column(recovery, c) for c in truth_cols},
        "n_trials": numeric_column(recovery, "n_trials"),
        "replicate": numeric_column(recovery, "replicate"),
        "reason": reasons,
        "status": [str(s) for s in status],
        "rhat_max": numeric_column(recovery, "rhat_max"),
        "ess_bulk_min": numeric_column(recovery, "ess_bulk_min"),
        "ess_tail_min": numeric_column(recovery, "ess_tail_min"),
        "divergences": numeric_column(recovery, "divergences"),
        "converged": pd.array(conv, dtype="boolean"),
        "at_bound": pd.array(bound, dtype="boolean"),
        **{f"{p}_est": numeric_column(recovery, f"{p}_est") for p in model.param_names},
        "error": ["" if is_missing(e) else str(e) for e in errors],
    }
    out = pd.DataFrame(data, columns=diagnostic_columns(model))[flagged]
    if out.empty:
        return out.reset_index(drop=True)
    rank = {m: i for i, m in enumerate(method_order(out["method"]))}
    out = out.assign(_m=out["method"].map(rank)).sort_values(
        ["_m", *truth_cols, "cell", "n_trials", "replicate"], kind="stable"
    )
    out = out.drop(columns="_m").reset_index(drop=True)
    return whole_numbers(out, ["n_trials", "replicate"])


# --------------------------------------------------------------------------- run time


def runtime_table(recovery: pd.DataFrame) -> pd.DataFrame:
    """Wall-clock seconds per method.

    Parameters
    ----------
    recovery : pandas.DataFrame
        A recovery table (``seconds`` is the time of one fit); it needs no parameter
        columns.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RUNTIME_COLUMNS`: ``method, n_fits, n_ok, n_unusable,
        n_failed, total_seconds, mean_seconds, median_seconds, max_seconds``, one row
        per method. All fits count, failed ones included; ``n_unusable`` counts fits
        that ran but whose standard errors or estimate are unusable (status
        ``unusable_se`` or ``nonfinite``), ``n_failed`` every other non-ok status.
        Missing ``seconds`` are ignored in the time statistics.
    """
    require_columns(recovery, ["method"])
    ok = ok_mask(recovery)
    status = statuses(recovery)
    unusable = ~ok & np.isin(status, (STATUS_UNUSABLE_SE, STATUS_NONFINITE))
    secs = numeric_column(recovery, "seconds")
    methods = recovery["method"].astype(str).to_numpy()
    rows = []
    for method in method_order(recovery["method"]):
        sel = methods == method
        s = secs[sel]
        s = s[np.isfinite(s)]
        rows.append(
            {
                "method": method,
                "n_fits": int(sel.sum()),
                "n_ok": int((sel & ok).sum()),
                "n_unusable": int((sel & unusable).sum()),
                "n_failed": int((sel & ~ok & ~unusable).sum()),
                "total_seconds": float(s.sum()) if s.size else math.nan,
                "mean_seconds": float(s.mean()) if s.size else math.nan,
                "median_seconds": float(np.median(s)) if s.size else math.nan,
                "max_seconds": float(s.max()) if s.size else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=RUNTIME_COLUMNS)
