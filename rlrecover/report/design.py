"""How many trials are needed: error and correlation against the number of trials."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from rlrecover.analysis.common import is_missing, method_order, numeric_column
from rlrecover.models.base import Model
from rlrecover.report.style import (
    empty_figure,
    finite,
    grid_figure,
    method_style,
    plain_log_ticks,
    save_figure,
    set_value_ticks,
    short_label,
)

__all__ = ["plot_design"]


def _trials_text(value: object) -> str | None:
    return None if is_missing(value) else f"{float(value):g}"


def _met_text(n_min: str | None, ns: Sequence[float]) -> str:
    """Legend text of a design criterion: from which studied length on it holds."""
    longest = f"{ns[-1]:g}" if ns else "?"
    if n_min is None:
        return (
            f"not met at {longest} trials" if len(ns) == 1 else f"not met up to {longest} trials"
        )
    return f"met at {n_min} trials" if len(ns) == 1 else f"met from {n_min} trials"


def plot_design(table: pd.DataFrame, model: Model, path: str | os.PathLike[str]) -> Path:
    """How many trials are needed: error and correlation against the number of trials.

    One column per parameter. Top: the error that the RMSE target is stated in
    (``target_error``: RMSE for an absolute target, RMSE / truth for a relative one)
    against the number of trials, with the target as a dashed line. Bottom: the
    correlation of truth and estimate across all truths (log scale for a positive
    parameter) with ``min_corr`` dashed. One line per method; the legend says from how
    many trials on each criterion is met (``min_trials_for_target`` /
    ``min_trials_for_corr``). Both x axes are logarithmic.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`rlrecover.analysis.design.design_table`.
    model : Model
        The model.
    path : path-like
        Output PNG file (parent directories are created).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if table.empty or "parameter" not in table:
        return save_figure(empty_figure("no fits"), path)
    params = [p for p in model.param_names if p in set(table["parameter"].astype(str))]
    methods = method_order(table["method"])
    width = 5.0 if len(params) <= 2 else 4.4
    fig, axes = grid_figure(2, len(params), (width, 4.4), (0.3, 0.9))
    ns = sorted({float(v) for v in numeric_column(table, "n_trials") if math.isfinite(v)})
    xlim = (ns[0] / 1.5, ns[-1] * 1.5) if ns else (10.0, 1000.0)
    for j, param in enumerate(params):
        d = table[table["parameter"].astype(str) == param]
        kinds = [str(k) for k in d["target_kind"] if not is_missing(k) and str(k)]
        kind = kinds[0] if kinds else ""
        targets = finite(d["target"])
        target = float(targets[0]) if targets.size else math.nan
        min_corr = finite(d["min_corr"])
        ax_e, ax_c = axes[0, j], axes[1, j]
        err_col = "target_error" if kind else "rmse"
        err_values = finite(d[err_col])
        for method in methods:
            m = d[d["method"].astype(str) == method].sort_values("n_trials")
            color, marker, ls = method_style(method, methods)
            x = numeric_column(m, "n_trials")
            short = short_label(method)
            first = m.iloc[0] if len(m) else {}
            for ax, col, crit in (
                (ax_e, err_col, "min_trials_for_target" if kind else None),
                (ax_c, "truth_corr", "min_trials_for_corr"),
            ):
                y = numeric_column(m, col)
                ok = np.isfinite(x) & np.isfinite(y)
                if crit is None:
                    label = short
                elif not ok.any():
                    label = f"{short}: no successful fits"
                else:
                    n_min = _trials_text(first[crit])
                    label = f"{short}: {_met_text(n_min, ns)}"
                ax.plot(x[ok], y[ok], color=color, marker=marker, ls=ls, lw=1.6, ms=6, label=label)
        if kind:
            what = f"< {target:g}" if kind == "absolute" else f"< {100 * target:g}% of the truth"
            ax_e.axhline(target, color="0.2", ls=":", lw=1.2, label=f"target: RMSE {what}")
        if min_corr.size:
            ax_c.axhline(
                float(min_corr[0]), color="0.2", ls=":", lw=1.2, label=f"r = {min_corr[0]:g}"
            )
        if err_values.size and (err_values > 0).all():
            top = max(float(err_values.max()), target if math.isfinite(target) else 0.0)
            low = min(float(err_values.min()), target if math.isfinite(target) else math.inf)
            if top / low > 8:
                ax_e.set_yscale("log")
                plain_log_ticks(ax_e.yaxis, (low, top))
        else:
            ax_e.set_ylim(bottom=0)
        scale = "log " if model.param(param).log_scale else ""
        ax_e.set_ylabel(
            f"relative RMSE of {param} (RMSE / true {param})"
            if kind == "relative"
            else f"RMSE of {param}"
        )
        ax_c.set_ylabel(f"corr(true, estimated {scale}{param})")
        ax_e.set_title(f"{param}: error against the target", fontsize=10)
        ax_c.set_title(f"{param}: truth-estimate correlation, all truths", fontsize=10)
        corr_values = np.concatenate([finite(d["truth_corr"]), min_corr[:1]])
        ax_c.set_ylim(max(-1.0, float(corr_values.min(initial=1.0)) - 0.1), 1.02)
        for ax in (ax_e, ax_c):
            ax.set_xscale("log")
            ax.set_xlim(xlim)
            set_value_ticks(ax.xaxis, ns, True)
            ax.grid(True, which="major", color="0.92", lw=0.6)
            ax.set_xlabel("trials per dataset (log axis)", fontsize=9)
            # below the panel, so it never hides a line
            ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False)
    fig.suptitle(
        f"{model.title}: how many trials are needed? Recovery pooled over the truths, "
        "by dataset length\n"
        "(legend: the criterion holds from that length on, at every longer one studied)",
        fontsize=11,
    )
    return save_figure(fig, path, tight=True)
