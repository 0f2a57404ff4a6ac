"""Maximum-likelihood fits with Wald intervals on the unconstrained scale.

The optimiser works on ``u = logit(alpha)`` and ``v = log(beta)`` with the exact
gradient from :func:`rlrecover.model.loglik_grad`. Several starting points (the
first fixed, the rest drawn from the caller's generator) guard against local optima.
Intervals come from the Hessian of the negative log-likelihood in (u, v), computed
by central differences of the exact gradient, and are mapped back to (alpha, beta),
so they always respect the parameter bounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

from rlrecover import model

__all__ = ["U_BOUND", "V_BOUNDS", "MLEResult", "fit_mle"]

#: |logit(alpha)| is kept below this (alpha in about [6e-6, 1 - 6e-6]).
U_BOUND = 12.0
#: log(beta) is kept in this range (beta in [1e-3, 1e3]).
V_BOUNDS = (math.log(1e-3), math.log(1e3))
_AT_BOUND_TOL = 1e-3
_HESS_STEP = 1e-5


@dataclass
class MLEResult:
    """Outcome of :func:`fit_mle`.

    Attributes
    ----------
    alpha, beta : float
        The estimate.
    nll : float
        Negative log-likelihood at the estimate.
    converged : bool
        The optimiser reported success for the best start.
    at_bound : bool
        The estimate sits at a bound of the unconstrained box (alpha near 0 or 1,
        beta near 1e-3 or 1e3): its Wald interval is not trustworthy.
    se_u, se_v : float
        Standard errors of logit(alpha) and log(beta); NaN when the Hessian is not
        positive definite.
    intervals : dict
        ``{(param, level): (lower, upper)}``.
    cdf_true : dict
        Wald equivalent of the posterior CDF at the truth, when a truth is given.
    message : str
        The optimiser's message, or why the intervals are missing.
    n_starts : int
        Starting points tried.
    """

    alpha: float
    beta: float
    nll: float
    converged: bool
    at_bound: bool
    se_u: float
    se_v: float
    intervals: dict[tuple[str, float], tuple[float, float]] = field(default_factory=dict)
    cdf_true: dict[str, float] = field(default_factory=dict)
    message: str = ""
    n_starts: int = 1


def _objective(x: np.ndarray, actions, rewards, q_init) -> tuple[float, np.ndarray]:
    u, v = float(x[0]), float(x[1])
    alpha = special.expit(u)
    beta = math.exp(v)
    g = np.empty(2)
    ll = model._loglik_grad_kernel(alpha, beta, actions, rewards, q_init, g)
    # chain rule: d alpha / du = alpha (1 - alpha), d beta / dv = beta
    return -ll, np.array([-g[0] * alpha * (1.0 - alpha), -g[1] * beta])


def _hessian(x: np.ndarray, actions, rewards, q_init) -> np.ndarray:
    h = np.empty((2, 2))
    for i in range(2):
        step = np.zeros(2)
        step[i] = _HESS_STEP
        gp = _objective(x + step, actions, rewards, q_init)[1]
        gm = _objective(x - step, actions, rewards, q_init)[1]
        h[:, i] = (gp - gm) / (2 * _HESS_STEP)
    return 0.5 * (h + h.T)


def _starts(n_starts: int, rng: np.random.Generator) -> list[np.ndarray]:
    # First start: the middle of the alpha range and a moderate beta.
    starts = [np.array([0.0, math.log(3.0)])]
    for _ in range(n_starts - 1):
        alpha = rng.uniform(0.05, 0.95)
        beta = math.exp(rng.uniform(math.log(0.3), math.log(30.0)))
        starts.append(np.array([special.logit(alpha), math.log(beta)]))
    return starts


def fit_mle(
    actions: np.ndarray,
    rewards: np.ndarray,
    *,
    q_init: float = 0.5,
    n_starts: int = 5,
    method: str = "L-BFGS-B",
    levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95),
    rng: np.random.Generator,
    truth: dict[str, float] | None = None,
) -> MLEResult:
    """Maximum-likelihood estimate of (alpha, beta) with Wald intervals.

    Parameters
    ----------
    actions, rewards : numpy.ndarray
        One dataset.
    q_init : float, default 0.5
        Initial Q value.
    n_starts : int, default 5
        Starting points; the first is fixed (alpha 0.5, beta 3), the others drawn
        from ``rng``.
    method : {"L-BFGS-B", "BFGS"}
        ``scipy.optimize.minimize`` method. L-BFGS-B keeps the search inside the
        unconstrained box; BFGS runs unbounded and its result is clipped to the box.
    levels : sequence of float
        Levels of the Wald intervals.
    rng : numpy.random.Generator
        Source of the random starting points.
    truth : dict, optional
        ``{"alpha": ..., "beta": ...}``; when given, ``cdf_true`` holds the
        approximate posterior CDF at the truth.

    Returns
    -------
    MLEResult
    """
    if int(n_starts) != n_starts or n_starts < 1:
        raise ValueError(f"n_starts must be an integer >= 1, got {n_starts!r}")
    if method not in ("L-BFGS-B", "BFGS"):
        raise ValueError(f"MLE method must be 'L-BFGS-B' or 'BFGS', got {method!r}")
    actions, rewards = model._as_data(actions, rewards)
    q_init = float(q_init)
    box = [(-U_BOUND, U_BOUND), V_BOUNDS]
    best = None
    for x0 in _starts(int(n_starts), rng):
        res = optimize.minimize(
            _objective,
            x0,
            args=(actions, rewards, q_init),
            jac=True,
            method=method,
            bounds=box if method == "L-BFGS-B" else None,
        )
        if best is None or (np.isfinite(res.fun) and res.fun < best.fun):
            best = res
    x = np.array(
        [np.clip(best.x[0], -U_BOUND, U_BOUND), np.clip(best.x[1], *V_BOUNDS)], dtype=float
    )
    nll = float(_objective(x, actions, rewards, q_init)[0])
    at_bound = bool(
        abs(abs(x[0]) - U_BOUND) < _AT_BOUND_TOL
        or min(abs(x[1] - V_BOUNDS[0]), abs(x[1] - V_BOUNDS[1])) < _AT_BOUND_TOL
    )
    alpha = float(special.expit(x[0]))
    beta = float(math.exp(x[1]))
    message = str(best.message)

    se_u = se_v = math.nan
    hess = _hessian(x, actions, rewards, q_init)
    try:
        np.linalg.cholesky(hess)
        cov = np.linalg.inv(hess)
        se_u, se_v = math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])
    except np.linalg.LinAlgError:
        message += "; Hessian not positive definite: no Wald intervals"

    out = MLEResult(
        alpha=alpha,
        beta=beta,
        nll=nll,
        converged=bool(best.success),
        at_bound=at_bound,
        se_u=se_u,
        se_v=se_v,
        message=message,
        n_starts=int(n_starts),
    )
    for level in levels:
        z = float(stats.norm.ppf(0.5 + level / 2))
        out.intervals[("alpha", level)] = (
            float(special.expit(x[0] - z * se_u)),
            float(special.expit(x[0] + z * se_u)),
        )
        with np.errstate(over="ignore"):  # a flat direction gives an unbounded interval
            out.intervals[("beta", level)] = (
                float(np.exp(x[1] - z * se_v)),
                float(np.exp(x[1] + z * se_v)),
            )
    if truth is not None:
        with np.errstate(divide="ignore"):
            u_true = special.logit(truth["alpha"])
            v_true = np.log(truth["beta"]) if truth["beta"] > 0 else -np.inf
        out.cdf_true["alpha"] = float(stats.norm.cdf((u_true - x[0]) / se_u))
        out.cdf_true["beta"] = float(stats.norm.cdf((v_true - x[1]) / se_v))
    return out


def delta_sd(result: MLEResult) -> dict[str, float]:
    """Standard errors of alpha and beta on their natural scale (delta method).

    Parameters
    ----------
    result : MLEResult

    Returns
    -------
    dict
        ``{"alpha": se, "beta": se}``.
    """
    return {
        "alpha": result.se_u * result.alpha * (1.0 - result.alpha),
        "beta": result.se_v * result.beta,
    }
