"""The report's first screen: one model's headline answers, per parameter and method.

For every parameter and method: how well is it recovered at the longest datasets
studied (truth-estimate correlation and RMSE), are its intervals honest (coverage,
SBC), does the sampler agree with the reference posterior (exact check), and how many
trials are needed. :func:`headline_table` picks these numbers from the model's other
tables; stacking the tables of every model gives the study's summary table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rlrecover.analysis.common import (
    ALL_CELLS,
    coverage_column,
    method_order,
    numeric_column,
    read_flag,
    require_columns,
    scale_name,
)
from rlrecover.models.base import Model

__all__ = ["MLE_METHOD", "Z_LIMIT", "headline_columns", "headline_table"]

#: |z| above which an MCMC mean disagrees with the reference posterior.
Z_LIMIT = 4.0
#: The method that has neither SBC verdict nor exact check in the headline: maximum
#: likelihood has no posterior to check against the reference, and the uniformity of
#: its Wald CDF is an asymptotic property, not what SBC tests (the SBC table still has it).
MLE_METHOD = "mle"


def headline_columns(level: float = 0.9) -> list[str]:
    """Columns of :func:`headline_table` (coverage at ``level``)."""
    return [
        "model",
        "parameter",
        "method",
        "n_trials",
        "pearson_r",
        "rmse",
        "error_scale",
        coverage_column(level),
        "sbc_inside_band",
        "sbc_p_value",
        "exact_checked",
        "exact_outliers",
        "exact_reliable",
        "min_trials_for_corr",
        "min_trials_for_target",
    ]


def _text(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), "", dtype=object)
    return df[col].astype(str).str.strip().to_numpy(dtype=object)


def _first_int(values: np.ndarray) -> object:
    finite = values[np.isfinite(values)]
    return round(float(finite[0])) if finite.size else pd.NA


def headline_table(
    model: Model,
    tables: Mapping[str, pd.DataFrame],
    *,
    level: float = 0.9,
    z_limit: float = Z_LIMIT,
) -> pd.DataFrame:
    """The headline numbers of one model, one row per parameter and method.

    Parameters
    ----------
    model : Model
        The model.
    tables : mapping of str to pandas.DataFrame
        The model's tables by name (as written by the workflow or as computed):
        ``design`` (:func:`rlrecover.analysis.design.design_table`) and ``coverage``
        (:func:`rlrecover.analysis.coverage.coverage_table`) are required; ``sbc``
        (:func:`rlrecover.analysis.sbc.sbc_table`) and ``exact_check`` (one row per
        checked PyMC fit and parameter: ``method, parameter, z, reference_reliable,
        ...``) are optional. Other entries (``recovery_metrics``, whose pooled
        numbers the design table repeats) are ignored.
    level : float, default 0.9
        Nominal level of the coverage column.
    z_limit : float, default 4
        |z| beyond which a checked fit counts as disagreeing with the reference.

    Returns
    -------
    pandas.DataFrame
        Columns :func:`headline_columns`: ``model, parameter, method, n_trials,
        pearson_r, rmse, error_scale, coverage90, sbc_inside_band, sbc_p_value,
        exact_checked, exact_outliers, exact_reliable, min_trials_for_corr,
        min_trials_for_target``; one row per parameter (model order) and method
        (report order) of the design table.

        - ``n_trials``: the largest number of trials studied; ``pearson_r`` and
          ``rmse`` are those of the design table there (all truths pooled):
          ``pearson_r`` is its ``truth_corr`` (log scale for a positive parameter),
          ``rmse`` its ``rmse`` for a parameter in [0, 1] and its ``log_rmse``, the
          RMSE of ``log(est / true)``, for a positive one; ``error_scale`` says which
          (``"linear"`` or ``"log"``).
        - ``coverage90``: coverage of the central intervals at ``level``, every cell
          and number of trials pooled (the coverage table's ``cell == "all"`` row);
          NaN when that level was not computed.
        - ``sbc_inside_band`` (``"yes"``/``"no"``) and ``sbc_p_value``: the SBC
          table's verdict and Kolmogorov-Smirnov p-value; ``""``/NaN without an SBC
          table, without usable values, and for maximum likelihood
          (:data:`MLE_METHOD`).
        - ``exact_checked``: checked fits with a finite z; ``exact_outliers``: those
          with ``|z| > z_limit``; ``exact_reliable``: ``"yes"`` when the reference of
          every checked fit passed its own accuracy check, ``"no"`` when one did not.
          Missing (``<NA>``, ``""``) without an exact-check table and for maximum
          likelihood; 0 and ``""`` for a PyMC method none of whose fits was checked.
        - ``min_trials_for_corr``, ``min_trials_for_target``: the design table's
          smallest number of trials from which on the correlation criterion and the
          RMSE target hold (``<NA>``: not within the studied lengths).

    Raises
    ------
    KeyError
        If ``design`` or ``coverage`` is missing, or lacks a column used.
    """
    for name in ("design", "coverage"):
        if name not in tables:
            raise KeyError(f"headline_table needs the {name} table of {model.name}")
    design = tables["design"]
    coverage = tables["coverage"]
    require_columns(design, ["method", "parameter", "n_trials", "truth_corr", "rmse"])
    require_columns(coverage, ["method", "parameter", "cell", "level", "coverage"])
    sbc = tables.get("sbc")
    exact = tables.get("exact_check")
    cov_col = coverage_column(level)

    d_method, d_param = _text(design, "method"), _text(design, "parameter")
    d_n = numeric_column(design, "n_trials")
    c_method, c_param = _text(coverage, "method"), _text(coverage, "parameter")
    c_pooled = (_text(coverage, "cell") == ALL_CELLS) & np.isclose(
        numeric_column(coverage, "level"), level
    )
    c_value = numeric_column(coverage, "coverage")
    if exact is not None:
        e_method, e_param = _text(exact, "method"), _text(exact, "parameter")
        e_z = numeric_column(exact, "z")
        reliable_col = exact.get("reference_reliable", pd.Series(True, index=exact.index))
        e_reliable = np.array([read_flag(x) is not False for x in reliable_col], dtype=bool)

    rows: list[dict[str, object]] = []
    for param in model.params:
        for method in method_order(design["method"]):
            here = (d_method == method) & (d_param == param.name)
            if not here.any():
                continue
            finite_n = d_n[here & np.isfinite(d_n)]
            n_max = float(finite_n.max()) if finite_n.size else math.nan
            at_max = here & (np.isnan(d_n) if math.isnan(n_max) else d_n == n_max)
            last = design[at_max].iloc[-1]
            err_col = "log_rmse" if param.log_scale else "rmse"
            cov = c_value[c_pooled & (c_method == method) & (c_param == param.name)]
            row: dict[str, object] = {
                "model": model.name,
                "parameter": param.name,
                "method": method,
                "n_trials": pd.NA if math.isnan(n_max) else round(n_max),
                "pearson_r": float(pd.to_numeric(last["truth_corr"], errors="coerce")),
                "rmse": float(pd.to_numeric(last.get(err_col, math.nan), errors="coerce")),
                "error_scale": scale_name(param),
                cov_col: float(cov[0]) if cov.size else math.nan,
                "sbc_inside_band": "",
                "sbc_p_value": math.nan,
                "exact_checked": pd.NA,
                "exact_outliers": pd.NA,
                "exact_reliable": "",
            }
            for col in ("min_trials_for_corr", "min_trials_for_target"):
                row[col] = _first_int(numeric_column(design[here], col))
            if sbc is not None and method != MLE_METHOD and len(sbc):
                s = sbc[(_text(sbc, "method") == method) & (_text(sbc, "parameter") == param.name)]
                verdict = str(s["inside_band"].iloc[0]).strip().lower() if len(s) else ""
                if verdict in ("yes", "no"):
                    row["sbc_inside_band"] = verdict
                    row["sbc_p_value"] = float(numeric_column(s, "p_value")[0])
            if exact is not None and method != MLE_METHOD:
                sel = (e_method == method) & (e_param == param.name)
                z = e_z[sel]
                checked = np.isfinite(z)
                row["exact_checked"] = int(checked.sum())
                row["exact_outliers"] = int((np.abs(z[checked]) > z_limit).sum())
                if checked.any():
                    row["exact_reliable"] = "yes" if e_reliable[sel][checked].all() else "no"
            rows.append(row)
    out = pd.DataFrame(rows, columns=headline_columns(level))
    for col in ("n_trials", "exact_checked", "exact_outliers"):
        out[col] = pd.array(out[col].tolist(), dtype="Int64")
    for col in ("min_trials_for_corr", "min_trials_for_target"):
        out[col] = pd.array(out[col].tolist(), dtype="Int64")
    for col in ("pearson_r", "rmse", cov_col, "sbc_p_value"):
        out[col] = out[col].astype(float)
    return out
