"""Did the sampler work? Every checked PyMC fit against the reference posterior.

The reference is the exact posterior by quadrature (up to three parameters) or
importance sampling from the mode (four), computed for the first datasets of every
cell; each row of the exact-check table names it (``reference``) and says whether its
own accuracy check passed (``reference_reliable``). If the sampler works and its Monte
Carlo standard error is right, ``z = (MCMC mean - reference mean) / MCSE`` follows the
standard normal.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from scipy.stats import norm

from rlrecover.analysis.common import is_missing, method_order, numeric_column, read_flag
from rlrecover.models.base import Model
from rlrecover.report.style import (
    empty_figure,
    method_style,
    new_figure,
    save_figure,
    short_label,
)

__all__ = ["plot_exact_check"]


def _references(exact: pd.DataFrame) -> str:
    """The reference methods of the table, most frequent first: ``"quadrature"``."""
    if "reference" not in exact.columns:
        return "exact posterior"
    names = [str(x) for x in exact["reference"] if not is_missing(x) and str(x).strip()]
    counts = pd.Series(names, dtype=object).value_counts()
    return " / ".join(counts.index.astype(str)) if len(counts) else "exact posterior"


def plot_exact_check(
    exact: pd.DataFrame, model: Model, path: str | os.PathLike[str], *, z_limit: float = 4.0
) -> Path:
    """Histogram of z = (MCMC mean - reference mean) / MCSE against the standard normal.

    One panel per parameter, one outline histogram per method, with the counts a
    standard normal z would give (for the method with the most checked fits). The
    dashed lines mark
    ``+-z_limit``; fits beyond them are counted in the panel title. Fits whose
    reference did not pass its own accuracy check (``reference_reliable`` false) are
    left out and counted, since their z says nothing about the sampler. The figure's
    title names the reference (quadrature or importance sampling).

    Parameters
    ----------
    exact : pandas.DataFrame
        One model's exact-check table (``method, parameter, z, reference,
        reference_reliable, ...``); may be empty.
    model : Model
        The model.
    path : path-like
        Output PNG file.
    z_limit : float, default 4
        |z| beyond which a fit disagrees with the reference.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    z_all = numeric_column(exact, "z")
    if exact.empty or not np.isfinite(z_all).any():
        text = f"{model.title}:\nno fit was checked against the reference posterior"
        return save_figure(empty_figure(text), path)
    reliable_col = exact.get("reference_reliable", pd.Series(True, index=exact.index))
    reliable = np.array([read_flag(x) is not False for x in reliable_col], dtype=bool)
    params = [p for p in model.param_names if (exact["parameter"].astype(str) == p).any()]
    fig, axes = new_figure(
        len(params), height=4.2, width=3.9 if len(params) > 2 else 4.4, min_width=7.0
    )
    methods = method_order(exact["method"])
    method_col = exact["method"].astype(str).to_numpy()
    param_col = exact["parameter"].astype(str).to_numpy()
    checked = np.isfinite(z_all)
    drawn: set[str] = set()
    for ax, param in zip(axes, params, strict=True):
        is_p = param_col == param
        use = is_p & checked & reliable
        n_unreliable = int((is_p & checked & ~reliable).sum())
        z = z_all[use]
        hi = max(4.5, float(np.max(np.abs(z))) + 0.5) if z.size else 4.5
        bins = np.linspace(-hi, hi, 37)
        width = bins[1] - bins[0]
        n_method = 0
        for method in methods:
            mz = z_all[use & (method_col == method)]
            n_method = max(n_method, mz.size)
            if mz.size:
                drawn.add(method)
                color, _, _ = method_style(method, methods)
                ax.hist(mz, bins=bins, histtype="step", lw=1.6, color=color)
        grid = np.linspace(-hi, hi, 400)
        ax.plot(grid, norm.pdf(grid) * n_method * width, color="0.3", lw=1)
        for x in (-z_limit, z_limit):
            ax.axvline(x, color="0.5", ls="--", lw=0.8)
        n_out = int((np.abs(z) > z_limit).sum())
        sd = np.std(z, ddof=1) if z.size > 1 else float("nan")
        mean = np.mean(z) if z.size else float("nan")
        title = (
            f"{param}: {z.size} checked fits, {n_out} with |z| > {z_limit:g}\n"
            f"mean {mean:.2f}, sd {sd:.2f}"
        )
        if n_unreliable:
            title += f"\n{n_unreliable} left out: reference not reliable"
        ax.set_title(title, fontsize=9.5)
        if not z.size:
            ax.text(
                0.5,
                0.6,
                "no fit with a reliable reference",
                transform=ax.transAxes,
                ha="center",
                color="0.3",
            )
        ax.set_xlabel("z = (MCMC mean \u2212 reference mean) / MCSE", fontsize=9)
        ax.grid(True, color="0.92", lw=0.6)
    axes[0].set_ylabel("fits")
    handles = [
        Line2D([], [], color=method_style(m, methods)[0], lw=1.6, label=short_label(m))
        for m in methods
        if m in drawn
    ]
    handles += [
        Line2D([], [], color="0.3", lw=1, label="standard normal (expected counts)"),
        Line2D([], [], color="0.5", ls="--", lw=0.8, label=f"|z| = {z_limit:g}"),
    ]
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=len(handles),
        fontsize=8.5,
        frameon=False,
    )
    fig.suptitle(
        f"{model.title}:\nevery checked PyMC fit against the reference posterior "
        f"({_references(exact[checked])})"
    )
    return save_figure(fig, path)
