"""What every analysis table shares: row masks, statistics, grouping helpers, constants.

The tables of :mod:`rlrecover.analysis` all start from one model's recovery table
(one row per method and dataset, the columns of
:func:`rlrecover.summary.summary_columns` for that model's parameters) and group it
the same way. This module holds those shared pieces:

* which rows count (:func:`ok_mask` for intervals and CDF values,
  :func:`estimate_mask` for point estimates) and why a row was left out
  (:func:`exclusion_labels`, :func:`flag_reasons`);
* grouping: methods in report order (:func:`method_order`), numbers of trials
  (:func:`n_trials_values`, :func:`trial_mask`), cells ordered by their true values
  (:func:`cells_of`);
* statistics: Pearson and Spearman correlations that are NaN (without warnings) when
  undefined, the Wilson interval of a proportion, bias and RMSE on the natural and log
  scale (:func:`error_stats`), a parameter's *analysis scale* (:func:`analysis_scale`:
  log for positive parameters, natural for parameters in [0, 1]).

Conventions of every table
--------------------------
Rows are ordered by method (:data:`rlrecover.summary.METHODS` first, any other method
after, alphabetically), then parameter (in the model's order), then number of trials
(where the table groups by it), then the overall row ``cell == "all"``, then cells by
their true values in parameter order.

A study may simulate datasets of several lengths (column ``n_trials``); statistics are
then computed separately for each length, never pooled across lengths (coverage apart,
:func:`rlrecover.analysis.coverage.coverage_table`). A table without an ``n_trials``
column counts as one group with ``n_trials`` NaN.

Positive parameters (inverse temperatures, :attr:`rlrecover.models.base.Param.log_scale`)
are also summarised on the log scale, where an estimate twice the truth and one half of
it are equally wrong and a few estimates at the upper bound of a fit do not dominate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import binomtest, rankdata

from rlrecover.inference.mle import STATUS_UNUSABLE_SE
from rlrecover.models.base import Model, Param
from rlrecover.summary import METHODS, interval_columns, level_label

__all__ = [
    "ALL_CELLS",
    "ESS_MIN",
    "ESTIMATE_STATUSES",
    "RHAT_MAX",
    "analysis_scale",
    "cells_of",
    "coverage_column",
    "coverage_hits",
    "error_stats",
    "estimate_mask",
    "excluded_text",
    "exclusion_labels",
    "flag_reasons",
    "flagged_mask",
    "grid_values",
    "is_missing",
    "method_order",
    "n_trials_values",
    "numeric_column",
    "ok_mask",
    "pairs",
    "pearson",
    "read_flag",
    "require_columns",
    "scale_name",
    "spearman",
    "statuses",
    "sustained_min",
    "trial_mask",
    "trials_int",
    "true_columns",
    "whole_numbers",
    "wilson_interval",
]

#: Label of the row that pools every cell.
ALL_CELLS = "all"
#: Default R-hat threshold of the diagnostics (flag when strictly greater).
RHAT_MAX = 1.01
#: Default bulk-ESS threshold of the diagnostics (flag when strictly smaller).
ESS_MIN = 400
#: Statuses whose estimates count in error metrics: ok fits, and maximum-likelihood
#: fits whose finite estimate is kept though their standard errors are unusable.
ESTIMATE_STATUSES: tuple[str, ...] = ("ok", STATUS_UNUSABLE_SE)


# --------------------------------------------------------------------------- values


def is_missing(x: object) -> bool:
    """Whether one table cell holds no value.

    Parameters
    ----------
    x : object
        A cell value, of any type.

    Returns
    -------
    bool
        True for ``None``, ``pandas.NA`` and NaN (float or NumPy floating); False for
        everything else, including text, infinities and values that are not numbers.
    """
    if x is None or x is pd.NA:
        return True
    try:
        return bool(np.isnan(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def read_flag(x: object) -> bool | None:
    """A boolean cell that may have come back from a TSV as text or a number.

    Parameters
    ----------
    x : object

    Returns
    -------
    bool or None
        None when missing or unreadable.
    """
    if is_missing(x):
        return None
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | float | np.integer | np.floating):
        return bool(x)
    text = str(x).strip().lower()
    if text in {"true", "t", "yes", "1", "1.0"}:
        return True
    if text in {"false", "f", "no", "0", "0.0"}:
        return False
    return None


def numeric_column(df: pd.DataFrame, col: str) -> np.ndarray:
    """Column ``col`` of ``df`` as floats: NaN where missing, unreadable, or no such column.

    Parameters
    ----------
    df : pandas.DataFrame
    col : str

    Returns
    -------
    numpy.ndarray of float
    """
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def require_columns(df: pd.DataFrame, cols: Iterable[str]) -> None:
    """Raise ``KeyError`` naming the columns of ``cols`` that ``df`` lacks."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"recovery table lacks column(s): {', '.join(missing)}")


