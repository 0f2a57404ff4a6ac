"""Posterior draws of a fit: their record, diagnostics, summaries and files.

Nothing here imports PyMC, so a job that only summarises stored draws (for example
after the coverage levels change) starts quickly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from rlrecover.summary import corr_column, interval_columns

__all__ = [
    "PosteriorFit",
    "load_fits",
    "mcse_mean",
    "posterior_diagnostics",
    "posterior_summary",
    "save_fits",
]


@dataclass
class PosteriorFit:
    """Posterior draws and sampler diagnostics of one dataset.

    Attributes
    ----------
    key : object
        The caller's label of the dataset (e.g. its replicate number).
    draws : dict of str to numpy.ndarray
        ``{param: (chains, draws)}`` for each model parameter; empty when failed.
    rhat_max, ess_bulk_min, ess_tail_min : float
        Worst R-hat and smallest bulk and tail ESS over the parameters.
    divergences : int
        Divergent transitions after tuning.
    seconds : float
        Its share of the wall time of the call that fitted it: the time from the
        previous fit's hand-over (or from its own start, for the first) to the end of
        its diagnostics (several datasets sample at once, see
        :func:`rlrecover.inference.sampling.sample_posteriors`).
    compile_seconds : float
        Time spent building and compiling the model before this dataset (only the
        first dataset of a call pays it; 0 for the others).
    error : str
        Empty on success, else the exception text.
    """

    key: object
    draws: dict[str, np.ndarray]
    rhat_max: float = np.nan
    ess_bulk_min: float = np.nan
    ess_tail_min: float = np.nan
    divergences: float = np.nan
    seconds: float = np.nan
    compile_seconds: float = 0.0
    error: str = ""


def posterior_diagnostics(draws: dict[str, np.ndarray]) -> tuple[float, float, float]:
    """Worst rank-normalised split R-hat and bulk and tail ESS over the parameters.

    Parameters
    ----------
    draws : dict of str to numpy.ndarray
        Posterior draws of each parameter, shape ``(chains, draws)``.

    Returns
    -------
    rhat_max : float
        Largest rank-normalised split R-hat (``arviz.rhat(..., method="rank")``;
        Vehtari et al. 2021). NaN for fewer than 2 chains or 4 draws, or a NaN draw.
    ess_bulk_min : float
        Smallest bulk effective sample size (``arviz.ess(..., method="bulk")``).
    ess_tail_min : float
        Smallest tail effective sample size, the smaller of the ESS of the 5 % and
        95 % quantiles (``arviz.ess(..., method="tail")``).

    Notes
    -----
    For a 2-D array ``arviz.rhat`` and ``arviz.ess`` call ArviZ's array functions
    directly (no xarray wrapping). The extremes are taken with Python's ``max`` and
    ``min`` in the order of ``draws``, so a NaN counts only when it comes first.
    """
    import arviz as az

    rhat = max(float(az.rhat(x, method="rank")) for x in draws.values())
    ess_bulk = min(float(az.ess(x, method="bulk")) for x in draws.values())
    ess_tail = min(float(az.ess(x, method="tail")) for x in draws.values())
    return rhat, ess_bulk, ess_tail


def posterior_summary(
    draws: dict[str, np.ndarray],
    truth: dict[str, float],
    levels: Sequence[float],
) -> dict[str, float]:
    """Point estimates, sd, central intervals and CDF at the truth from posterior draws.

    Parameters
    ----------
    draws : dict of str to numpy.ndarray
        Draws of each parameter, any shape (chains x draws is flattened).
    truth : dict of str to float
        True value of each parameter.
    levels : sequence of float
        Levels of the central intervals.

    Returns
    -------
    dict
        ``{p}_est`` (posterior mean), ``{p}_median``, ``{p}_sd``, ``{p}_cdf_true`` (share
        of draws <= truth), ``{p}_mcse`` (Monte Carlo standard error of the mean,
        ``arviz.mcse``), the interval bounds of each level and, for every pair of
        parameters, ``corr_{p}_{q}`` (correlation of their draws).
    """
    out: dict[str, float] = {}
    flat = {}
    for p, x in draws.items():
        x = np.asarray(x, dtype=float)
        # Monte Carlo standard error of the mean, from the (chains, draws) array.
        out[f"{p}_mcse"] = mcse_mean(np.atleast_2d(x))
        x = flat[p] = x.ravel()
        out[f"{p}_est"] = float(np.mean(x))
        out[f"{p}_median"] = float(np.median(x))
        out[f"{p}_sd"] = float(np.std(x, ddof=1))
        out[f"{p}_cdf_true"] = float(np.mean(x <= truth[p]))
        for level in levels:
            lo, hi = interval_columns(p, level)
            q = np.quantile(x, [(1 - level) / 2, (1 + level) / 2])
            out[lo] = float(q[0])
            out[hi] = float(q[1])
    names = list(flat)
    for i, p in enumerate(names):
        for q in names[i + 1 :]:
            out[corr_column(p, q)] = _pearson(flat[p], flat[q])
    return out


def mcse_mean(draws: ArrayLike) -> float:
    """Monte Carlo standard error of the mean of posterior draws (ArviZ).

    Parameters
    ----------
    draws : array_like, shape (chains, draws)
        Draws of one parameter. The chains must be kept apart (ArviZ splits them
        and estimates the autocorrelation within each), so a flattened 1-d array is
        refused.

    Returns
    -------
    float
        ``arviz.mcse(draws, method="mean")``: the sd of the draws over the square root
        of the effective sample size of their mean.
    """
    import arviz as az

    x = np.asarray(draws, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"draws must have shape (chains, draws), got shape {x.shape}")
    return float(np.asarray(az.mcse(x, method="mean")).item())


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two samples; NaN if either is constant."""
    da, db = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((da @ da) * (db @ db)))
    return float((da @ db) / denom) if denom > 0 else float("nan")


