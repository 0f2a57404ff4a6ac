"""Figures of the recovery study, written as PNG files.

Figures are drawn on :class:`matplotlib.figure.Figure` objects attached explicitly to
the Agg canvas (:class:`matplotlib.backends.backend_agg.FigureCanvasAgg`). ``pyplot``
is never imported, so no GUI backend, global figure registry or ``show`` is involved
and importing this module does not change the matplotlib backend of the caller.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rlrecover.analysis import ALL_CELLS, method_order
from rlrecover.summary import PARAMS, interval_columns

__all__ = ["DPI", "METHOD_LABELS", "plot_coverage", "plot_recovery"]

#: Resolution of the saved PNG files.
DPI = 110
#: Panel titles of the known methods.
METHOD_LABELS = {
    "mle": "Maximum likelihood",
    "pymc_potential": "PyMC (pm.Potential likelihood)",
    "pymc_bernoulli": "PyMC (Bernoulli likelihood)",
}
_PARAM_COLORS = {"alpha": "tab:blue", "beta": "tab:orange"}


def _new_figure(n_panels: int, height: float = 4.0) -> tuple[Figure, list]:
    n = max(n_panels, 1)
    fig = Figure(figsize=(4.2 * n + 0.6, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    return fig, list(axes)


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=DPI, format="png")
    finally:
        fig.clear()
    return path


def _jitter_offsets(truth: np.ndarray, order_key: np.ndarray, width: float) -> np.ndarray:
    """Evenly spread offsets in [-width, width] of the points sharing a true value.

    Points with the same truth (all replicates of all cells with that value) are
    ordered by ``order_key`` and spread evenly, so none hides another.
    """
    off = np.zeros(len(truth))
    if width <= 0 or len(truth) == 0:
        return off
    for value in np.unique(truth):
        idx = np.flatnonzero(truth == value)
        k = idx.size
        if k < 2:
            continue
        order = idx[np.lexsort(order_key[idx].T[::-1])]
        off[order] = np.linspace(-width, width, k)
    return off


def _jitter_width(values: np.ndarray) -> float:
    """A quarter of the smallest gap between distinct truths (10% of the value if one)."""
    u = np.unique(values[np.isfinite(values)])
    if u.size >= 2:
        return 0.25 * float(np.min(np.diff(u)))
    return 0.1 * max(abs(float(u[0])) if u.size else 1.0, 1e-3)


def plot_recovery(
    recovery: pd.DataFrame,
    param: str,
    path: str | os.PathLike[str],
    *,
    interval_level: float | None = None,
) -> Path:
    """Scatter of true against estimated ``param``, one panel per method.

    Each point is one successful fit (``status == "ok"``, finite estimate). Replicates
    of a cell are spread horizontally around the true value so they do not overlap;
    a black diamond marks the mean estimate of each cell at its exact true value; the
    dashed line is the identity (perfect recovery). Alpha is drawn on linear axes over
    [0, 1]; beta on log-log axes (non-positive estimates cannot be shown and are
    counted in the panel title).

    Parameters
    ----------
    recovery : pandas.DataFrame
        The recovery table.
    param : {"alpha", "beta"}
        Parameter to plot.
    path : path-like
        Output PNG file (parent directories are created).
    interval_level : float, optional
        If given, draw the central interval at this level (columns
        ``{param}_lower_L``/``{param}_upper_L``) as a vertical bar through each point.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if param not in PARAMS:
        raise ValueError(f"param must be one of {PARAMS}, got {param!r}")
    log = param == "beta"
    methods = method_order(recovery["method"]) if "method" in recovery else []
    fig, axes = _new_figure(len(methods))
    if not methods:
        axes[0].text(0.5, 0.5, "no fits", ha="center", va="center")
        axes[0].set_axis_off()
        return _save(fig, path)

    status = recovery.get("status", pd.Series("ok", index=recovery.index)).astype(str)
    truth_all = pd.to_numeric(recovery[f"{param}_true"], errors="coerce").to_numpy(dtype=float)
    est_all = pd.to_numeric(recovery[f"{param}_est"], errors="coerce").to_numpy(dtype=float)
    usable = (status.str.lower() == "ok").to_numpy() & np.isfinite(truth_all)
    usable &= np.isfinite(est_all)
    if log:
        shown = usable & (truth_all > 0) & (est_all > 0)
    else:
        shown = usable
    # common limits for all panels
    vals = np.concatenate([truth_all[shown], est_all[shown]])
    if log:
        if vals.size:
            lo, hi = float(vals.min()), float(vals.max())
        else:
            lo, hi = 0.1, 10.0
        lims = (lo / 1.4, hi * 1.4)
        width = _jitter_width(np.log(truth_all[shown & (truth_all > 0)]))
    else:
        lims = (0.0, 1.0)
        width = _jitter_width(truth_all[shown])

    for ax, method in zip(axes, methods, strict=True):
        is_m = (recovery["method"].astype(str) == method).to_numpy()
        n_fits = int(is_m.sum())
        n_failed = int((is_m & (status.str.lower() != "ok").to_numpy()).sum())
        sel = is_m & shown
        n_hidden = int((is_m & usable & ~shown).sum())
        df = recovery.loc[sel]
        x = truth_all[sel]
        y = est_all[sel]
        other = "beta" if param == "alpha" else "alpha"
        key = np.column_stack(
            [
                pd.to_numeric(df[f"{other}_true"], errors="coerce").to_numpy(dtype=float),
                pd.to_numeric(df["replicate"], errors="coerce").to_numpy(dtype=float),
            ]
        )
        off = _jitter_offsets(x, key, width)
        xj = x * np.exp(off) if log else x + off
        if interval_level is not None and sel.any():
            lo_c, hi_c = interval_columns(param, interval_level)
            if lo_c in df and hi_c in df:
                lo_v = pd.to_numeric(df[lo_c], errors="coerce").to_numpy(dtype=float)
                hi_v = pd.to_numeric(df[hi_c], errors="coerce").to_numpy(dtype=float)
                ok_b = np.isfinite(lo_v) & np.isfinite(hi_v)
                if log:
                    ok_b &= lo_v > 0
                ax.vlines(
                    xj[ok_b], lo_v[ok_b], hi_v[ok_b], color="0.6", lw=0.8, alpha=0.6, zorder=1
                )
        ax.plot(lims, lims, ls="--", color="0.4", lw=1, zorder=0, label="identity")
        ax.scatter(
            xj,
            y,
            s=14,
            alpha=0.55,
            color=_PARAM_COLORS[param],
            edgecolors="none",
            zorder=2,
            label="fit (one dataset)",
        )
        if sel.any():
            means = (
                pd.DataFrame({"cell": df["cell"].astype(str).to_numpy(), "x": x, "y": y})
                .groupby("cell", sort=False)
                .agg(x=("x", "first"), y=("y", "mean"))
            )
            ax.scatter(
                means["x"],
                means["y"],
                marker="D",
                s=36,
                color="black",
                zorder=3,
                label="cell mean",
            )
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlim(lims)
        ax.set_ylim(lims)
        ax.set_aspect("equal", adjustable="box")
        title = METHOD_LABELS.get(method, method)
        sub = f"{int(sel.sum())} of {n_fits} fits shown"
        if n_failed:
            sub += f", {n_failed} failed"
        if n_hidden:
            sub += f", {n_hidden} \u2264 0 not shown"
        ax.set_title(f"{title}\n{sub}", fontsize=10)
        ax.set_xlabel(f"true {param}")
        ax.grid(True, which="major", color="0.9", lw=0.6)
    axes[0].set_ylabel(f"estimated {param} (MLE / posterior mean)")
    axes[0].legend(loc="upper left", fontsize=8, frameon=True)
    scale = " (log-log axes)" if log else ""
    fig.suptitle(f"Recovery of {param}: true vs estimated{scale}")
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
