"""Empirical coverage of the central intervals of one model's fits, with Wilson intervals.

Only fits with ``status == "ok"`` and a finite interval count; the table says per
group how many intervals were used and why the others were left out. Coverage pools
every number of trials (a cell's truth is the same at every length). Coverage at many
levels from the CDF at the truth (no interval columns needed) is
:func:`rlrecover.analysis.sbc.coverage_curve`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from rlrecover.analysis.common import (
    ALL_CELLS,
    cells_of,
    coverage_hits,
    excluded_text,
    exclusion_labels,
    method_order,
    ok_mask,
    require_columns,
    true_columns,
    wilson_interval,
)
from rlrecover.models.base import Model
from rlrecover.summary import interval_columns

__all__ = ["coverage_columns", "coverage_table"]


def coverage_columns(model: Model) -> list[str]:
    """Columns of :func:`coverage_table` for ``model``."""
    return [
        "method",
        "parameter",
        "cell",
        *true_columns(model),
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


def _coverage_row(
    method: str,
    param: str,
    cell: str,
    true_values: dict[str, float],
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
        **true_values,
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


def coverage_table(recovery: pd.DataFrame, model: Model, levels: Sequence[float]) -> pd.DataFrame:
    """Empirical coverage of the central intervals at each nominal level.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery table; must have ``{p}_lower_L`` and ``{p}_upper_L`` for
        every parameter and level (labels from :func:`rlrecover.summary.level_label`).
    model : Model
        The model.
    levels : sequence of float
        Nominal levels in (0, 1), e.g. ``[0.5, 0.8, 0.9, 0.95]``.

    Returns
    -------
    pandas.DataFrame
        Columns ``method, parameter, cell, {p}_true (each parameter), level, n,
        covered, coverage, ci_low, ci_high, n_fits, n_excluded, excluded``: one pooled
        row (``cell == "all"``, true values NaN) and one row per cell for every method,
        parameter and level; every number of trials is pooled. ``n`` counts the
        intervals used: fits with ``status == "ok"`` and finite truth and bounds;
        ``covered`` those with ``lower <= truth <= upper``; ``coverage = covered /
        n``; ``ci_low`` and ``ci_high`` bound a 95% Wilson score interval of the
        coverage (NaN when ``n == 0``, e.g. a method that reports no intervals).
        ``n_fits`` counts every fit of the group, ``n_excluded = n_fits - n`` those
        left out and ``excluded`` says why, with a count per reason
        (:func:`rlrecover.analysis.common.exclusion_labels`), e.g. ``"unusable_se 8,
        failed 1"``: the fit's status when not ok, else ``no finite interval``; ``""``
        when none was left out.

    Raises
    ------
    KeyError
        If an interval column is missing.
    """
    levels = [float(x) for x in levels]
    truth_cols = true_columns(model)
    needed = ["method", "cell", *truth_cols]
    for level in levels:
        for p in model.param_names:
            needed.extend(interval_columns(p, level))
    require_columns(recovery, needed)
    ok = ok_mask(recovery)
    nan_truth = dict.fromkeys(truth_cols, math.nan)
    rows: list[dict[str, object]] = []
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        m_ok = ok[is_m]
        cells = cells_of(m_all, model)
        cell_col = m_all["cell"].astype(str).to_numpy()
        for param in model.param_names:
            for level in levels:
                use, hit = coverage_hits(m_all, param, level, m_ok)
                why = exclusion_labels(m_all, use)
                rows.append(
                    _coverage_row(method, param, ALL_CELLS, nan_truth, level, hit[use], why)
                )
                for cell, values in cells:
                    in_cell = cell_col == cell
                    sel = use & in_cell
                    true_values = dict(zip(truth_cols, values, strict=True))
                    rows.append(
                        _coverage_row(
                            method, param, cell, true_values, level, hit[sel], why[in_cell]
                        )
                    )
    out = pd.DataFrame(rows, columns=coverage_columns(model))
    return out.astype(dict.fromkeys(["n", "covered", "n_fits", "n_excluded"], "int64"))
