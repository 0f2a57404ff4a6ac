"""How many trials are needed: recovery against the number of trials, pooled and per cell.

:func:`design_table` pools every cell (truth) of a model at each studied number of
trials and says from which length on the RMSE target and the truth-estimate
correlation criterion hold; :func:`design_cells_table` says it per cell for the RMSE
target. The targets come from the model's ``design.rmse_target`` section of the config
(:func:`rmse_targets`): an absolute RMSE for a parameter in [0, 1], an RMSE relative
to the true value for a positive one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rlrecover.analysis.common import (
    ESS_MIN,
    RHAT_MAX,
    coverage_column,
    coverage_hits,
    error_stats,
    estimate_mask,
    flagged_mask,
    method_order,
    n_trials_values,
    numeric_column,
    ok_mask,
    pearson,
    require_columns,
    scale_name,
    sustained_min,
    trial_mask,
    trials_int,
    true_columns,
    whole_numbers,
)
from rlrecover.analysis.metrics import grid_map_table
from rlrecover.models.base import Model

__all__ = [
    "DEFAULT_TARGETS",
    "MIN_CORR",
    "TARGET_KINDS",
    "default_rmse_targets",
    "design_cells_table",
    "design_columns",
    "design_table",
    "rmse_targets",
]

#: Default smallest acceptable truth-estimate correlation of :func:`design_table`.
MIN_CORR = 0.8
#: Kinds of RMSE target: below a value, or below a value times the true value.
TARGET_KINDS = ("absolute", "relative")
#: The config's default target value of each kind (``unit_rmse_target`` and
#: ``positive_rmse_target`` of the schema): RMSE 0.1, and 25% of the truth.
DEFAULT_TARGETS: Mapping[str, float] = {"absolute": 0.1, "relative": 0.25}


def rmse_targets(model: Model, section: Mapping[str, float]) -> dict[str, tuple[str, float]]:
    """The RMSE targets of a model from its validated ``design -> rmse_target`` section.

    Parameters
    ----------
    model : Model
        The model.
    section : mapping of str to float
        ``{param: value}``; parameters not in it get no target.

    Returns
    -------
    dict of str to (str, float)
        ``{param: (kind, value)}`` in the model's parameter order, ``kind`` from
        :attr:`rlrecover.models.base.Param.rmse_target_kind`: ``"absolute"`` (RMSE
        below ``value``) for a parameter in [0, 1], ``"relative"`` (RMSE below
        ``value`` times the true value) for a positive one.

    Raises
    ------
    ValueError
        If the section names a parameter the model does not have, or a value is not
        positive.
    """
    unknown = [p for p in section if p not in model.param_names]
    if unknown:
        raise ValueError(
            f"RMSE target for unknown parameter(s) {unknown} of model {model.name}; "
            f"it has {list(model.param_names)}"
        )
    out: dict[str, tuple[str, float]] = {}
    for param in model.params:
        if param.name in section:
            value = float(section[param.name])
            if not value > 0:
                raise ValueError(f"RMSE target of {param.name} must be positive, got {value!r}")
            out[param.name] = (param.rmse_target_kind, value)
    return out


def default_rmse_targets(model: Model) -> dict[str, tuple[str, float]]:
    """The config's default RMSE target of every parameter (:data:`DEFAULT_TARGETS`)."""
    return {
        p.name: (p.rmse_target_kind, DEFAULT_TARGETS[p.rmse_target_kind]) for p in model.params
    }


def _check_targets(
    model: Model, targets: Mapping[str, tuple[str, float]] | None
) -> dict[str, tuple[str, float]]:
    if targets is None:
        return default_rmse_targets(model)
    out: dict[str, tuple[str, float]] = {}
    for param, target in targets.items():
        if param not in model.param_names:
            raise ValueError(
                f"RMSE target for unknown parameter {param!r}; model {model.name} has "
                f"{list(model.param_names)}"
            )
        kind, value = target
        if kind not in TARGET_KINDS:
            raise ValueError(f"RMSE target kind must be one of {TARGET_KINDS}, got {kind!r}")
        if not float(value) > 0:
            raise ValueError(f"RMSE target of {param} must be positive, got {value!r}")
        out[param] = (str(kind), float(value))
    return out


