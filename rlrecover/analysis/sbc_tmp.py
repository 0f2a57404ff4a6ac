"""Simulation-based calibration (SBC): uniformity of the posterior CDF at the truth.

In an SBC run each truth ``(alpha, beta)`` is drawn from the priors, one dataset is
simulated from it and fitted. For a calibrated Bayesian method the posterior CDF at
the truth, ``{p}_cdf_true`` in the recovery table (share of posterior draws <= truth,
i.e. the normalised rank of Talts et al. 2018), is then Uniform(0, 1) across datasets.
For maximum likelihood ``{p}_cdf_true`` is the Wald equivalent
``Phi((t(truth) - t(estimate)) / se)`` on the unconstrained scale ``t``; its uniformity
is an asymptotic property, not a consequence of the priors.

The SBC table has exactly the columns of the normal recovery table
(:func:`rlrecover.summary.summary_columns`; ``cell`` is a label such as ``"sbc"`` and
``replicate`` the SBC index). :func:`coverage_curve` works on grid runs too (all cells
pooled); it needs only ``method``, ``status`` and ``{p}_cdf_true``.

Only rows with ``status == "ok"`` and a finite CDF value count; the others are
counted in ``n_unusable`` (a maximum-likelihood fit with status ``unusable_se`` or
``nonfinite``: standard errors not finite, Hessian not positive definite, or larger
than the search box is wide, see :func:`rlrecover.mle.usability`), ``n_failed``
(any other status but ok) and ``n_no_cdf`` (ok, but no CDF value). Every figure
says, per panel, how many values it shows and how many were left out and why.

Figures follow :mod:`rlrecover.plots`: a :class:`matplotlib.figure.Figure` on the Agg
canvas, never ``pyplot``.

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

import functools
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from rlrecover.analysis import method_order, numeric_column, ok_mask, wilson_interval
from rlrecover.mle import STATUS_NONFINITE, STATUS_UNUSABLE_SE
from rlrecover.plots import (
    METHOD_LABELS,
    PARAM_COLORS,
    coverage_legend,
    draw_coverage_panel,
    save_figure,
)
from rlrecover.summary import PARAMS, level_label

__all__ = [
    "COVERAGE_CURVE_COLUMNS",
    "DEFAULT_CURVE_LEVELS",
    "ECDF_GRID",
    "EDGE_TOL",
    "UNIFORMITY_TEST",
    "coverage_curve",
    "coverage_from_cdf",
    "ecdf_band",
    "plot_coverage_curve",
    "plot_sbc_ecdf",
    "plot_sbc_ranks",
    "sbc_table",
    "sbc_table_columns",
]

#: Slack of the interval edges in :func:`coverage_from_cdf` (absorbs the rounding of
#: levels such as ``np.arange(0.05, 0.951, 0.05)[2] == 0.15000000000000002``; far
#: below the 1/S step of a CDF from S posterior draws).
EDGE_TOL = 1e-9
#: Nominal levels of :func:`coverage_curve`: 0.05, 0.10, ..., 0.95.
DEFAULT_CURVE_LEVELS = np.round(np.arange(0.05, 0.951, 0.05), 10)
#: Points where the ECDF is compared with its simultaneous band: 0.01, 0.02, ..., 0.99.
#: The ends 0 and 1 are left out: the band is degenerate there and a calibrated
#: posterior with S draws puts the truth beyond every draw (CDF exactly 0 or 1) with
#: probability 2/(S+1), which must not count as leaving the band.
ECDF_GRID = np.round(np.linspace(0.0, 1.0, 101)[1:-1], 10)
#: Name of the uniformity test in the ``test`` column of :func:`sbc_table`.
UNIFORMITY_TEST = "Kolmogorov-Smirnov vs Uniform(0,1)"

COVERAGE_CURVE_COLUMNS = [
    "method",
    "parameter",
    "level",
    "n",
    "covered",
    "coverage",
    "ci_low",
    "ci_high",
    "n_excluded",
    "n_unusable",
    "n_failed",
    "n_no_cdf",
]


def sbc_table_columns(coverage_levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95)) -> list[str]:
    """Columns of :func:`sbc_table`, in order.

    Parameters
    ----------
    coverage_levels : sequence of float
        Nominal levels of the ``coverage_<L>`` columns.

    Returns
    -------
    list of str
    """
    return [
        "method",
        "parameter",
        "n",
        "n_excluded",
        "n_unusable",
        "n_failed",
        "n_no_cdf",
        "test",
        "p_value",
        "max_ecdf_deviation",
        "band_prob",
        "band_half_width",
        "inside_band",
        *[f"coverage_{level_label(level)}" for level in coverage_levels],
        "mc_error_max",
        "mc_error_vs_band",
    ]


# --------------------------------------------------------------------------- helpers


def _cdf_values(recovery: pd.DataFrame) -> dict[tuple[str, str], dict[str, object]]:
    """Usable CDF values per (method, parameter), with the excluded counts.

    Returns, for every method (report order) and parameter, ``u`` (the finite CDF
    values of ok fits), ``ess`` (their ``ess_bulk_min``), ``n_unusable``, ``n_failed``
    and ``n_no_cdf``.

    Raises
    ------
    KeyError
        If ``method`` or a ``{p}_cdf_true`` column is missing.
    ValueError
        If a finite CDF value lies outside [0, 1].
    """
    missing = [c for c in ["method", *(f"{p}_cdf_true" for p in PARAMS)] if c not in recovery]
    if missing:
        raise KeyError(f"recovery table lacks column(s): {', '.join(missing)}")
    ok = ok_mask(recovery)
    status = recovery.get("status", pd.Series("ok", index=recovery.index))
    status = status.astype(str).str.strip().str.lower().to_numpy(dtype=object)
    unusable = ~ok & np.isin(status, (STATUS_UNUSABLE_SE, STATUS_NONFINITE))
    methods = recovery["method"].astype(str).to_numpy()
    ess_all = numeric_column(recovery, "ess_bulk_min")
    out: dict[tuple[str, str], dict[str, object]] = {}
    for method in method_order(recovery["method"]):
        is_m = methods == method
        for p in PARAMS:
            cdf = numeric_column(recovery, f"{p}_cdf_true")
            use = is_m & ok & np.isfinite(cdf)
            u = cdf[use]
            bad = (u < 0) | (u > 1)
            if bad.any():
                raise ValueError(
                    f"{method} {p}_cdf_true has {int(bad.sum())} value(s) outside [0, 1], "
                    f"e.g. {u[bad][0]!r}"
                )
            out[(method, p)] = {
                "u": u,
                "ess": ess_all[use],
                "n_unusable": int((is_m & unusable).sum()),
                "n_failed": int((is_m & ~ok & ~unusable).sum()),
                "n_no_cdf": int((is_m & ok & ~np.isfinite(cdf)).sum()),
            }
    return out


def _n_excluded(v: dict[str, object]) -> int:
    return int(v["n_unusable"]) + int(v["n_failed"]) + int(v["n_no_cdf"])  # type: ignore[call-overload]


def _ecdf_at(u: np.ndarray, points: np.ndarray) -> np.ndarray:
    """ECDF of ``u`` at ``points`` (share of values <= each point)."""
    if u.size == 0:
        return np.full(points.shape, np.nan)
    return np.searchsorted(np.sort(u), points, side="right") / u.size


def _max_ecdf_deviation(u: np.ndarray) -> float:
    """Supremum over [0, 1] of ``|ECDF(x) - x|`` (the Kolmogorov-Smirnov distance)."""
    n = u.size
    if n == 0:
        return math.nan
    s = np.sort(u)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - s), np.max(s - (i - 1) / n)))


# --------------------------------------------------------------------------- coverage


def coverage_from_cdf(cdf: float | np.ndarray, level: float) -> np.ndarray:
    """Whether the central ``level`` interval contains the truth, from the CDF at the truth.

    The truth lies in the central interval ``[q((1-level)/2), q((1+level)/2)]`` of a
    distribution exactly when its CDF value ``c`` satisfies
    ``(1 - level)/2 <= c <= (1 + level)/2``.

    Parameters
    ----------
    cdf : float or array_like
        CDF at the truth (``{p}_cdf_true``), in [0, 1]; NaN allowed.
    level : float
        Nominal level in (0, 1).

    Returns
    -------
    numpy.ndarray of bool
        Same shape as ``cdf`` (0-d for a scalar); False where ``cdf`` is NaN.

    Notes
    -----
    Ties: the edges count as inside (closed interval, as ``lower <= truth <= upper``
    in :func:`rlrecover.analysis.coverage_table`), with a slack of :data:`EDGE_TOL`
    so that a CDF exactly on an edge stays inside whatever rounding the level carries.
    For maximum likelihood (Wald CDF) this is exactly the Wald interval's verdict. For
    a posterior of S draws, ``cdf`` is a multiple of 1/S and the interval columns are
    interpolated quantiles, so the two verdicts can differ only when the truth lies
    between the same two neighbouring draws as an interval bound, i.e. by one draw at
    an edge.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"coverage level must lie in (0, 1), got {level!r}")
    c = np.asarray(cdf, dtype=float)
    lo = (1.0 - level) / 2.0 - EDGE_TOL
    hi = (1.0 + level) / 2.0 + EDGE_TOL
    with np.errstate(invalid="ignore"):
        return (c >= lo) & (c <= hi)


