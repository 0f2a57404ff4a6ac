"""Maps over a two-parameter grid of truths: one tile per cell, annotated with its value.

:func:`plot_grid_map` maps a recovery metric (bias, RMSE, coverage, flagged fits) of
:func:`rlrecover.analysis.metrics.grid_map_table`; :func:`plot_tradeoff` maps the
correlation of the two parameters' estimates across each cell's replicates
(:func:`rlrecover.analysis.tradeoff.tradeoff_table`). Both need a model with two
parameters whose truths form a grid (:func:`rlrecover.report.layout.has_maps`); the
first parameter runs across, the second up (on a log axis when positive).
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
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import QuadMesh
from matplotlib.colors import CenteredNorm, Colormap, LogNorm, Normalize, TwoSlopeNorm
from matplotlib.figure import Figure, SubFigure

from rlrecover.analysis.common import (
    ESS_MIN,
    RHAT_MAX,
    coverage_column,
    grid_values,
    is_missing,
    method_order,
    n_trials_values,
    numeric_column,
    wilson_interval,
)
from rlrecover.analysis.metrics import grid_map_table
from rlrecover.models.base import Model
from rlrecover.report.style import (
    axis_label,
    empty_figure,
    finite,
    fmt_fixed,
    fmt_sig,
    fmt_signed,
    panel_title,
    save_figure,
    set_value_ticks,
    trial_rows,
)
from rlrecover.summary import level_label

__all__ = ["MAP_METRICS", "plot_grid_map", "plot_tradeoff"]

#: Metrics of :func:`plot_grid_map` (``coverage`` takes any level: ``coverage50``, ...).
MAP_METRICS: tuple[str, ...] = ("bias", "rmse", "coverage90", "flagged")


def _map_width(n_methods: int) -> float:
    """Inches of a map figure: 3.5 per method, at least 7.5 (room for its title)."""
    return max(3.5 * n_methods + 1.2, 7.5)


def _require_two(model: Model, what: str) -> None:
    if model.n_params != 2:
        raise ValueError(
            f"{what} maps a grid of two parameters; model {model.name} has "
            f"{model.n_params} ({', '.join(model.param_names)})"
        )


# --------------------------------------------------------------------------- tiles


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


def _grid_axes_values(table: pd.DataFrame, model: Model) -> tuple[list[float], list[float]]:
    """The distinct true values of the first (across) and second (up) parameter."""
    px, py = model.param_names
    xs = sorted({float(v) for v in numeric_column(table, f"{px}_true") if math.isfinite(v)})
    ys = sorted({float(v) for v in numeric_column(table, f"{py}_true") if math.isfinite(v)})
    return xs, ys


def _tiles(
    ax: Axes,
    model: Model,
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
    px, py = model.params
    x_log, y_log = px.log_scale, py.log_scale
    col_of = {v: k for k, v in enumerate(xs)}
    row_of = {v: k for k, v in enumerate(ys)}
    z = np.full((len(ys), len(xs)), np.nan)
    present = np.zeros(z.shape, dtype=bool)
    labels: dict[tuple[int, int], str] = {}
    for rec in sub.to_dict("records"):
        key = (
            row_of.get(float(rec[f"{py.name}_true"])),
            col_of.get(float(rec[f"{px.name}_true"])),
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
    set_value_ticks(ax.xaxis, xs, x_log)
    set_value_ticks(ax.yaxis, ys, y_log)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return mesh


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
        v = finite(self.rows[self.value])
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


def _map_blocks(
    table: pd.DataFrame,
    model: Model,
    kind: str,
    level: float,
    params: Sequence[str],
    log_scale: bool,
) -> list[_Block]:
    blocks: list[_Block] = []
    if kind == "flagged":
        rows = table[table["parameter"] == model.param_names[0]]
        top = max(0.1, float(finite(rows["flagged_share"]).max(initial=0.0)))
        blocks.append(
            _Block(
                "share of fits flagged by the diagnostics; tiles: flagged / all fits\n"
                "(failed, R-hat, bulk ESS, divergences, MLE at a bound)",
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
        positive = model.param(param).log_scale
        on_log = log_scale and positive
        if kind == "bias":
            col = "log_bias" if on_log else "bias"
            half = float(np.abs(finite(rows[col])).max(initial=0.0)) or 1e-9
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
                digits = 2 if positive else 3
                blocks.append(
                    _Block(
                        f"{param}: bias = mean of (estimate \u2212 truth)",
                        rows,
                        col,
                        "RdBu_r",
                        CenteredNorm(0.0, half),
                        lambda r, d=digits: fmt_signed(r["bias"], d),
                        f"bias of {param} (red: too large, blue: too small)",
                    )
                )
        elif kind == "rmse":
            col = "log_rmse" if on_log else "rmse"
            vals = finite(rows[col])
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
                        lambda r: fmt_fixed(r["log_rmse"]),
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
                        lambda r, pos=positive: (
                            fmt_sig(r["rmse"]) if pos else fmt_fixed(r["rmse"], 3)
                        ),
                        f"RMSE of {param}" + (" (log colour scale)" if wide else ""),
                    )
                )
        else:  # coverage
            col = coverage_column(level)
            low = max(0.0, min(level - 0.2, float(finite(rows[col]).min(initial=1.0))))
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
    model: Model,
    blocks: Sequence[_Block],
    methods: Sequence[str],
    trials: Sequence[float],
    grid: tuple[list[float], list[float]],
    count_col: str | None,
) -> None:
    """Each block a subfigure: rows = numbers of trials, columns = methods, one colour bar."""
    px, py = model.param_names
    subfigs = fig.subfigures(len(blocks), 1, squeeze=False)[:, 0] if len(blocks) > 1 else [fig]
    n_cells = len(grid[0]) * len(grid[1])
    fontsize = 8.5 if n_cells <= 30 else 7 if n_cells <= 64 else 5.5
    for sf, block in zip(subfigs, blocks, strict=True):
        axes = sf.subplots(len(trials), len(methods), squeeze=False)
        mesh = None
        for i, n_trials in enumerate(trials):
            in_n = trial_rows(numeric_column(block.rows, "n_trials"), n_trials)
            for j, method in enumerate(methods):
                ax = axes[i, j]
                sub = block.rows[in_n & (block.rows["method"].astype(str) == method).to_numpy()]
                mesh = _tiles(
                    ax, model, sub, block.value, grid, block.cmap, block.norm, block.text, fontsize
                )
                title = panel_title(method, n_trials)
                counts = numeric_column(sub, count_col) if count_col is not None else None
                if counts is not None and len(sub) and not (counts > 0).any():
                    title += "\nno successful fits"
                ax.set_title(title, fontsize=9.5)
                # the panels share their axes: values and labels on the outer ones only
                if i == len(trials) - 1:
                    ax.set_xlabel(axis_label(model, px))
                else:
                    ax.tick_params(labelbottom=False)
                if j == 0:
                    ax.set_ylabel(axis_label(model, py))
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
    model: Model,
    metric: str,
    path: str | os.PathLike[str],
    *,
    params: Sequence[str] | None = None,
    log_scale: bool = True,
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_MIN,
) -> Path:
    """A recovery metric as a map over a two-parameter grid: one tile per cell.

    Tiles sit at the cell's true values (the first parameter across, the second up;
    a positive parameter on a log axis, tile edges midway between neighbouring grid
    values, in log space for a positive parameter) and carry their value as text.
    Panels: one column per method, one row per number of trials; each parameter is
    its own block of rows with its own colour bar (the colour scale is shared by all
    methods and lengths, so they can be compared). Values come from
    :func:`rlrecover.analysis.metrics.grid_map_table`; grey tiles have no value (no
    successful fit, or no interval).

    Metrics:

    - ``"bias"``: the bias (estimate minus truth) of a parameter in [0, 1]; for a
      positive parameter, with ``log_scale``, the geometric mean of estimate / truth
      (``ratio``, coloured by its log, so \u00d72 and \u00d70.5 are equally strong).
      Diverging colours centred at no bias.
    - ``"rmse"``: the RMSE; for a positive parameter, with ``log_scale``, the RMSE of
      log(estimate / truth).
    - ``"coverage90"`` (or ``"coverageNN"`` for another level): share of the intervals
      that hold the truth; diverging colours centred at the nominal level.
    - ``"flagged"``: share of the cell's fits that
      :func:`rlrecover.analysis.metrics.diagnostics` lists (one block, not per
      parameter).

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery table.
    model : Model
        A model with two parameters.
    metric : str
        One of :data:`MAP_METRICS` or ``"coverageNN"``.
    path : path-like
        Output PNG file (parent directories are created).
    params : sequence of str, optional
        Parameters to draw a block for (default: both; ignored for ``"flagged"``).
    log_scale : bool, default True
        Show positive parameters on the log scale; False shows the natural-scale
        bias and RMSE (where a few MLE estimates at the 1e3 bound dominate).
    rhat_max, ess_min : float
        Thresholds of the diagnostics for ``"flagged"``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If the model has not two parameters, its truths do not form a grid, the
        metric is unknown or ``params`` names another parameter.
    """
    _require_two(model, "plot_grid_map")
    kind, level = _parse_map_metric(metric)
    params = list(model.param_names) if params is None else list(params)
    unknown = [p for p in params if p not in model.param_names]
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown}; model {model.name} has {list(model.param_names)}"
        )
    if "method" not in recovery or recovery.empty:
        return save_figure(empty_figure("no fits"), path)
    if grid_values(recovery, model) is None:
        raise ValueError(f"the truths of {model.name} do not form a grid: nothing to map")
    table = grid_map_table(recovery, model, level=level, rhat_max=rhat_max, ess_min=ess_min)
    methods = method_order(table["method"])
    trials = n_trials_values(table)
    grid = _grid_axes_values(table, model)
    blocks = _map_blocks(table, model, kind, level, params, log_scale)
    if len(blocks) == 1:  # its title is the figure's: name the model there
        blocks[0].title = f"{model.title}: {blocks[0].title}"
    n_rows = len(blocks) * len(trials)
    fig = Figure(
        figsize=(_map_width(len(methods)), 3.1 * n_rows + 0.75 * len(blocks) + 0.6),
        layout="constrained",
    )
    FigureCanvasAgg(fig)
    _draw_blocks(fig, model, blocks, methods, trials, grid, None if kind == "flagged" else "n")
    names = {
        "bias": "Bias",
        "rmse": "Error (RMSE)",
        "coverage": f"Coverage of the {level_label(level)}% intervals",
        "flagged": "Flagged fits",
    }
    if len(blocks) > 1:
        fig.suptitle(f"{model.title}: {names[kind]} over the grid of true values", fontsize=12)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- trade-offs


def plot_tradeoff(table: pd.DataFrame | None, model: Model, path: str | os.PathLike[str]) -> Path:
    """Where do the two parameters trade off? The correlation of their estimates per cell.

    A map of the grid as in :func:`plot_grid_map`, one column per method and one row
    per number of trials: each tile is the correlation, across the cell's replicates,
    of the two parameters' estimates on their analysis scale (log for a positive
    parameter; ``est_corr``). Blue tiles (negative) are cells where a dataset that
    gives a larger first parameter gives a smaller second one: the data pin down a
    combination of the two better than either. When the table has within-fit
    correlations, their mean (``post_corr_mean``) is printed below in brackets.

    Parameters
    ----------
    table : pandas.DataFrame or None
        Output of :func:`rlrecover.analysis.tradeoff.tradeoff_table` (None: no
        table, an empty figure).
    model : Model
        A model with two parameters.
    path : path-like
        Output PNG file (parent directories are created).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If the model has not two parameters or the table's truths do not form a grid.
    """
    _require_two(model, "plot_tradeoff")
    if table is None or table.empty or "method" not in table:
        return save_figure(empty_figure("no fits"), path)
    px, py = model.params
    if {"param_1", "param_2"} <= set(table.columns):
        table = table[
            (table["param_1"].astype(str) == px.name) & (table["param_2"].astype(str) == py.name)
        ]
    if grid_values(table, model) is None:
        raise ValueError(f"the truths of {model.name} do not form a grid: nothing to map")
    methods = method_order(table["method"])
    trials = n_trials_values(table)
    grid = _grid_axes_values(table, model)
    has_post = "post_corr_mean" in table and finite(table["post_corr_mean"]).size > 0

    def text(r: Mapping[str, object]) -> str:
        out = fmt_fixed(r["est_corr"])
        if has_post and not is_missing(r.get("post_corr_mean")):
            out += "\n(" + fmt_fixed(r["post_corr_mean"]) + ")"
        return out

    def scaled(p) -> str:
        return f"log {p.name}" if p.log_scale else p.name

    title = (
        f"{model.title}: do {px.name} and {py.name} trade off?\nCorrelation of the "
        f"{scaled(px)} and {scaled(py)} estimates across a cell's replicates"
    )
    if has_post:
        title += "\n(in brackets: mean within-fit correlation, posterior or Wald)"
    block = _Block(
        title,
        table,
        "est_corr",
        "RdBu_r",
        Normalize(-1.0, 1.0),
        text,
        f"corr({scaled(px)} est, {scaled(py)} est); blue: trade-off",
    )
    fig = Figure(figsize=(_map_width(len(methods)), 3.1 * len(trials) + 1.2), layout="constrained")
    FigureCanvasAgg(fig)
    _draw_blocks(fig, model, [block], methods, trials, grid, "n")
    return save_figure(fig, path)
