"""Simulation-based calibration figures: the CDF at the truth should be uniform.

:func:`plot_sbc_ranks` draws rank histograms and :func:`plot_sbc_ecdf` ECDF difference
plots with the simultaneous band of :func:`rlrecover.analysis.sbc.ecdf_band`, one
panel per method (rows) and parameter (columns). Only fits with ``status == "ok"`` and
a finite CDF value are drawn; every panel says how many values it shows and how many
were left out and why (:class:`rlrecover.analysis.sbc.CdfValues`). The SBC coverage
curve is :func:`rlrecover.report.coverage.plot_coverage_curve`.

References
----------
Talts, S., Betancourt, M., Simpson, D., Vehtari, A. and Gelman, A. (2018).
Validating Bayesian inference algorithms with simulation-based calibration.
arXiv:1804.06788.

Säilynoja, T., Bürkner, P.-C. and Vehtari, A. (2022). Graphical test for discrete
uniformity and its applications in goodness-of-fit evaluation and multiple sample
comparison. Statistics and Computing 32, 32.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from rlrecover.analysis.common import method_order
from rlrecover.analysis.sbc import (
    CdfValues,
    cdf_values,
    ecdf_at,
    ecdf_band,
    inside_band,
)
from rlrecover.models.base import Model
from rlrecover.report.style import (
    footnote,
    grid_figure,
    method_label,
    no_data,
    param_color,
    save_figure,
)

__all__ = ["plot_sbc_ecdf", "plot_sbc_ranks"]


def _excluded_text(v: CdfValues) -> str:
    parts = []
    if v.n_unusable:
        parts.append(f"{v.n_unusable} unusable SE")
    if v.n_failed:
        parts.append(f"{v.n_failed} failed")
    if v.n_no_cdf:
        parts.append(f"{v.n_no_cdf} without CDF")
    return f" ({', '.join(parts)} left out)" if parts else ""


def _panel_title(method: str, param: str, v: CdfValues, extra: str = "") -> str:
    n = v.n
    label = method_label(method)
    datasets = "dataset" if n == 1 else "datasets"
    return f"{label}: {param}\nn = {n} {datasets}{_excluded_text(v)}{extra}"


def _sbc_panels(recovery: pd.DataFrame, model: Model):
    """(values per method and parameter, methods, figure, axes): methods as rows."""
    values = cdf_values(recovery, model)
    methods = method_order(recovery["method"])
    n_cols = max(model.n_params, 1)
    width = 5.5 if n_cols == 1 else 4.3 if n_cols == 2 else 3.6
    fig, axes = grid_figure(len(methods), n_cols, (width, 3.1), (0.4, 1.0), min_width=9.0)
    return values, methods, fig, axes


def plot_sbc_ranks(
    recovery: pd.DataFrame, model: Model, path: str | os.PathLike[str], bins: int = 20
) -> Path:
    """Histograms of the CDF at the truth (normalised ranks), one panel per method x parameter.

    Under calibration each of the ``bins`` equal bins on [0, 1] holds
    Binomial(n, 1/bins) values: the dashed line is the expected count ``n / bins`` and
    the grey band its central 99% range (per bin, not simultaneous: with 20 bins about
    one in five calibrated panels has a bar outside somewhere). A U shape means
    overconfident posteriors (too narrow), a hump underconfident ones, a slope bias.
    Panels of methods without usable values say so.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's SBC (or recovery) table.
    model : Model
        The model.
    path : path-like
        Output PNG file (parent directories are created).
    bins : int, default 20
        Number of bins.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
    bins = int(bins)
    values, methods, fig, axes = _sbc_panels(recovery, model)
    if not methods:
        no_data(axes[0, 0], "no fits")
        return save_figure(fig, path)
    edges = np.linspace(0.0, 1.0, bins + 1)
    for i, method in enumerate(methods):
        for j, param in enumerate(model.param_names):
            ax = axes[i, j]
            v = values[(method, param)]
            u, n = v.u, v.n
            ax.set_title(_panel_title(method, param, v), fontsize=9)
            if n == 0:
                no_data(ax, "no usable CDF values")
                continue
            counts, _ = np.histogram(u, bins=edges)
            lo, hi = stats.binom.ppf([0.005, 0.995], n, 1.0 / bins)
            ax.bar(
                edges[:-1],
                counts,
                width=np.diff(edges),
                align="edge",
                color=param_color(model, param),
                edgecolor="white",
                lw=0.6,
                label="datasets",
                zorder=1,
            )
            # the band on top of the bars, so bars leaving it stand out
            ax.axhspan(lo, hi, color="0.5", alpha=0.25, lw=0, label="99% range per bin", zorder=2)
            for y in (lo, hi):
                ax.axhline(y, color="0.35", lw=0.7, zorder=2)
            ax.axhline(n / bins, color="0.1", ls="--", lw=1, label="expected", zorder=3)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, max(float(counts.max()), hi) * 1.12 + 0.5)
            ax.set_xlabel(f"posterior CDF at true {param}\n(normalised rank)", fontsize=9)
            ax.set_ylabel("datasets per bin")
    fig.suptitle(
        f"{model.title}: SBC rank histograms ({bins} bins), flat within the grey band "
        "if calibrated",
        fontsize=11,
    )
    chance = 100 * (1 - 0.99**bins)
    footnote(
        fig,
        "Dashed line: expected count n/bins; grey band: central 99% range of one bin's "
        f"count under uniformity (so about {chance:.0f}% of calibrated panels have\n"
        "some bar outside it by chance). U shape: posteriors too narrow (overconfident); "
        "hump: too wide; slope: biased.",
    )
    return save_figure(fig, path)