def coverage_curve(
    recovery: pd.DataFrame, levels: Sequence[float] | np.ndarray = DEFAULT_CURVE_LEVELS
) -> pd.DataFrame:
    """Empirical coverage of central intervals at many levels, from the CDF at the truth.

    Works for SBC runs and grid runs alike (a grid run's cells are pooled) and needs
    no interval columns: coverage at each level follows from ``{p}_cdf_true`` by
    :func:`coverage_from_cdf`.

    Parameters
    ----------
    recovery : pandas.DataFrame
        A recovery table (columns ``method``, ``{p}_cdf_true``, optionally ``status``).
    levels : sequence of float, default 0.05, 0.10, ..., 0.95
        Nominal levels in (0, 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``method, parameter, level, n, covered, coverage, ci_low, ci_high,
        n_excluded, n_unusable, n_failed, n_no_cdf``, one row per method (report
        order), parameter
        and level. ``n`` counts fits with ``status == "ok"`` and a finite CDF value,
        ``covered`` those whose central interval contains the truth, ``coverage =
        covered / n``; ``ci_low``/``ci_high`` bound the 95% Wilson score interval
        (:func:`rlrecover.analysis.wilson_interval`; NaN when ``n == 0``).
        ``n_excluded = n_unusable + n_failed + n_no_cdf``: fits left out because
        their standard errors are unusable (status ``unusable_se`` or ``nonfinite``),
        because they failed (any other status but ok), or because they have no CDF
        value.

    Raises
    ------
    KeyError
        If ``method`` or a ``{p}_cdf_true`` column is missing.
    ValueError
        If a level is outside (0, 1) or a CDF value outside [0, 1].
    """
    levels = [float(x) for x in levels]
    values = _cdf_values(recovery)
    rows: list[dict[str, object]] = []
    for (method, param), v in values.items():
        u = v["u"]
        n = int(u.size)  # type: ignore[union-attr]
        for level in levels:
            k = int(coverage_from_cdf(u, level).sum())
            low, high = wilson_interval(k, n)
            rows.append(
                {
                    "method": method,
                    "parameter": param,
                    "level": level,
                    "n": n,
                    "covered": k,
                    "coverage": k / n if n else math.nan,
                    "ci_low": low,
                    "ci_high": high,
                    "n_excluded": _n_excluded(v),
                    "n_unusable": v["n_unusable"],
                    "n_failed": v["n_failed"],
                    "n_no_cdf": v["n_no_cdf"],
                }
            )
    out = pd.DataFrame(rows, columns=COVERAGE_CURVE_COLUMNS)
    ints = ["n", "covered", "n_excluded", "n_unusable", "n_failed", "n_no_cdf"]
    return out.astype(dict.fromkeys(ints, "int64"))