def true_columns(model: Model) -> list[str]:
    """The truth columns of ``model``'s parameters, in order: ``alpha_true, beta_true``."""
    return [f"{p}_true" for p in model.param_names]


def pairs(model: Model) -> list[tuple[str, str]]:
    """Every pair ``(p, q)`` of the model's parameters with ``p`` before ``q``, in order."""
    names = model.param_names
    return [(p, q) for i, p in enumerate(names) for q in names[i + 1 :]]


# --------------------------------------------------------------------------- row masks


def statuses(df: pd.DataFrame) -> np.ndarray:
    """``status`` of each row, stripped and lower case (``"ok"`` without the column)."""
    if "status" not in df.columns:
        return np.full(len(df), "ok", dtype=object)
    return df["status"].astype(str).str.strip().str.lower().to_numpy(dtype=object)


def ok_mask(df: pd.DataFrame) -> np.ndarray:
    """Which rows are fully usable fits (``status`` "ok"; every row without the column).

    Only these count in coverage (intervals, CDF at the truth) and in the Wald or
    posterior correlations.

    Parameters
    ----------
    df : pandas.DataFrame

    Returns
    -------
    numpy.ndarray of bool
    """
    return np.asarray(statuses(df) == "ok", dtype=bool)


def estimate_mask(df: pd.DataFrame) -> np.ndarray:
    """Which rows' point estimates count in error metrics (:data:`ESTIMATE_STATUSES`).

    That is ok fits and ``"unusable_se"`` maximum-likelihood fits: an optimum with a
    flat likelihood around it is still the estimate a user of maximum likelihood
    gets, so leaving it out would flatter the method; its interval is left out of
    coverage instead (:func:`ok_mask`). Every row counts when there is no ``status``
    column.

    Parameters
    ----------
    df : pandas.DataFrame

    Returns
    -------
    numpy.ndarray of bool
    """
    return np.isin(statuses(df), ESTIMATE_STATUSES)


def exclusion_labels(df: pd.DataFrame, usable: np.ndarray) -> np.ndarray:
    """Why each row is left out of a coverage count: ``""`` when it counts.

    Parameters
    ----------
    df : pandas.DataFrame
        Recovery rows.
    usable : numpy.ndarray of bool
        Rows whose status is ok and whose values (interval, CDF) are finite.

    Returns
    -------
    numpy.ndarray of str
        ``""`` where ``usable``; else the fit's status when it is not ok (``failed``,
        ``unusable_se``, ``nonfinite``), else ``"no finite interval"``.
    """
    status = statuses(df)
    out = np.where(status == "ok", "no finite interval", status).astype(object)
    out[np.asarray(usable, dtype=bool)] = ""
    return out


def excluded_text(labels: Iterable[str]) -> str:
    """Counts of the non-empty labels: ``"unusable_se 8, failed 1"`` (most frequent first)."""
    counts: dict[str, int] = {}
    for lab in labels:
        if lab:
            counts[lab] = counts.get(lab, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k} {v}" for k, v in ordered)


# --------------------------------------------------------------------------- grouping


def method_order(methods: Iterable[object]) -> list[str]:
    """Methods in report order: known methods first, in fixed order, then the rest.

    Parameters
    ----------
    methods : iterable
        Method names, duplicates allowed.

    Returns
    -------
    list of str
        Distinct method names, ``mle, pymc_potential, pymc_bernoulli`` first (those
        present), then any other name in alphabetical order.
    """
    present = {str(m) for m in methods if not is_missing(m)}
    known = [m for m in METHODS if m in present]
    return known + sorted(present - set(known))


