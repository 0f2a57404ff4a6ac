"""Are the intervals honest? Empirical against nominal coverage, one panel per method.

:func:`plot_coverage` draws the configured levels of the interval columns
(:func:`rlrecover.analysis.coverage.coverage_table`), :func:`plot_coverage_curve`
every level from 5% to 95% from the CDF at the truth
(:func:`rlrecover.analysis.sbc.coverage_curve`, of a grid or an SBC run). Each
parameter is a line with its 95% Wilson band; a series with nothing to draw is named
on its panel, never dropped silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from rlrecover.analysis.common import ALL_CELLS, is_missing, method_order
from rlrecover.models.base import Model
from rlrecover.report.style import (
    method_label,
    new_figure,
    no_data,
    param_color,
    save_figure,
)

__all__ = [
    "coverage_legend",
    "draw_coverage_panel",
    "note_missing_series",
    "plot_coverage",
    "plot_coverage_curve",
    "series_note",
]


def _height(n_params: int) -> float:
    """Inches of a coverage figure: a square panel under a title of a line per parameter."""
    return 5.3 + 0.19 * n_params


def series_note(param: str, n_values: Sequence[object], n_excluded: int, why: str = "") -> str:
    """How many values a series is drawn from, and how many were left out and why.

    Parameters
    ----------
    param : str
        The series' name.
    n_values : sequence
        Its ``n`` at each point (levels may differ); missing values are ignored.
    n_excluded : int
        Fits left out (the largest over the points).
    why : str, optional
        The reasons, e.g. ``"unusable_se 8, failed 1"``.

    Returns
    -------
    str
        E.g. ``"beta: n = 4-5, 8 left out (unusable_se 8)"``.
    """
    ns = sorted({round(float(x)) for x in n_values if not is_missing(x)})  # type: ignore[arg-type]
    if not ns:
        n_text = "n = 0"
    elif len(ns) == 1:
        n_text = f"n = {ns[0]}"
    else:
        n_text = f"n = {ns[0]}-{ns[-1]}"
    note = f"{param}: {n_text}"
    if n_excluded:
        note += f", {n_excluded} left out" + (f" ({why})" if why else "")
    return note


def note_missing_series(ax: Axes, missing: Sequence[str], anything_drawn: bool) -> None:
    """Write on a panel which series have nothing to draw, so none vanishes silently.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    missing : sequence of str
        One line per series not drawn, e.g. ``"beta not drawn: no usable intervals
        (unusable_se 12)"``.
    anything_drawn : bool
        Whether other series are on the panel: the note then goes to the lower
        right corner, else to the centre.
    """
    if not missing:
        return
    x, y, ha, va = (
        (0.97, 0.03, "right", "bottom") if anything_drawn else (0.5, 0.5, "center", "center")
    )
    ax.text(
        x,
        y,
        "\n".join(missing),
        transform=ax.transAxes,
        ha=ha,
        va=va,
        fontsize=8,
        color="0.15",
        wrap=True,
        bbox={"facecolor": "white", "edgecolor": "0.6", "alpha": 0.9},
    )


def coverage_legend(model: Model, params: Sequence[str]) -> list[Line2D]:
    """Legend entries of a coverage figure: the diagonal and one line per parameter.

    Built by hand so that the colours are explained even when the first panel, which
    carries the legend, has no line to draw.
    """
    handles = [Line2D([], [], ls="--", color="0.4", lw=1, label="nominal = empirical")]
    handles += [Line2D([], [], marker="o", color=param_color(model, p), label=p) for p in params]
    return handles


def _excluded_of(d: pd.DataFrame) -> tuple[int, str]:
    """The largest number of fits left out over a series' rows, and why (if known)."""
    if "n_excluded" not in d.columns or d.empty:
        return 0, ""
    n_ex = pd.to_numeric(d["n_excluded"], errors="coerce").fillna(0)
    i = int(np.argmax(n_ex.to_numpy()))
    why = str(d["excluded"].iloc[i]) if "excluded" in d.columns else ""
    return int(n_ex.iloc[i]), "" if why in ("nan", "<NA>") else why


def draw_coverage_panel(
    ax: Axes,
    model: Model,
    method: str,
    rows: pd.DataFrame,
    params: Sequence[str],
    excluded_of: Callable[[pd.DataFrame], tuple[int, str]],
    *,
    values: str = "intervals",
    xlabel: str = "nominal level",
    marker_size: float | None = None,
) -> None:
    """One method's panel of empirical against nominal coverage.

    Each parameter is a line with markers and its 95% Wilson band shaded, against the
    dashed diagonal. The title gives, per parameter, the number of values per level and
    how many were left out and why; a parameter (or level) without usable values is
    named on the panel, never dropped silently.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The panel.
    model : Model
        The model (its parameters' colours).
    method : str
        The method (its label is the title).
    rows : pandas.DataFrame
        The method's rows: ``parameter, level, n, coverage, ci_low, ci_high``.
    params : sequence of str
        Parameters to draw.
    excluded_of : callable
        ``excluded_of(series_rows)`` -> (number of fits left out, why).
    values : str, default "intervals"
        What a point is computed from, for the notes ("intervals", "CDF values").
    xlabel : str, default "nominal level"
        The x-axis label.
    marker_size : float, optional
        Marker size (matplotlib's default if None).
    """
    ax.plot([0, 1], [0, 1], ls="--", color="0.4", lw=1, label="nominal = empirical")
    drawn = False
    notes: list[str] = []
    missing: list[str] = []
    for param in params:
        d = rows[rows["parameter"] == param].sort_values("level")
        lev = pd.to_numeric(d["level"], errors="coerce").to_numpy(dtype=float)
        cov = pd.to_numeric(d["coverage"], errors="coerce").to_numpy(dtype=float)
        lo = pd.to_numeric(d["ci_low"], errors="coerce").to_numpy(dtype=float)
        hi = pd.to_numeric(d["ci_high"], errors="coerce").to_numpy(dtype=float)
        n_ex, why = excluded_of(d)
        notes.append(series_note(param, d["n"].tolist(), n_ex, why))
        ok = np.isfinite(lev) & np.isfinite(cov)
        if not ok.any():
            missing.append(f"{param} not drawn: no usable {values}" + (f" ({why})" if why else ""))
            continue
        if not ok.all():
            gone = ", ".join(f"{x:g}" for x in lev[~ok & np.isfinite(lev)])
            missing.append(f"{param}: no usable {values} at level {gone}")
        drawn = True
        color = param_color(model, param)
        band = ok & np.isfinite(lo) & np.isfinite(hi)
        ax.fill_between(lev[band], lo[band], hi[band], color=color, alpha=0.2, lw=0)
        ax.plot(lev[ok], cov[ok], marker="o", ms=marker_size, color=color, label=param)
    note_missing_series(ax, missing, drawn)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(f"{method_label(method)}\n" + "\n".join(notes), fontsize=9)
    ax.set_xlabel(xlabel)
    ax.grid(True, color="0.9", lw=0.6)