# --------------------------------------------------------------------------- SBC table


@functools.lru_cache(maxsize=64)
def _band_cached(n: int, prob: float) -> tuple[np.ndarray, np.ndarray]:
    # imported here: ``import arviz`` takes seconds and imports matplotlib.pyplot,
    # which the figures of this module deliberately avoid
    from rlrecover.numba_cache import import_with_numba_cache

    ecdf_utils = import_with_numba_cache("arviz.stats.ecdf_utils")
    lower, upper = ecdf_utils.ecdf_confidence_band(
        n, ECDF_GRID, ECDF_GRID, prob=prob, method="optimized"
    )
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    lower.flags.writeable = False
    upper.flags.writeable = False
    return lower, upper


def ecdf_band(n: int, prob: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simultaneous ``prob`` band of the ECDF of ``n`` Uniform(0, 1) values.

    Computed by ArviZ's ``ecdf_confidence_band(n, ECDF_GRID, ECDF_GRID, prob,
    method="optimized")`` (Säilynoja et al. 2022): pointwise binomial intervals whose
    common pointwise level is tuned so that the whole ECDF of ``n`` independent
    uniform values stays inside at every point of :data:`ECDF_GRID` with probability
    ``prob``. Cached per ``(n, prob)``.

    Parameters
    ----------
    n : int
        Number of values (datasets), >= 1.
    prob : float, default 0.95
        Simultaneous level in (0, 1).

    Returns
    -------
    grid, lower, upper : numpy.ndarray
        :data:`ECDF_GRID` and the band's bounds there (multiples of 1/n, read-only).
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob must lie in (0, 1), got {prob!r}")
    lower, upper = _band_cached(int(n), float(prob))
    return ECDF_GRID, lower, upper


