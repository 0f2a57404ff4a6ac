"""Simulation-based calibration (SBC): uniformity of the posterior CDF at the truth.

In an SBC run each truth (a value of every parameter of the model) is drawn from the
priors, one dataset is simulated from it and fitted. For a calibrated Bayesian method
the posterior CDF at the truth, ``{p}_cdf_true`` in the recovery table (share of
posterior draws <= truth, i.e. the normalised rank of Talts et al. 2018), is then
Uniform(0, 1) across datasets.
For maximum likelihood ``{p}_cdf_true`` is the Wald equivalent
``Phi((t(truth) - t(estimate)) / se)`` on the unconstrained scale ``t``; its uniformity
is an asymptotic property, not a consequence of the priors.

This module computes the SBC tables; the figures are in :mod:`rlrecover.report.sbc`
(and :func:`rlrecover.report.coverage.plot_coverage_curve`).

The SBC table has exactly the columns of the normal recovery table
(:func:`rlrecover.summary.summary_columns`; ``cell`` is a label such as ``"sbc"`` and
``replicate`` the SBC index). :func:`coverage_curve` works on grid runs too (all cells
pooled); it needs only ``method``, ``status`` and ``{p}_cdf_true`` of the model's
parameters.

Only rows with ``status == "ok"`` and a finite CDF value count; the others are
counted in ``n_unusable`` (a maximum-likelihood fit with status ``unusable_se`` or
``nonfinite``: standard errors not finite, Hessian not positive definite, or larger
than the search box is wide, see :func:`rlrecover.inference.mle.usability`),
``n_failed`` (any other status but ok) and ``n_no_cdf`` (ok, but no CDF value).

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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from rlrecover.analysis.common import (
    method_order,
    numeric_column,
    ok_mask,
    statuses,
    wilson_interval,
)
from rlrecover.inference.mle import STATUS_NONFINITE, STATUS_UNUSABLE_SE
from rlrecover.models.base import Model
from rlrecover.summary import level_label

__all__ = [
    "COVERAGE_CURVE_COLUMNS",
    "DEFAULT_CURVE_LEVELS",
    "ECDF_GRID",
    "EDGE_TOL",
    "UNIFORMITY_TEST",
    "CdfValues",
    "cdf_values",
    "coverage_curve",
    "coverage_from_cdf",
    "ecdf_at",
    "ecdf_band",
    "inside_band",
    "max_ecdf_deviation",
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


@dataclass(frozen=True)
class CdfValues:
    """The usable CDF values at the truth of one method and parameter, and what was left out.

    Attributes
    ----------
    u : numpy.ndarray
        The finite ``{p}_cdf_true`` of the ok fits.
    ess : numpy.ndarray
        Their fits' ``ess_bulk_min`` (NaN for maximum likelihood).
    n_unusable : int
        Fits with status ``unusable_se`` or ``nonfinite``.
    n_failed : int
        Fits with any other status but ok.
    n_no_cdf : int
        Ok fits without a finite CDF value.
    """

    u: np.ndarray
    ess: np.ndarray
    n_unusable: int
    n_failed: int
    n_no_cdf: int

    @property
    def n(self) -> int:
        """Number of usable values."""
        return int(self.u.size)

    @property
    def n_excluded(self) -> int:
        """Fits left out: ``n_unusable + n_failed + n_no_cdf``."""
        return self.n_unusable + self.n_failed + self.n_no_cdf


def cdf_values(recovery: pd.DataFrame, model: Model) -> dict[tuple[str, str], CdfValues]:
    """Usable CDF values per (method, parameter), with the counts of fits left out.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery (or SBC) table.
    model : Model
        The model.

    Returns
    -------
    dict of (str, str) to CdfValues
        For every method (report order) and parameter (model order).

    Raises
    ------
    KeyError
        If ``method`` or a ``{p}_cdf_true`` column is missing.
    ValueError
        If a finite CDF value lies outside [0, 1].
    """
    needed = ["method", *(f"{p}_cdf_true" for p in model.param_names)]
    missing = [c for c in needed if c not in recovery]
    if missing:
        raise KeyError(f"recovery table lacks column(s): {', '.join(missing)}")
    ok = ok_mask(recovery)
    unusable = ~ok & np.isin(statuses(recovery), (STATUS_UNUSABLE_SE, STATUS_NONFINITE))
    methods = recovery["method"].astype(str).to_numpy()
    ess_all = numeric_column(recovery, "ess_bulk_min")
    out: dict[tuple[str, str], CdfValues] = {}
    for method in method_order(recovery["method"]):
        is_m = methods == method
        for p in model.param_names:
            cdf = numeric_column(recovery, f"{p}_cdf_true")
            use = is_m & ok & np.isfinite(cdf)
            u = cdf[use]
            bad = (u < 0) | (u > 1)
            if bad.any():
                raise ValueError(
                    f"{method} {p}_cdf_true has {int(bad.sum())} value(s) outside [0, 1], "
                    f"e.g. {u[bad][0]!r}"
                )
            out[(method, p)] = CdfValues(
                u=u,
                ess=ess_all[use],
                n_unusable=int((is_m & unusable).sum()),
                n_failed=int((is_m & ~ok & ~unusable).sum()),
                n_no_cdf=int((is_m & ok & ~np.isfinite(cdf)).sum()),
            )
    return out


def ecdf_at(u: np.ndarray, points: np.ndarray) -> np.ndarray:
    """ECDF of ``u`` at ``points`` (share of values <= each point; NaN without values)."""
    if u.size == 0:
        return np.full(points.shape, np.nan)
    return np.searchsorted(np.sort(u), points, side="right") / u.size


def max_ecdf_deviation(u: np.ndarray) -> float:
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
    in :func:`rlrecover.analysis.coverage.coverage_table`), with a slack of :data:`EDGE_TOL`
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
    recovery: pd.DataFrame,
    model: Model,
    levels: Sequence[float] | np.ndarray = DEFAULT_CURVE_LEVELS,
) -> pd.DataFrame:
    """Empirical coverage of central intervals at many levels, from the CDF at the truth.

    Works for SBC runs and grid runs alike (a grid run's cells are pooled) and needs
    no interval columns: coverage at each level follows from ``{p}_cdf_true`` by
    :func:`coverage_from_cdf`.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's recovery table (columns ``method``, ``{p}_cdf_true`` of each
        parameter, optionally ``status``).
    model : Model
        The model.
    levels : sequence of float, default 0.05, 0.10, ..., 0.95
        Nominal levels in (0, 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``method, parameter, level, n, covered, coverage, ci_low, ci_high,
        n_excluded, n_unusable, n_failed, n_no_cdf`` (:data:`COVERAGE_CURVE_COLUMNS`),
        one row per method (report order), parameter (model order) and level. ``n``
        counts fits with ``status == "ok"`` and a finite CDF value, ``covered`` those
        whose central interval contains the truth, ``coverage = covered / n``;
        ``ci_low``/``ci_high`` bound the 95% Wilson score interval
        (:func:`rlrecover.analysis.common.wilson_interval`; NaN when ``n == 0``).
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
    values = cdf_values(recovery, model)
    rows: list[dict[str, object]] = []
    for (method, param), v in values.items():
        u = v.u
        n = v.n
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
                    "n_excluded": v.n_excluded,
                    "n_unusable": v.n_unusable,
                    "n_failed": v.n_failed,
                    "n_no_cdf": v.n_no_cdf,
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


def inside_band(u: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Per point of :data:`ECDF_GRID`: whether the ECDF of ``u`` lies in ``[lower, upper]``."""
    n = u.size
    count = ecdf_at(u, ECDF_GRID) * n
    # compare counts: the bounds are counts / n, up to rounding
    return (count >= lower * n - 1e-6) & (count <= upper * n + 1e-6)


def sbc_table(
    recovery: pd.DataFrame,
    model: Model,
    coverage_levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95),
    prob: float = 0.95,
) -> pd.DataFrame:
    """SBC summary per method and parameter: uniformity of the CDF at the truth.

    Parameters
    ----------
    recovery : pandas.DataFrame
        One model's SBC result table (columns of the recovery table; needs
        ``method``, ``{p}_cdf_true`` of each parameter, and uses ``status`` and
        ``ess_bulk_min`` when present).
    model : Model
        The model.
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
    for (method, param), v in cdf_values(recovery, model).items():
        u, ess, n = v.u, v.ess, v.n
        row: dict[str, object] = {
            "method": method,
            "parameter": param,
            "n": n,
            "n_excluded": v.n_excluded,
            "n_unusable": v.n_unusable,
            "n_failed": v.n_failed,
            "n_no_cdf": v.n_no_cdf,
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
                max_ecdf_deviation=max_ecdf_deviation(u),
                band_half_width=half,
                inside_band="yes" if inside_band(u, lower, upper).all() else "no",
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
