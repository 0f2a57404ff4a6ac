"""Recovery of one parameter: its estimates against its true values.

:func:`plot_recovery` draws one panel per method (columns) and number of trials
(rows). What a panel shows depends on the design:

* a two-parameter grid: per cell the median estimate and the central 90% of the
  cell's estimates, coloured by the true value of the other parameter and set side by
  side in that order, so cells that share a true value can be told apart;
* any other grid of few values (a one-parameter grid, a grid of three or more
  parameters): per true value the median and central 90% of its estimates, joined
  into a recovery curve;
* space-filling (Sobol) or prior truths: a scatter of the single fits against the
  truth with the median and central 90% band of the estimates in bins of the truth.

Every panel has the single fits as a light cloud, fits at a bound of the
maximum-likelihood box as red crosses and the dashed identity line. Positive
parameters (inverse temperatures) are drawn on log-log axes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from rlrecover.analysis.common import (
    estimate_mask,
    grid_values,
    method_order,
    n_trials_values,
    numeric_column,
    ok_mask,
)
from rlrecover.models.base import Model
from rlrecover.report.style import (
    empty_figure,
    grid_figure,
    panel_title,
    param_color,
    plain_log_ticks,
    save_figure,
    set_value_ticks,
    trial_rows,
    true_flags,
)
from rlrecover.seeds import format_value
from rlrecover.summary import interval_columns, level_label

__all__ = ["DISCRETE_MAX", "plot_recovery"]

#: Grids with at most this many distinct true values of the parameter are drawn per
#: value (jittered cloud, median and range per value); more, and truths that are no
#: grid, are binned.
DISCRETE_MAX = 12


# --------------------------------------------------------------------------- geometry


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


def _spread(groups: Sequence[np.ndarray], width: float) -> np.ndarray:
    """Offsets in ``[-width, width]`` that set each group's members side by side."""
    n = sum(len(g) for g in groups)
    out = np.zeros(n)
    for idx in groups:
        if idx.size > 1:
            out[idx] = np.linspace(-width, width, idx.size)
    return out


# --------------------------------------------------------------------------- data


@dataclass
class _Fits:
    """The columns of one parameter's fits that every panel reads."""

    truth: np.ndarray
    est: np.ndarray
    rep: np.ndarray
    bound: np.ndarray
    trials: np.ndarray
    method: np.ndarray
    is_ok: np.ndarray
    no_se: np.ndarray
    usable: np.ndarray
    shown: np.ndarray

    @classmethod
    def of(cls, recovery: pd.DataFrame, param: str, log: bool) -> _Fits:
        is_ok = estimate_mask(recovery)
        truth = numeric_column(recovery, f"{param}_true")
        est = numeric_column(recovery, f"{param}_est")
        usable = is_ok & np.isfinite(truth) & np.isfinite(est)
        return cls(
            truth=truth,
            est=est,
            rep=numeric_column(recovery, "replicate"),
            bound=true_flags(recovery, "at_bound"),
            trials=numeric_column(recovery, "n_trials"),
            method=recovery["method"].astype(str).to_numpy(),
            is_ok=is_ok,
            no_se=is_ok & ~ok_mask(recovery),
            usable=usable,
            shown=usable & (truth > 0) & (est > 0) if log else usable,
        )


def _counts_text(fits: _Fits, is_m: np.ndarray, sel: np.ndarray) -> str:
    """``"48 of 50 fits, 1 at a bound, 2 failed"``: what a panel shows and leaves out."""
    parts = [f"{int(sel.sum())} of {int(is_m.sum())} fits"]
    n_bound = int((fits.bound & sel).sum())
    if n_bound:
        parts.append(f"{n_bound} at a bound")
    n_no_se = int((is_m & fits.no_se).sum())
    if n_no_se:
        parts.append(f"{n_no_se} without usable SE")
    n_failed = int((is_m & ~fits.is_ok).sum())
    if n_failed:
        parts.append(f"{n_failed} failed")
    n_hidden = int((is_m & fits.usable & ~fits.shown).sum())
    if n_hidden:
        parts.append(f"{n_hidden} \u2264 0 not shown")
    return ", ".join(parts)