def cells_of(df: pd.DataFrame, model: Model) -> list[tuple[str, tuple[float, ...]]]:
    """Distinct cells (distinct truths) of ``df``, ordered by their true values.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows with ``cell`` and ``{p}_true`` columns.
    model : Model

    Returns
    -------
    list of (str, tuple of float)
        ``(cell, true values in parameter order)``, sorted by the true values in
        parameter order, then by the label. Works for grids and for space-filling or
        prior truths alike (each truth is a cell).
    """
    if df.empty:
        return []
    cols = true_columns(model)
    first = df.groupby("cell", sort=False)[cols].first().reset_index()
    first = first.sort_values([*cols, "cell"], kind="stable")
    return [
        (str(rec[0]), tuple(float(v) for v in rec[1:]))
        for rec in first[["cell", *cols]].itertuples(index=False)
    ]


def grid_values(df: pd.DataFrame, model: Model) -> list[list[float]] | None:
    """The grid of a table's truths: per parameter its distinct values, if the truths form one.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows with ``{p}_true`` columns (a recovery table, or a per-cell table).
    model : Model

    Returns
    -------
    list of list of float, or None
        The sorted distinct true values of each parameter when the distinct truths
        are exactly every combination of them (a grid design; a single truth counts
        as a grid of one cell), else None (space-filling or prior truths, or no
        finite truth).
    """
    cols = true_columns(model)
    if not all(c in df.columns for c in cols) or df.empty:
        return None
    truths = np.column_stack([numeric_column(df, c) for c in cols])
    truths = truths[np.isfinite(truths).all(axis=1)]
    if not len(truths):
        return None
    distinct = np.unique(truths, axis=0)
    values = [sorted({float(v) for v in truths[:, j]}) for j in range(len(cols))]
    return values if len(distinct) == math.prod(len(v) for v in values) else None


def n_trials_values(recovery: pd.DataFrame) -> list[float]:
    """Distinct numbers of trials of a table, ascending.

    Parameters
    ----------
    recovery : pandas.DataFrame
        A table with an ``n_trials`` column (any table of :mod:`rlrecover.analysis`).

    Returns
    -------
    list of float
        The distinct finite values, then NaN if some row has none (or the column is
        missing); ``[nan]`` for a table without numbers of trials.
    """
    v = numeric_column(recovery, "n_trials")
    values = [float(x) for x in np.unique(v[np.isfinite(v)])]
    if np.isnan(v).any() or not values:
        values.append(math.nan)
    return values


def trial_mask(df: pd.DataFrame, n_trials: float) -> np.ndarray:
    """Rows of ``df`` with ``n_trials`` trials (NaN selects rows without a number)."""
    v = numeric_column(df, "n_trials")
    return np.isnan(v) if math.isnan(n_trials) else v == n_trials


def whole_numbers(frame: pd.DataFrame, cols: Iterable[str]) -> pd.DataFrame:
    """Cast float columns that hold only whole numbers (no NaN) to int64, in place."""
    for col in cols:
        v = pd.to_numeric(frame[col], errors="coerce")
        if len(v) and v.notna().all() and (v == v.round()).all():
            frame[col] = v.astype("int64")
    return frame


def trials_int(values: Sequence[float]) -> pd.arrays.IntegerArray:
    """Numbers of trials as a nullable integer array (``<NA>`` for NaN)."""
    return pd.array([pd.NA if math.isnan(v) else round(v) for v in values], dtype="Int64")


def sustained_min(ns: Sequence[float], good: Sequence[bool]) -> float:
    """Smallest ``n`` from which on every larger ``n`` is ``good`` (NaN if the largest is not).

    NaN entries of ``ns`` (no number of trials) are ignored.
    """
    best = math.nan
    ordered = sorted((n, g) for n, g in zip(ns, good, strict=True) if not math.isnan(n))
    for n, g in reversed(ordered):
        if not g:
            break
        best = n
    return best


