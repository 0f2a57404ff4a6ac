"""Maximum-likelihood fits with Wald intervals on the unconstrained scale.

The optimiser works on each parameter's free value (``logit`` of a parameter in
[0, 1], ``log`` of a positive one: :attr:`rlrecover.models.base.Param.transform`)
with the exact gradient of the model's likelihood kernel. Several starting points
(the model's fixed first start, the rest drawn from the caller's generator) guard
against local optima. Intervals come from the Hessian of the negative log-likelihood
on the free scale, computed by central differences of the exact gradient, and are
mapped back, so they always respect the parameter bounds.

A fit's Wald intervals are only used when its standard errors are usable
(:func:`usability`): every standard error on the free scale finite (the Hessian
positive definite) and no larger than the width of that parameter's free search box.
A larger one means that, to second order, the log-likelihood changes by less than
1/2 across the whole box the optimiser searches: even the 68 % Wald interval
(estimate +- 1 SE) contains the entire box, wherever in it the estimate lies, so the
data say nothing about the parameter within the range considered. The boxes are
logit in [-12, 12] (width 24) for a parameter in [0, 1] and log in
[log 1e-3, log 1e3] (width 13.8, six orders of magnitude) for a positive one
(:attr:`rlrecover.models.base.Param.mle_box`). Such a fit gets status
:data:`STATUS_UNUSABLE_SE` (its finite estimate is kept, its intervals are not); a
fit whose estimate or negative log-likelihood is not finite gets
:data:`STATUS_NONFINITE`.

Nothing here names a model's parameters: they come from the :class:`Model` record.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

from rlrecover.models.base import Model, as_data

__all__ = [
    "STATUS_NONFINITE",
    "STATUS_UNUSABLE_SE",
    "MLEResult",
    "delta_sd",
    "fit_mle",
    "usability",
]

#: Status of a fit whose estimate is finite but whose standard errors are not usable
#: (not finite, Hessian not positive definite, or larger than the free box is wide):
#: its estimate counts in error metrics, its intervals and CDF at the truth do not.
STATUS_UNUSABLE_SE = "unusable_se"
#: Status of a fit whose estimate (or negative log-likelihood) is not finite: nothing
#: of it is used.
STATUS_NONFINITE = "nonfinite"

_AT_BOUND_TOL = 1e-3
_HESS_STEP = 1e-5


@dataclass
class MLEResult:
    """Outcome of :func:`fit_mle`.

    Attributes
    ----------
    estimate : dict of str to float
        The estimate of each parameter.
    nll : float
        Negative log-likelihood at the estimate.
    converged : bool
        The optimiser reported success for the best start.
    at_bound : bool
        The estimate sits at a bound of the free box (a rate within about 6e-6 of 0
        or 1, an inverse temperature near 1e-3 or 1e3): its Wald interval is not
        trustworthy.
    se_free : dict of str to float
        Standard errors on the free scale; NaN when the Hessian is not positive
        definite.
    corr : dict of (str, str) to float
        Wald correlation of every pair of parameters ``(p, q)``, ``p`` before ``q``
        (empty for one parameter; NaN without a positive definite Hessian).
    intervals : dict
        ``{(param, level): (lower, upper)}``.
    cdf_true : dict
        Wald equivalent of the posterior CDF at the truth, when a truth is given.
    message : str
        The optimiser's message, or why the intervals are missing.
    n_starts : int
        Starting points tried.
    hessian_pd : bool
        The Hessian at the estimate is positive definite.
    status : str
        ``"ok"``, :data:`STATUS_UNUSABLE_SE` or :data:`STATUS_NONFINITE`
        (:func:`usability`).
    problem : str
        Why the status is not ok (``""`` when it is).
    """

    estimate: dict[str, float]
    nll: float
    converged: bool
    at_bound: bool
    se_free: dict[str, float]
    corr: dict[tuple[str, str], float] = field(default_factory=dict)
    intervals: dict[tuple[str, float], tuple[float, float]] = field(default_factory=dict)
    cdf_true: dict[str, float] = field(default_factory=dict)
    message: str = ""
    n_starts: int = 1
    hessian_pd: bool = True
    status: str = "ok"
    problem: str = ""


class _Problem:
    """The negative log-likelihood of one dataset on the free scale.

    The optimiser calls :meth:`objective` dozens of times per start, so its Python
    overhead is kept to a few list operations on plain floats.
    """

    def __init__(self, model: Model, actions, rewards, consts):
        self.kernel = model.kernels.loglik_grad
        self.params = model.param_names
        self.transforms = [p.transform for p in model.params]
        self.bounds = [p.mle_box for p in model.params]
        self.actions = actions
        self.rewards = rewards
        self.consts = consts
        self._from_free = [t.from_free for t in self.transforms]
        self._chain = [t.chain for t in self.transforms]

    def objective(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        theta = [f(v) for f, v in zip(self._from_free, x.tolist(), strict=True)]
        g = np.empty(len(theta))
        ll = self.kernel(*theta, self.actions, self.rewards, *self.consts, g)
        grad = [c(-gi, th) for c, gi, th in zip(self._chain, g.tolist(), theta, strict=True)]
        return -ll, np.array(grad)

    def hessian(self, x: np.ndarray) -> np.ndarray:
        k = len(x)
        h = np.empty((k, k))
        for i in range(k):
            step = np.zeros(k)
            step[i] = _HESS_STEP
            gp = self.objective(x + step)[1]
            gm = self.objective(x - step)[1]
            h[:, i] = (gp - gm) / (2 * _HESS_STEP)
        return 0.5 * (h + h.T)

    def to_free(self, theta: dict[str, float]) -> np.ndarray:
        return np.array(
            [t.to_free(theta[p]) for p, t in zip(self.params, self.transforms, strict=True)]
        )


def fit_mle(
    actions: np.ndarray,
    rewards: np.ndarray,
    *,
    consts: tuple[float, ...],
    n_starts: int,
    method: str,
    levels: Sequence[float],
    rng: np.random.Generator,
    truth: dict[str, float] | None = None,
    model: Model,
) -> MLEResult:
    """Maximum-likelihood estimate with Wald intervals.

    Parameters
    ----------
    actions, rewards : numpy.ndarray
        One dataset.
    consts : tuple of float
        The model's constants, in its order (``(q_init,)`` for ``rw``).
    n_starts : int
        Starting points; the first is the model's :meth:`Model.mle_first_start`, the
        others drawn from ``rng`` by :meth:`Model.mle_start`.
    method : {"L-BFGS-B", "BFGS"}
        ``scipy.optimize.minimize`` method. L-BFGS-B keeps the search inside the free
        box; BFGS runs unbounded and its result is clipped to the box.
    levels : sequence of float
        Levels of the Wald intervals.
    rng : numpy.random.Generator
        Source of the random starting points.
    truth : dict, optional
        True value of each parameter; when given, ``cdf_true`` holds the approximate
        posterior CDF at the truth.
    model : Model
        The learning model.

    Returns
    -------
    MLEResult
    """
    if int(n_starts) != n_starts or n_starts < 1:
        raise ValueError(f"n_starts must be an integer >= 1, got {n_starts!r}")
    if method not in ("L-BFGS-B", "BFGS"):
        raise ValueError(f"MLE method must be 'L-BFGS-B' or 'BFGS', got {method!r}")
    actions, rewards = as_data(actions, rewards)
    problem = _Problem(model, actions, rewards, tuple(float(c) for c in consts))
    starts = [problem.to_free(model.mle_first_start())]
    starts += [problem.to_free(model.mle_start(rng)) for _ in range(int(n_starts) - 1)]
    best = None
    for x0 in starts:
        res = optimize.minimize(
            problem.objective,
            x0,
            jac=True,
            method=method,
            bounds=problem.bounds if method == "L-BFGS-B" else None,
        )
        if best is None or (np.isfinite(res.fun) and res.fun < best.fun):
            best = res
    x = np.array([np.clip(xi, *b) for xi, b in zip(best.x, problem.bounds, strict=True)])
    nll = float(problem.objective(x)[0])
    at_bound = any(
        min(abs(xi - lo), abs(xi - hi)) < _AT_BOUND_TOL
        for xi, (lo, hi) in zip(x, problem.bounds, strict=True)
    )
    params = problem.params
    transforms = problem.transforms
    estimate = {
        p: float(t.from_free(x[i]))
        for i, (p, t) in enumerate(zip(params, transforms, strict=True))
    }
    message = str(best.message)

    se = np.full(len(params), math.nan)
    corr = {(p, q): math.nan for i, p in enumerate(params) for q in params[i + 1 :]}
    hessian_pd = True
    hess = problem.hessian(x)
    try:
        np.linalg.cholesky(hess)
        cov = np.linalg.inv(hess)
        if not np.all(cov.diagonal() > 0.0):
            # Positive definite to rounding only: a Hessian of subnormal numbers (a flat
            # optimum at the box's edge, e.g. every choice the same) passes Cholesky but
            # its inverse overflows to -inf or NaN variances.
            raise np.linalg.LinAlgError("Hessian numerically singular")
        se = np.array([math.sqrt(cov[i, i]) for i in range(len(params))])
        # The delta method's Jacobian is diagonal and positive, so the correlations
        # on the natural scale equal those on the free scale.
        for i, p in enumerate(params):
            for j in range(i + 1, len(params)):
                corr[(p, params[j])] = float(cov[i, j] / (se[i] * se[j]))
    except np.linalg.LinAlgError:
        hessian_pd = False
        message += "; Hessian not positive definite: no Wald intervals"

    out = MLEResult(
        estimate=estimate,
        nll=nll,
        converged=bool(best.success),
        at_bound=bool(at_bound),
        se_free={p: float(se[i]) for i, p in enumerate(params)},
        corr=corr,
        message=message,
        n_starts=int(n_starts),
        hessian_pd=hessian_pd,
    )
    for level in levels:
        z = float(stats.norm.ppf(0.5 + level / 2))
        for i, (p, t) in enumerate(zip(params, transforms, strict=True)):
            out.intervals[(p, level)] = (
                float(t.from_free_np(x[i] - z * se[i])),
                float(t.from_free_np(x[i] + z * se[i])),
            )
    if truth is not None:
        for i, (p, t) in enumerate(zip(params, transforms, strict=True)):
            out.cdf_true[p] = float(stats.norm.cdf((t.to_free_np(truth[p]) - x[i]) / se[i]))
    out.status, out.problem = usability(out, model)
    return out


def _free_name(model: Model, param: str) -> str:
    return f"{model.param(param).transform.name}({param})"


def usability(result: MLEResult, model: Model) -> tuple[str, str]:
    """Whether a fit's estimate and Wald intervals can be used, and why not.

    The checks, in this order (every failing one is named in the reason):

    1. :data:`STATUS_NONFINITE` when an estimate or the negative log-likelihood is
       not finite.
    2. :data:`STATUS_UNUSABLE_SE` when a standard error on the free scale is not
       finite (in particular when the Hessian is not positive definite), when it is
       larger than the width ``hi - lo`` of that parameter's free search box
       (:attr:`Param.mle_box`), or when an interval bound or CDF value is not finite.

    The bound on the standard error is the "absurd" line: with ``se > hi - lo`` the
    quadratic approximation of the log-likelihood drops by less than 1/2 across the
    whole box, and the 68 % Wald interval (estimate +- 1 SE) covers the entire box
    wherever the estimate lies in it, so every interval at a usual level says no more
    than "somewhere in the allowed range" (alpha in [0, 1], beta over six orders of
    magnitude and beyond). Such intervals would count as covering the truth without
    carrying information. The line depends neither on the coverage levels nor on the
    truth.

    Parameters
    ----------
    result : MLEResult
        A fit (its ``estimate``, ``nll``, ``se_free``, ``intervals``, ``cdf_true``).
    model : Model
        The learning model that was fitted.

    Returns
    -------
    hessian_pd : bool
        The Hessian at the estimate is positive definite.
    status : str
        ``"ok"``, :data:`STATUS_UNUSABLE_SE` or :data:`STATUS_NONFINITE`.
    problem : str
        The reasons, joined with ``"; "``; ``""`` when ok.
    """
    params = list(model.param_names)
    bad_est = [p for p in params if not math.isfinite(result.estimate.get(p, math.nan))]
    if bad_est or not math.isfinite(result.nll):
        why = [f"estimate of {p} not finite" for p in bad_est]
        if not math.isfinite(result.nll):
            why.append(f"negative log-likelihood {result.nll!r}")
        return STATUS_NONFINITE, "; ".join(why)
    why = []
    for p in params:
        se = result.se_free.get(p, math.nan)
        lo, hi = model.param(p).mle_box
        name = _free_name(model, p)
        if not math.isfinite(se):
            why.append(f"SE of {name} not finite")
        elif se > hi - lo:
            why.append(
                f"SE of {name} {se:.3g} > {hi - lo:.3g}, the width of its search box "
                f"[{lo:.3g}, {hi:.3g}]"
            )
    if not result.hessian_pd:
        why = ["Hessian not positive definite"]
    if not why:
        bad_int = sorted(
            {p for (p, _), bounds in result.intervals.items() if not np.all(np.isfinite(bounds))}
        )
        bad_cdf = [p for p, c in result.cdf_true.items() if not math.isfinite(c)]
        why += [f"Wald interval of {p} not finite" for p in bad_int]
        why += [f"CDF at the truth of {p} not finite" for p in bad_cdf]
    if why:
        return STATUS_UNUSABLE_SE, "; ".join(why)
    return "ok", ""


def delta_sd(result: MLEResult, model: Model) -> dict[str, float]:
    """Standard errors of the parameters on their natural scale (delta method).

    Parameters
    ----------
    result : MLEResult
    model : Model
        The learning model that was fitted.

    Returns
    -------
    dict
        Standard error of each parameter.
    """
    return {
        p.name: p.transform.chain(result.se_free[p.name], result.estimate[p.name])
        for p in model.params
    }