def plot_coverage(
    coverage: pd.DataFrame,
    model: Model,
    path: str | os.PathLike[str],
    *,
    params: Sequence[str] | None = None,
) -> Path:
    """Empirical against nominal coverage of the central intervals, one panel per method.

    Uses the pooled rows (``cell == "all"``) of
    :func:`rlrecover.analysis.coverage.coverage_table`.
    Each parameter is a coloured line with markers and its 95% Wilson band shaded; the
    dashed diagonal is perfect calibration. Each panel's title says, per parameter,
    how many intervals each level is computed on and how many were left out and why
    (columns ``n_excluded`` and ``excluded`` when present); a parameter without any
    usable interval is named on the panel itself (never dropped silently).

    Parameters
    ----------
    coverage : pandas.DataFrame
        Output of :func:`rlrecover.analysis.coverage.coverage_table`.
    model : Model
        The model.
    path : path-like
        Output PNG file (parent directories are created).
    params : sequence of str, optional
        Parameters to draw (default: all of the model's).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    params = list(model.param_names) if params is None else list(params)
    pooled = coverage[coverage["cell"].astype(str) == ALL_CELLS]
    methods = method_order(pooled["method"])
    fig, axes = new_figure(len(methods), height=_height(len(params)), min_width=7.0)
    if not methods:
        axes[0].text(0.5, 0.5, "no coverage data", ha="center", va="center")
        axes[0].set_axis_off()
        return save_figure(fig, path)
    for ax, method in zip(axes, methods, strict=True):
        rows = pooled[pooled["method"].astype(str) == method]
        draw_coverage_panel(ax, model, method, rows, params, _excluded_of)
    axes[0].set_ylabel("empirical coverage (shaded: 95% Wilson band)")
    axes[0].legend(handles=coverage_legend(model, params), loc="upper left", fontsize=8)
    fig.suptitle(
        f"{model.title}: coverage of central intervals, all cells and lengths pooled\n"
        "(n: intervals per level)"
    )
    return save_figure(fig, path, tight=True)


def _curve_excluded(d: pd.DataFrame) -> tuple[int, str]:
    """Fits left out of a coverage-curve series, and why: ``"unusable SE 8, failed 1"``."""
    n_ex = int(pd.to_numeric(d["n_excluded"], errors="coerce").max()) if len(d) else 0
    parts = []
    for col, label in (
        ("n_unusable", "unusable SE"),
        ("n_failed", "failed"),
        ("n_no_cdf", "without CDF"),
    ):
        if col in d.columns and len(d):
            k = int(pd.to_numeric(d[col], errors="coerce").fillna(0).max())
            if k:
                parts.append(f"{label} {k}")
    return n_ex, ", ".join(parts)


def plot_coverage_curve(
    curve: pd.DataFrame,
    model: Model,
    path: str | os.PathLike[str],
    *,
    params: Sequence[str] | None = None,
) -> Path:
    """Empirical against nominal coverage at every level, one panel per method.

    Each parameter is a line with markers and its 95% Wilson band shaded; the dashed
    diagonal is perfect calibration. Points below the diagonal mean intervals too
    narrow (overconfident), above too wide. Each panel's title gives, per parameter,
    the number of values and how many were left out and why; a parameter without
    usable values is named on the panel (never dropped silently).

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`rlrecover.analysis.sbc.coverage_curve` (of a grid or an SBC
        run).
    model : Model
        The model.
    path : path-like
        Output PNG file (parent directories are created).
    params : sequence of str, optional
        Parameters to draw (default: all of the model's).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    params = list(model.param_names) if params is None else list(params)
    methods = method_order(curve["method"]) if "method" in curve else []
    fig, axes = new_figure(len(methods), height=_height(len(params)), min_width=7.0)
    if not methods:
        no_data(axes[0], "no coverage data")
        return save_figure(fig, path)
    for ax, method in zip(axes, methods, strict=True):
        draw_coverage_panel(
            ax,
            model,
            method,
            curve[curve["method"].astype(str) == method],
            params,
            _curve_excluded,
            values="CDF values",
            xlabel="nominal level of the central interval",
            marker_size=3.5,
        )
    axes[0].set_ylabel("empirical coverage (shaded: 95% Wilson band)")
    axes[0].legend(handles=coverage_legend(model, params), loc="upper left", fontsize=8)
    fig.suptitle(
        f"{model.title}: coverage of central intervals at every level,\n"
        "from the CDF at the truth (all cells and lengths pooled)"
    )
    return save_figure(fig, path, tight=True)
