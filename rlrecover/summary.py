"""One summary row per fit, with the same columns for every method.

This module fixes the layout of ``results/recovery.tsv``. Columns that do not apply
to a method (R-hat for maximum likelihood, say) are left empty (NaN).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "METHODS",
    "PARAMS",
    "empty_row",
    "interval_columns",
    "level_label",
    "posterior_summary",
    "summary_columns",
]

PARAMS: tuple[str, str] = ("alpha", "beta")
METHODS: tuple[str, ...] = ("mle", "pymc_potential", "pymc_bernoulli")


def level_label(level: float) -> str:
    """Column label of a nominal level in percent: 0.9 -> ``"90"``, 0.975 -> ``"97.5"``.

    Parameters
    ----------
    level : float
        Nominal level in (0, 1).

    Returns
    -------
    str
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"coverage level must lie in (0, 1), got {level!r}")
    return f"{round(100 * level, 6):g}"


def interval_columns(param: str, level: float) -> tuple[str, str]:
    """Names of the lower and upper bound columns of ``param`` at ``level``."""
    lab = level_label(level)
    return f"{param}_lower_{lab}", f"{param}_upper_{lab}"


def summary_columns(levels: Sequence[float]) -> list[str]:
    """All columns of a summary row, in order.

    Parameters
    ----------
    levels : sequence of float
        Configured coverage levels.

    Returns
    -------
    list of str
    """
    cols = [
        "method",
        "cell",
        "alpha_true",
        "beta_true",
        "replicate",
        "n_trials",
        "alpha_est",
        "beta_est",
        "alpha_median",
        "beta_median",
        "alpha_sd",
        "beta_sd",
        "alpha_cdf_true",
        "beta_cdf_true",
    ]
    for level in levels:
        for p in PARAMS:
            cols.extend(interval_columns(p, level))
    cols += [
        "nll",
        "converged",
        "at_bound",
        "rhat_max",
        "ess_bulk_min",
        "ess_tail_min",
        "divergences",
        "status",
        "error",
        "seconds",
    ]
    return cols


def empty_row(
    levels: Sequence[float],
    method: str,
    alpha_true: float,
    beta_true: float,
    replicate: int,
    n_trials: int,
) -> dict[str, object]:
    """A summary row with identity columns filled and every estimate NaN.

    Parameters
    ----------
    levels : sequence of float
        Configured coverage levels.
    method : str
        One of :data:`METHODS`.
    alpha_true, beta_true : float
        True values of the cell.
    replicate : int
        Replicate number.
    n_trials : int
        Number of trials in the dataset.

    Returns
    -------
    dict
    """
    from rlrecover.seeds import format_value

    row: dict[str, object] = dict.fromkeys(summary_columns(levels), np.nan)
    row.update(
        method=method,
        cell=f"alpha~{format_value(alpha_true)}/beta~{format_value(beta_true)}",
        alpha_true=float(alpha_true),
        beta_true=float(beta_true),
        replicate=int(replicate),
        n_trials=int(n_trials),
        status="ok",
        error="",
    )
    return row


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
        of draws <= truth) and the interval bounds of each level.
    """
    out: dict[str, float] = {}
    for p, x in draws.items():
        x = np.asarray(x, dtype=float).ravel()
        out[f"{p}_est"] = float(np.mean(x))
        out[f"{p}_median"] = float(np.median(x))
        out[f"{p}_sd"] = float(np.std(x, ddof=1))
        out[f"{p}_cdf_true"] = float(np.mean(x <= truth[p]))
        for level in levels:
            lo, hi = interval_columns(p, level)
            q = np.quantile(x, [(1 - level) / 2, (1 + level) / 2])
            out[lo] = float(q[0])
            out[hi] = float(q[1])
    return out
