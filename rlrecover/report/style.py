"""What every figure shares: the page, method and parameter styles, axes helpers, saving.

Figures are drawn on :class:`matplotlib.figure.Figure` objects attached explicitly to
the Agg canvas (:class:`matplotlib.backends.backend_agg.FigureCanvasAgg`). ``pyplot``
is never imported, so no GUI backend, global figure registry or ``show`` is involved
and importing a figure module does not change the matplotlib backend of the caller.

A study may simulate datasets of several lengths (``n_trials``): figures then have
one row of panels per length, one column per method, unless they say otherwise in
their title.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from rlrecover.analysis.common import is_missing
from rlrecover.models.base import Model
from rlrecover.seeds import format_value

__all__ = [
    "DPI",
    "METHOD_LABELS",
    "PARAM_PALETTE",
    "SHORT_LABELS",
    "axis_label",
    "empty_figure",
    "finite",
    "fmt_fixed",
    "fmt_sig",
    "fmt_signed",
    "footnote",
    "grid_figure",
    "method_label",
    "method_style",
    "new_figure",
    "no_data",
    "panel_title",
    "param_color",
    "plain_log_ticks",
    "save_figure",
    "set_value_ticks",
    "short_label",
    "trial_rows",
    "true_flags",
]

#: Resolution of the saved PNG files.
DPI = 110
#: Panel titles of the known methods.
METHOD_LABELS = {
    "mle": "Maximum likelihood",
    "pymc_potential": "PyMC (pm.Potential likelihood)",
    "pymc_bernoulli": "PyMC (Bernoulli likelihood)",
}
#: Legend labels of the known methods.
SHORT_LABELS = {
    "mle": "MLE",
    "pymc_potential": "PyMC Potential",
    "pymc_bernoulli": "PyMC Bernoulli",
}
#: Colour of a model's parameters, in its order (the first two as in the one-model
#: releases: alpha blue, beta orange).
PARAM_PALETTE = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
_METHOD_STYLES = {
    "mle": ("tab:green", "o", "-"),
    "pymc_potential": ("tab:blue", "s", "-"),
    "pymc_bernoulli": ("tab:purple", "^", "--"),
}
_OTHER_STYLES = [("tab:brown", "D", "-."), ("tab:gray", "v", ":"), ("tab:olive", "P", "-")]


# --------------------------------------------------------------------------- labels, styles


def method_label(method: str) -> str:
    """A method's name in panel titles (:data:`METHOD_LABELS`, else the name itself)."""
    return METHOD_LABELS.get(method, method)


def short_label(method: str) -> str:
    """A method's name in legends (:data:`SHORT_LABELS`, else the name itself)."""
    return SHORT_LABELS.get(method, method)


def method_style(method: str, methods: Sequence[str]) -> tuple[str, str, str]:
    """``(colour, marker, line style)`` of a method; other methods cycle through spares."""
    if method in _METHOD_STYLES:
        return _METHOD_STYLES[method]
    others = [m for m in methods if m not in _METHOD_STYLES]
    k = others.index(method) if method in others else 0
    return _OTHER_STYLES[k % len(_OTHER_STYLES)]


def param_color(model: Model, param: str) -> str:
    """The colour of a parameter: by its place in the model (:data:`PARAM_PALETTE`)."""
    names = list(model.param_names)
    k = names.index(param) if param in names else len(names)
    return PARAM_PALETTE[k % len(PARAM_PALETTE)]


def axis_label(model: Model, param: str, what: str = "true") -> str:
    """An axis label such as ``"true beta (log axis)"``: log axes are said so plainly."""
    log = model.param(param).log_scale
    return f"{what} {param}" + (" (log axis)" if log else "")


def panel_title(method: str, n_trials: float) -> str:
    """``"Maximum likelihood, 150 trials"`` (the method alone without a number of trials)."""
    if math.isnan(n_trials):
        return method_label(method)
    return f"{method_label(method)}, {n_trials:g} trials"


# --------------------------------------------------------------------------- figures