def _draw_bounds(
    ax: Axes, xpos: np.ndarray, y: np.ndarray, bnd: np.ndarray, ylim: tuple[float, float]
) -> tuple[bool, bool]:
    """Fits at an MLE bound: red crosses, or red triangles on the edge beyond the axis."""
    any_bound = any_off = False
    inside = bnd & (y >= ylim[0]) & (y <= ylim[1])
    if inside.any():
        any_bound = True
        ax.scatter(xpos[inside], y[inside], marker="x", s=24, lw=1.1, color="tab:red", zorder=4)
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
    return any_bound, any_off


def _draw_intervals(
    ax: Axes,
    recovery: pd.DataFrame,
    param: str,
    level: float | None,
    sel: np.ndarray,
    xpos: np.ndarray,
    log: bool,
) -> None:
    """Each fit's central interval at ``level`` as a faint vertical line."""
    if level is None or not sel.any():
        return
    lo_c, hi_c = interval_columns(param, level)
    lo_v = numeric_column(recovery, lo_c)[sel]
    hi_v = numeric_column(recovery, hi_c)[sel]
    has = np.isfinite(lo_v) & np.isfinite(hi_v) & ((lo_v > 0) if log else True)
    ax.vlines(xpos[has], lo_v[has], hi_v[has], color="0.78", lw=0.6, zorder=1.5)


def _spaced(values: Sequence[float], log: bool, share: float = 0.09) -> list[float]:
    """The values to label: each at least ``share`` of the span from the last one kept."""
    v = [float(x) for x in values if not log or x > 0]
    if len(v) < 3:
        return v
    t = np.log10(v) if log else np.asarray(v)
    gap = share * float(t[-1] - t[0])
    kept = [0]
    for i in range(1, len(v)):
        if t[i] - t[kept[-1]] >= gap:
            kept.append(i)
    return [v[i] for i in kept]


def _finish_axes(
    ax: Axes,
    log: bool,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    x_ticks: Sequence[float] | None,
) -> None:
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    if x_ticks is not None:
        set_value_ticks(ax.xaxis, _spaced(x_ticks, log), log)
    elif log:
        plain_log_ticks(ax.xaxis, xlim)
    if log:
        plain_log_ticks(ax.yaxis, ylim)
    ax.grid(True, which="major", color="0.92", lw=0.6)


def _bound_handles(any_bound: bool, any_off: bool) -> list[Line2D]:
    handles = []
    if any_bound:
        handles.append(
            Line2D([], [], ls="none", marker="x", color="tab:red", label="fit at an MLE bound")
        )
    if any_off:
        handles.append(
            Line2D(
                [], [], ls="none", marker="^", color="tab:red", label="at a bound, beyond the axis"
            )
        )
    return handles


def _no_fits(ax: Axes) -> None:
    ax.text(
        0.5,
        0.5,
        "no successful fits",
        transform=ax.transAxes,
        ha="center",
        va="center",
        color="0.3",
    )


# --------------------------------------------------------------------------- the figure


