"""Figures of the recovery study, written as PNG files.

Figures are drawn on :class:`matplotlib.figure.Figure` objects attached explicitly to
the Agg canvas (:class:`matplotlib.backends.backend_agg.FigureCanvasAgg`). ``pyplot``
is never imported, so no GUI backend, global figure registry or ``show`` is involved
and importing this module does not change the matplotlib backend of the caller.

A study may simulate datasets of several lengths (``n_trials``): figures then have
one row of panels per length, one column per method.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import QuadMesh
from matplotlib.colors import CenteredNorm, Colormap, LogNorm, Normalize, TwoSlopeNorm
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from rlrecover.analysis import (
    ALL_CELLS,
    ESS_MIN,
    LOG_PARAMS,
    RHAT_MAX,
    coverage_column,
    estimate_mask,
    grid_map_table,
    is_missing,
    method_order,
    n_trials_values,
    numeric_column,
    ok_mask,
    wilson_interval,
)
from rlrecover.seeds import format_value
from rlrecover.summary import PARAMS, interval_columns, level_label

__all__ = [
    "DPI",
    "MAP_METRICS",
    "METHOD_LABELS",
    "PARAM_COLORS",
    "coverage_legend",
    "note_missing_series",
    "plot_coverage",
    "plot_design",
    "plot_exact_check",
    "plot_grid_map",
    "plot_recovery",
    "plot_tradeoff",
    "save_figure",
    "series_note",
]

#: Resolution of the saved PNG files.
DPI = 110
#: Panel titles of the known methods.
METHOD_LABELS = {
    "mle": "Maximum likelihood",
    "pymc_potential": "PyMC (pm.Potential likelihood)",
    "pymc_bernoulli": "PyMC (Bernoulli likelihood)",
}
#: Metrics of :func:`plot_grid_map` (``coverage`` takes any level: ``coverage50``, ...).
MAP_METRICS: tuple[str, ...] = ("bias", "rmse", "coverage90", "flagged")
#: Line colour of each parameter.
PARAM_COLORS = {"alpha": "tab:blue", "beta": "tab:orange"}
_SHORT_LABELS = {
    "mle": "MLE",
    "pymc_potential": "PyMC Potential",
    "pymc_bernoulli": "PyMC Bernoulli",
}
_METHOD_STYLES = {
    "mle": ("tab:green", "o", "-"),
    "pymc_potential": ("tab:blue", "s", "-"),
    "pymc_bernoulli": ("tab:purple", "^", "--"),
}
_OTHER_STYLES = [("tab:brown", "D", "-."), ("tab:gray", "v", ":"), ("tab:olive", "P", "-")]


# --------------------------------------------------------------------------- helpers


def _new_figure(n_panels: int, height: float = 4.0) -> tuple[Figure, list]:
    n = max(n_panels, 1)
    fig = Figure(figsize=(4.2 * n + 0.6, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    return fig, list(axes)


def _grid_figure(
    n_rows: int, n_cols: int, panel: tuple[float, float], extra: tuple[float, float]
) -> tuple[Figure, np.ndarray]:
    """A figure with an ``n_rows`` x ``n_cols`` grid of panels of size ``panel`` inches."""
    n_rows, n_cols = max(n_rows, 1), max(n_cols, 1)
    fig = Figure(
        figsize=(panel[0] * n_cols + extra[0], panel[1] * n_rows + extra[1]),
        layout="constrained",
    )
    FigureCanvasAgg(fig)
    return fig, fig.subplots(n_rows, n_cols, squeeze=False)


def _empty_figure(text: str) -> Figure:
    fig, axes = _grid_figure(1, 1, (4.5, 3.0), (0.0, 0.0))
    axes[0, 0].text(0.5, 0.5, text, ha="center", va="center")
    axes[0, 0].set_axis_off()
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], *, tight: bool = False) -> Path:
    """Write ``fig`` as PNG (parent directories are created).

    The figure is not cleared afterwards: it belongs to no pyplot state, so it is
    freed with its last reference, and clearing it rebuilt every axis's ticks first
    (a tenth of the time of the study's figures).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : path-like
        Output file.
    tight : bool, default False
        Grow the page to legends placed outside the axes.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(
        path,
        dpi=DPI,
        format="png",
        **({"bbox_inches": "tight", "pad_inches": 0.15} if tight else {}),
    )
    return path


def _true_flags(df: pd.DataFrame, col: str) -> np.ndarray:
    """Which rows hold true in a boolean column that may have come back as text."""
    if col not in df.columns:
        return np.zeros(len(df), dtype=bool)
    text = df[col].astype(object).map(lambda x: "" if is_missing(x) else str(x).strip().lower())
    return text.isin(["true", "t", "1", "1.0", "yes"]).to_numpy(dtype=bool)


def _method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def _panel_title(method: str, n_trials: float) -> str:
    if math.isnan(n_trials):
        return _method_label(method)
    return f"{_method_label(method)}, {n_trials:g} trials"


def _trial_mask(values: np.ndarray, n_trials: float) -> np.ndarray:
    return np.isnan(values) if math.isnan(n_trials) else values == n_trials


def _set_value_ticks(axis: Axis, values: Sequence[float], log: bool) -> None:
    """Ticks exactly at the grid values, labelled as in cell names."""
    axis.set_ticks(list(values), [format_value(v) for v in values])
    if log:
        axis.set_minor_locator(NullLocator())


def _plain_log_ticks(axis: Axis, lims: tuple[float, float]) -> None:
    """Log-axis ticks as plain numbers: 1, 2, 5, 10, ... (only powers of 10 if wide)."""
    decades = math.log10(lims[1] / lims[0]) if lims[0] > 0 else math.inf
    subs = (1.0,) if decades > 3 else (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


def _method_style(method: str, methods: Sequence[str]) -> tuple[str, str, str]:
    if method in _METHOD_STYLES:
        return _METHOD_STYLES[method]
    others = [m for m in methods if m not in _METHOD_STYLES]
    return _OTHER_STYLES[others.index(method) % len(_OTHER_STYLES)]


# --------------------------------------------------------------------------- recovery


def _dodge(values: np.ndarray, log: bool, n_slots: int) -> tuple[float, float]:
    """Half-width of the band around each true value and half-width of one cell's slot.

    In log10 units for a log axis. The band takes 70% of the smallest gap between
    neighbouring true values (of one decade, or 0.2, if there is a single value); it is
    cut into ``n_slots`` equal slots, one per value of the other parameter.
    """
    finite = values[np.isfinite(values)]
    u = np.unique(np.log10(finite[finite > 0]) if log else finite)
    gap = float(np.min(np.diff(u))) if u.size >= 2 else (1.0 if log else 0.2)
    half = 0.35 * gap
    return half, half / max(n_slots, 1)


def _shift(x: np.ndarray | float, offset: np.ndarray | float, log: bool) -> np.ndarray:
    """Move ``x`` by ``offset`` (in log10 units on a log axis)."""
    if log:
        return np.asarray(x, dtype=float) * 10.0 ** np.asarray(offset, dtype=float)
    return np.asarray(x, dtype=float) + np.asarray(offset, dtype=float)


def _axis_limits(values: np.ndarray, log: bool, pad: float = 0.06) -> tuple[float, float]:
    """Limits around ``values`` with ``pad`` of the span on each side (log10 span if log)."""
    v = values[np.isfinite(values)]
    if log:
        v = np.log10(v[v > 0])
    if not v.size:
        return (0.1, 10.0) if log else (0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo if hi > lo else (0.5 if log else max(abs(hi), 1.0) * 0.2)
    lo, hi = lo - pad * span, hi + pad * span
    return (10.0**lo, 10.0**hi) if log else (lo, hi)


def plot_recovery(
    recovery: pd.DataFrame,
    param: str,
    path: str | os.PathLike[str],
    *,
    interval_level: float | None = None,
    range_level: float = 0.9,
) -> Path:
    """True against estimated ``param``: each cell's median and spread over the single fits.

    One panel per method (columns) and number of trials (rows). In each panel:

    - a light cloud of the single fits with a finite estimate whose status is ok or
      ``"unusable_se"`` (:func:`rlrecover.analysis.estimate_mask`; the latter
      counted in the panel title), spread sideways around the true value so
      replicates do not hide each other;
    - per cell, the median estimate with a bar over the central ``range_level``
      (default 90%) of its estimates, coloured by the true value of the other
      parameter and set side by side in that order, so cells that share a true value
      can be told apart;
    - fits at a bound of the MLE box (``at_bound`` true) as red crosses, counted in
      the panel title. They still count in the medians and bars, but each panel's
      value axis fits its own data without them, so a few estimates at 1e-3 or 1e3
      do not squeeze the rest; one outside the axis is a red triangle on its edge;
    - the dashed identity line (perfect recovery).

    Alpha is drawn on linear axes, positive parameters (beta) on log-log axes, where
    a non-positive estimate cannot be drawn (counted in the panel title).

    Parameters
    ----------
    recovery : pandas.DataFrame
        The recovery table.
    param : {"alpha", "beta"}
        Parameter to plot.
    path : path-like
        Output PNG file (parent directories are created).
    interval_level : float, optional
        If given, draw each fit's central interval at this level (columns
        ``{param}_lower_L``/``{param}_upper_L``) as a faint vertical line in the cloud.
    range_level : float, default 0.9
        Share of a cell's estimates its bar spans (from the ``(1 - range_level) / 2``
        to the ``(1 + range_level) / 2`` quantile).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if param not in PARAMS:
        raise ValueError(f"param must be one of {PARAMS}, got {param!r}")
    if not 0.0 < range_level < 1.0:
        raise ValueError(f"range_level must lie in (0, 1), got {range_level!r}")
    methods = method_order(recovery["method"]) if "method" in recovery else []
    if not methods:
        return save_figure(_empty_figure("no fits"), path)
    log = param in LOG_PARAMS
    other = next(p for p in PARAMS if p != param)
    trials = n_trials_values(recovery)
    fig, axes = _grid_figure(len(trials), len(methods), (4.1, 3.6), (0.3, 1.2))

    is_ok = estimate_mask(recovery)
    no_se = is_ok & ~ok_mask(recovery)
    truth_all = numeric_column(recovery, f"{param}_true")
    est_all = numeric_column(recovery, f"{param}_est")
    other_all = numeric_column(recovery, f"{other}_true")
    rep_all = numeric_column(recovery, "replicate")
    bound_all = _true_flags(recovery, "at_bound")
    trial_col = numeric_column(recovery, "n_trials")
    method_col = recovery["method"].astype(str).to_numpy()
    usable = is_ok & np.isfinite(truth_all) & np.isfinite(est_all)
    shown = usable & (truth_all > 0) & (est_all > 0) if log else usable

    x_values = sorted({float(v) for v in truth_all[np.isfinite(truth_all)]})
    other_values = sorted({float(v) for v in other_all[np.isfinite(other_all)]})
    cmap = matplotlib.colormaps["viridis"]
    colors = {
        v: cmap(0.92 * k / max(len(other_values) - 1, 1)) for k, v in enumerate(other_values)
    }
    slot_of = {v: k for k, v in enumerate(other_values)}
    half, slot = _dodge(truth_all, log, len(other_values))
    xlim = _axis_limits(
        np.concatenate([_shift(x_values, -1.25 * half, log), _shift(x_values, 1.25 * half, log)]),
        log,
        pad=0.0,
    )
    q_lo, q_hi = (1 - range_level) / 2, (1 + range_level) / 2
    any_bound = any_off = False

    for i, n_trials in enumerate(trials):
        in_n = _trial_mask(trial_col, n_trials)
        for j, method in enumerate(methods):
            ax = axes[i, j]
            is_m = (method_col == method) & in_n
            sel = is_m & shown
            x, y = truth_all[sel], est_all[sel]
            o, rep, bnd = other_all[sel], rep_all[sel], bound_all[sel]
            # each cell gets a slot next to its true value; replicates spread in the slot
            centre = np.array(
                [-half + (2 * slot_of.get(float(v), 0) + 1) * slot for v in o], dtype=float
            )
            spread = np.zeros(len(x))
            for xv, ov in {(float(a), float(b)) for a, b in zip(x, o, strict=True)}:
                idx = np.flatnonzero((x == xv) & (o == ov))
                idx = idx[np.argsort(rep[idx], kind="stable")]
                if idx.size > 1:
                    spread[idx] = np.linspace(-0.6 * slot, 0.6 * slot, idx.size)
            xpos = _shift(x, centre + spread, log)
            point_colors = [colors.get(float(v), "0.5") for v in o]

            ylim = _axis_limits(np.concatenate([y[~bnd], x_values]), log)
            ends = [min(xlim[0], ylim[0]), max(xlim[1], ylim[1])]
            if sel.any():
                ax.plot(ends, ends, ls="--", color="0.6", lw=0.8, zorder=1)
                for xv in x_values:
                    band = _shift([xv, xv], [-1.1 * half, 1.1 * half], log)
                    ax.plot(band, [xv, xv], color="black", lw=1.3, zorder=2.5)
            if interval_level is not None and sel.any():
                lo_c, hi_c = interval_columns(param, interval_level)
                lo_v = numeric_column(recovery, lo_c)[sel]
                hi_v = numeric_column(recovery, hi_c)[sel]
                has = np.isfinite(lo_v) & np.isfinite(hi_v) & ((lo_v > 0) if log else True)
                ax.vlines(xpos[has], lo_v[has], hi_v[has], color="0.78", lw=0.6, zorder=1.5)
            free = ~bnd
            ax.scatter(
                xpos[free],
                y[free],
                s=7,
                c=[c for c, f in zip(point_colors, free, strict=True) if f] or None,
                alpha=0.3,
                edgecolors="none",
                zorder=2,
            )
            inside = bnd & (y >= ylim[0]) & (y <= ylim[1])
            if inside.any():
                any_bound = True
                ax.scatter(
                    xpos[inside], y[inside], marker="x", s=24, lw=1.1, color="tab:red", zorder=4
                )
            beyond = ((ylim[1], "^", bnd & (y > ylim[1])), (ylim[0], "v", bnd & (y < ylim[0])))
            for edge, marker, off in beyond:
                if off.any():
                    any_bound = any_off = True
                    ax.scatter(
                        xpos[off],
                        np.full(int(off.sum()), edge),
                        marker=marker,
                        s=34,
                        color="tab:red",
                        edgecolors="white",
                        linewidths=0.5,
                        zorder=5,
                        clip_on=False,
                    )
            if sel.any():
                cells = pd.DataFrame({"x": x, "o": o, "y": y, "c": centre})
                # one error-bar artist per colour, not per cell: far fewer artists to draw
                bars: dict[float, list[tuple[float, float, float, float]]] = {}
                for (xv, ov), grp in cells.groupby(["x", "o"], sort=True):
                    med = float(np.median(grp["y"]))
                    lo_q, hi_q = np.quantile(grp["y"].to_numpy(), [q_lo, q_hi])
                    pos = float(_shift(float(xv), float(grp["c"].iloc[0]), log))
                    bars.setdefault(float(ov), []).append((pos, med, med - lo_q, hi_q - med))
                for ov, rows in bars.items():
                    pos, med, below, above = (list(v) for v in zip(*rows, strict=True))
                    ax.errorbar(
                        pos,
                        med,
                        yerr=[below, above],
                        fmt="o",
                        ms=4.5,
                        color=colors.get(ov, "0.5"),
                        mec="black",
                        mew=0.6,
                        elinewidth=1.7,
                        zorder=3,
                    )
            else:
                ax.text(
                    0.5,
                    0.5,
                    "no successful fits",
                    transform=ax.transAxes,
                    ha="center",
                    va="center",
                    color="0.3",
                )
            if log:
                ax.set_xscale("log")
                ax.set_yscale("log")
            ax.set_xlim(xlim)
            ax.set_ylim(ylim)
            _set_value_ticks(ax.xaxis, x_values, log)
            if log:
                _plain_log_ticks(ax.yaxis, ylim)
            ax.grid(True, which="major", color="0.92", lw=0.6)
            n_fits = int(is_m.sum())
            parts = [f"{int(sel.sum())} of {n_fits} fits"]
            n_bound = int(bnd.sum())
            if n_bound:
                parts.append(f"{n_bound} at a bound")
            n_no_se = int((is_m & no_se).sum())
            if n_no_se:
                parts.append(f"{n_no_se} without usable SE")
            n_failed = int((is_m & ~is_ok).sum())
            if n_failed:
                parts.append(f"{n_failed} failed")
            n_hidden = int((is_m & usable & ~shown).sum())
            if n_hidden:
                parts.append(f"{n_hidden} \u2264 0 not shown")
            ax.set_title(f"{_panel_title(method, n_trials)}\n{', '.join(parts)}", fontsize=9.5)
            if i == len(trials) - 1:
                ax.set_xlabel(f"true {param}")
            if j == 0:
                ax.set_ylabel(f"estimated {param}")

    handles = [
        Line2D([], [], ls="none", marker="o", ms=4, color="0.5", alpha=0.5, label="single fit"),
        Line2D(
            [],
            [],
            marker="o",
            ms=5,
            color="0.45",
            mec="black",
            lw=1.7,
            label=f"cell median and central {level_label(range_level)}% of fits",
        ),
        Line2D([], [], color="black", lw=1.3, label="true value"),
        Line2D([], [], ls="--", color="0.6", lw=0.8, label="identity"),
    ]
    if any_bound:
        handles.append(
            Line2D([], [], ls="none", marker="x", color="tab:red", label="fit at an MLE bound")
        )
    if any_off:
        handles.append(
            Line2D(
                [],
                [],
                ls="none",
                marker="^",
                color="tab:red",
                label="at a bound, beyond the axis",
            )
        )
    fig.legend(
        handles=handles,
        loc="outside lower left",
        ncols=min(len(handles), 3),
        fontsize=8.5,
        frameon=False,
    )
    fig.legend(
        handles=[
            Line2D([], [], ls="none", marker="s", ms=7, color=colors[v], label=format_value(v))
            for v in other_values
        ],
        loc="outside lower right",
        ncols=min(len(other_values), 6),
        fontsize=8.5,
        frameon=False,
        title=f"colour: true {other} of the cell",
        title_fontsize=8.5,
    )
    scale = " (log-log axes)" if log else ""
    fig.suptitle(f"Recovery of {param}{scale}: estimate (MLE / posterior mean) against truth")
    return save_figure(fig, path)


# --------------------------------------------------------------------------- grid maps


def _edges(values: Sequence[float], log: bool) -> np.ndarray:
    """Tile edges around sorted grid values: midway between neighbours (in log10 if log)."""
    v = np.asarray(sorted(values), dtype=float)
    t = np.log10(v) if log else v
    if t.size == 1:
        h = 0.3 if log else 0.1 * max(abs(float(t[0])), 1.0)
        e = np.array([t[0] - h, t[0] + h])
    else:
        mid = (t[1:] + t[:-1]) / 2
        e = np.concatenate([[2 * t[0] - mid[0]], mid, [2 * t[-1] - mid[-1]]])
    return 10.0**e if log else e


def _text_color(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads better on a tile of colour ``rgba``."""
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def _grid_axes_values(table: pd.DataFrame) -> tuple[list[float], list[float]]:
    xs = sorted({float(v) for v in numeric_column(table, f"{PARAMS[0]}_true") if math.isfinite(v)})
    ys = sorted({float(v) for v in numeric_column(table, f"{PARAMS[1]}_true") if math.isfinite(v)})
    return xs, ys


def _tiles(
    ax: Axes,
    sub: pd.DataFrame,
    value: str,
    grid: tuple[list[float], list[float]],
    cmap: Colormap,
    norm: Normalize,
    text: Callable[[Mapping[str, object]], str],
    fontsize: float,
) -> QuadMesh:
    """Draw one panel of tiles, one per grid cell, each annotated with ``text(row)``.

    Columns of the grid are the first parameter (linear or log axis as its scale),
    rows the second; a cell missing from ``sub`` is left blank, one whose value is NaN
    is grey.
    """
    xs, ys = grid
    x_log, y_log = PARAMS[0] in LOG_PARAMS, PARAMS[1] in LOG_PARAMS
    col_of = {v: k for k, v in enumerate(xs)}
    row_of = {v: k for k, v in enumerate(ys)}
    z = np.full((len(ys), len(xs)), np.nan)
    present = np.zeros(z.shape, dtype=bool)
    labels: dict[tuple[int, int], str] = {}
    for rec in sub.to_dict("records"):
        key = (
            row_of.get(float(rec[f"{PARAMS[1]}_true"])),
            col_of.get(float(rec[f"{PARAMS[0]}_true"])),
        )
        if None in key:
            continue
        i, j = key
        v = rec[value]
        z[i, j] = np.nan if is_missing(v) else float(v)
        present[i, j] = True
        labels[(i, j)] = text(rec)
    xe, ye = _edges(xs, x_log), _edges(ys, y_log)
    mesh = ax.pcolormesh(
        xe,
        ye,
        np.ma.masked_invalid(z),
        cmap=cmap.with_extremes(bad="0.86"),
        norm=norm,
        edgecolors="white",
        linewidth=1.0,
    )
    # a cell that the table does not have at all is white, not "no value" grey
    if (~present).any():
        ax.pcolormesh(
            xe, ye, np.ma.masked_where(present, np.zeros(z.shape)), cmap="Greys", vmin=0, vmax=1
        )
    rgba = mesh.cmap(norm(z))  # every tile's colour at once (one call per tile is slow)
    for (i, j), label in labels.items():
        color = "0.25" if np.isnan(z[i, j]) else _text_color(rgba[i, j])
        # inside its tile: no need for the layout to measure it
        ax.text(
            xs[j],
            ys[i],
            label,
            ha="center",
            va="center",
            fontsize=fontsize,
            color=color,
            in_layout=False,
        )
    if x_log:
        ax.set_xscale("log")
    if y_log:
        ax.set_yscale("log")
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    _set_value_ticks(ax.xaxis, xs, x_log)
    _set_value_ticks(ax.yaxis, ys, y_log)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return mesh


def _fmt_signed(v: object, digits: int = 3) -> str:
    if is_missing(v):
        return "–"
    return f"{float(v):+.{digits}f}".replace("-", "\u2212")


def _fmt_fixed(v: object, digits: int = 2) -> str:
    return "–" if is_missing(v) else f"{float(v):.{digits}f}"


def _coverage_text(coverage: object, n: object, level: float, n_fits: object = None) -> str:
    """Coverage to two decimals, starred when ``level`` is outside its Wilson interval.

    When some of the cell's fits have no usable interval, the number that count is
    written below (``n=8``; ``no usable interval`` when none does), so a tile never
    hides that fits were left out.
    """
    fits = None if is_missing(n_fits) else round(float(n_fits))  # type: ignore[arg-type]
    n_int = 0 if is_missing(n) else round(float(n))  # type: ignore[arg-type]
    if is_missing(coverage) or n_int == 0:
        return "–\nno usable\ninterval" if fits else "–"
    share = float(coverage)  # type: ignore[arg-type]
    low, high = wilson_interval(round(share * n_int), n_int)
    text = f"{share:.2f}" + ("" if low <= level <= high else "*")
    return text + (f"\nn={n_int}" if fits is not None and n_int < fits else "")


def _fmt_sig(v: object) -> str:
    return "–" if is_missing(v) else f"{float(v):.3g}"


@dataclass
class _Block:
    """One group of map rows with a shared colour scale: a parameter, or all fits.

    ``text`` gives a tile's label from its table row; with ``ratio`` the values are
    log ratios and the colour bar is labelled in ratios.
    """

    title: str
    rows: pd.DataFrame
    value: str
    cmap_name: str
    norm: Normalize
    text: Callable[[Mapping[str, object]], str]
    cbar_label: str
    ratio: bool = False
    ticks: Sequence[float] | None = None

    @property
    def cmap(self) -> Colormap:
        return matplotlib.colormaps[self.cmap_name]

    def extend(self) -> str:
        """Colour-bar arrows for values beyond the colour scale."""
        v = _finite(self.rows[self.value])
        lo = bool(v.size) and float(v.min()) < self.norm.vmin
        hi = bool(v.size) and float(v.max()) > self.norm.vmax
        return {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
            (lo, hi), "both"
        )


#: Colour scales of log ratios stop at this factor (annotations give the exact value).
_RATIO_CAP = 4.0
_NICE_RATIOS = {
    1 / 8: "1/8",
    1 / 4: "1/4",
    1 / 2: "1/2",
    2 / 3: "2/3",
    1.0: "1",
    1.5: "1.5",
    2.0: "2",
    4.0: "4",
    8.0: "8",
}


def _finite(values: pd.Series) -> np.ndarray:
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return v[np.isfinite(v)]


def _map_blocks(
    table: pd.DataFrame, kind: str, level: float, params: Sequence[str], log_scale: bool
) -> list[_Block]:
    blocks: list[_Block] = []
    if kind == "flagged":
        rows = table[table["parameter"] == PARAMS[0]]
        top = max(0.1, float(_finite(rows["flagged_share"]).max(initial=0.0)))
        blocks.append(
            _Block(
                "Share of fits flagged by the diagnostics (failed, R-hat, bulk ESS, "
                "divergences, MLE at a bound); tiles: flagged / all fits",
                rows,
                "flagged_share",
                "OrRd",
                Normalize(0.0, top),
                lambda r: f"{int(r['n_flagged'])}/{int(r['n_fits'])}",
                "share of fits flagged",
            )
        )
        return blocks
    for param in params:
        rows = table[table["parameter"] == param]
        on_log = log_scale and param in LOG_PARAMS
        if kind == "bias":
            col = "log_bias" if on_log else "bias"
            half = float(np.abs(_finite(rows[col])).max(initial=0.0)) or 1e-9
            if on_log:
                blocks.append(
                    _Block(
                        f"{param}: estimate / truth, geometric mean over replicates "
                        "(\u00d71 = unbiased)",
                        rows,
                        col,
                        "RdBu_r",
                        CenteredNorm(0.0, min(half, math.log(_RATIO_CAP))),
                        lambda r: (
                            "–"
                            if is_missing(r["log_bias"])
                            else f"\u00d7{math.exp(r['log_bias']):.2f}"
                        ),
                        f"est / true {param}, geometric mean (log colour scale)",
                        ratio=True,
                    )
                )
            else:
                digits = 3 if param not in LOG_PARAMS else 2
                blocks.append(
                    _Block(
                        f"{param}: bias = mean of (estimate \u2212 truth)",
                        rows,
                        col,
                        "RdBu_r",
                        CenteredNorm(0.0, half),
                        lambda r, d=digits: _fmt_signed(r["bias"], d),
                        f"bias of {param} (red: too large, blue: too small)",
                    )
                )
        elif kind == "rmse":
            col = "log_rmse" if on_log else "rmse"
            vals = _finite(rows[col])
            top = float(vals.max(initial=0.0)) or 1.0
            if on_log:
                top = min(top, math.log(_RATIO_CAP))
                blocks.append(
                    _Block(
                        f"{param}: RMSE of log(estimate / truth) (0.25 \u2248 25% typical error; "
                        f"colours stop at log {_RATIO_CAP:g})",
                        rows,
                        col,
                        "YlOrRd",
                        Normalize(0.0, top),
                        lambda r: _fmt_fixed(r["log_rmse"]),
                        f"RMSE of log {param}",
                    )
                )
            else:
                pos = vals[vals > 0]
                wide = pos.size and pos.max() / pos.min() > 50
                norm = LogNorm(float(pos.min()), float(pos.max())) if wide else Normalize(0.0, top)
                blocks.append(
                    _Block(
                        f"{param}: RMSE = root mean square of (estimate \u2212 truth)",
                        rows,
                        col,
                        "YlOrRd",
                        norm,
                        lambda r, p=param: (
                            _fmt_sig(r["rmse"]) if p in LOG_PARAMS else _fmt_fixed(r["rmse"], 3)
                        ),
                        f"RMSE of {param}" + (" (log colour scale)" if wide else ""),
                    )
                )
        else:  # coverage
            col = coverage_column(level)
            low = max(0.0, min(level - 0.2, float(_finite(rows[col]).min(initial=1.0))))
            lab = level_label(level)
            ticks = sorted(
                {*np.round(np.arange(math.ceil(low * 10) / 10, 1.0, 0.1), 2), level, 1.0}
            )
            blocks.append(
                _Block(
                    f"{param}: share of {lab}% intervals that hold the truth (nominal {lab}%; "
                    "red: too few; *: nominal outside the 95% Wilson interval;\n"
                    "n=k: only k of the cell's fits have a usable interval, see coverage.tsv)",
                    rows,
                    col,
                    "RdBu",
                    TwoSlopeNorm(vcenter=level, vmin=low, vmax=1.0),
                    lambda r, c=col, lv=level: _coverage_text(
                        r[c], r["n_interval"], lv, r.get("n_fits")
                    ),
                    f"coverage of {lab}% intervals",
                    ticks=[t for t in ticks if low <= t <= 1.0],
                )
            )
    return blocks


def _parse_map_metric(metric: str) -> tuple[str, float]:
    if metric in ("bias", "rmse", "flagged"):
        return metric, 0.9
    m = re.fullmatch(r"coverage(\d+(?:\.\d+)?)", metric)
    if m and 0 < float(m[1]) < 100:
        return "coverage", float(m[1]) / 100
    raise ValueError(f"metric must be one of {MAP_METRICS} (or coverageNN), got {metric!r}")


def _draw_blocks(
    fig: Figure,
    blocks: Sequence[_Block],
    methods: Sequence[str],
    trials: Sequence[float],
    grid: tuple[list[float], list[float]],
    count_col: str | None,
) -> None:
    """Each block a subfigure: rows = numbers of trials, columns = methods, one colour bar."""
    subfigs = fig.subfigures(len(blocks), 1, squeeze=False)[:, 0] if len(blocks) > 1 else [fig]
    n_cells = len(grid[0]) * len(grid[1])
    fontsize = 8.5 if n_cells <= 30 else 7 if n_cells <= 64 else 5.5
    for sf, block in zip(subfigs, blocks, strict=True):
        axes = sf.subplots(len(trials), len(methods), squeeze=False)
        mesh = None
        for i, n_trials in enumerate(trials):
            in_n = _trial_mask(numeric_column(block.rows, "n_trials"), n_trials)
            for j, method in enumerate(methods):
                ax = axes[i, j]
                sub = block.rows[in_n & (block.rows["method"].astype(str) == method).to_numpy()]
                mesh = _tiles(
                    ax, sub, block.value, grid, block.cmap, block.norm, block.text, fontsize
                )
                title = _panel_title(method, n_trials)
                counts = numeric_column(sub, count_col) if count_col is not None else None
                if counts is not None and len(sub) and not (counts > 0).any():
                    title += "\nno successful fits"
                ax.set_title(title, fontsize=9.5)
                # the panels share their axes: values and labels on the outer ones only
                if i == len(trials) - 1:
                    ax.set_xlabel(f"true {PARAMS[0]}")
                else:
                    ax.tick_params(labelbottom=False)
                if j == 0:
                    ax.set_ylabel(f"true {PARAMS[1]}")
                else:
                    ax.tick_params(labelleft=False)
        if isinstance(sf, SubFigure):
            sf.suptitle(block.title, fontsize=10.5)
        else:
            axes[0, 0].figure.suptitle(block.title, fontsize=10.5)
        cbar = sf.colorbar(
            mesh,
            ax=axes.ravel().tolist(),
            shrink=0.85,
            aspect=30,
            pad=0.02,
            extend=block.extend(),
        )
        cbar.set_label(block.cbar_label, fontsize=9)
        if block.ticks is not None:
            cbar.set_ticks(list(block.ticks))
        if block.ratio:
            lo, hi = block.norm.vmin, block.norm.vmax
            nice = {r: t for r, t in _NICE_RATIOS.items() if lo - 1e-9 <= math.log(r) <= hi + 1e-9}
            cbar.set_ticks(
                [math.log(r) for r in nice], labels=[f"\u00d7{t}" for t in nice.values()]
            )


def plot_grid_map(
    recovery: pd.DataFrame,
    metric: str,
    path: str | os.PathLike[str],
    *,
    params: Sequence[str] = PARAMS,
    log_scale: bool = True,
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_MIN,
) -> Path:
    """A recovery metric as a map over the (alpha, beta) grid: one tile per cell.

    Tiles sit at the cell's true values (alpha across, beta up on a log axis; tile
    edges midway between neighbouring grid values, in log space for beta) and carry
    their value as text. Panels: one column per method, one row per number of trials;
    each parameter is its own block of rows with its own colour bar (the colour scale
    is shared by all methods and lengths, so they can be compared). Values come from
    :func:`rlrecover.analysis.grid_map_table`; grey tiles have no value (no
    successful fit, or no interval).

    Metrics:

    - ``"bias"``: alpha's bias (estimate minus truth); for beta, with ``log_scale``,
      the geometric mean of estimate / truth (``ratio``, coloured by its log, so
      \u00d72 and \u00d70.5 are equally strong). Diverging colours centred at no bias.
    - ``"rmse"``: alpha's RMSE; for beta, with ``log_scale``, the RMSE of
      log(estimate / truth).
    - ``"coverage90"`` (or ``"coverageNN"`` for another level): share of the intervals
      that hold the truth; diverging colours centred at the nominal level.
    - ``"flagged"``: share of the cell's fits that
      :func:`rlrecover.analysis.diagnostics` lists (one block, not per parameter).

    Parameters
    ----------
    recovery : pandas.DataFrame
        The recovery table.
    metric : str
        One of :data:`MAP_METRICS` or ``"coverageNN"``.
    path : path-like
        Output PNG file (parent directories are created).
    params : sequence of str, default ("alpha", "beta")
        Parameters to draw a block for (ignored for ``"flagged"``).
    log_scale : bool, default True
        Show positive parameters (beta) on the log scale; False shows the natural-
        scale bias and RMSE (where a few MLE estimates at the 1e3 bound dominate).
    rhat_max, ess_min : float
        Thresholds of :func:`rlrecover.analysis.diagnostics` for ``"flagged"``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    kind, level = _parse_map_metric(metric)
    unknown = [p for p in params if p not in PARAMS]
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; known: {PARAMS}")
    if "method" not in recovery or recovery.empty:
        return save_figure(_empty_figure("no fits"), path)
    table = grid_map_table(recovery, level=level, rhat_max=rhat_max, ess_min=ess_min)
    methods = method_order(table["method"])
    trials = n_trials_values(table)
    grid = _grid_axes_values(table)
    blocks = _map_blocks(table, kind, level, params, log_scale)
    n_rows = len(blocks) * len(trials)
    fig = Figure(
        figsize=(3.5 * len(methods) + 1.2, 3.1 * n_rows + 0.75 * len(blocks) + 0.4),
        layout="constrained",
    )
    FigureCanvasAgg(fig)
    _draw_blocks(fig, blocks, methods, trials, grid, None if kind == "flagged" else "n")
    names = {
        "bias": "Bias",
        "rmse": "Error (RMSE)",
        "coverage": f"Coverage of the {level_label(level)}% intervals",
        "flagged": "Flagged fits",
    }
    if len(blocks) > 1:
        fig.suptitle(f"{names[kind]} over the grid of true values", fontsize=12)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- trade-offs


def plot_tradeoff(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Where do alpha and beta trade off? The correlation of their estimates per cell.

    A map of the (alpha, beta) grid as in :func:`plot_grid_map`, one column per
    method and one row per number of trials: each tile is the correlation, across the
    cell's replicates, of the alpha estimate with the log beta estimate
    (``est_corr``). Blue tiles (negative) are cells where a dataset that gives a
    larger alpha gives a smaller beta: the data pin down a combination of the two
    better than either. When the table has per-fit correlations, their mean
    (``ab_corr_mean``) is printed below in brackets.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`rlrecover.analysis.tradeoff_table`.
    path : path-like
        Output PNG file (parent directories are created).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if table.empty or "method" not in table:
        return save_figure(_empty_figure("no fits"), path)
    methods = method_order(table["method"])
    trials = n_trials_values(table)
    grid = _grid_axes_values(table)
    has_ab = "ab_corr_mean" in table and _finite(table["ab_corr_mean"]).size > 0

    def text(r: Mapping[str, object]) -> str:
        out = _fmt_fixed(r["est_corr"]).replace("-", "\u2212")
        if has_ab and not is_missing(r.get("ab_corr_mean")):
            out += "\n(" + _fmt_fixed(r["ab_corr_mean"]).replace("-", "\u2212") + ")"
        return out

    title = (
        f"Do {PARAMS[0]} and {PARAMS[1]} trade off? Correlation of the {PARAMS[0]} and "
        f"log {PARAMS[1]} estimates across a cell's replicates"
    )
    if has_ab:
        title += "\n(in brackets: mean within-fit correlation, posterior or Wald)"
    block = _Block(
        title,
        table,
        "est_corr",
        "RdBu_r",
        Normalize(-1.0, 1.0),
        text,
        f"corr({PARAMS[0]} est, log {PARAMS[1]} est); blue: trade-off",
    )
    fig = Figure(figsize=(3.5 * len(methods) + 1.2, 3.1 * len(trials) + 0.9), layout="constrained")
    FigureCanvasAgg(fig)
    _draw_blocks(fig, [block], methods, trials, grid, "n")
    return save_figure(fig, path)


# --------------------------------------------------------------------------- design


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


def plot_design(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """How many trials are needed: error and correlation against the number of trials.

    One column per parameter. Top: the error that the RMSE target is stated in
    (``target_error``: RMSE for an absolute target, RMSE / truth for a relative one)
    against the number of trials, with the target as a dashed line. Bottom: the
    correlation of truth and estimate across the grid (log scale for beta) with
    ``min_corr`` dashed. One line per method; the legend says from how many trials
    on each criterion is met (``min_trials_for_target`` / ``min_trials_for_corr``).
    Both x axes are logarithmic.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`rlrecover.analysis.design_table`.
    path : path-like
        Output PNG file (parent directories are created).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if table.empty or "parameter" not in table:
        return save_figure(_empty_figure("no fits"), path)
    params = [p for p in PARAMS if p in set(table["parameter"].astype(str))]
    methods = method_order(table["method"])
    fig, axes = _grid_figure(2, len(params), (5.0, 4.4), (0.3, 0.6))
    ns = sorted({float(v) for v in numeric_column(table, "n_trials") if math.isfinite(v)})
    xlim = (ns[0] / 1.5, ns[-1] * 1.5) if ns else (10.0, 1000.0)
    for j, param in enumerate(params):
        d = table[table["parameter"].astype(str) == param]
        kinds = [str(k) for k in d["target_kind"] if not is_missing(k) and str(k)]
        kind = kinds[0] if kinds else ""
        targets = _finite(d["target"])
        target = float(targets[0]) if targets.size else math.nan
        min_corr = _finite(d["min_corr"])
        ax_e, ax_c = axes[0, j], axes[1, j]
        err_col = "target_error" if kind else "rmse"
        err_values = _finite(d[err_col])
        for method in methods:
            m = d[d["method"].astype(str) == method].sort_values("n_trials")
            color, marker, ls = _method_style(method, methods)
            x = numeric_column(m, "n_trials")
            short = _SHORT_LABELS.get(method, method)
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
                _plain_log_ticks(ax_e.yaxis, (low, top))
        else:
            ax_e.set_ylim(bottom=0)
        scale = "log " if param in LOG_PARAMS else ""
        ax_e.set_ylabel(
            f"relative RMSE of {param} (RMSE / true {param})"
            if kind == "relative"
            else f"RMSE of {param}"
        )
        ax_c.set_ylabel(f"corr(true, estimated {scale}{param})")
        ax_e.set_title(f"{param}: error against the target", fontsize=10)
        ax_c.set_title(f"{param}: truth-estimate correlation across the grid", fontsize=10)
        corr_values = np.concatenate([_finite(d["truth_corr"]), min_corr[:1]])
        ax_c.set_ylim(max(-1.0, float(corr_values.min(initial=1.0)) - 0.1), 1.02)
        for ax in (ax_e, ax_c):
            ax.set_xscale("log")
            ax.set_xlim(xlim)
            _set_value_ticks(ax.xaxis, ns, True)
            ax.grid(True, which="major", color="0.92", lw=0.6)
            ax.set_xlabel("trials per dataset (log axis)", fontsize=9)
            # below the panel, so it never hides a line
            ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False)
    fig.suptitle(
        "How many trials are needed? Recovery pooled over the grid, by dataset length\n"
        "(legend: the criterion holds from that length on, at every longer one studied)",
        fontsize=11,
    )
    return save_figure(fig, path, tight=True)


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


def coverage_legend(params: Sequence[str]) -> list[Line2D]:
    """Legend entries of a coverage figure: the diagonal and one line per parameter.

    Built by hand so that the colours are explained even when the first panel, which
    carries the legend, has no line to draw.
    """
    handles = [Line2D([], [], ls="--", color="0.4", lw=1, label="nominal = empirical")]
    handles += [
        Line2D([], [], marker="o", color=PARAM_COLORS.get(p, "0.3"), label=p) for p in params
    ]
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
        color = PARAM_COLORS.get(param)
        band = ok & np.isfinite(lo) & np.isfinite(hi)
        ax.fill_between(lev[band], lo[band], hi[band], color=color, alpha=0.2, lw=0)
        ax.plot(lev[ok], cov[ok], marker="o", ms=marker_size, color=color, label=param)
    note_missing_series(ax, missing, drawn)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(f"{METHOD_LABELS.get(method, method)}\n" + "\n".join(notes), fontsize=9)
    ax.set_xlabel(xlabel)
    ax.grid(True, color="0.9", lw=0.6)


def plot_coverage(
    coverage: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    params: Sequence[str] = PARAMS,
) -> Path:
    """Empirical against nominal coverage of the central intervals, one panel per method.

    Uses the pooled rows (``cell == "all"``) of :func:`rlrecover.analysis.coverage_table`.
    Each parameter is a coloured line with markers and its 95% Wilson band shaded; the
    dashed diagonal is perfect calibration. Each panel's title says, per parameter,
    how many intervals each level is computed on and how many were left out and why
    (columns ``n_excluded`` and ``excluded`` when present); a parameter without any
    usable interval is named on the panel itself (never dropped silently).

    Parameters
    ----------
    coverage : pandas.DataFrame
        Output of :func:`rlrecover.analysis.coverage_table`.
    path : path-like
        Output PNG file (parent directories are created).
    params : sequence of str, default ("alpha", "beta")
        Parameters to draw.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    pooled = coverage[coverage["cell"].astype(str) == ALL_CELLS]
    methods = method_order(pooled["method"])
    fig, axes = _new_figure(len(methods), height=4.2)
    if not methods:
        axes[0].text(0.5, 0.5, "no coverage data", ha="center", va="center")
        axes[0].set_axis_off()
        return save_figure(fig, path)
    for ax, method in zip(axes, methods, strict=True):
        rows = pooled[pooled["method"].astype(str) == method]
        draw_coverage_panel(ax, method, rows, params, _excluded_of)
    axes[0].set_ylabel("empirical coverage (shaded: 95% Wilson band)")
    axes[0].legend(handles=coverage_legend(params), loc="upper left", fontsize=8)
    fig.suptitle("Coverage of central intervals, all cells pooled (n: intervals per level)")
    return save_figure(fig, path)


def plot_exact_check(
    exact: pd.DataFrame, path: str | os.PathLike[str], *, z_limit: float = 4.0
) -> Path:
    """Histogram of z = (MCMC mean - exact mean) / MCSE against the standard normal.

    One panel per parameter, one outline histogram per method. If the sampler works
    and its MCSE is right, z follows the standard normal; the dashed lines mark
    ``+-z_limit``, and fits beyond them are counted in the title.

    Parameters
    ----------
    exact : pandas.DataFrame
        The exact-check table (``method, parameter, z, ...``); may be empty.
    path : path-like
        Output PNG file.
    z_limit : float, default 4
        |z| beyond which a fit disagrees with the exact posterior.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from scipy.stats import norm

    z_all = pd.to_numeric(exact.get("z", pd.Series(dtype=float)), errors="coerce")
    if exact.empty or not np.isfinite(z_all).any():
        return save_figure(_empty_figure("no fit was checked against the exact posterior"), path)
    params = [p for p in PARAMS if (exact["parameter"] == p).any()]
    fig, axes = _new_figure(len(params), height=3.8)
    methods = method_order(exact["method"])
    for ax, param in zip(axes, params, strict=True):
        sel = exact[exact["parameter"] == param]
        z = pd.to_numeric(sel["z"], errors="coerce").to_numpy(dtype=float)
        z = z[np.isfinite(z)]
        hi = max(4.5, float(np.max(np.abs(z))) + 0.5) if z.size else 4.5
        bins = np.linspace(-hi, hi, 37)
        width = bins[1] - bins[0]
        for method in methods:
            mz = pd.to_numeric(sel.loc[sel["method"] == method, "z"], errors="coerce")
            mz = mz[np.isfinite(mz)].to_numpy(dtype=float)
            if mz.size:
                color, _, _ = _method_style(method, methods)
                ax.hist(
                    mz,
                    bins=bins,
                    histtype="step",
                    lw=1.6,
                    color=color,
                    label=f"{_method_label(method)} (n = {mz.size})",
                )
        n_method = max(int((sel["method"] == m).sum()) for m in methods)
        grid = np.linspace(-hi, hi, 400)
        ax.plot(
            grid,
            norm.pdf(grid) * n_method * width,
            color="0.3",
            lw=1,
            label="standard normal, expected",
        )
        for x in (-z_limit, z_limit):
            ax.axvline(x, color="0.5", ls="--", lw=0.8)
        n_out = int((np.abs(z) > z_limit).sum())
        ax.set_title(
            f"{param}: {z.size} checked fits, {n_out} with |z| > {z_limit:g}\n"
            f"mean {np.mean(z):.2f}, sd {np.std(z, ddof=1) if z.size > 1 else float('nan'):.2f}",
            fontsize=10,
        )
        ax.set_xlabel("z = (MCMC mean - exact mean) / MCSE")
        ax.grid(True, color="0.92", lw=0.6)
    axes[0].set_ylabel("fits")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Every checked PyMC fit against the exact posterior")
    return save_figure(fig, path)