# --------------------------------------------------------------------------- statistics


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation, NaN (without warnings) when undefined.

    Parameters
    ----------
    x, y : numpy.ndarray
        Paired finite values.

    Returns
    -------
    float
        In [-1, 1]; NaN with fewer than two pairs or a constant ``x`` or ``y``.
    """
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    dx = x - x.mean()
    dy = y - y.mean()
    denom = math.sqrt(float(dx @ dx) * float(dy @ dy))
    if not denom > 0:
        return math.nan
    return float(np.clip((dx @ dy) / denom, -1.0, 1.0))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (Pearson on average ranks), NaN when undefined."""
    if len(x) < 2:
        return math.nan
    return pearson(rankdata(x), rankdata(y))


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Parameters
    ----------
    k : int
        Number of successes, ``0 <= k <= n``.
    n : int
        Number of trials. With ``n == 0`` both bounds are NaN.
    confidence : float, default 0.95
        Confidence level in (0, 1).

    Returns
    -------
    tuple of float
        ``(low, high)``, within [0, 1].

    Notes
    -----
    Computed by ``scipy.stats.binomtest(k, n).proportion_ci(confidence_level=confidence,
    method="wilson")``. With :math:`\\hat p = k/n` and :math:`z` the :math:`(1+c)/2`
    normal quantile, the interval is :math:`(\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n
    + z^2/4n^2}) / (1 + z^2/n)`.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k!r}, n={n!r}")
    if n == 0:
        return math.nan, math.nan
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def scale_name(param: Param) -> str:
    """``"log"`` for a positive parameter, ``"linear"`` for one in [0, 1]."""
    return "log" if param.log_scale else "linear"


def analysis_scale(param: Param, values: np.ndarray) -> np.ndarray:
    """``values`` on the parameter's analysis scale: log for positive parameters.

    A parameter in [0, 1] keeps its natural scale (a logit scale would be dominated by
    maximum-likelihood estimates at the box edge, logit = +-12); a positive one is
    logged, non-positive values becoming NaN.

    Parameters
    ----------
    param : Param
    values : numpy.ndarray

    Returns
    -------
    numpy.ndarray of float
    """
    values = np.asarray(values, dtype=float)
    if not param.log_scale:
        return values
    out = np.full(values.shape, np.nan)
    pos = values > 0
    out[pos] = np.log(values[pos])
    return out


def error_stats(param: Param, truth: np.ndarray, est: np.ndarray) -> dict[str, float]:
    """Bias, RMSE and their relative and log-scale versions of paired truths/estimates.

    Parameters
    ----------
    param : Param
        The parameter.
    truth, est : numpy.ndarray
        Paired finite values.

    Returns
    -------
    dict of str to float
        ``bias`` (mean of ``est - truth``), ``rmse``; ``rel_rmse`` (root mean square
        of ``(est - true) / true``), NaN unless every truth is positive; ``log_bias``,
        ``ratio = exp(log_bias)`` and ``log_rmse`` of ``log(est / true)``, NaN unless
        the parameter is positive (:attr:`Param.log_scale`) and every truth and
        estimate is positive. All NaN without pairs.
    """
    out = dict.fromkeys(("bias", "rmse", "log_bias", "ratio", "log_rmse", "rel_rmse"), math.nan)
    if not len(truth):
        return out
    err = est - truth
    out["bias"] = float(err.mean())
    out["rmse"] = math.sqrt(float(np.mean(err * err)))
    if np.all(truth > 0):
        rel = err / truth
        out["rel_rmse"] = math.sqrt(float(np.mean(rel * rel)))
        if param.log_scale and np.all(est > 0):
            log_err = np.log(est / truth)
            out["log_bias"] = float(log_err.mean())
            out["ratio"] = math.exp(out["log_bias"])
            out["log_rmse"] = math.sqrt(float(np.mean(log_err * log_err)))
    return out


# --------------------------------------------------------------------------- coverage


def coverage_column(level: float) -> str:
    """Name of the coverage column at ``level`` in the grid and design tables: ``coverage90``.

    Parameters
    ----------
    level : float
        Nominal level in (0, 1).

    Returns
    -------
    str
    """
    return f"coverage{level_label(level)}"


