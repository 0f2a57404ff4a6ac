"""Convergence diagnostics of a fit through ArviZ's public API.

:func:`posterior_diagnostics` replaces ``rlrecover.bayes._diagnostics``, which calls
the private ``arviz.stats.diagnostics._rhat_rank``, ``_ess_bulk`` and ``_ess_tail``.
For a 2-D NumPy array, ``arviz.rhat`` and ``arviz.ess`` (arviz 0.23) skip the
conversion to xarray and call those same functions, so the values are bit-identical
and the public wrapper adds only ~7 µs per fit (two parameters, three diagnostics
each). To be merged into :mod:`rlrecover.bayes`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["posterior_diagnostics"]


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
    The extremes are taken with Python's ``max`` and ``min`` in the order of
    ``draws``, as before, so a NaN counts only when it comes first.
    """
    import arviz as az

    rhat = max(float(az.rhat(x, method="rank")) for x in draws.values())
    ess_bulk = min(float(az.ess(x, method="bulk")) for x in draws.values())
    ess_tail = min(float(az.ess(x, method="tail")) for x in draws.values())
    return rhat, ess_bulk, ess_tail