def plot_recovery(
    recovery: pd.DataFrame,
    model: Model,
    param: str,
    path: str | os.PathLike[str],
    *,
    interval_level: float | None = None,
    range_level: float = 0.9,
    design_kind: str | None = None,
) -> Path:
    """True against estimated ``param``, one panel per method and number of trials.

    In each panel:

    - a light cloud of the single fits with a finite estimate whose status is ok or
      ``"unusable_se"`` (:func:`rlrecover.analysis.common.estimate_mask`; the latter
      counted in the panel title), spread sideways around the true value when the
      design has few distinct true values, so replicates do not hide each other;
    - for a two-parameter grid: per cell, the median estimate with a bar over the
      central ``range_level`` (default 90%) of its estimates, coloured by the true
      value of the other parameter and set side by side in that order;
    - for other grids with at most :data:`DISCRETE_MAX` distinct true values of
      ``param`` (one parameter, or three and more): per true value the median and
      central ``range_level`` of its estimates (bars), joined by a line (the recovery
      curve);
    - for space-filling or prior truths (or a grid of many values): the median (line)
      and central ``range_level`` (band) of the estimates in quantile bins of the true
      value;
    - fits at a bound of the MLE box (``at_bound`` true) as red crosses, counted in
      the panel title. They still count in the medians and ranges, but each panel's
      value axis fits its own data without them, so a few estimates at 1e-3 or 1e3
      do not squeeze the rest; one outside the axis is a red triangle on its edge;
    - the dashed identity line (perfect recovery).

    A parameter in [0, 1] is drawn on linear axes, a positive one (inverse
    temperature) on log-log axes, where a non-positive estimate cannot be drawn
    (counted in the panel title).

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery table.
    model : Model
        The model.
    param : str
        The parameter to plot (one of ``model.param_names``).
    path : path-like
        Output PNG file (parent directories are created).
    interval_level : float, optional
        If given, draw each fit's central interval at this level (columns
        ``{param}_lower_L``/``{param}_upper_L``) as a faint vertical line in the cloud.
    range_level : float, default 0.9
        Share of a cell's (value's, bin's) estimates its bar or band spans (from the
        ``(1 - range_level) / 2`` to the ``(1 + range_level) / 2`` quantile).
    design_kind : {"grid", "sobol", "prior"}, optional
        How the truths were given (:func:`rlrecover.truths.design_kind`); by default
        read off the table (truths that are every combination of their values form a
        grid).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If ``param`` is not a parameter of the model or ``range_level`` is not in
        (0, 1).
    """
    if param not in model.param_names:
        raise ValueError(
            f"param must be one of {list(model.param_names)} of model {model.name}, got {param!r}"
        )
    if not 0.0 < range_level < 1.0:
        raise ValueError(f"range_level must lie in (0, 1), got {range_level!r}")
    methods = method_order(recovery["method"]) if "method" in recovery else []
    if not methods or recovery.empty:
        return save_figure(empty_figure("no fits"), path)
    log = model.param(param).log_scale
    grid = grid_values(recovery, model) if design_kind in (None, "grid") else None
    if model.n_params == 2 and grid is not None:
        fig = _cells_figure(recovery, model, param, methods, interval_level, range_level)
    else:
        fig = _values_figure(
            recovery, model, param, methods, interval_level, range_level, grid is not None
        )
    scale = " (log-log axes)" if log else ""
    fig.suptitle(
        f"{model.title}: recovery of {param}{scale}\nestimate (MLE / posterior mean) against truth"
    )
    return save_figure(fig, path)


def _cells_figure(
    recovery: pd.DataFrame,
    model: Model,
    param: str,
    methods: Sequence[str],
    interval_level: float | None,
    range_level: float,
):
    """Two-parameter grid: cell medians and ranges coloured by the other parameter's truth."""
    log = model.param(param).log_scale
    other = next(p for p in model.param_names if p != param)
    trials = n_trials_values(recovery)
    fig, axes = grid_figure(len(trials), len(methods), (4.1, 3.6), (0.3, 1.4), min_width=9.5)
    fits = _Fits.of(recovery, param, log)
    other_all = numeric_column(recovery, f"{other}_true")

    x_values = sorted({float(v) for v in fits.truth[np.isfinite(fits.truth)]})
    other_values = sorted({float(v) for v in other_all[np.isfinite(other_all)]})
    cmap = matplotlib.colormaps["viridis"]
    colors = {
        v: cmap(0.92 * k / max(len(other_values) - 1, 1)) for k, v in enumerate(other_values)
    }
    slot_of = {v: k for k, v in enumerate(other_values)}
    half, slot = _dodge(fits.truth, log, len(other_values))
    xlim = _axis_limits(
        np.concatenate([_shift(x_values, -1.25 * half, log), _shift(x_values, 1.25 * half, log)]),
        log,
        pad=0.0,
    )
    q_lo, q_hi = (1 - range_level) / 2, (1 + range_level) / 2
    any_bound = any_off = False

    for i, n_trials in enumerate(trials):
        in_n = trial_rows(fits.trials, n_trials)
        for j, method in enumerate(methods):
            ax = axes[i, j]
            is_m = (fits.method == method) & in_n
            sel = is_m & fits.shown
            x, y = fits.truth[sel], fits.est[sel]
            o, rep, bnd = other_all[sel], fits.rep[sel], fits.bound[sel]
            # each cell gets a slot next to its true value; replicates spread in the slot
            centre = np.array(
                [-half + (2 * slot_of.get(float(v), 0) + 1) * slot for v in o], dtype=float
            )
            groups = []
            for xv, ov in {(float(a), float(b)) for a, b in zip(x, o, strict=True)}:
                idx = np.flatnonzero((x == xv) & (o == ov))
                groups.append(idx[np.argsort(rep[idx], kind="stable")])
            xpos = _shift(x, centre + _spread(groups, 0.6 * slot), log)
            point_colors = [colors.get(float(v), "0.5") for v in o]

            ylim = _axis_limits(np.concatenate([y[~bnd], x_values]), log)
            ends = [min(xlim[0], ylim[0]), max(xlim[1], ylim[1])]
            if sel.any():
                ax.plot(ends, ends, ls="--", color="0.6", lw=0.8, zorder=1)
                for xv in x_values:
                    band = _shift([xv, xv], [-1.1 * half, 1.1 * half], log)
                    ax.plot(band, [xv, xv], color="black", lw=1.3, zorder=2.5)
            _draw_intervals(ax, recovery, param, interval_level, sel, xpos, log)
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
            b, off = _draw_bounds(ax, xpos, y, bnd, ylim)
            any_bound, any_off = any_bound or b, any_off or off
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
                _no_fits(ax)
            _finish_axes(ax, log, xlim, ylim, x_values)
            ax.set_title(
                f"{panel_title(method, n_trials)}\n{_counts_text(fits, is_m, sel)}", fontsize=9.5
            )
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
        *_bound_handles(any_bound, any_off),
    ]
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
    return fig