def design_columns(level: float = 0.9) -> list[str]:
    """Columns of :func:`design_table` (coverage at ``level``)."""
    return [
        "method",
        "parameter",
        "n_trials",
        "n",
        "rmse",
        "rel_rmse",
        "log_rmse",
        "truth_corr",
        "corr_scale",
        coverage_column(level),
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


def design_table(
    recovery: pd.DataFrame,
    model: Model,
    rmse_targets: Mapping[str, tuple[str, float]] | None = None,
    min_corr: float = MIN_CORR,
    *,
    level: float = 0.9,
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_MIN,
) -> pd.DataFrame:
    """How many trials are needed: recovery pooled over the truths, per method, parameter, length.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery table, typically with several values of ``n_trials``.
    model : Model
        The model.
    rmse_targets : mapping of str to (str, float), optional
        Per parameter ``("absolute", v)``: RMSE below ``v``; or ``("relative", v)``:
        RMSE below ``v`` times the true value, i.e. ``rel_rmse < v`` (see
        :func:`rmse_targets`). Parameters without a target get NaN target columns.
        Default: :func:`default_rmse_targets`.
    min_corr : float, default 0.8
        Smallest acceptable correlation of truth and estimate across the truths.
    level : float, default 0.9
        Nominal level of the intervals whose coverage is reported.
    rhat_max, ess_min : float
        Thresholds of the diagnostics, which decide which fits are flagged.

    Returns
    -------
    pandas.DataFrame
        One row per method, parameter and number of trials (ascending), columns
        ``method, parameter, n_trials, n, rmse, rel_rmse, log_rmse, truth_corr,
        corr_scale, coverage90, flagged_share, target_kind, target, target_error,
        meets_target, min_trials_for_target, min_corr, meets_corr,
        min_trials_for_corr``.

        All statistics pool every cell at that number of trials (fits with a finite
        estimate whose status is ok or ``"unusable_se"``, ``n`` of them, as in
        :func:`rlrecover.analysis.metrics.recovery_metrics`; coverage only from ok
        fits). ``rmse`` and ``log_rmse`` are those of ``recovery_metrics``;
        ``rel_rmse`` is the root mean square of ``(est - true) / true``.
        ``truth_corr`` is the Pearson correlation of truth and estimate across all
        those fits on the parameter's analysis scale: natural for a parameter in
        [0, 1], log for a positive one (inverse temperatures; ``corr_scale`` says
        which: their truths are spaced geometrically and their errors are
        multiplicative, so the log scale keeps a few large estimates from deciding
        it; NaN when an estimate is not positive). ``coverage90`` is the pooled
        coverage of the intervals at ``level`` and ``flagged_share`` the share of all
        fits (failed ones included) that the diagnostics list.

        ``target_error`` is ``rmse`` for an absolute target and ``rel_rmse`` for a
        relative one, ``meets_target`` whether it is below ``target``, and
        ``meets_corr`` whether ``truth_corr >= min_corr``. ``min_trials_for_target``
        and ``min_trials_for_corr`` (the same on every row of a method and parameter)
        are the smallest studied number of trials from which on the criterion holds
        at every larger studied number, so a lucky small study followed by a miss does
        not count; missing (``<NA>``) when it fails at the largest one, i.e. none of
        the studied lengths is enough.
    """
    targets = _check_targets(model, rmse_targets)
    require_columns(recovery, ["method", "cell", *true_columns(model)])
    cov_col = coverage_column(level)
    ok = ok_mask(recovery)
    est_ok = estimate_mask(recovery)
    flagged = flagged_mask(recovery, model, rhat_max, ess_min)
    rows: list[dict[str, object]] = []
    for method in method_order(recovery["method"]):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        m_all = recovery[is_m]
        m_ok, m_flag, m_est = ok[is_m], flagged[is_m], est_ok[is_m]
        for param in model.params:
            kind, target = targets.get(param.name, ("", math.nan))
            truth = numeric_column(m_all, f"{param.name}_true")
            est = numeric_column(m_all, f"{param.name}_est")
            use = m_est & np.isfinite(truth) & np.isfinite(est)
            has, hit = coverage_hits(m_all, param.name, level, m_ok)
            block: list[dict[str, object]] = []
            for n_trials in n_trials_values(m_all):
                in_n = trial_mask(m_all, n_trials)
                sel = use & in_n
                t, e = truth[sel], est[sel]
                stats = error_stats(param, t, e)
                if param.log_scale:
                    positive = np.all(t > 0) and np.all(e > 0)
                    corr = pearson(np.log(t), np.log(e)) if positive else math.nan
                else:
                    corr = pearson(t, e)
                error = stats["rel_rmse"] if kind == "relative" else stats["rmse"]
                n_int = int((has & in_n).sum())
                n_fits = int(in_n.sum())
                block.append(
                    {
                        "method": method,
                        "parameter": param.name,
                        "n_trials": n_trials,
                        "n": int(sel.sum()),
                        "rmse": stats["rmse"],
                        "rel_rmse": stats["rel_rmse"],
                        "log_rmse": stats["log_rmse"],
                        "truth_corr": corr,
                        "corr_scale": scale_name(param),
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
            by_target = sustained_min(ns, [bool(r["meets_target"]) for r in block])
            by_corr = sustained_min(ns, [bool(r["meets_corr"]) for r in block])
            for r in block:
                r["min_trials_for_target"] = by_target
                r["min_trials_for_corr"] = by_corr
            rows.extend(block)
    out = pd.DataFrame(rows, columns=design_columns(level)).astype({"n": "int64"})
    for col in ("min_trials_for_target", "min_trials_for_corr"):
        out[col] = trials_int(out[col].astype(float).tolist())
    return whole_numbers(out, ["n_trials"])


def design_cells_table(
    recovery: pd.DataFrame,
    model: Model,
    rmse_targets: Mapping[str, tuple[str, float]] | None = None,
) -> pd.DataFrame:
    """How many trials each cell (truth) needs to reach its RMSE target.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery table, typically with several values of ``n_trials``.
    model : Model
        The model.
    rmse_targets : mapping of str to (str, float), optional
        As in :func:`design_table`; only parameters with a target get rows.

    Returns
    -------
    pandas.DataFrame
        One row per method, parameter (with a target) and cell, columns ``method,
        parameter, cell, {p}_true (each parameter), target_kind, target,
        n_trials_max, rmse_at_max, min_trials``. ``target`` is the cell's RMSE
        threshold: the value itself for an absolute target, value times the true
        parameter for a relative one (25% of the true value by default).
        ``min_trials`` is the smallest studied number of trials from which on the
        cell's RMSE (as in :func:`rlrecover.analysis.metrics.grid_map_table`) is below
        ``target`` at every larger studied number; missing (``<NA>``) when it is not
        below at the largest one (``n_trials_max``, where the RMSE was
        ``rmse_at_max``), i.e. none of the studied lengths is enough.
    """
    targets = _check_targets(model, rmse_targets)
    truth_cols = true_columns(model)
    grid = grid_map_table(recovery, model)
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
                **{c: float(sub[c].iloc[0]) for c in truth_cols},
                "target_kind": kind,
                "target": target,
                "n_trials_max": n_max,
                "rmse_at_max": at_max,
                "min_trials": sustained_min(ns, list(rmse < target)),
            }
        )
    columns = [
        "method",
        "parameter",
        "cell",
        *truth_cols,
        "target_kind",
        "target",
        "n_trials_max",
        "rmse_at_max",
        "min_trials",
    ]
    out = pd.DataFrame(rows, columns=columns)
    out["min_trials"] = trials_int(out["min_trials"].astype(float).tolist())
    return whole_numbers(out, ["n_trials_max"])
