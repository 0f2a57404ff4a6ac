"""The generalised trade-off of models with more than two parameters (or no grid).

:func:`plot_correlations` draws, per method and number of trials, the matrix of the
correlations of the estimation errors across datasets (lower triangle) and of the mean
within-fit correlations (upper triangle) of every pair of parameters
(:func:`rlrecover.analysis.tradeoff.correlation_table`). :func:`plot_error_dependence`
draws how each parameter's error depends on each parameter's true value
(:func:`rlrecover.analysis.tradeoff.error_dependence_table`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from rlrecover.analysis.common import is_missing, method_order, n_trials_values, numeric_column
from rlrecover.models.base import Model
from rlrecover.report.style import (
    empty_figure,
    fmt_fixed,
    method_style,
    panel_title,
    plain_log_ticks,
    save_figure,
    set_value_ticks,
    short_label,
    trial_rows,
)

__all__ = ["DEPENDENCE_METRICS", "plot_correlations", "plot_error_dependence"]

#: What :func:`plot_error_dependence` can draw on its value axis.
DEPENDENCE_METRICS = ("rmse", "bias")


def _text_color(rgba) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def _matrix(rows: pd.DataFrame, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The panel's matrix: errors below the diagonal, within-fit above; and the counts."""
    k = len(names)
    index = {p: i for i, p in enumerate(names)}
    z = np.full((k, k), np.nan)
    present = np.zeros((k, k), dtype=bool)
    n_err = n_post = 0
    for rec in rows.to_dict("records"):
        i, j = index.get(str(rec["param_1"])), index.get(str(rec["param_2"]))
        if i is None or j is None:
            continue
        lo, hi = (i, j) if i < j else (j, i)
        err, post = rec.get("error_corr"), rec.get("post_corr_mean")
        z[hi, lo] = math.nan if is_missing(err) else float(err)
        z[lo, hi] = math.nan if is_missing(post) else float(post)
        present[hi, lo] = present[lo, hi] = True
        n_err = max(n_err, 0 if is_missing(rec.get("n")) else int(rec["n"]))
        n_post = max(n_post, 0 if is_missing(rec.get("n_post")) else int(rec["n_post"]))
    return z, present, n_err, n_post