def _bins(truth: np.ndarray, log: bool) -> np.ndarray:
    """Quantile-bin edges of the true values (on the log scale for a positive parameter)."""
    t = truth[np.isfinite(truth)]
    if log:
        t = np.log(t[t > 0])
    n_distinct = np.unique(t).size
    n_bins = int(np.clip(n_distinct // 6, 3, 10))
    edges = np.unique(np.quantile(t, np.linspace(0, 1, n_bins + 1))) if t.size else np.array([])
    return np.exp(edges) if log else edges


def _values_figure(
    recovery: pd.DataFrame,
    model: Model,
    param: str,
    methods: Sequence[str],
    interval_level: float | None,
    range_level: float,
    on_grid: bool,
):
    """Per true value (a grid of few values) or per bin of true values: median and range."""
    log = model.param(param).log_scale
    color = param_color(model, param)
    trials = n_trials_values(recovery)
    fig, axes = grid_figure(len(trials), len(methods), (4.1, 3.6), (0.3, 1.1), min_width=7.5)
    fits = _Fits.of(recovery, param, log)
    truths = fits.truth[fits.shown] if fits.shown.any() else fits.truth
    x_values = sorted({float(v) for v in truths[np.isfinite(truths)]})
    discrete = on_grid and len(x_values) <= DISCRETE_MAX
    q_lo, q_hi = (1 - range_level) / 2, (1 + range_level) / 2
    if discrete:
        half, _ = _dodge(np.asarray(x_values), log, 1)
        xlim = _axis_limits(
            np.concatenate(
                [_shift(x_values, -1.25 * half, log), _shift(x_values, 1.25 * half, log)]
            ),
            log,
            pad=0.0,
        )
        edges = np.array([])
    else:
        half = 0.0
        xlim = _axis_limits(np.asarray(x_values), log)
        edges = _bins(np.asarray(x_values), log)
    cells = recovery["cell"].astype(str).to_numpy(dtype=str) if "cell" in recovery else None
    any_bound = any_off = False

    for i, n_trials in enumerate(trials):
        in_n = trial_rows(fits.trials, n_trials)
        for j, method in enumerate(methods):
            ax = axes[i, j]
            is_m = (fits.method == method) & in_n
            sel = is_m & fits.shown
            x, y, bnd = fits.truth[sel], fits.est[sel], fits.bound[sel]
            if discrete:
                # the fits of one true value side by side: by cell, then replicate
                order_keys = (fits.rep[sel], cells[sel]) if cells is not None else (fits.rep[sel],)
                groups = []
                for xv in x_values:
                    idx = np.flatnonzero(x == xv)
                    keys = tuple(k[idx] for k in order_keys)
                    groups.append(idx[np.lexsort(keys)] if idx.size else idx)
                xpos = _shift(x, _spread(groups, 0.9 * half), log)
            else:
                xpos = x
            ylim = _axis_limits(np.concatenate([y[~bnd], x_values]), log)
            ends = [min(xlim[0], ylim[0]), max(xlim[1], ylim[1])]
            if sel.any():
                ax.plot(ends, ends, ls="--", color="0.6", lw=0.8, zorder=1)
            _draw_intervals(ax, recovery, param, interval_level, sel, xpos, log)
            free = ~bnd
            ax.scatter(
                xpos[free], y[free], s=8, color=color, alpha=0.4, edgecolors="none", zorder=2
            )
            b, off = _draw_bounds(ax, xpos, y, bnd, ylim)
            any_bound, any_off = any_bound or b, any_off or off
            if not sel.any():
                _no_fits(ax)
            elif discrete:
                xs, med, lo_q, hi_q = [], [], [], []
                for xv in x_values:
                    v = y[x == xv]
                    if v.size:
                        xs.append(xv)
                        med.append(float(np.median(v)))
                        lo, hi = np.quantile(v, [q_lo, q_hi])
                        lo_q.append(float(lo))
                        hi_q.append(float(hi))
                    band = _shift([xv, xv], [-1.1 * half, 1.1 * half], log)
                    ax.plot(band, [xv, xv], color="black", lw=1.3, zorder=2.5)
                med_a = np.asarray(med)
                ax.errorbar(
                    xs,
                    med_a,
                    yerr=[med_a - np.asarray(lo_q), np.asarray(hi_q) - med_a],
                    fmt="o-",
                    ms=5,
                    lw=1.2,
                    color=color,
                    mec="black",
                    mew=0.6,
                    elinewidth=1.9,
                    zorder=3,
                )
            else:
                xs, med, lo_q, hi_q = [], [], [], []
                which = np.searchsorted(edges[1:-1], x, side="right")
                for k in range(max(edges.size - 1, 0)):
                    v = y[which == k]
                    if v.size >= 2:
                        xk = x[which == k]
                        xs.append(float(np.exp(np.median(np.log(xk))) if log else np.median(xk)))
                        med.append(float(np.median(v)))
                        lo, hi = np.quantile(v, [q_lo, q_hi])
                        lo_q.append(float(lo))
                        hi_q.append(float(hi))
                ax.fill_between(xs, lo_q, hi_q, color=color, alpha=0.22, lw=0, zorder=2.2)
                ax.plot(xs, med, color="black", lw=2.4, zorder=3)
                ax.plot(xs, med, color=color, lw=1.4, marker="o", ms=3.5, zorder=3.1)
            _finish_axes(ax, log, xlim, ylim, x_values if discrete else None)
            ax.set_title(
                f"{panel_title(method, n_trials)}\n{_counts_text(fits, is_m, sel)}", fontsize=9.5
            )
            if i == len(trials) - 1:
                ax.set_xlabel(f"true {param}" + (" (log axis)" if log else ""))
            if j == 0:
                ax.set_ylabel(f"estimated {param}" + (" (log axis)" if log else ""))

    pct = level_label(range_level)
    if discrete:
        summary = [
            Line2D(
                [],
                [],
                marker="o",
                ms=5,
                color=color,
                mec="black",
                lw=1.2,
                label=f"median and central {pct}% of the fits at each true value",
            ),
            Line2D([], [], color="black", lw=1.3, label="true value"),
        ]
    else:
        summary = [
            Line2D([], [], color=color, lw=1.6, marker="o", ms=3.5, label="median in bins"),
            Patch(color=color, alpha=0.22, label=f"central {pct}% of the fits in each bin"),
        ]
    handles = [
        Line2D([], [], ls="none", marker="o", ms=4, color=color, alpha=0.5, label="single fit"),
        *summary,
        Line2D([], [], ls="--", color="0.6", lw=0.8, label="identity"),
        *_bound_handles(any_bound, any_off),
    ]
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 3 if len(methods) == 1 else 6),
        fontsize=8.5,
        frameon=False,
    )
    return fig
