"""Do the parameters trade off, and does one parameter's error depend on another's truth?

Three tables for models with two or more parameters, all on the parameters' *analysis
scale* (:func:`rlrecover.analysis.common.analysis_scale`: natural for a parameter in
[0, 1], log for a positive one, whose errors are multiplicative):

* :func:`tradeoff_table`: per cell (truth) and pair of parameters, the correlation of
  their estimates across the cell's replicates, and the mean within-fit correlation;
* :func:`correlation_table`: per pair, the correlation of the estimation errors across
  every dataset of a method and length, and the mean within-fit (posterior, or Wald)
  correlation: the generalised trade-off, e.g. alpha against alpha_c in ``rwck``;
* :func:`error_dependence_table`: how each parameter's error (bias, RMSE) depends on
  each parameter's true value, in bins of that value.

Point estimates count as in the error metrics (status ok or ``"unusable_se"``,
:func:`rlrecover.analysis.common.estimate_mask`); within-fit correlations only from ok
fits (an ``"unusable_se"`` fit's Wald correlation comes from an unusable Hessian).
A one-parameter model gets empty tables (with their columns).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rlrecover.analysis.common import (
    analysis_scale,
    cells_of,
    estimate_mask,
    method_order,
    n_trials_values,
    numeric_column,
    ok_mask,
    pairs,
    pearson,
    require_columns,
    scale_name,
    spearman,
    trial_mask,
    true_columns,
    whole_numbers,
)
from rlrecover.models.base import Model, Param
from rlrecover.summary import corr_column

__all__ = [
    "CORRELATION_COLUMNS",
    "DEPENDENCE_COLUMNS",
    "correlation_table",
    "error_dependence_table",
    "tradeoff_columns",
    "tradeoff_table",
]

CORRELATION_COLUMNS = [
    "method",
    "n_trials",
    "param_1",
    "param_2",
    "n",
    "error_corr",
    "n_post",
    "post_corr_mean",
]
DEPENDENCE_COLUMNS = [
    "method",
    "n_trials",
    "parameter",
    "by",
    "bin",
    "bin_low",
    "bin_high",
    "bin_centre",
    "n",
    "bias",
    "rmse",
    "error_scale",
]


def tradeoff_columns(model: Model) -> list[str]:
    """Columns of :func:`tradeoff_table` for ``model``."""
    return [
        "method",
        "n_trials",
        "cell",
        *true_columns(model),
        "param_1",
        "param_2",
        "n",
        "est_corr",
        "est_spearman",
        "n_post_corr",
        "post_corr_mean",
    ]


def _mean_or_nan(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan


def _errors(df: pd.DataFrame, param: Param) -> np.ndarray:
    """Estimation errors on the analysis scale: ``est - true``, or ``log(est / true)``."""
    truth = analysis_scale(param, numeric_column(df, f"{param.name}_true"))
    est = analysis_scale(param, numeric_column(df, f"{param.name}_est"))
    return est - truth


def tradeoff_table(recovery: pd.DataFrame, model: Model) -> pd.DataFrame:
    """Do the estimates of two parameters trade off? Per method, length, cell and pair.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery table; the within-fit correlation columns ``corr_{p}_{q}``
        (posterior correlation of the draws, for MLE the Wald correlation) are used
        when present.
    model : Model
        The model.

    Returns
    -------
    pandas.DataFrame
        Columns ``method, n_trials, cell, {p}_true (each parameter), param_1, param_2,
        n, est_corr, est_spearman, n_post_corr, post_corr_mean``, one row per method,
        number of trials, cell and pair of parameters (``param_1`` before ``param_2``
        in the model's order), in that order.

        ``est_corr`` is the Pearson correlation, across the ``n`` replicates of the
        cell with usable estimates of both parameters, of the two estimates on their
        analysis scale (log for a positive parameter, because its error is
        multiplicative and a few MLE estimates at the 1e3 bound would otherwise decide
        the value; fits with a non-positive estimate of it are left out);
        ``est_spearman`` the rank correlation of the two estimates, which does not
        depend on the scale. Both are NaN with fewer than two fits or a constant
        estimate. A negative value means datasets that give a larger ``param_1`` give
        a smaller ``param_2``: the two parameters trade off. ``post_corr_mean`` is the
        mean of the finite ``corr_{param_1}_{param_2}`` of the ok fits
        (``n_post_corr`` of them), the trade-off within one fit; NaN when the column is
        missing or empty. Empty for a one-parameter model.
    """
    truth_cols = true_columns(model)
    require_columns(recovery, ["method", "cell", *truth_cols])
    ok = ok_mask(recovery)
    est_ok = estimate_mask(recovery)
    rows: list[dict[str, object]] = []
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        scaled = {
            p.name: analysis_scale(p, numeric_column(m_all, f"{p.name}_est")) for p in model.params
        }
        post_all = {(p, q): numeric_column(m_all, corr_column(p, q)) for p, q in pairs(model)}
        m_est, m_ok = est_ok[is_m], ok[is_m]
        cells = cells_of(m_all, model)
        cell_col = m_all["cell"].astype(str).to_numpy()
        for n_trials in n_trials_values(m_all):
            in_n = trial_mask(m_all, n_trials)
            for cell, values in cells:
                in_cell = in_n & (cell_col == cell)
                for p, q in pairs(model):
                    x, y, post = scaled[p], scaled[q], post_all[(p, q)]
                    sel = m_est & in_cell & np.isfinite(x) & np.isfinite(y)
                    sel_post = m_ok & in_cell & np.isfinite(post)
                    rows.append(
                        {
                            "method": method,
                            "n_trials": n_trials,
                            "cell": cell,
                            **dict(zip(truth_cols, values, strict=True)),
                            "param_1": p,
                            "param_2": q,
                            "n": int(sel.sum()),
                            "est_corr": pearson(x[sel], y[sel]),
                            "est_spearman": spearman(x[sel], y[sel]),
                            "n_post_corr": int(sel_post.sum()),
                            "post_corr_mean": _mean_or_nan(post[sel_post]),
                        }
                    )
    out = pd.DataFrame(rows, columns=tradeoff_columns(model))
    out = out.astype({"n": "int64", "n_post_corr": "int64"})
    return whole_numbers(out, ["n_trials"])


def correlation_table(recovery: pd.DataFrame, model: Model) -> pd.DataFrame:
    """Correlations of estimation errors across datasets, and mean within-fit correlations.

    The two correlation matrices of the generalised trade-off, one entry per pair of
    parameters: do datasets on which one parameter is overestimated have the other
    over- (positive) or underestimated (negative)? And how strongly are the two
    correlated within one fit's posterior (or Wald approximation)?

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery table (with the ``corr_{p}_{q}`` columns when available).
    model : Model
        The model.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CORRELATION_COLUMNS`: ``method, n_trials, param_1, param_2, n,
        error_corr, n_post, post_corr_mean``, one row per method, number of trials and
        pair of parameters (``param_1`` before ``param_2``; no diagonal), in that
        order. ``error_corr`` is the Pearson correlation, across the ``n`` datasets of
        every cell with usable estimates of both parameters, of their estimation
        errors on the analysis scale (``est - true`` for a parameter in [0, 1],
        ``log(est / true)`` for a positive one); NaN with fewer than two datasets or a
        constant error. ``post_corr_mean`` is the mean of the finite
        ``corr_{param_1}_{param_2}`` of the ``n_post`` ok fits. Empty for a
        one-parameter model.
    """
    require_columns(recovery, ["method", *true_columns(model)])
    ok = ok_mask(recovery)
    est_ok = estimate_mask(recovery)
    rows: list[dict[str, object]] = []
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        errors = {p.name: _errors(m_all, p) for p in model.params}
        for n_trials in n_trials_values(m_all):
            in_n = trial_mask(m_all, n_trials)
            for p, q in pairs(model):
                x, y = errors[p], errors[q]
                post = numeric_column(m_all, corr_column(p, q))
                sel = est_ok[is_m] & in_n & np.isfinite(x) & np.isfinite(y)
                sel_post = ok[is_m] & in_n & np.isfinite(post)
                rows.append(
                    {
                        "method": method,
                        "n_trials": n_trials,
                        "param_1": p,
                        "param_2": q,
                        "n": int(sel.sum()),
                        "error_corr": pearson(x[sel], y[sel]),
                        "n_post": int(sel_post.sum()),
                        "post_corr_mean": _mean_or_nan(post[sel_post]),
                    }
                )
    out = pd.DataFrame(rows, columns=CORRELATION_COLUMNS)
    out = out.astype({"n": "int64", "n_post": "int64"})
    return whole_numbers(out, ["n_trials"])


def _bin_edges(param: Param, truths: np.ndarray, bins: int) -> tuple[np.ndarray, bool]:
    """Edges of the bins of a parameter's true values, and whether each bin is one value.

    With at most ``bins`` distinct values each value is its own bin (edges: the values
    themselves, as ``[v, v]``); else ``bins`` quantile bins of the distinct values on
    the analysis scale, whose edges are returned on the natural scale.
    """
    values = np.unique(truths[np.isfinite(truths)])
    if param.log_scale:
        values = values[values > 0]
    if values.size <= bins:
        return values, True
    scaled = analysis_scale(param, values)
    edges = np.quantile(scaled, np.linspace(0.0, 1.0, bins + 1))
    edges = np.exp(edges) if param.log_scale else edges
    edges[0], edges[-1] = values[0], values[-1]  # exactly the extreme truths
    return edges, False


def _assign_bins(truth: np.ndarray, edges: np.ndarray, single: bool) -> np.ndarray:
    """Bin index of each true value (-1 where it is in no bin)."""
    out = np.full(truth.shape, -1, dtype=int)
    fin = np.isfinite(truth)
    if not edges.size:
        return out
    if single:
        idx = np.searchsorted(edges, truth[fin])
        idx = np.clip(idx, 0, edges.size - 1)
        out[fin] = np.where(edges[idx] == truth[fin], idx, -1)
        return out
    inside = fin & (truth >= edges[0]) & (truth <= edges[-1])
    # bin k holds [edge_k, edge_k+1); the last bin is closed
    out[inside] = np.searchsorted(edges[1:-1], truth[inside], side="right")
    return out


def error_dependence_table(recovery: pd.DataFrame, model: Model, bins: int = 4) -> pd.DataFrame:
    """How each parameter's error depends on each parameter's true value, binned.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery table.
    model : Model
        The model.
    bins : int, default 4
        Number of bins of each parameter's true values.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DEPENDENCE_COLUMNS`: ``method, n_trials, parameter, by, bin,
        bin_low, bin_high, bin_centre, n, bias, rmse, error_scale``, one row per
        method, number of trials, parameter whose error is summarised
        (``parameter``), parameter whose true value is binned (``by``; ``by ==
        parameter`` included: does the error depend on the parameter's own truth?) and
        bin, in that order.

        The bins are those of ``by``'s distinct true values in the whole table (the
        same for every method and length): with at most ``bins`` distinct values (a
        grid) one bin per value, ``bin_low == bin_high`` the value; else ``bins``
        quantile bins of the distinct values on ``by``'s analysis scale, ``bin_low``
        and ``bin_high`` their edges (natural scale; a bin holds ``bin_low <= truth <
        bin_high``, the last one also its upper edge). ``bin_centre`` is the midpoint
        of the edges on ``by``'s analysis scale (their geometric mean for a positive
        parameter). ``bin`` counts from 0.

        ``bias`` and ``rmse`` are the mean and root mean square of ``parameter``'s
        error on its analysis scale (``error_scale``: ``"linear"``, ``est - true``,
        for a parameter in [0, 1]; ``"log"``, ``log(est / true)``, for a positive
        one) over the ``n`` datasets in the bin with a usable estimate (NaN when
        ``n == 0``). Empty for a one-parameter model.
    """
    if int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
    bins = int(bins)
    require_columns(recovery, ["method", *true_columns(model)])
    rows: list[dict[str, object]] = []
    if model.n_params < 2:
        return pd.DataFrame(rows, columns=DEPENDENCE_COLUMNS)
    est_ok = estimate_mask(recovery)
    binning = {}
    for by in model.params:
        truth = numeric_column(recovery, f"{by.name}_true")
        edges, single = _bin_edges(by, truth, bins)
        binning[by.name] = (edges, single, _assign_bins(truth, edges, single))
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        errors = {p.name: _errors(m_all, p) for p in model.params}
        for n_trials in n_trials_values(m_all):
            in_n = trial_mask(m_all, n_trials)
            for param in model.params:
                err = errors[param.name]
                use = est_ok[is_m] & in_n & np.isfinite(err)
                for by in model.params:
                    edges, single, which = binning[by.name]
                    which = which[is_m]
                    n_bins = edges.size if single else edges.size - 1
                    for k in range(n_bins):
                        low, high = (edges[k], edges[k]) if single else (edges[k], edges[k + 1])
                        centre = math.sqrt(low * high) if by.log_scale else (low + high) / 2
                        e = err[use & (which == k)]
                        rows.append(
                            {
                                "method": method,
                                "n_trials": n_trials,
                                "parameter": param.name,
                                "by": by.name,
                                "bin": k,
                                "bin_low": float(low),
                                "bin_high": float(high),
                                "bin_centre": float(centre),
                                "n": int(e.size),
                                "bias": float(e.mean()) if e.size else math.nan,
                                "rmse": math.sqrt(float(np.mean(e * e))) if e.size else math.nan,
                                "error_scale": scale_name(param),
                            }
                        )
    out = pd.DataFrame(rows, columns=DEPENDENCE_COLUMNS)
    out = out.astype({"n": "int64", "bin": "int64"})
    return whole_numbers(out, ["n_trials"])