def plot_sbc_ecdf(
    recovery: pd.DataFrame, model: Model, path: str | os.PathLike[str], prob: float = 0.95
) -> Path:
    """ECDF difference plots of the CDF at the truth, one panel per method x parameter.

    Each panel shows ``ECDF(u) - u`` on :data:`rlrecover.analysis.sbc.ECDF_GRID` with
    the simultaneous ``prob`` band of :func:`rlrecover.analysis.sbc.ecdf_band` shaded
    (Säilynoja et al. 2022); grid points outside the band are marked in red; the title
    gives the verdict and the Kolmogorov-Smirnov p-value. Under calibration the whole
    curve stays in the band with probability ``prob``. A curve falling from above zero
    to below means overconfident posteriors (truths too often in the tails), a rising
    one underconfident posteriors, a bulge above zero truths low in their posteriors
    (estimates too high) and below zero the reverse.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's SBC (or recovery) table.
    model : Model
        The model.
    path : path-like
        Output PNG file (parent directories are created).
    prob : float, default 0.95
        Level of the simultaneous band.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob must lie in (0, 1), got {prob!r}")
    values, methods, fig, axes = _sbc_panels(recovery, model)
    if not methods:
        no_data(axes[0, 0], "no fits")
        return save_figure(fig, path)
    pct = f"{round(100 * prob, 6):g}%"
    lim = 0.0
    drawn = []
    for i, method in enumerate(methods):
        for j, param in enumerate(model.param_names):
            ax = axes[i, j]
            v = values[(method, param)]
            u, n = v.u, v.n
            if n == 0:
                ax.set_title(_panel_title(method, param, v), fontsize=9)
                no_data(ax, "no usable CDF values")
                continue
            grid, lower, upper = ecdf_band(n, prob)
            diff = ecdf_at(u, grid) - grid
            inside = inside_band(u, lower, upper)
            verdict = "inside the band" if inside.all() else "LEAVES the band"
            p_value = float(stats.kstest(u, "uniform").pvalue)
            extra = f"\n{verdict}; KS p = {p_value:.2g}"
            ax.set_title(_panel_title(method, param, v, extra), fontsize=9)
            ax.fill_between(
                grid, lower - grid, upper - grid, color="0.85", lw=0, label=f"{pct} band"
            )
            ax.axhline(0.0, color="0.4", lw=0.8, ls="--")
            ax.plot(grid, diff, color=param_color(model, param), lw=1.5, label="ECDF")
            if not inside.all():
                ax.plot(
                    grid[~inside],
                    diff[~inside],
                    ls="none",
                    marker="o",
                    ms=3,
                    color="tab:red",
                    label="outside band",
                )
            ax.set_xlim(0, 1)
            ax.set_xlabel(f"posterior CDF at true {param}, u")
            ax.set_ylabel("ECDF(u) \u2212 u")
            ax.grid(True, color="0.93", lw=0.6)
            lim = max(lim, float(np.max(np.abs(diff))), float(np.max(upper - grid)))
            drawn.append(ax)
    for ax in drawn:  # a common y range so panels can be compared
        ax.set_ylim(-1.1 * lim, 1.1 * lim)
    fig.suptitle(
        f"{model.title}: SBC, ECDF difference with simultaneous {pct} band "
        "(Säilynoja et al. 2022)",
        fontsize=11,
    )
    footnote(
        fig,
        f"Line: ECDF(u) \u2212 u at u = 0.01, 0.02, ..., 0.99; grey: simultaneous {pct} band "
        "for uniform u; red dots: points outside it.\nFalling from above 0 to below: "
        "posteriors too narrow (overconfident); rising: too wide;\nbulge above 0: truths "
        "low in their posteriors (estimates too high); bulge below 0: estimates too low.",
    )
    return save_figure(fig, path)