def new_figure(
    n_panels: int, height: float = 4.0, width: float = 4.2, min_width: float = 0.0
) -> tuple[Figure, list]:
    """A figure with one row of ``n_panels`` panels (at least one) of ``width`` inches.

    The page is at least ``min_width`` inches wide.
    """
    n = max(n_panels, 1)
    fig = Figure(figsize=(max(width * n + 0.6, min_width), height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    return fig, list(axes)


def grid_figure(
    n_rows: int,
    n_cols: int,
    panel: tuple[float, float],
    extra: tuple[float, float],
    min_width: float = 0.0,
) -> tuple[Figure, np.ndarray]:
    """A figure with an ``n_rows`` x ``n_cols`` grid of panels of size ``panel`` inches.

    ``extra`` adds inches to the width and height (titles, legends below); the page is
    at least ``min_width`` inches wide (room for a long title over a single column).
    """
    n_rows, n_cols = max(n_rows, 1), max(n_cols, 1)
    width = max(panel[0] * n_cols + extra[0], min_width)
    fig = Figure(figsize=(width, panel[1] * n_rows + extra[1]), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(n_rows, n_cols, squeeze=False)


def empty_figure(text: str) -> Figure:
    """A small figure that only says ``text`` (nothing to draw)."""
    fig, axes = grid_figure(1, 1, (4.5, 3.0), (0.0, 0.0))
    axes[0, 0].text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    axes[0, 0].set_axis_off()
    return fig


def no_data(ax: Axes, text: str) -> None:
    """Write ``text`` in the middle of an empty panel and remove its ticks."""
    ax.text(
        0.5, 0.5, text, ha="center", va="center", color="0.3", transform=ax.transAxes, wrap=True
    )
    ax.set_xticks([])
    ax.set_yticks([])


def footnote(fig: Figure, text: str) -> None:
    """A reading guide under the panels (kept clear of them by the layout engine)."""
    fig.supxlabel(text, fontsize=8, color="0.25")


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


# --------------------------------------------------------------------------- axes


def set_value_ticks(axis: Axis, values: Sequence[float], log: bool, max_ticks: int = 12) -> None:
    """Ticks exactly at the grid values, labelled as in cell names.

    With more than ``max_ticks`` values only every k-th is labelled, so labels do not
    run into each other.
    """
    values = list(values)
    step = max(1, math.ceil(len(values) / max_ticks))
    shown = values[::step]
    axis.set_ticks(shown, [format_value(v) for v in shown])
    if log:
        axis.set_minor_locator(NullLocator())


def plain_log_ticks(axis: Axis, lims: tuple[float, float]) -> None:
    """Log-axis ticks as plain numbers: 1, 2, 5, 10, ... (only powers of 10 if wide)."""
    decades = math.log10(lims[1] / lims[0]) if lims[0] > 0 else math.inf
    subs = (1.0,) if decades > 3 else (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


# --------------------------------------------------------------------------- values


def true_flags(df: pd.DataFrame, col: str) -> np.ndarray:
    """Which rows hold true in a boolean column that may have come back as text."""
    if col not in df.columns:
        return np.zeros(len(df), dtype=bool)
    text = df[col].astype(object).map(lambda x: "" if is_missing(x) else str(x).strip().lower())
    return text.isin(["true", "t", "1", "1.0", "yes"]).to_numpy(dtype=bool)


def finite(values: pd.Series | Sequence[object]) -> np.ndarray:
    """The finite numbers of a column (unreadable values dropped)."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return v[np.isfinite(v)]


def trial_rows(values: np.ndarray, n_trials: float) -> np.ndarray:
    """Which of ``values`` (a numeric ``n_trials`` column) equal ``n_trials`` (NaN: missing)."""
    return np.isnan(values) if math.isnan(n_trials) else values == n_trials


def fmt_signed(v: object, digits: int = 3) -> str:
    """``+0.012`` / ``−0.034`` (typographic minus); ``–`` when missing."""
    if is_missing(v):
        return "–"
    return f"{float(v):+.{digits}f}".replace("-", "\u2212")  # type: ignore[arg-type]


def fmt_fixed(v: object, digits: int = 2) -> str:
    """A number to ``digits`` decimals (typographic minus); ``–`` when missing."""
    if is_missing(v):
        return "–"
    return f"{float(v):.{digits}f}".replace("-", "\u2212")  # type: ignore[arg-type]


def fmt_sig(v: object) -> str:
    """A number to 3 significant digits; ``–`` when missing."""
    return "–" if is_missing(v) else f"{float(v):.3g}"  # type: ignore[arg-type]