def plot_correlations(
    table: pd.DataFrame | None, model: Model, path: str | os.PathLike[str]
) -> Path:
    """Correlation matrices of the parameters: across datasets (errors) and within fits.

    One panel per method (columns) and number of trials (rows). Each panel is a matrix
    of the model's parameters, annotated with its values: below the diagonal the
    correlation, across every dataset of that method and length, of the two
    parameters' estimation errors on their analysis scale (``error_corr``: do datasets
    that overestimate one parameter over- or underestimate the other?); above it the
    mean within-fit correlation (``post_corr_mean``: posterior, or Wald for maximum
    likelihood). Diverging colours centred at 0; grey cells have no value.

    Parameters
    ----------
    table : pandas.DataFrame or None
        Output of :func:`rlrecover.analysis.tradeoff.correlation_table` (None: no
        table, an empty figure).
    model : Model
        The model.
    path : path-like
        Output PNG file (parent directories are created).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if table is None or table.empty or "method" not in table or model.n_params < 2:
        return save_figure(empty_figure(f"{model.title}: no parameter pairs to correlate"), path)
    names = model.param_names
    k = len(names)
    methods = method_order(table["method"])
    trials = n_trials_values(table)
    side = 1.3 + 0.8 * k
    fig = Figure(
        figsize=(max(side * len(methods) + 1.3, 8.0), (side + 0.5) * len(trials) + 1.5),
        layout="constrained",
    )
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(trials), len(methods), squeeze=False)
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.88")
    norm = Normalize(-1.0, 1.0)
    image = None
    fontsize = 10 if k <= 2 else 9 if k == 3 else 8.5
    trial_col = numeric_column(table, "n_trials")
    method_col = table["method"].astype(str).to_numpy()
    for i, n_trials in enumerate(trials):
        for j, method in enumerate(methods):
            ax = axes[i, j]
            rows = table[trial_rows(trial_col, n_trials) & (method_col == method)]
            z, present, n_err, n_post = _matrix(rows, names)
            image = ax.imshow(np.ma.masked_invalid(z), cmap=cmap, norm=norm)
            rgba = cmap(norm(z))
            for a in range(k):
                for b in range(k):
                    if a == b:
                        ax.text(
                            b,
                            a,
                            names[a],
                            ha="center",
                            va="center",
                            fontsize=fontsize - 1,
                            color="0.25",
                            style="italic",
                        )
                        continue
                    if not present[a, b]:
                        continue
                    value = z[a, b]
                    color = "0.3" if np.isnan(value) else _text_color(rgba[a, b])
                    ax.text(
                        b,
                        a,
                        fmt_fixed(value),
                        ha="center",
                        va="center",
                        fontsize=fontsize,
                        color=color,
                    )
            ax.set_xticks(
                range(k), names, rotation=30 if k > 2 else 0, ha="right" if k > 2 else "center"
            )
            ax.set_yticks(range(k), names)
            ax.tick_params(length=0, labelsize=8.5)
            ax.set_xticks(np.arange(k + 1) - 0.5, minor=True)
            ax.set_yticks(np.arange(k + 1) - 0.5, minor=True)
            ax.grid(which="minor", color="white", lw=1.5)
            ax.tick_params(which="minor", length=0)
            for spine in ax.spines.values():
                spine.set_visible(False)
            ax.set_title(
                f"{panel_title(method, n_trials)}\nerrors: n = {n_err}; within fits: n = {n_post}",
                fontsize=9,
            )
    cbar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, aspect=30, pad=0.02)
    cbar.set_label("correlation (blue: negative, red: positive)", fontsize=9)
    fig.suptitle(
        f"{model.title}: do the parameters trade off?\n"
        "below the diagonal: correlation of the estimation errors across datasets\n"
        "(log scale for positive parameters); above: mean within-fit correlation\n"
        "(posterior, or Wald for maximum likelihood); a matrix per method and number of trials",
        fontsize=10.5,
    )
    return save_figure(fig, path)


def plot_error_dependence(
    table: pd.DataFrame | None, model: Model, path: str | os.PathLike[str], *, metric: str = "rmse"
) -> Path:
    """How each parameter's error depends on each parameter's true value.

    A grid of panels: rows are the parameter whose error is shown, columns the
    parameter whose true value is binned (the diagonal: a parameter's error against
    its own truth, shaded). In each panel the error (``metric``: RMSE, or bias with a
    dashed zero line, on the analysis scale: ``est - true`` for a parameter in [0, 1],
    ``log(est / true)`` for a positive one) is drawn against the bins' centres, one
    line per method (colour and marker) and number of trials (fainter and thinner for
    fewer trials). A flat line means the error does not depend on that parameter's
    truth. Panels of a row share the value axis, panels of a column the truth axis (log
    for a positive parameter).

    Parameters
    ----------
    table : pandas.DataFrame or None
        Output of :func:`rlrecover.analysis.tradeoff.error_dependence_table` (None:
        no table, an empty figure).
    model : Model
        The model.
    path : path-like
        Output PNG file (parent directories are created).
    metric : {"rmse", "bias"}, default "rmse"
        The value drawn.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if metric not in DEPENDENCE_METRICS:
        raise ValueError(f"metric must be one of {DEPENDENCE_METRICS}, got {metric!r}")
    if table is None or table.empty or "method" not in table:
        return save_figure(empty_figure(f"{model.title}: no error dependence to draw"), path)
    params = model.params
    k = len(params)
    methods = method_order(table["method"])
    trials = n_trials_values(table)
    panel = (3.4, 2.7) if k <= 2 else (3.0, 2.4)
    fig = Figure(figsize=(max(panel[0] * k + 0.8, 8.0), panel[1] * k + 2.1), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(k, k, squeeze=False, sharex="col", sharey="row")
    n_t = len(trials)
    # the largest number of trials in full strength, fewer ones fainter and thinner
    fade = {
        t: (1.0, 2.0) if n_t == 1 else (0.35 + 0.65 * q / (n_t - 1), 0.9 + 1.1 * q / (n_t - 1))
        for q, t in enumerate(trials)
    }
    par_col = table["parameter"].astype(str).to_numpy()
    by_col = table["by"].astype(str).to_numpy()
    method_col = table["method"].astype(str).to_numpy()
    trial_col = numeric_column(table, "n_trials")
    centre = numeric_column(table, "bin_centre")
    low, high = numeric_column(table, "bin_low"), numeric_column(table, "bin_high")
    value = numeric_column(table, metric)
    for i, param in enumerate(params):
        for j, by in enumerate(params):
            ax = axes[i, j]
            here = (par_col == param.name) & (by_col == by.name)
            if i == j:
                ax.set_facecolor("0.965")
            if metric == "bias":
                ax.axhline(0.0, color="0.5", ls="--", lw=0.8)
            drawn = False
            for method in methods:
                color, marker, _ = method_style(method, methods)
                for t in trials:
                    sel = here & (method_col == method) & trial_rows(trial_col, t)
                    x, y = centre[sel], value[sel]
                    ok = np.isfinite(x) & np.isfinite(y)
                    if not ok.any():
                        continue
                    order = np.argsort(x[ok])
                    alpha, lw = fade[t]
                    ax.plot(
                        x[ok][order],
                        y[ok][order],
                        color=color,
                        marker=marker,
                        ms=4,
                        lw=lw,
                        alpha=alpha,
                    )
                    drawn = True
            if not drawn:
                ax.text(
                    0.5,
                    0.5,
                    "no usable fits",
                    transform=ax.transAxes,
                    ha="center",
                    va="center",
                    color="0.3",
                    fontsize=8,
                )
            xs = centre[here & np.isfinite(centre)]
            if by.log_scale:
                ax.set_xscale("log")
                if xs.size and xs.min() > 0:
                    plain_log_ticks(ax.xaxis, (float(xs.min()), float(xs.max())))
            one_value = here & (low == high)
            if xs.size and one_value.sum() == here.sum() and np.unique(xs).size <= 8:
                # a grid: one bin per true value, ticked at the values
                set_value_ticks(ax.xaxis, sorted(set(xs.tolist())), by.log_scale)
            ax.grid(True, color="0.9", lw=0.6)
            ax.tick_params(labelsize=8)
            if i == k - 1:
                ax.set_xlabel(
                    f"true {by.name}" + (" (log axis)" if by.log_scale else ""), fontsize=9
                )
            if j == 0:
                what = (
                    f"log({param.name} est / true)"
                    if param.log_scale
                    else (f"{param.name} est \u2212 true")
                )
                ax.set_ylabel(
                    f"{metric.upper() if metric == 'rmse' else 'bias'} of\n{what}", fontsize=9
                )
            if i == 0:
                ax.set_title(f"by true {by.name}", fontsize=9.5)
    handles = [
        Line2D(
            [],
            [],
            color=method_style(m, methods)[0],
            marker=method_style(m, methods)[1],
            lw=1.8,
            label=short_label(m),
        )
        for m in methods
    ]
    if n_t > 1:
        handles += [
            Line2D(
                [],
                [],
                color="0.2",
                lw=fade[t][1],
                alpha=fade[t][0],
                label="no number of trials" if math.isnan(t) else f"{t:g} trials",
            )
            for t in trials
        ]
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 6),
        fontsize=8.5,
        frameon=False,
    )
    name = "RMSE" if metric == "rmse" else "Bias"
    only = "" if n_t > 1 else ("" if math.isnan(trials[0]) else f", {trials[0]:g} trials")
    fig.suptitle(
        f"{model.title}: does one parameter's error depend on another's true value?\n"
        f"{name} of each parameter (rows) in bins of each parameter's true value "
        f"(columns){only}" + ("\nfainter, thinner lines: fewer trials" if n_t > 1 else ""),
        fontsize=10.5,
    )
    return save_figure(fig, path)
