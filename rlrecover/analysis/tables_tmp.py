"""Recovery metrics, interval coverage, fit diagnostics and run times.

Every function takes the recovery table (``results/recovery.tsv``, one row per method
and dataset, columns as in :func:`rlrecover.summary.summary_columns`) and returns a
tidy :class:`pandas.DataFrame`. Fits with ``status != "ok"`` are left out of
coverage and listed by :func:`diagnostics` with the reason, and counted by
:func:`runtime_table`. One non-ok status keeps the estimate: a maximum-likelihood fit
with ``status == "unusable_se"`` (finite estimate, but standard errors that are not
finite or absurdly large, see :func:`rlrecover.mle.usability`) counts in the error
metrics (bias, RMSE, correlations; :func:`estimate_mask`) but never in coverage
(:func:`ok_mask`). Coverage tables say how many intervals each level used and why
the others were left out.

Rows are ordered by method (:data:`rlrecover.summary.METHODS` first, any other method
after, alphabetically), then parameter, then number of trials (where the table groups
by it), then the overall row ``cell == "all"``, then cells by true alpha and beta.

A study may simulate datasets of several lengths (column ``n_trials``); metrics are
then computed separately for each length, never pooled across lengths. A table
without an ``n_trials`` column counts as one group with ``n_trials`` NaN.

Positive parameters (:data:`LOG_PARAMS`: those the maximum-likelihood fit works with
on the log scale, i.e. beta) are also summarised on the log scale, where an estimate
twice the truth and one half of it are equally wrong and a few estimates at the upper
bound of the fit do not dominate the summary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy.stats import binomtest, rankdata

from rlrecover.mle import STATUS_NONFINITE, STATUS_UNUSABLE_SE
from rlrecover.qlearning import MLE_FREE
from rlrecover.summary import METHODS, PARAMS, interval_columns, level_label

__all__ = [
    "ALL_CELLS",
    "ESS_MIN",
    "ESTIMATE_STATUSES",
    "LOG_PARAMS",
    "MIN_CORR",
    "RHAT_MAX",
    "RMSE_TARGETS",
    "coverage_column",
    "coverage_table",
    "design_cells_table",
    "design_table",
    "diagnostics",
    "estimate_mask",
    "excluded_text",
    "exclusion_labels",
    "flag_reasons",
    "grid_map_table",
    "is_missing",
    "method_order",
    "n_trials_values",
    "numeric_column",
    "ok_mask",
    "recovery_metrics",
    "runtime_table",
    "tradeoff_table",
    "wilson_interval",
]

#: Label of the row that pools every cell.
ALL_CELLS = "all"
#: Default R-hat threshold of :func:`diagnostics` (flag when strictly greater).
RHAT_MAX = 1.01
#: Default bulk-ESS threshold of :func:`diagnostics` (flag when strictly smaller).
ESS_MIN = 400
#: Positive parameters, summarised also on the log scale (those MLE fits as log).
LOG_PARAMS: tuple[str, ...] = tuple(p for p in PARAMS if MLE_FREE[p][0] == "log")
_TRUE_COLUMNS = [f"{p}_true" for p in PARAMS]

METRIC_COLUMNS = [
    "method",
    "parameter",
    "n_trials",
    "cell",
    *_TRUE_COLUMNS,
    "n",
    "bias",
    "rmse",
    "pearson_r",
    "spearman_r",
    "log_bias",
    "ratio",
    "log_rmse",
]
COVERAGE_COLUMNS = [
    "method",
    "parameter",
    "cell",
    "alpha_true",
    "beta_true",
    "level",
    "n",
    "covered",
    "coverage",
    "ci_low",
    "ci_high",
    "n_fits",
    "n_excluded",
    "excluded",
]
DIAGNOSTIC_COLUMNS = [
    "method",
    "cell",
    "alpha_true",
    "beta_true",
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
    "alpha_est",
    "beta_est",
    "error",
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


# --------------------------------------------------------------------------- helpers


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


def _flag(x: object) -> bool | None:
    """Read a boolean cell that may have come back from a TSV as text or a number."""
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


#: Statuses whose estimates count in error metrics: ok fits, and maximum-likelihood
#: fits whose finite estimate is kept though their standard errors are unusable.
ESTIMATE_STATUSES: tuple[str, ...] = ("ok", STATUS_UNUSABLE_SE)


def _statuses(df: pd.DataFrame) -> np.ndarray:
    """``status`` of each row, stripped and lower case (``"ok"`` without the column)."""
    if "status" not in df.columns:
        return np.full(len(df), "ok", dtype=object)
    return df["status"].astype(str).str.strip().str.lower().to_numpy(dtype=object)


def ok_mask(df: pd.DataFrame) -> np.ndarray:
    """Which rows are fully usable fits (``status`` "ok"; every row without the column).

    Only these count in coverage (intervals, CDF at the truth) and in the Wald or
    posterior correlation.

    Parameters
    ----------
    df : pandas.DataFrame

    Returns
    -------
    numpy.ndarray of bool
    """
    return np.asarray(_statuses(df) == "ok", dtype=bool)


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
    return np.isin(_statuses(df), ESTIMATE_STATUSES)


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
    status = _statuses(df)
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


def _require(df: pd.DataFrame, cols: Iterable[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"recovery table lacks column(s): {', '.join(missing)}")


def _cells(df: pd.DataFrame) -> list[tuple[str, float, float]]:
    """Distinct (cell, alpha_true, beta_true), ordered by the true values."""
    if df.empty:
        return []
    first = df.groupby("cell", sort=False)[["alpha_true", "beta_true"]].first().reset_index()
    first = first.sort_values(["alpha_true", "beta_true", "cell"], kind="stable")
    return [
        (str(c), float(a), float(b))
        for c, a, b in first[["cell", "alpha_true", "beta_true"]].itertuples(index=False)
    ]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation, NaN (without warnings) when undefined."""
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    dx = x - x.mean()
    dy = y - y.mean()
    denom = math.sqrt(float(dx @ dx) * float(dy @ dy))
    if not denom > 0:
        return math.nan
    return float(np.clip((dx @ dy) / denom, -1.0, 1.0))


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (Pearson on average ranks), NaN when undefined."""
    if len(x) < 2:
        return math.nan
    return _pearson(rankdata(x), rankdata(y))


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


# --------------------------------------------------------------------------- metrics


def n_trials_values(recovery: pd.DataFrame) -> list[float]:
    """Distinct numbers of trials of a table, ascending.

    Parameters
    ----------
    recovery : pandas.DataFrame
        A table with an ``n_trials`` column (any table of this module).

    Returns
    -------
    list of float
        The distinct finite values, then NaN if some row has none (or the column is
        missing); ``[nan]`` for a table without numbers of trials.
    """
    return _trial_values(recovery)


def _trial_values(df: pd.DataFrame) -> list[float]:
    """Distinct numbers of trials, ascending; NaN (last) for rows without one."""
    v = numeric_column(df, "n_trials")
    values = [float(x) for x in np.unique(v[np.isfinite(v)])]
    if np.isnan(v).any() or not values:
        values.append(math.nan)
    return values


def _trial_mask(df: pd.DataFrame, n_trials: float) -> np.ndarray:
    """Rows of ``df`` with ``n_trials`` trials (NaN selects rows without a number)."""
    v = numeric_column(df, "n_trials")
    return np.isnan(v) if math.isnan(n_trials) else v == n_trials


def _whole_numbers(frame: pd.DataFrame, cols: Iterable[str]) -> pd.DataFrame:
    """Cast float columns that hold only whole numbers (no NaN) to int64."""
    for col in cols:
        v = pd.to_numeric(frame[col], errors="coerce")
        if len(v) and v.notna().all() and (v == v.round()).all():
            frame[col] = v.astype("int64")
    return frame


def _error_stats(param: str, truth: np.ndarray, est: np.ndarray) -> dict[str, float]:
    """Bias, RMSE and their relative and log-scale versions of paired truths/estimates.

    ``log_bias``, ``ratio`` and ``log_rmse`` are NaN unless ``param`` is in
    :data:`LOG_PARAMS` and every truth and estimate is positive; ``rel_rmse`` (root
    mean square of ``(est - true) / true``) is NaN unless every truth is positive.
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
        if param in LOG_PARAMS and np.all(est > 0):
            log_err = np.log(est / truth)
            out["log_bias"] = float(log_err.mean())
            out["ratio"] = math.exp(out["log_bias"])
            out["log_rmse"] = math.sqrt(float(np.mean(log_err * log_err)))
    return out