_STATS = ("rhat_max", "ess_bulk_min", "ess_tail_min", "divergences", "seconds", "compile_seconds")


def save_fits(path: str | os.PathLike[str], fits: Sequence[PosteriorFit]) -> None:
    """Write posterior fits to one ``.npz`` file, all draws exactly (float64).

    The file is written next to ``path`` and renamed into place, so a reader (or a
    rerun after the process was killed) never sees half a file.

    Parameters
    ----------
    path : path-like
        Target file (``.npz``).
    fits : sequence of PosteriorFit
        Fits with integer keys (replicate numbers); failed fits (``error`` set, no
        draws) are stored with NaN draws and their error text.

    Raises
    ------
    ValueError
        If the fits do not all have the same parameters and draws shape.
    """
    path = Path(path)
    params = next((list(f.draws) for f in fits if f.draws), [])
    shape = next((np.shape(f.draws[params[0]]) for f in fits if f.draws), (0, 0))
    arrays: dict[str, np.ndarray] = {
        "key": np.array([int(f.key) for f in fits], dtype=np.int64),
        "params": np.array(params, dtype=str),
        "error": np.array([f.error for f in fits], dtype=str),
    }
    for p in params:
        stacked = np.full((len(fits), *shape), np.nan)
        for i, fit in enumerate(fits):
            if fit.draws:
                if list(fit.draws) != params or np.shape(fit.draws[p]) != shape:
                    raise ValueError(
                        f"fit {fit.key} has draws {[np.shape(x) for x in fit.draws.values()]} "
                        f"of {list(fit.draws)}, the first fit {shape} of {params}"
                    )
                stacked[i] = fit.draws[p]
        arrays[f"draws_{p}"] = stacked
    for name in _STATS:
        arrays[name] = np.array([getattr(f, name) for f in fits], dtype=float)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)  # float draws barely compress; writing is 10x faster
    os.replace(tmp, path)


def load_fits(path: str | os.PathLike[str]) -> list[PosteriorFit]:
    """Read the fits written by :func:`save_fits`, in the same order.

    Parameters
    ----------
    path : path-like
        A file written by :func:`save_fits`.

    Returns
    -------
    list of PosteriorFit
        Equal to the fits saved: the same keys, draws (bit for bit), diagnostics and
        errors; divergences are integers again.
    """
    with np.load(path, allow_pickle=False) as npz:
        params = [str(p) for p in npz["params"]]
        draws = {p: npz[f"draws_{p}"] for p in params}
        stats = {name: npz[name] for name in _STATS}
        keys, errors = npz["key"], npz["error"]
        fits = []
        for i, key in enumerate(keys):
            error = str(errors[i])
            values = {name: float(stats[name][i]) for name in _STATS}
            if not np.isnan(values["divergences"]):
                values["divergences"] = int(values["divergences"])
            fits.append(
                PosteriorFit(
                    key=int(key),
                    draws={} if error else {p: draws[p][i] for p in params},
                    error=error,
                    **values,
                )
            )
    return fits