def coverage_hits(
    df: pd.DataFrame, param: str, level: float, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which rows have a finite interval (``has``) and which of those cover the truth.

    Parameters
    ----------
    df : pandas.DataFrame
        Recovery rows.
    param : str
        Parameter name.
    level : float
        Nominal level of the interval columns.
    usable : numpy.ndarray of bool
        Rows allowed to count (usually :func:`ok_mask`).

    Returns
    -------
    has, hit : numpy.ndarray of bool
        ``has``: usable with finite truth and bounds (False everywhere when the table
        has no interval columns at ``level``); ``hit``: ``has`` and ``lower <= truth <=
        upper``.
    """
    lo_col, hi_col = interval_columns(param, level)
    truth = numeric_column(df, f"{param}_true")
    lo = numeric_column(df, lo_col)
    hi = numeric_column(df, hi_col)
    has = usable & np.isfinite(truth) & np.isfinite(lo) & np.isfinite(hi)
    hit = np.zeros(len(df), dtype=bool)
    hit[has] = (lo[has] <= truth[has]) & (truth[has] <= hi[has])
    return has, hit


# --------------------------------------------------------------------------- flags


def flag_reasons(
    recovery: pd.DataFrame, model: Model, rhat_max: float = RHAT_MAX, ess_min: float = ESS_MIN
) -> list[str]:
    """Why each fit is flagged by the diagnostics, ``""`` when it is not.

    See :func:`rlrecover.analysis.metrics.diagnostics` for the reasons.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery table.
    model : Model
        The model (its parameters' estimates are checked for finiteness).
    rhat_max : float, default 1.01
        Largest acceptable R-hat.
    ess_min : float, default 400
        Smallest acceptable bulk effective sample size.

    Returns
    -------
    list of str
        One entry per row of ``recovery``, in row order: the reasons joined with
        ``"; "``.
    """
    n = len(recovery)
    ok = ok_mask(recovery)
    status = statuses(recovery)
    rhat = numeric_column(recovery, "rhat_max")
    ess = numeric_column(recovery, "ess_bulk_min")
    div = numeric_column(recovery, "divergences")
    est = {p: numeric_column(recovery, f"{p}_est") for p in model.param_names}
    conv = [read_flag(x) for x in recovery.get("converged", pd.Series([None] * n))]
    bound = [read_flag(x) for x in recovery.get("at_bound", pd.Series([None] * n))]
    errors = recovery.get("error", pd.Series([""] * n)).tolist()

    reasons: list[str] = []
    for i in range(n):
        why: list[str] = []
        if not ok[i]:
            err = "" if is_missing(errors[i]) else str(errors[i]).strip()
            label = "failed" if status[i] in ("failed", "", "nan", "<na>") else status[i]
            why.append(f"{label}: {err}" if err else label)
        else:
            bad = [p for p in model.param_names if not np.isfinite(est[p][i])]
            if bad:
                why.append("non-finite estimate (" + ", ".join(bad) + ")")
        if np.isfinite(rhat[i]) and rhat[i] > rhat_max:
            why.append(f"R-hat {rhat[i]:.4f} > {rhat_max:g}")
        if np.isfinite(ess[i]) and ess[i] < ess_min:
            why.append(f"bulk ESS {ess[i]:.0f} < {ess_min:g}")
        if np.isfinite(div[i]) and div[i] > 0:
            why.append(f"{div[i]:.0f} divergence(s)")
        if bound[i] is True:
            why.append("MLE at a bound")
        if conv[i] is False:
            why.append("optimiser did not converge")
        reasons.append("; ".join(why))
    return reasons


def flagged_mask(
    recovery: pd.DataFrame, model: Model, rhat_max: float = RHAT_MAX, ess_min: float = ESS_MIN
) -> np.ndarray:
    """Which rows :func:`flag_reasons` flags (a boolean array in row order)."""
    reasons = flag_reasons(recovery, model, rhat_max=rhat_max, ess_min=ess_min)
    return np.array([bool(r) for r in reasons], dtype=bool)