def _metric_row(
    method: str,
    param: str,
    n_trials: float,
    cell: str,
    true_values: Sequence[float],
    truth: np.ndarray,
    est: np.ndarray,
) -> dict[str, object]:
    stats = _error_stats(param, truth, est)
    return {
        "method": method,
        "parameter": param,
        "n_trials": n_trials,
        "cell": cell,
        **dict(zip(_TRUE_COLUMNS, true_values, strict=True)),
        "n": len(truth),
        "bias": stats["bias"],
        "rmse": stats["rmse"],
        "pearson_r": _pearson(truth, est),
        "spearman_r": _spearman(truth, est),
        "log_bias": stats["log_bias"],
        "ratio": stats["ratio"],
        "log_rmse": stats["log_rmse"],
    }


def recovery_metrics(recovery: pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE and truth-estimate correlations per method, parameter, length and cell.

    Parameters
    ----------
    recovery : pandas.DataFrame
        The recovery table (one row per method and dataset).

    Returns
    -------
    pandas.DataFrame
        Columns ``method, parameter, n_trials, cell, alpha_true, beta_true, n, bias,
        rmse, pearson_r, spearman_r, log_bias, ratio, log_rmse``. For each method,
        parameter and number of trials there is one pooled row with ``cell == "all"``
        (true values NaN) and one row per cell. ``bias`` is the mean of ``{p}_est -
        {p}_true``; ``rmse`` the root mean squared error. Only rows with ``status``
        ok (or ``"unusable_se"``: :func:`estimate_mask`, their estimate is finite,
        only their interval is not usable) and finite truth and estimate count
        (``n``). The correlations are NaN
        when fewer than two rows count or when truth (always the case within a cell)
        or estimate is constant. A method or cell whose fits all failed gets a row with
        ``n == 0`` and NaN statistics.

        For positive parameters (:data:`LOG_PARAMS`, i.e. beta) ``log_bias`` is the
        mean of ``log(est / true)``, ``ratio = exp(log_bias)`` the geometric mean of
        ``est / true`` (1 is unbiased, 0.8 means 20% too small) and ``log_rmse`` the
        root mean square of ``log(est / true)`` (about the typical relative error
        when small). They are NaN for alpha, whose natural scale is already bounded
        (a logit scale would be dominated by maximum-likelihood estimates at the
        box edge, logit = +-12), and NaN when a counted estimate is not positive.
        ``n_trials`` is an integer column when every row has a number of trials.
    """
    _require(recovery, ["method", "cell", *_TRUE_COLUMNS])
    ok = estimate_mask(recovery)
    rows: list[dict[str, object]] = []
    nan_truth = [math.nan] * len(PARAMS)
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        m_ok = ok[is_m]
        cells = _cells(m_all)
        cell_col = m_all["cell"].astype(str).to_numpy()
        for param in PARAMS:
            truth = numeric_column(m_all, f"{param}_true")
            est = numeric_column(m_all, f"{param}_est")
            use = m_ok & np.isfinite(truth) & np.isfinite(est)
            for n_trials in _trial_values(m_all):
                in_n = use & _trial_mask(m_all, n_trials)
                rows.append(
                    _metric_row(
                        method, param, n_trials, ALL_CELLS, nan_truth, truth[in_n], est[in_n]
                    )
                )
                for cell, a_true, b_true in cells:
                    sel = in_n & (cell_col == cell)
                    rows.append(
                        _metric_row(
                            method, param, n_trials, cell, (a_true, b_true), truth[sel], est[sel]
                        )
                    )
    out = pd.DataFrame(rows, columns=METRIC_COLUMNS).astype({"n": "int64"})
    return _whole_numbers(out, ["n_trials"])


# --------------------------------------------------------------------------- coverage


def _coverage_row(
    method: str,
    param: str,
    cell: str,
    a_true: float,
    b_true: float,
    level: float,
    hit: np.ndarray,
    why: np.ndarray,
) -> dict[str, object]:
    n = int(hit.size)
    k = int(hit.sum())
    low, high = wilson_interval(k, n)
    return {
        "method": method,
        "parameter": param,
        "cell": cell,
        "alpha_true": a_true,
        "beta_true": b_true,
        "level": float(level),
        "n": n,
        "covered": k,
        "coverage": k / n if n else math.nan,
        "ci_low": low,
        "ci_high": high,
        "n_fits": int(why.size),
        "n_excluded": int(np.count_nonzero(why)),
        "excluded": excluded_text(why),
    }


def coverage_table(recovery: pd.DataFrame, levels: Sequence[float]) -> pd.DataFrame:
    """Empirical coverage of the central intervals at each nominal level.

    Parameters
    ----------
    recovery : pandas.DataFrame
        The recovery table; must have ``{p}_lower_L`` and ``{p}_upper_L`` for every
        parameter and level (labels from :func:`rlrecover.summary.level_label`).
    levels : sequence of float
        Nominal levels in (0, 1), e.g. ``[0.5, 0.8, 0.9, 0.95]``.

    Returns
    -------
    pandas.DataFrame
        Columns ``method, parameter, cell, alpha_true, beta_true, level, n, covered,
        coverage, ci_low, ci_high, n_fits, n_excluded, excluded``: one pooled row
        (``cell == "all"``, true values NaN) and one row per cell for every method,
        parameter and level. ``n`` counts the intervals used: fits with ``status ==
        "ok"`` and finite truth and bounds; ``covered`` those with ``lower <= truth
        <= upper``; ``coverage = covered / n``; ``ci_low`` and ``ci_high`` bound a 95%
        Wilson score interval of the coverage (NaN when ``n == 0``, e.g. a method
        that reports no intervals). ``n_fits`` counts every fit of the group,
        ``n_excluded = n_fits - n`` those left out and ``excluded`` says why, with a
        count per reason (:func:`exclusion_labels`), e.g. ``"unusable_se 8, failed
        1"``: the fit's status when not ok, else ``no finite interval``; ``""`` when
        none was left out.

    Raises
    ------
    KeyError
        If an interval column is missing.
    """
    levels = [float(x) for x in levels]
    needed = ["method", "cell", "alpha_true", "beta_true"]
    for level in levels:
        for p in PARAMS:
            needed.extend(interval_columns(p, level))
    _require(recovery, needed)
    ok = ok_mask(recovery)
    rows: list[dict[str, object]] = []
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        m_ok = ok[is_m]
        cells = _cells(m_all)
        cell_col = m_all["cell"].astype(str).to_numpy()
        for param in PARAMS:
            truth = numeric_column(m_all, f"{param}_true")
            for level in levels:
                lo_col, hi_col = interval_columns(param, level)
                lo = numeric_column(m_all, lo_col)
                hi = numeric_column(m_all, hi_col)
                use = m_ok & np.isfinite(truth) & np.isfinite(lo) & np.isfinite(hi)
                why = exclusion_labels(m_all, use)
                hit = np.zeros(len(m_all), dtype=bool)
                hit[use] = (lo[use] <= truth[use]) & (truth[use] <= hi[use])
                rows.append(
                    _coverage_row(
                        method, param, ALL_CELLS, math.nan, math.nan, level, hit[use], why
                    )
                )
                for cell, a_true, b_true in cells:
                    in_cell = cell_col == cell
                    sel = use & in_cell
                    rows.append(
                        _coverage_row(
                            method, param, cell, a_true, b_true, level, hit[sel], why[in_cell]
                        )
                    )
    out = pd.DataFrame(rows, columns=COVERAGE_COLUMNS)
    return out.astype(dict.fromkeys(["n", "covered", "n_fits", "n_excluded"], "int64"))


# --------------------------------------------------------------------------- diagnostics


def flag_reasons(
    recovery: pd.DataFrame, rhat_max: float = RHAT_MAX, ess_min: float = ESS_MIN
) -> list[str]:
    """Why each fit is flagged by :func:`diagnostics`, ``""`` when it is not.

    Parameters
    ----------
    recovery : pandas.DataFrame
        The recovery table.
    rhat_max : float, default 1.01
        Largest acceptable R-hat.
    ess_min : float, default 400
        Smallest acceptable bulk effective sample size.

    Returns
    -------
    list of str
        One entry per row of ``recovery``, in row order: the reasons joined with
        ``"; "`` (see :func:`diagnostics`).
    """
    n = len(recovery)
    ok = ok_mask(recovery)
    status = _statuses(recovery)
    rhat = numeric_column(recovery, "rhat_max")
    ess = numeric_column(recovery, "ess_bulk_min")
    div = numeric_column(recovery, "divergences")
    est = {p: numeric_column(recovery, f"{p}_est") for p in PARAMS}
    conv = [_flag(x) for x in recovery.get("converged", pd.Series([None] * n))]
    bound = [_flag(x) for x in recovery.get("at_bound", pd.Series([None] * n))]
    errors = recovery.get("error", pd.Series([""] * n)).tolist()

    reasons: list[str] = []
    for i in range(n):
        why: list[str] = []
        if not ok[i]:
            err = "" if is_missing(errors[i]) else str(errors[i]).strip()
            label = "failed" if status[i] in ("failed", "", "nan", "<na>") else status[i]
            why.append(f"{label}: {err}" if err else label)
        else:
            bad = [p for p in PARAMS if not np.isfinite(est[p][i])]
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


def diagnostics(
    recovery: pd.DataFrame, rhat_max: float = RHAT_MAX, ess_min: float = ESS_MIN
) -> pd.DataFrame:
    """The fits worth a second look, one row per flagged fit.

    A fit is flagged when any of these holds (all reasons are joined with ``"; "`` in
    the ``reason`` column):

    - ``status`` is not ``"ok"`` (reason ``<status>: <error text>``, e.g. ``failed:
      ...``, or for maximum likelihood ``unusable_se: Hessian not positive
      definite`` or ``unusable_se: SE of log(beta) 2.3e+14 > 13.8, the width of its
      search box [...]`` (standard errors not finite or larger than the free search
      box is wide, :func:`rlrecover.mle.usability`) and ``nonfinite: estimate of
      beta not finite``);
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
        The recovery table.
    rhat_max : float, default 1.01
        Largest acceptable R-hat.
    ess_min : float, default 400
        Smallest acceptable bulk effective sample size.

    Returns
    -------
    pandas.DataFrame
        Columns ``method, cell, alpha_true, beta_true, n_trials, replicate, reason,
        status, rhat_max, ess_bulk_min, ess_tail_min, divergences, converged,
        at_bound, alpha_est, beta_est, error``; empty (with these columns) when
        nothing is flagged. ``n_trials`` is NaN when the table has no such column.
    """
    _require(recovery, ["method", "cell"])
    n = len(recovery)
    reasons = flag_reasons(recovery, rhat_max=rhat_max, ess_min=ess_min)
    rhat = numeric_column(recovery, "rhat_max")
    div = numeric_column(recovery, "divergences")
    est = {p: numeric_column(recovery, f"{p}_est") for p in PARAMS}
    conv = [_flag(x) for x in recovery.get("converged", pd.Series([None] * n))]
    bound = [_flag(x) for x in recovery.get("at_bound", pd.Series([None] * n))]
    errors = recovery.get("error", pd.Series([""] * n)).tolist()
    status = recovery.get("status", pd.Series(["ok"] * n)).tolist()
    flagged = np.array([bool(r) for r in reasons], dtype=bool)
    out = pd.DataFrame(
        {
            "method": recovery["method"].astype(str).to_numpy(),
            "cell": recovery["cell"].astype(str).to_numpy(),
            "alpha_true": numeric_column(recovery, "alpha_true"),
            "beta_true": numeric_column(recovery, "beta_true"),
            "n_trials": numeric_column(recovery, "n_trials"),
            "replicate": numeric_column(recovery, "replicate"),
            "reason": reasons,
            "status": [str(s) for s in status],
            "rhat_max": rhat,
            "ess_bulk_min": numeric_column(recovery, "ess_bulk_min"),
            "ess_tail_min": numeric_column(recovery, "ess_tail_min"),
            "divergences": div,
            "converged": pd.array(conv, dtype="boolean"),
            "at_bound": pd.array(bound, dtype="boolean"),
            "alpha_est": est["alpha"],
            "beta_est": est["beta"],
            "error": ["" if is_missing(e) else str(e) for e in errors],
        },
        columns=DIAGNOSTIC_COLUMNS,
    )[flagged]
    if out.empty:
        return out.reset_index(drop=True)
    rank = {m: i for i, m in enumerate(method_order(out["method"]))}
    out = out.assign(_m=out["method"].map(rank)).sort_values(
        ["_m", "alpha_true", "beta_true", "cell", "n_trials", "replicate"], kind="stable"
    )
    out = out.drop(columns="_m").reset_index(drop=True)
    return _whole_numbers(out, ["n_trials", "replicate"])


# --------------------------------------------------------------------------- run time


def runtime_table(recovery: pd.DataFrame) -> pd.DataFrame:
    """Wall-clock seconds per method.

    Parameters
    ----------
    recovery : pandas.DataFrame
        The recovery table (``seconds`` is the time of one fit).

    Returns
    -------
    pandas.DataFrame
        Columns ``method, n_fits, n_ok, n_unusable, n_failed, total_seconds,
        mean_seconds, median_seconds, max_seconds``, one row per method. All fits
        count, failed ones included; ``n_unusable`` counts fits that ran but whose
        standard errors or estimate are unusable (status ``unusable_se`` or
        ``nonfinite``), ``n_failed`` every other non-ok status. Missing ``seconds``
        are ignored in the time statistics.
    """
    _require(recovery, ["method"])
    ok = ok_mask(recovery)
    status = _statuses(recovery)
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


# --------------------------------------------------------------------------- grid maps


def _flagged_mask(recovery: pd.DataFrame, rhat_max: float, ess_min: float) -> np.ndarray:
    reasons = flag_reasons(recovery, rhat_max=rhat_max, ess_min=ess_min)
    return np.array([bool(r) for r in reasons], dtype=bool)


def _coverage_hits(
    df: pd.DataFrame, param: str, level: float, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which rows have a finite interval (``has``) and which of those cover the truth."""
    lo_col, hi_col = interval_columns(param, level)
    truth = numeric_column(df, f"{param}_true")
    lo = numeric_column(df, lo_col)
    hi = numeric_column(df, hi_col)
    has = usable & np.isfinite(truth) & np.isfinite(lo) & np.isfinite(hi)
    hit = np.zeros(len(df), dtype=bool)
    hit[has] = (lo[has] <= truth[has]) & (truth[has] <= hi[has])
    return has, hit


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


def grid_map_table(
    recovery: pd.DataFrame,
    *,
    level: float = 0.9,
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_MIN,
) -> pd.DataFrame:
    """Per-cell recovery summaries, the numbers behind the maps of the (alpha, beta) grid.

    Parameters
    ----------
    recovery : pandas.DataFrame
        The recovery table.
    level : float, default 0.9
        Nominal level of the intervals whose coverage is reported.
    rhat_max, ess_min : float
        Thresholds of :func:`diagnostics`, which decide which fits are flagged.

    Returns
    -------
    pandas.DataFrame
        One row per method, parameter, number of trials and cell (ordered so), columns
        ``method, parameter, n_trials, cell, alpha_true, beta_true, n, bias, rmse,
        log_bias, log_rmse, rel_rmse, coverage90, n_interval, n_fits, n_flagged,
        flagged_share`` (the coverage column is named by :func:`coverage_column`).

        ``n`` counts fits with a finite estimate whose status is ok or
        ``"unusable_se"`` (:func:`estimate_mask`); ``bias``,
        ``rmse``, ``log_bias`` and ``log_rmse`` are those of :func:`recovery_metrics`
        and ``rel_rmse`` the root mean square of ``(est - true) / true``.
        ``coverage90`` is the share of the ``n_interval`` ok fits with a finite interval
        at ``level`` whose interval holds the truth (NaN when there is none, e.g. the
        table has no interval columns at that level). ``n_fits`` counts every fit of
        the cell, failed ones included, ``n_flagged`` those :func:`diagnostics` lists
        and ``flagged_share = n_flagged / n_fits``; these three describe fits, not
        parameters, and repeat on each parameter's row.
    """
    _require(recovery, ["method", "cell", *_TRUE_COLUMNS])
    cov_col = coverage_column(level)
    ok = ok_mask(recovery)
    est_ok = estimate_mask(recovery)
    flagged = _flagged_mask(recovery, rhat_max, ess_min)
    rows: list[dict[str, object]] = []
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        m_ok, m_flag, m_est = ok[is_m], flagged[is_m], est_ok[is_m]
        cells = _cells(m_all)
        cell_col = m_all["cell"].astype(str).to_numpy()
        for param in PARAMS:
            truth = numeric_column(m_all, f"{param}_true")
            est = numeric_column(m_all, f"{param}_est")
            use = m_est & np.isfinite(truth) & np.isfinite(est)
            has, hit = _coverage_hits(m_all, param, level, m_ok)
            for n_trials in _trial_values(m_all):
                in_n = _trial_mask(m_all, n_trials)
                for cell, a_true, b_true in cells:
                    in_cell = in_n & (cell_col == cell)
                    sel = use & in_cell
                    stats = _error_stats(param, truth[sel], est[sel])
                    n_int = int((has & in_cell).sum())
                    n_fits = int(in_cell.sum())
                    n_flag = int((m_flag & in_cell).sum())
                    rows.append(
                        {
                            "method": method,
                            "parameter": param,
                            "n_trials": n_trials,
                            "cell": cell,
                            **dict(zip(_TRUE_COLUMNS, (a_true, b_true), strict=True)),
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
    columns = [
        "method",
        "parameter",
        "n_trials",
        "cell",
        *_TRUE_COLUMNS,
        "n",
        "bias",
        "rmse",
        "log_bias",
        "log_rmse",
        "rel_rmse",
        cov_col,
        "n_interval",
        "n_fits",
        "n_flagged",
        "flagged_share",
    ]
    out = pd.DataFrame(rows, columns=columns)
    out = out.astype({c: "int64" for c in ("n", "n_interval", "n_fits", "n_flagged")})
    return _whole_numbers(out, ["n_trials"])


# --------------------------------------------------------------------------- trade-offs

TRADEOFF_COLUMNS = [
    "method",
    "n_trials",
    "cell",
    *_TRUE_COLUMNS,
    "n",
    "est_corr",
    "est_spearman",
    "n_ab_corr",
    "ab_corr_mean",
]


def _analysis_scale(param: str, values: np.ndarray) -> np.ndarray:
    """``values`` on the scale of the design correlations: log for :data:`LOG_PARAMS`."""
    if param not in LOG_PARAMS:
        return values
    out = np.full(values.shape, np.nan)
    pos = values > 0
    out[pos] = np.log(values[pos])
    return out


def tradeoff_table(recovery: pd.DataFrame) -> pd.DataFrame:
    """Do the estimates of alpha and beta trade off? Per method, number of trials and cell.

    Parameters
    ----------
    recovery : pandas.DataFrame
        The recovery table; the column ``ab_corr`` (per-fit posterior correlation of
        alpha and beta, for MLE the Wald correlation) is used when present.

    Returns
    -------
    pandas.DataFrame
        Columns ``method, n_trials, cell, alpha_true, beta_true, n, est_corr,
        est_spearman, n_ab_corr, ab_corr_mean``, one row per method, number of trials
        and cell.

        ``est_corr`` is the Pearson correlation, across the ``n`` replicates of
        the cell with usable estimates (:func:`estimate_mask`), of the alpha
        estimate with the log of the beta estimate (log because
        beta's error is multiplicative and a few MLE estimates at the 1e3 bound would
        otherwise decide the value; fits with a non-positive beta estimate are left
        out); ``est_spearman`` the rank correlation of the two estimates, which does
        not depend on the scale. Both are NaN with fewer than two fits or a constant
        estimate. A negative value means datasets that give a larger alpha give a
        smaller beta: the two parameters trade off. ``ab_corr_mean`` is the mean of
        the finite ``ab_corr`` of the ok fits (``n_ab_corr`` of them; not of
        ``"unusable_se"`` fits, whose Wald correlation comes from an unusable Hessian),
        the trade-off within one fit; NaN when the column is missing or empty.
    """
    _require(recovery, ["method", "cell", *_TRUE_COLUMNS])
    p1, p2 = PARAMS
    ok = ok_mask(recovery)
    est_ok = estimate_mask(recovery)
    rows: list[dict[str, object]] = []
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        x = _analysis_scale(p1, numeric_column(m_all, f"{p1}_est"))
        y = _analysis_scale(p2, numeric_column(m_all, f"{p2}_est"))
        ab = numeric_column(m_all, "ab_corr")
        use = est_ok[is_m] & np.isfinite(x) & np.isfinite(y)
        has_ab = ok[is_m] & np.isfinite(ab)
        cells = _cells(m_all)
        cell_col = m_all["cell"].astype(str).to_numpy()
        for n_trials in _trial_values(m_all):
            in_n = _trial_mask(m_all, n_trials)
            for cell, a_true, b_true in cells:
                in_cell = in_n & (cell_col == cell)
                sel = use & in_cell
                sel_ab = has_ab & in_cell
                rows.append(
                    {
                        "method": method,
                        "n_trials": n_trials,
                        "cell": cell,
                        **dict(zip(_TRUE_COLUMNS, (a_true, b_true), strict=True)),
                        "n": int(sel.sum()),
                        "est_corr": _pearson(x[sel], y[sel]),
                        "est_spearman": _spearman(x[sel], y[sel]),
                        "n_ab_corr": int(sel_ab.sum()),
                        "ab_corr_mean": float(ab[sel_ab].mean()) if sel_ab.any() else math.nan,
                    }
                )
    out = pd.DataFrame(rows, columns=TRADEOFF_COLUMNS)
    out = out.astype({"n": "int64", "n_ab_corr": "int64"})
    return _whole_numbers(out, ["n_trials"])


# --------------------------------------------------------------------------- design

#: Default RMSE targets of :func:`design_table`: ``(kind, value)`` per parameter, kind
#: ``"absolute"`` (RMSE below ``value``) or ``"relative"`` (RMSE below ``value`` times
#: the true value).
RMSE_TARGETS: Mapping[str, tuple[str, float]] = MappingProxyType(
    {"alpha": ("absolute", 0.1), "beta": ("relative", 0.25)}
)
#: Default smallest acceptable truth-estimate correlation of :func:`design_table`.
MIN_CORR = 0.8
_TARGET_KINDS = ("absolute", "relative")


def _check_targets(rmse_targets: Mapping[str, tuple[str, float]]) -> dict[str, tuple[str, float]]:
    out: dict[str, tuple[str, float]] = {}
    for param, target in rmse_targets.items():
        if param not in PARAMS:
            raise ValueError(f"RMSE target for unknown parameter {param!r}; known: {PARAMS}")
        kind, value = target
        if kind not in _TARGET_KINDS:
            raise ValueError(f"RMSE target kind must be one of {_TARGET_KINDS}, got {kind!r}")
        if not float(value) > 0:
            raise ValueError(f"RMSE target of {param} must be positive, got {value!r}")
        out[param] = (str(kind), float(value))
    return out


def _sustained_min(ns: Sequence[float], good: Sequence[bool]) -> float:
    """Smallest ``n`` from which on every larger ``n`` is ``good`` (NaN if the largest is not).

    NaN entries of ``ns`` (no number of trials) are ignored.
    """
    best = math.nan
    pairs = sorted(((n, g) for n, g in zip(ns, good, strict=True) if not math.isnan(n)))
    for n, g in reversed(pairs):
        if not g:
            break
        best = n
    return best


def _trials_int(values: Sequence[float]) -> pd.arrays.IntegerArray:
    return pd.array([pd.NA if math.isnan(v) else round(v) for v in values], dtype="Int64")


def design_table(
    recovery: pd.DataFrame,
    rmse_targets: Mapping[str, tuple[str, float]] = RMSE_TARGETS,
    min_corr: float = MIN_CORR,
    *,
    level: float = 0.9,
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_MIN,
) -> pd.DataFrame:
    """How many trials are needed: grid-wide recovery per method, parameter and length.

    Parameters
    ----------
    recovery : pandas.DataFrame
        The recovery table, typically with several values of ``n_trials``.
    rmse_targets : mapping of str to (str, float), default :data:`RMSE_TARGETS`
        Per parameter ``("absolute", v)``: RMSE below ``v``; or ``("relative", v)``:
        RMSE below ``v`` times the true value, i.e. ``rel_rmse < v``. Parameters
        without a target get NaN target columns.
    min_corr : float, default 0.8
        Smallest acceptable correlation of truth and estimate across the grid.
    level : float, default 0.9
        Nominal level of the intervals whose coverage is reported.
    rhat_max, ess_min : float
        Thresholds of :func:`diagnostics`, which decide which fits are flagged.

    Returns
    -------
    pandas.DataFrame
        One row per method, parameter and number of trials (ascending), columns
        ``method, parameter, n_trials, n, rmse, rel_rmse, log_rmse, truth_corr, corr_scale,
        coverage90, flagged_share, target_kind, target, target_error, meets_target,
        min_trials_for_target, min_corr, meets_corr, min_trials_for_corr``.

        All statistics pool every cell of the grid at that number of trials (fits
        with a finite estimate whose status is ok or ``"unusable_se"``, ``n`` of
        them, as in :func:`recovery_metrics`; coverage only from ok fits).
        ``rmse`` and ``log_rmse`` are those of
        :func:`recovery_metrics`; ``rel_rmse`` is the root mean square of ``(est -
        true) / true``. ``truth_corr`` is the Pearson correlation of truth and estimate
        across all those fits, on the natural scale for alpha and on the log scale for
        beta (``corr_scale`` says which; beta's grid is spaced geometrically and its
        errors are multiplicative, so the log scale keeps a few large estimates from
        deciding it; NaN when an estimate is not positive). ``coverage90`` is the
        pooled coverage of the intervals at ``level`` and ``flagged_share`` the share
        of all fits (failed ones included) that :func:`diagnostics` lists.

        ``target_error`` is ``rmse`` for an absolute target and ``rel_rmse`` for a
        relative one, ``meets_target`` whether it is below ``target``, and
        ``meets_corr`` whether ``truth_corr >= min_corr``. ``min_trials_for_target`` and
        ``min_trials_for_corr`` (the same on every row of a method and parameter) are
        the smallest studied number of trials from which on the criterion holds at
        every larger studied number, so a lucky small study followed by a miss does
        not count; missing (``<NA>``) when it fails at the largest one, i.e. none of
        the studied lengths is enough.
    """
    targets = _check_targets(rmse_targets)
    _require(recovery, ["method", "cell", *_TRUE_COLUMNS])
    cov_col = coverage_column(level)
    ok = ok_mask(recovery)
    est_ok = estimate_mask(recovery)
    flagged = _flagged_mask(recovery, rhat_max, ess_min)
    rows: list[dict[str, object]] = []
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        m_ok, m_flag, m_est = ok[is_m], flagged[is_m], est_ok[is_m]
        for param in PARAMS:
            kind, target = targets.get(param, ("", math.nan))
            truth = numeric_column(m_all, f"{param}_true")
            est = numeric_column(m_all, f"{param}_est")
            use = m_est & np.isfinite(truth) & np.isfinite(est)
            has, hit = _coverage_hits(m_all, param, level, m_ok)
            block: list[dict[str, object]] = []
            for n_trials in _trial_values(m_all):
                in_n = _trial_mask(m_all, n_trials)
                sel = use & in_n
                stats = _error_stats(param, truth[sel], est[sel])
                t, e = truth[sel], est[sel]
                if param in LOG_PARAMS:
                    corr = (
                        _pearson(np.log(t), np.log(e))
                        if np.all(t > 0) and np.all(e > 0)
                        else math.nan
                    )
                else:
                    corr = _pearson(t, e)
                error = stats["rel_rmse"] if kind == "relative" else stats["rmse"]
                n_int = int((has & in_n).sum())
                n_fits = int(in_n.sum())
                block.append(
                    {
                        "method": method,
                        "parameter": param,
                        "n_trials": n_trials,
                        "n": int(sel.sum()),
                        "rmse": stats["rmse"],
                        "rel_rmse": stats["rel_rmse"],
                        "log_rmse": stats["log_rmse"],
                        "truth_corr": corr,
                        "corr_scale": "log" if param in LOG_PARAMS else "linear",
                        cov_col: (hit & in_n).sum() / n_int if n_int else math.nan,
                        "flagged_share": (m_flag & in_n).sum() / n_fits if n_fits else math.nan,
                        "target_kind": kind,
                        "target": target,
                        "target_error": error,
                        "meets_target": bool(error < target),
                        "min_corr": float(min_corr),
                        "meets_corr": bool(corr >= min_corr),
                    }
                )
            ns = [float(r["n_trials"]) for r in block]  # type: ignore[arg-type]
            by_target = _sustained_min(ns, [bool(r["meets_target"]) for r in block])
            by_corr = _sustained_min(ns, [bool(r["meets_corr"]) for r in block])
            for r in block:
                r["min_trials_for_target"] = by_target
                r["min_trials_for_corr"] = by_corr
            rows.extend(block)
    columns = [
        "method",
        "parameter",
        "n_trials",
        "n",
        "rmse",
        "rel_rmse",
        "log_rmse",
        "truth_corr",
        "corr_scale",
        cov_col,
        "flagged_share",
        "target_kind",
        "target",
        "target_error",
        "meets_target",
        "min_trials_for_target",
        "min_corr",
        "meets_corr",
        "min_trials_for_corr",
    ]
    out = pd.DataFrame(rows, columns=columns).astype({"n": "int64"})
    for col in ("min_trials_for_target", "min_trials_for_corr"):
        out[col] = _trials_int(out[col].astype(float).tolist())
    return _whole_numbers(out, ["n_trials"])


def design_cells_table(
    recovery: pd.DataFrame,
    rmse_targets: Mapping[str, tuple[str, float]] = RMSE_TARGETS,
) -> pd.DataFrame:
    """How many trials each cell of the grid needs to reach its RMSE target.

    Parameters
    ----------
    recovery : pandas.DataFrame
        The recovery table, typically with several values of ``n_trials``.
    rmse_targets : mapping of str to (str, float), default :data:`RMSE_TARGETS`
        As in :func:`design_table`; only parameters with a target get rows.

    Returns
    -------
    pandas.DataFrame
        One row per method, parameter (with a target) and cell, columns ``method,
        parameter, cell, alpha_true, beta_true, target_kind, target, n_trials_max,
        rmse_at_max, min_trials``. ``target`` is the cell's RMSE threshold: the value
        itself for an absolute target, value times the true parameter for a relative
        one (beta: 25% of the true beta by default). ``min_trials`` is the smallest
        studied number of trials from which on the cell's RMSE (ok fits, as in
        :func:`grid_map_table`) is below ``target`` at every larger studied number;
        missing (``<NA>``) when it is not below at the largest one (``n_trials_max``,
        where the RMSE was ``rmse_at_max``), i.e. none of the studied lengths is
        enough.
    """
    targets = _check_targets(rmse_targets)
    grid = grid_map_table(recovery)
    rows: list[dict[str, object]] = []
    for (method, param, cell), sub in grid.groupby(["method", "parameter", "cell"], sort=False):
        if param not in targets:
            continue
        kind, value = targets[param]
        true = float(sub[f"{param}_true"].iloc[0])
        target = value * true if kind == "relative" else value
        ns = pd.to_numeric(sub["n_trials"], errors="coerce").astype(float).tolist()
        rmse = sub["rmse"].to_numpy(dtype=float)
        finite_ns = [n for n in ns if not math.isnan(n)]
        n_max = max(finite_ns) if finite_ns else math.nan
        at_max = rmse[ns.index(n_max)] if finite_ns else math.nan
        rows.append(
            {
                "method": method,
                "parameter": param,
                "cell": cell,
                **{c: float(sub[c].iloc[0]) for c in _TRUE_COLUMNS},
                "target_kind": kind,
                "target": target,
                "n_trials_max": n_max,
                "rmse_at_max": at_max,
                "min_trials": _sustained_min(ns, list(rmse < target)),
            }
        )
    columns = [
        "method",
        "parameter",
        "cell",
        *_TRUE_COLUMNS,
        "target_kind",
        "target",
        "n_trials_max",
        "rmse_at_max",
        "min_trials",
    ]
    out = pd.DataFrame(rows, columns=columns)
    out["min_trials"] = _trials_int(out["min_trials"].astype(float).tolist())
    return _whole_numbers(out, ["n_trials_max"])