def _inside(u: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Per grid point: whether the ECDF of ``u`` lies in ``[lower, upper]``."""
    n = u.size
    count = _ecdf_at(u, ECDF_GRID) * n
    # compare counts: the bounds are counts / n, up to rounding
    return (count >= lower * n - 1e-6) & (count <= upper * n + 1e-6)


def sbc_table(
    recovery: pd.DataFrame,
    coverage_levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95),
    prob: float = 0.95,
) -> pd.DataFrame:
    """SBC summary per method and parameter: uniformity of the CDF at the truth.

    Parameters
    ----------
    recovery : pandas.DataFrame
        The SBC result table (columns of the recovery table; needs ``method``,
        ``{p}_cdf_true``, and uses ``status`` and ``ess_bulk_min`` when present).
    coverage_levels : sequence of float, default (0.5, 0.8, 0.9, 0.95)
        Nominal levels of the ``coverage_<L>`` columns.
    prob : float, default 0.95
        Level of the simultaneous ECDF band.

    Returns
    -------
    pandas.DataFrame
        One row per method (report order) and parameter, columns
        (:func:`sbc_table_columns`):

        - ``n``: fits with ``status == "ok"`` and a finite CDF value; ``n_excluded =
          n_unusable + n_failed + n_no_cdf`` as in :func:`coverage_curve`.
        - ``test``, ``p_value``: :data:`UNIFORMITY_TEST`
          (``scipy.stats.kstest(u, "uniform")``). It assumes continuous values; the CDF
          from S posterior draws is a multiple of 1/S (ties possible), which moves the
          statistic by at most about 1/S, negligible against its null scale
          ``1/sqrt(n)`` when S >> sqrt(n) (e.g. S = 4000 draws). Piles of values at
          exactly 0 or 1 (truth beyond every draw) are a real departure and are
          detected. NaN when ``n == 0``.
        - ``max_ecdf_deviation``: ``sup |ECDF(u) - u|`` over [0, 1] (the
          Kolmogorov-Smirnov distance).
        - ``band_prob``: ``prob``; ``band_half_width``: the largest half-width of the
          simultaneous band (:func:`ecdf_band`), reached near u = 0.5.
        - ``inside_band``: ``"yes"`` when the ECDF lies inside the band at every point
          of :data:`ECDF_GRID`, else ``"no"`` (``"n/a"`` when ``n == 0``). For a
          calibrated method ``"no"`` occurs with probability about ``1 - prob`` (5%
          for a 95% band) in each independent SBC run.
        - ``coverage_<L>``: share of the ``n`` fits whose central ``L`` interval
          contains the truth (:func:`coverage_from_cdf`); nominally ``L``.
        - ``mc_error_max``: largest Monte Carlo standard error of a CDF value,
          ``sqrt(c (1 - c) / ESS)`` with ``ESS = ess_bulk_min`` of its fit (NaN for
          maximum likelihood, which has no draws).
        - ``mc_error_vs_band = mc_error_max / band_half_width``.

    Notes
    -----
    Talts et al. (2018) thin the posterior draws to about their effective sample size
    before ranking, because autocorrelated draws add Monte Carlo noise to each CDF
    value. That noise has standard deviation about ``mc_error_max`` at most, so it can
    move the ECDF by about that much. Both ``mc_error_max`` (``~0.5 / sqrt(ESS)``) and
    ``band_half_width`` (``~z / (2 sqrt(n))`` with z about 3 for a 95% band over
    99 points) peak near 0.5, so ``mc_error_vs_band ~ sqrt(n / ESS) / z``. When it is
    well below 1 (say < 0.2) the noise cannot move the ECDF by a noticeable part of
    the band and thinning would not change ``inside_band``; when it approaches 1 (many
    datasets, small ESS) it could, and ranks from thinned draws or more draws per fit
    are advisable before trusting a ``"no"`` or a ``"yes"``.
    """
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob must lie in (0, 1), got {prob!r}")
    levels = [float(x) for x in coverage_levels]
    columns = sbc_table_columns(levels)
    rows: list[dict[str, object]] = []
    for (method, param), v in _cdf_values(recovery).items():
        u: np.ndarray = v["u"]  # type: ignore[assignment]
        ess: np.ndarray = v["ess"]  # type: ignore[assignment]
        n = int(u.size)
        row: dict[str, object] = {
            "method": method,
            "parameter": param,
            "n": n,
            "n_excluded": _n_excluded(v),
            "n_unusable": v["n_unusable"],
            "n_failed": v["n_failed"],
            "n_no_cdf": v["n_no_cdf"],
            "test": UNIFORMITY_TEST,
            "band_prob": float(prob),
        }
        if n:
            _, lower, upper = ecdf_band(n, prob)
            half = float(np.max(upper - lower) / 2)
            good = np.isfinite(ess) & (ess > 0)
            if good.any():
                c = u[good]
                mc_max = float(np.max(np.sqrt(c * (1 - c) / ess[good])))
            else:
                mc_max = math.nan
            row.update(
                p_value=float(stats.kstest(u, "uniform").pvalue),
                max_ecdf_deviation=_max_ecdf_deviation(u),
                band_half_width=half,
                inside_band="yes" if _inside(u, lower, upper).all() else "no",
                mc_error_max=mc_max,
                mc_error_vs_band=mc_max / half if half > 0 else math.nan,
            )
            for level in levels:
                row[f"coverage_{level_label(level)}"] = float(coverage_from_cdf(u, level).mean())
        else:
            row["inside_band"] = "n/a"
        rows.append(row)
    out = pd.DataFrame(rows, columns=columns)
    ints = ["n", "n_excluded", "n_unusable", "n_failed", "n_no_cdf"]
    return out.astype(dict.fromkeys(ints, "int64"))


# --------------------------------------------------------------------------- figures


def _grid_figure(n_rows: int, n_cols: int) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(4.3 * n_cols + 0.4, 3.1 * n_rows + 0.7), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(max(n_rows, 1), max(n_cols, 1), squeeze=False)
    return fig, axes


def _no_data(ax, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        ha="center",
        va="center",
        color="0.3",
        transform=ax.transAxes,
        wrap=True,
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _footnote(fig: Figure, text: str) -> None:
    """A reading guide under the panels (kept clear of them by the layout engine)."""
    fig.supxlabel(text, fontsize=8, color="0.25")


def _excluded_text(v: dict[str, object]) -> str:
    parts = []
    if v["n_unusable"]:
        parts.append(f"{v['n_unusable']} unusable SE")
    if v["n_failed"]:
        parts.append(f"{v['n_failed']} failed")
    if v["n_no_cdf"]:
        parts.append(f"{v['n_no_cdf']} without CDF")
    return f" ({', '.join(parts)} left out)" if parts else ""


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


def _panel_title(method: str, param: str, v: dict[str, object], extra: str = "") -> str:
    n = v["u"].size  # type: ignore[union-attr]
    label = METHOD_LABELS.get(method, method)
    datasets = "dataset" if n == 1 else "datasets"
    return f"{label}: {param}\nn = {n} {datasets}{_excluded_text(v)}{extra}"


def _sbc_panels(recovery: pd.DataFrame):
    """(values per method and parameter, figure, axes) with methods as rows."""
    values = _cdf_values(recovery)
    methods = method_order(recovery["method"])
    fig, axes = _grid_figure(len(methods), len(PARAMS))
    return values, methods, fig, axes


def plot_sbc_ranks(recovery: pd.DataFrame, path: str | os.PathLike[str], bins: int = 20) -> Path:
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
        An SBC (or recovery) table.
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
    values, methods, fig, axes = _sbc_panels(recovery)
    if not methods:
        _no_data(axes[0, 0], "no fits")
        return save_figure(fig, path)
    edges = np.linspace(0.0, 1.0, bins + 1)
    for i, method in enumerate(methods):
        for j, param in enumerate(PARAMS):
            ax = axes[i, j]
            v = values[(method, param)]
            u: np.ndarray = v["u"]  # type: ignore[assignment]
            n = u.size
            ax.set_title(_panel_title(method, param, v), fontsize=9)
            if n == 0:
                _no_data(ax, "no usable CDF values")
                continue
            counts, _ = np.histogram(u, bins=edges)
            lo, hi = stats.binom.ppf([0.005, 0.995], n, 1.0 / bins)
            ax.bar(
                edges[:-1],
                counts,
                width=np.diff(edges),
                align="edge",
                color=PARAM_COLORS.get(param, "tab:gray"),
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
            ax.set_xlabel(f"posterior CDF at true {param} (normalised rank)")
            ax.set_ylabel("datasets per bin")
    fig.suptitle(
        f"SBC rank histograms ({bins} bins): flat within the grey band if calibrated",
        fontsize=11,
    )
    chance = 100 * (1 - 0.99**bins)
    _footnote(
        fig,
        "Dashed line: expected count n/bins; grey band: central 99% range of one bin's "
        f"count under uniformity (so about {chance:.0f}% of calibrated panels have\n"
        "some bar outside it by chance). U shape: posteriors too narrow (overconfident); "
        "hump: too wide; slope: biased.",
    )
    return save_figure(fig, path)


def plot_sbc_ecdf(
    recovery: pd.DataFrame, path: str | os.PathLike[str], prob: float = 0.95
) -> Path:
    """ECDF difference plots of the CDF at the truth, one panel per method x parameter.

    Each panel shows ``ECDF(u) - u`` on :data:`ECDF_GRID` with the simultaneous
    ``prob`` band of :func:`ecdf_band` shaded (Säilynoja et al. 2022); grid points
    outside the band are marked in red; the title gives the verdict and the
    Kolmogorov-Smirnov p-value. Under calibration the whole curve stays in the band
    with probability ``prob``. A curve falling from above zero to below means
    overconfident posteriors (truths too often in the tails), a rising one
    underconfident posteriors, a bulge above zero truths low in their posteriors
    (estimates too high) and below zero the reverse.

    Parameters
    ----------
    recovery : pandas.DataFrame
        An SBC (or recovery) table.
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
    values, methods, fig, axes = _sbc_panels(recovery)
    if not methods:
        _no_data(axes[0, 0], "no fits")
        return save_figure(fig, path)
    pct = f"{round(100 * prob, 6):g}%"
    lim = 0.0
    drawn = []
    for i, method in enumerate(methods):
        for j, param in enumerate(PARAMS):
            ax = axes[i, j]
            v = values[(method, param)]
            u: np.ndarray = v["u"]  # type: ignore[assignment]
            n = u.size
            if n == 0:
                ax.set_title(_panel_title(method, param, v), fontsize=9)
                _no_data(ax, "no usable CDF values")
                continue
            grid, lower, upper = ecdf_band(n, prob)
            diff = _ecdf_at(u, grid) - grid
            inside = _inside(u, lower, upper)
            verdict = "inside the band" if inside.all() else "LEAVES the band"
            p_value = float(stats.kstest(u, "uniform").pvalue)
            extra = f"\n{verdict}; KS p = {p_value:.2g}"
            ax.set_title(_panel_title(method, param, v, extra), fontsize=9)
            ax.fill_between(
                grid, lower - grid, upper - grid, color="0.85", lw=0, label=f"{pct} band"
            )
            ax.axhline(0.0, color="0.4", lw=0.8, ls="--")
            ax.plot(grid, diff, color=PARAM_COLORS.get(param, "tab:gray"), lw=1.5, label="ECDF")
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
        f"SBC: ECDF difference with simultaneous {pct} band (Säilynoja et al. 2022)",
        fontsize=11,
    )
    _footnote(
        fig,
        f"Line: ECDF(u) \u2212 u at u = 0.01, 0.02, ..., 0.99; grey: simultaneous {pct} band "
        "for uniform u; red dots: points outside it.\nFalling from above 0 to below: "
        "posteriors too narrow (overconfident); rising: too wide;\nbulge above 0: truths "
        "low in their posteriors (estimates too high); bulge below 0: estimates too low.",
    )
    return save_figure(fig, path)


def plot_coverage_curve(
    curve: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    params: Sequence[str] = PARAMS,
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
        Output of :func:`coverage_curve`.
    path : path-like
        Output PNG file (parent directories are created).
    params : sequence of str, default ("alpha", "beta")
        Parameters to draw.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    methods = method_order(curve["method"]) if "method" in curve else []
    n_panels = max(len(methods), 1)
    fig = Figure(figsize=(4.2 * n_panels + 0.6, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    if not methods:
        _no_data(axes[0], "no coverage data")
        return save_figure(fig, path)
    for ax, method in zip(axes, methods, strict=True):
        draw_coverage_panel(
            ax,
            method,
            curve[curve["method"].astype(str) == method],
            params,
            _curve_excluded,
            values="CDF values",
            xlabel="nominal level of the central interval",
            marker_size=3.5,
        )
    axes[0].set_ylabel("empirical coverage (shaded: 95% Wilson band)")
    axes[0].legend(handles=coverage_legend(params), loc="upper left", fontsize=8)
    fig.suptitle("Coverage of central intervals at every level, from the CDF at the truth")
    return save_figure(fig, path)
