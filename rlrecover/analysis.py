"""Recovery metrics, interval coverage, fit diagnostics and run times.

Every function takes the recovery table (``results/recovery.tsv``, one row per method
and dataset, columns as in :func:`rlrecover.summary.summary_columns`) and returns a
tidy :class:`pandas.DataFrame`. Fits with ``status != "ok"`` are left out of metrics
and coverage but listed by :func:`diagnostics` and counted by :func:`runtime_table`.

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
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import binomtest, rankdata

from rlrecover.qlearning import MLE_FREE
from rlrecover.summary import METHODS, PARAMS, interval_columns

__all__ = [
    "ALL_CELLS",
    "ESS_MIN",
    "LOG_PARAMS",
    "RHAT_MAX",
    "coverage_table",
    "diagnostics",
    "flag_reasons",
    "is_missing",
    "method_order",
    "recovery_metrics",
    "runtime_table",
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


def _numeric(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _ok_mask(df: pd.DataFrame) -> np.ndarray:
    if "status" not in df.columns:
        return np.ones(len(df), dtype=bool)
    return (df["status"].astype(str).str.strip().str.lower() == "ok").to_numpy(dtype=bool)


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


def _trial_values(df: pd.DataFrame) -> list[float]:
    """Distinct numbers of trials, ascending; NaN (last) for rows without one."""
    v = _numeric(df, "n_trials")
    values = [float(x) for x in np.unique(v[np.isfinite(v)])]
    if np.isnan(v).any() or not values:
        values.append(math.nan)
    return values


def _trial_mask(df: pd.DataFrame, n_trials: float) -> np.ndarray:
    """Rows of ``df`` with ``n_trials`` trials (NaN selects rows without a number)."""
    v = _numeric(df, "n_trials")
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

    ``log_bias``, ``ratio``, ``log_rmse`` and ``rel_rmse`` are NaN unless ``param`` is
    in :data:`LOG_PARAMS` and every truth and estimate is positive.
    """
    out = dict.fromkeys(("bias", "rmse", "log_bias", "ratio", "log_rmse", "rel_rmse"), math.nan)
    if not len(truth):
        return out
    err = est - truth
    out["bias"] = float(err.mean())
    out["rmse"] = math.sqrt(float(np.mean(err * err)))
    if param in LOG_PARAMS and np.all(truth > 0) and np.all(est > 0):
        log_err = np.log(est / truth)
        out["log_bias"] = float(log_err.mean())
        out["ratio"] = math.exp(out["log_bias"])
        out["log_rmse"] = math.sqrt(float(np.mean(log_err * log_err)))
        rel = err / truth
        out["rel_rmse"] = math.sqrt(float(np.mean(rel * rel)))
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
        {p}_true``; ``rmse`` the root mean squared error. Only rows with ``status ==
        "ok"`` and finite truth and estimate count (``n``). The correlations are NaN
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
    ok = _ok_mask(recovery)
    rows: list[dict[str, object]] = []
    nan_truth = [math.nan] * len(PARAMS)
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        m_ok = ok[is_m]
        cells = _cells(m_all)
        cell_col = m_all["cell"].astype(str).to_numpy()
        for param in PARAMS:
            truth = _numeric(m_all, f"{param}_true")
            est = _numeric(m_all, f"{param}_est")
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
        coverage, ci_low, ci_high``: one pooled row (``cell == "all"``, true values
        NaN) and one row per cell for every method, parameter and level. ``n`` counts
        fits with ``status == "ok"`` and finite truth and bounds; ``covered`` those
        with ``lower <= truth <= upper``; ``coverage = covered / n``; ``ci_low`` and
        ``ci_high`` bound a 95% Wilson score interval of the coverage (NaN when
        ``n == 0``, e.g. a method that reports no intervals).

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
    ok = _ok_mask(recovery)
    rows: list[dict[str, object]] = []
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        m_ok = ok[is_m]
        cells = _cells(m_all)
        cell_col = m_all["cell"].astype(str).to_numpy()
        for param in PARAMS:
            truth = _numeric(m_all, f"{param}_true")
            for level in levels:
                lo_col, hi_col = interval_columns(param, level)
                lo = _numeric(m_all, lo_col)
                hi = _numeric(m_all, hi_col)
                use = m_ok & np.isfinite(truth) & np.isfinite(lo) & np.isfinite(hi)
                hit = np.zeros(len(m_all), dtype=bool)
                hit[use] = (lo[use] <= truth[use]) & (truth[use] <= hi[use])
                rows.append(
                    _coverage_row(method, param, ALL_CELLS, math.nan, math.nan, level, hit[use])
                )
                for cell, a_true, b_true in cells:
                    sel = use & (cell_col == cell)
                    rows.append(
                        _coverage_row(method, param, cell, a_true, b_true, level, hit[sel])
                    )
    out = pd.DataFrame(rows, columns=COVERAGE_COLUMNS)
    return out.astype({"n": "int64", "covered": "int64"})


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
    ok = _ok_mask(recovery)
    rhat = _numeric(recovery, "rhat_max")
    ess = _numeric(recovery, "ess_bulk_min")
    div = _numeric(recovery, "divergences")
    est = {p: _numeric(recovery, f"{p}_est") for p in PARAMS}
    conv = [_flag(x) for x in recovery.get("converged", pd.Series([None] * n))]
    bound = [_flag(x) for x in recovery.get("at_bound", pd.Series([None] * n))]
    errors = recovery.get("error", pd.Series([""] * n)).tolist()

    reasons: list[str] = []
    for i in range(n):
        why: list[str] = []
        if not ok[i]:
            err = "" if is_missing(errors[i]) else str(errors[i]).strip()
            why.append(f"failed: {err}" if err else "failed")
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

    - ``status`` is not ``"ok"`` (reason ``failed: <error text>``);
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
    rhat = _numeric(recovery, "rhat_max")
    div = _numeric(recovery, "divergences")
    est = {p: _numeric(recovery, f"{p}_est") for p in PARAMS}
    conv = [_flag(x) for x in recovery.get("converged", pd.Series([None] * n))]
    bound = [_flag(x) for x in recovery.get("at_bound", pd.Series([None] * n))]
    errors = recovery.get("error", pd.Series([""] * n)).tolist()
    status = recovery.get("status", pd.Series(["ok"] * n)).tolist()
    flagged = np.array([bool(r) for r in reasons], dtype=bool)
    out = pd.DataFrame(
        {
            "method": recovery["method"].astype(str).to_numpy(),
            "cell": recovery["cell"].astype(str).to_numpy(),
            "alpha_true": _numeric(recovery, "alpha_true"),
            "beta_true": _numeric(recovery, "beta_true"),
            "n_trials": _numeric(recovery, "n_trials"),
            "replicate": _numeric(recovery, "replicate"),
            "reason": reasons,
            "status": [str(s) for s in status],
            "rhat_max": rhat,
            "ess_bulk_min": _numeric(recovery, "ess_bulk_min"),
            "ess_tail_min": _numeric(recovery, "ess_tail_min"),
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
        Columns ``method, n_fits, n_ok, n_failed, total_seconds, mean_seconds,
        median_seconds, max_seconds``, one row per method. All fits count, failed ones
        included; missing ``seconds`` are ignored in the time statistics.
    """
    _require(recovery, ["method"])
    ok = _ok_mask(recovery)
    secs = _numeric(recovery, "seconds")
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
                "n_failed": int((sel & ~ok).sum()),
                "total_seconds": float(s.sum()) if s.size else math.nan,
                "mean_seconds": float(s.mean()) if s.size else math.nan,
                "median_seconds": float(np.median(s)) if s.size else math.nan,
                "max_seconds": float(s.max()) if s.size else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=RUNTIME_COLUMNS)
