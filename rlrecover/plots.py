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
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from rlrecover.analysis import (
    ALL_CELLS,
    LOG_PARAMS,
    is_missing,
    method_order,
    n_trials_values,
)
from rlrecover.seeds import format_value
from rlrecover.summary import PARAMS, interval_columns, level_label

__all__ = [
    "DPI",
    "METHOD_LABELS",
    "plot_coverage",
    "plot_recovery",
]

#: Resolution of the saved PNG files.
DPI = 110
#: Panel titles of the known methods.
METHOD_LABELS = {
    "mle": "Maximum likelihood",
    "pymc_potential": "PyMC (pm.Potential likelihood)",
    "pymc_bernoulli": "PyMC (Bernoulli likelihood)",
}
_PARAM_COLORS = {"alpha": "tab:blue", "beta": "tab:orange"}


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


def _save(fig: Figure, path: str | os.PathLike[str], *, tight: bool = False) -> Path:
    """Write ``fig`` as PNG; ``tight`` grows the page to legends placed outside the axes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(
            path,
            dpi=DPI,
            format="png",
            **({"bbox_inches": "tight", "pad_inches": 0.15} if tight else {}),
        )
    finally:
        fig.clear()
    return path


def _col(df: pd.DataFrame, col: str) -> np.ndarray:
    """A column as float NumPy array (NaN where missing or not a number, or no column)."""
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


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

    - a light cloud of the single fits (``status == "ok"``, finite estimate), spread
      sideways around the true value so replicates do not hide each other;
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
        return _save(_empty_figure("no fits"), path)
    log = param in LOG_PARAMS
    other = next(p for p in PARAMS if p != param)
    trials = n_trials_values(recovery)
    fig, axes = _grid_figure(len(trials), len(methods), (4.1, 3.6), (0.3, 1.2))

    status = recovery.get("status", pd.Series("ok", index=recovery.index))
    is_ok = (status.astype(str).str.strip().str.lower() == "ok").to_numpy(dtype=bool)
    truth_all = _col(recovery, f"{param}_true")
    est_all = _col(recovery, f"{param}_est")
    other_all = _col(recovery, f"{other}_true")
    rep_all = _col(recovery, "replicate")
    bound_all = _true_flags(recovery, "at_bound")
    trial_col = _col(recovery, "n_trials")
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
                lo_v, hi_v = _col(recovery, lo_c)[sel], _col(recovery, hi_c)[sel]
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
                for (xv, ov), grp in cells.groupby(["x", "o"], sort=True):
                    med = float(np.median(grp["y"]))
                    lo_q, hi_q = np.quantile(grp["y"].to_numpy(), [q_lo, q_hi])
                    ax.errorbar(
                        _shift(float(xv), float(grp["c"].iloc[0]), log).reshape(1),
                        [med],
                        yerr=[[med - lo_q], [hi_q - med]],
                        fmt="o",
                        ms=4.5,
                        color=colors.get(float(ov), "0.5"),
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
    return _save(fig, path)


def plot_coverage(
    coverage: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    params: Sequence[str] = PARAMS,
) -> Path:
    """Empirical against nominal coverage of the central intervals, one panel per method.

    Uses the pooled rows (``cell == "all"``) of :func:`rlrecover.analysis.coverage_table`.
    Each parameter is a coloured line with markers and its 95% Wilson band shaded; the
    dashed diagonal is perfect calibration. Methods without intervals get an empty
    panel saying so.

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
        return _save(fig, path)
    for ax, method in zip(axes, methods, strict=True):
        ax.plot([0, 1], [0, 1], ls="--", color="0.4", lw=1, label="nominal = empirical")
        drawn = False
        n_max = 0
        for param in params:
            d = pooled[(pooled["method"].astype(str) == method) & (pooled["parameter"] == param)]
            d = d.sort_values("level")
            lev = pd.to_numeric(d["level"], errors="coerce").to_numpy(dtype=float)
            cov = pd.to_numeric(d["coverage"], errors="coerce").to_numpy(dtype=float)
            lo = pd.to_numeric(d["ci_low"], errors="coerce").to_numpy(dtype=float)
            hi = pd.to_numeric(d["ci_high"], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(lev) & np.isfinite(cov)
            if not ok.any():
                continue
            drawn = True
            n_max = max(n_max, int(pd.to_numeric(d["n"], errors="coerce").max()))
            color = _PARAM_COLORS.get(param)
            band = ok & np.isfinite(lo) & np.isfinite(hi)
            ax.fill_between(lev[band], lo[band], hi[band], color=color, alpha=0.2, lw=0)
            ax.plot(lev[ok], cov[ok], marker="o", color=color, label=param)
        if not drawn:
            ax.text(0.5, 0.5, "no intervals", ha="center", va="center", color="0.3")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal", adjustable="box")
        title = METHOD_LABELS.get(method, method)
        sub = f"n = {n_max} fits per level" if drawn else "no successful intervals"
        ax.set_title(f"{title}\n{sub}", fontsize=10)
        ax.set_xlabel("nominal level")
        ax.grid(True, color="0.9", lw=0.6)
    axes[0].set_ylabel("empirical coverage (shaded: 95% Wilson band)")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Coverage of central intervals, all cells pooled")
    return _save(fig, path)
