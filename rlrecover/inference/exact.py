"""The exact posterior of the Q-learning model on a grid, to check MCMC against.

The model has two parameters, so its posterior can be integrated numerically, to an
accuracy that is measured, instead of sampled. Everything is computed on the free
scale that NUTS samples, ``u = logit(alpha)`` and ``v = log(beta)``, where the
posterior density (prior, likelihood and Jacobian, :meth:`Priors.logpdf_free`) is
smooth and vanishes towards every edge, even when the posterior of alpha piles up at
0 or 1 or that of beta at 0.

Method
------
1. **Box.** A coarse grid over a box from the priors' ``1e-12`` quantiles is narrowed
   (or widened, when the posterior reaches an edge) to the bounding box of the points
   where the log posterior density is within ``cut`` (default 30) of its maximum,
   until the box stops shrinking. Outside it the density is below ``e^-30`` of its
   peak and its tails decay at least exponentially, so the mass left out is
   negligible; the largest log density on the final box's edge (relative to the
   peak) is reported.
2. **Grid.** A uniform grid on that box, at least 65 nodes per axis, with
   ``points_per_sd`` (2.5) nodes per conditional posterior sd at the mode along each
   axis; the sds come from the curvature of the log density at the mode (found by
   Newton's method from the coarse grid's peak), which sees peaks narrower than the
   coarse grid's spacing. The
   rectangle rule on a uniform grid converges exponentially fast for a smooth
   integrand that vanishes at the edges, so means and sds are accurate far beyond
   what the grid's spacing suggests.
3. **Marginal CDF.** The marginal density on the free scale is interpolated between
   grid nodes by a cubic spline of its logarithm (exact for Gaussian and exponential
   shapes, positive, so the CDF is monotone), integrated within the cell by
   16-point Gauss-Legendre, and normalised by its own total.
4. **Accuracy check.** Every result is computed again from every second grid node
   (the grid with twice the spacing, same box). The largest change of a mean or sd
   (in units of the sd) or of a CDF value (at the truth and at every node of the
   grid) is reported; while it exceeds ``tol`` the spacing is halved along the axis
   that needs it. The change estimates the error of the coarser grid; the error of
   the grid whose results are reported is smaller still (by orders of magnitude for
   the means and sds, by about 16 for the CDF: the spline's error goes as the
   spacing to the fourth power).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import CubicSpline
from scipy.optimize import brentq
from scipy.special import expit, logsumexp

from rlrecover.qlearning import PARAMS, Priors, as_data, loglik_grid_kernel

__all__ = [
    "ExactPosterior",
    "Marginal",
    "compare_with_mcmc",
    "exact_posterior",
    "log_posterior_free",
    "mcse_mean",
]

#: The free (unconstrained) scale of each parameter: the transform PyMC samples.
FREE_SCALE: dict[str, str] = {"alpha": "logit", "beta": "log"}

#: Fewest nodes per axis of the integration grid (odd).
_N_MIN = 65
#: Prior quantile that bounds the first, wide box.
_WIDE_QUANTILE = 1e-12
#: The box is never widened beyond these free values (alpha within ~1e-304 of 0 or
#: 1, beta between ~1e-304 and far beyond any prior's reach).
_U_LIMIT = 700.0
_V_LIMITS = (-700.0, 50.0)

_GL_T, _GL_W = np.polynomial.legendre.leggauss(16)


def _to_free(param: str, x: ArrayLike) -> np.ndarray:
    """Free values of natural values ``x``; +-inf at and beyond the support's edges."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if FREE_SCALE[param] == "logit":
            u = np.log(x) - np.log1p(-x)
            u = np.where(x <= 0.0, -np.inf, np.where(x >= 1.0, np.inf, u))
        else:
            u = np.where(x <= 0.0, -np.inf, np.log(x))
    return np.where(np.isnan(x), np.nan, u)


def _to_natural(param: str, u: ArrayLike) -> np.ndarray:
    u = np.asarray(u, dtype=np.float64)
    return expit(u) if FREE_SCALE[param] == "logit" else np.exp(u)


@dataclass(frozen=True)
class Marginal:
    """The marginal posterior of one parameter, interpolated between grid nodes.

    Attributes
    ----------
    param : str
        Parameter name.
    nodes : numpy.ndarray
        Equally spaced free values (``logit(alpha)`` or ``log(beta)``).
    log_density : numpy.ndarray
        Log marginal posterior density of the free value at ``nodes`` (normalised by
        the rectangle rule: ``step * sum(exp(log_density)) == 1``).
    """

    param: str
    nodes: np.ndarray
    log_density: np.ndarray
    _spline: CubicSpline = field(init=False, repr=False, compare=False)
    _cum: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spline = CubicSpline(self.nodes, self.log_density)
        h = self.step
        x = self.nodes[:-1, None] + 0.5 * h * (1.0 + _GL_T[None, :])
        cell = 0.5 * h * (np.exp(spline(x)) @ _GL_W)
        object.__setattr__(self, "_spline", spline)
        object.__setattr__(self, "_cum", np.concatenate([[0.0], np.cumsum(cell)]))

    @property
    def step(self) -> float:
        """Spacing of the nodes."""
        return float(self.nodes[1] - self.nodes[0])

    def _cdf_free(self, u: ArrayLike) -> np.ndarray:
        """The CDF at free values ``u`` (any shape)."""
        u = np.asarray(u, dtype=np.float64)
        nodes, h = self.nodes, self.step
        inner = np.clip(np.nan_to_num(u), nodes[0], nodes[-1])
        i = np.clip(((inner - nodes[0]) / h).astype(np.int64), 0, nodes.shape[0] - 2)
        lo = nodes[i]
        x = lo[..., None] + 0.5 * (inner - lo)[..., None] * (1.0 + _GL_T)
        part = 0.5 * (inner - lo) * (np.exp(self._spline(x)) @ _GL_W)
        out = np.minimum((self._cum[i] + part) / self._cum[-1], 1.0)
        out = np.where(u <= nodes[0], 0.0, np.where(u >= nodes[-1], 1.0, out))
        return np.where(np.isnan(u), np.nan, out)

    def cdf(self, x: ArrayLike) -> float | np.ndarray:
        """Posterior probability that the parameter is <= ``x`` (natural scale).

        Parameters
        ----------
        x : float or array_like
            Values of the parameter (alpha or beta itself, not its free value).

        Returns
        -------
        float or numpy.ndarray
            In [0, 1], non-decreasing in ``x`` (NaN for NaN); a float for a scalar.
        """
        out = self._cdf_free(_to_free(self.param, x))
        return float(out) if out.ndim == 0 else out

    def quantile(self, q: float) -> float:
        """The value ``x`` (natural scale) with ``cdf(x) == q``.

        Parameters
        ----------
        q : float
            Probability in (0, 1).

        Returns
        -------
        float
        """
        if not 0.0 < q < 1.0:
            raise ValueError(f"q must lie in (0, 1), got {q!r}")
        target = q * self._cum[-1]
        i = int(np.searchsorted(self._cum, target, side="right")) - 1
        i = min(max(i, 0), self.nodes.shape[0] - 2)
        lo, hi = self.nodes[i], self.nodes[i + 1]

        def f(u: float) -> float:
            return float(self._cdf_free(u)) - q

        if f(lo) >= 0.0:  # rounding put the quantile on a node
            u = lo
        elif f(hi) <= 0.0:
            u = hi
        else:
            u = brentq(f, lo, hi, xtol=1e-14, rtol=1e-14)
        return float(_to_natural(self.param, u))


@dataclass(frozen=True)
class ExactPosterior:
    """The posterior of (alpha, beta) of one dataset, integrated on a grid.

    Attributes
    ----------
    mean, sd, median : dict of str to float
        Posterior mean, standard deviation and median of each parameter.
    cdf_true : dict of str to float
        Posterior probability that the parameter is <= its true value; NaN when no
        truth was given.
    marginals : dict of str to Marginal
        The marginal of each parameter (for ``cdf`` and ``quantile`` at other values).
    box : dict of str to (float, float)
        The integration box on the free scale (``logit(alpha)``, ``log(beta)``).
    grid_shape : tuple of int
        Nodes of the final grid along (alpha, beta).
    n_evaluations : int
        Likelihood evaluations spent, box search included.
    edge_log_density : float
        Largest log posterior density on the box's edge minus the largest inside it
        (below ``-cut``: the mass outside the box is negligible).
    refinement : dict of str to float
        Change of each result when computed from every second node of the grid
        (twice the spacing): ``{p}_mean`` and ``{p}_sd`` in units of the sd, ``{p}_cdf``
        the largest absolute change of the CDF at the truth and at every grid node.
    refinement_change : float
        The largest value in ``refinement``; it bounds the error of the coarser grid.
    tol : float
        The accuracy asked for.
    converged : bool
        ``refinement_change <= tol`` (the grid was refined until this held or the
        point budget ran out).
    """

    mean: dict[str, float]
    sd: dict[str, float]
    median: dict[str, float]
    cdf_true: dict[str, float]
    marginals: dict[str, Marginal] = field(repr=False)
    box: dict[str, tuple[float, float]]
    grid_shape: tuple[int, int]
    n_evaluations: int
    edge_log_density: float
    refinement: dict[str, float]
    refinement_change: float
    tol: float
    converged: bool

    def cdf(self, param: str, x: ArrayLike) -> float | np.ndarray:
        """Posterior probability that ``param`` is <= ``x``; see :meth:`Marginal.cdf`."""
        return self.marginals[param].cdf(x)

    def quantile(self, param: str, q: float) -> float:
        """The ``q`` quantile of ``param``; see :meth:`Marginal.quantile`."""
        return self.marginals[param].quantile(q)


def log_posterior_free(
    us: ArrayLike,
    vs: ArrayLike,
    actions: np.ndarray,
    rewards: np.ndarray,
    priors: Priors,
    q_init: float = 0.5,
) -> np.ndarray:
    """Unnormalised log posterior density of the free values on a grid.

    Parameters
    ----------
    us, vs : array_like, 1-d
        Values of ``logit(alpha)`` and ``log(beta)``.
    actions, rewards : numpy.ndarray
        One dataset.
    priors : Priors
        The priors.
    q_init : float, default 0.5
        Initial Q value.

    Returns
    -------
    numpy.ndarray, shape (len(us), len(vs))
        Log-likelihood plus :meth:`Priors.logpdf_free`: the log density PyMC's
        ``pm.Potential`` model gives ``(alpha_logodds__, beta_log__)``.
    """
    actions, rewards = as_data(actions, rewards)
    us = np.ascontiguousarray(us, dtype=np.float64)
    vs = np.ascontiguousarray(vs, dtype=np.float64)
    ll = np.empty((us.shape[0], vs.shape[0]))
    loglik_grid_kernel(expit(us), np.exp(vs), actions, rewards, float(q_init), ll)
    return ll + priors.logpdf_free(us[:, None], vs[None, :])


# ------------------------------------------------------------------------------- box


def _wide_box(priors: Priors) -> np.ndarray:
    """Free-scale box between the priors' ``1e-12`` and ``1 - 1e-12`` quantiles."""
    from scipy.stats import beta as beta_dist
    from scipy.stats import halfnorm

    a, b, q = priors.alpha_a, priors.alpha_b, _WIDE_QUANTILE
    lo_alpha = beta_dist.ppf(q, a, b)
    hi_one_minus = beta_dist.ppf(q, b, a)  # 1 - alpha ~ Beta(b, a): no rounding near 1
    u_lo = math.log(lo_alpha) - math.log1p(-lo_alpha)
    u_hi = math.log1p(-hi_one_minus) - math.log(hi_one_minus)
    v_lo = math.log(halfnorm.ppf(q, scale=priors.beta_sigma))
    v_hi = math.log(halfnorm.isf(q, scale=priors.beta_sigma))
    return np.array([[u_lo, u_hi], [v_lo, v_hi]])


def _clip_box(box: np.ndarray) -> np.ndarray:
    box = box.copy()
    box[0] = np.clip(box[0], -_U_LIMIT, _U_LIMIT)
    box[1] = np.clip(box[1], *_V_LIMITS)
    return box


def _find_box(logpost, priors: Priors, cut: float, n: int, max_iter: int = 30):
    """Narrow (or widen) a box to the region within ``cut`` of the peak log density.

    Returns the box, the last coarse grid ``(us, vs, G)`` and the evaluations spent.
    """
    box = _wide_box(priors)
    evaluations = 0
    for _ in range(max_iter):
        axes = [np.linspace(lo, hi, n) for lo, hi in box]
        g = logpost(*axes)
        evaluations += g.size
        inside = g >= g.max() - cut
        new = box.copy()
        moved = False
        for d, keep in enumerate((inside.any(axis=1), inside.any(axis=0))):
            idx = np.flatnonzero(keep)
            first, last = idx[0], idx[-1]
            width = box[d, 1] - box[d, 0]
            # Touching an edge: the posterior may go on beyond it; widen that side.
            if first == 0:
                new[d, 0] = box[d, 0] - width
            else:
                new[d, 0] = axes[d][first - 1]
            if last == n - 1:
                new[d, 1] = box[d, 1] + width
            else:
                new[d, 1] = axes[d][last + 1]
        new = _clip_box(new)
        for d in range(2):
            width = box[d, 1] - box[d, 0]
            grew = new[d, 0] < box[d, 0] or new[d, 1] > box[d, 1]
            # Keep narrowing while the region fills less than half the box.
            if grew or (new[d, 1] - new[d, 0]) < 0.5 * width:
                moved = True
        if not moved:
            return box, (axes[0], axes[1], g), evaluations
        box = new
    return box, (axes[0], axes[1], g), evaluations


def _conditional_sds(us: np.ndarray, vs: np.ndarray, g: np.ndarray) -> tuple[float, float]:
    """Posterior sd of u given v, and of v given u, through the grid's peak.

    Never below half the grid's spacing: a peak narrower than that is not resolved
    here, and the accuracy check refines the grid further.
    """
    i, j = np.unravel_index(np.argmax(g), g.shape)
    out = []
    for x, row in ((us, g[:, j]), (vs, g[i, :])):
        w = np.exp(row - row.max())
        w /= w.sum()
        m = w @ x
        out.append(max(float(math.sqrt(w @ (x - m) ** 2)), 0.5 * (x[1] - x[0])))
    return out[0], out[1]


def _mode_widths(logpost, us: np.ndarray, vs: np.ndarray, g: np.ndarray, max_iter: int = 20):
    """Conditional sds of u and v at the posterior mode, from its curvature.

    Newton's method from the coarse grid's peak, with the gradient and Hessian of the
    log density by central differences on a 3 x 3 stencil. The coarse grid can only
    say that a peak is narrower than its spacing; the curvature says how much.
    Returns ``(sd_u, sd_v, evaluations)``; the sds are None where the curvature is not
    that of a maximum (then the coarse estimate stands).
    """
    i, j = np.unravel_index(np.argmax(g), g.shape)
    u, v = float(us[i]), float(vs[j])
    hu, hv = us[1] - us[0], vs[1] - vs[0]
    du, dv = hu / 4, hv / 4
    evaluations = 0
    for _ in range(max_iter):
        s = logpost(np.array([u - du, u, u + du]), np.array([v - dv, v, v + dv]))
        evaluations += 9
        grad = np.array([(s[2, 1] - s[0, 1]) / (2 * du), (s[1, 2] - s[1, 0]) / (2 * dv)])
        huu = (s[2, 1] - 2 * s[1, 1] + s[0, 1]) / du**2
        hvv = (s[1, 2] - 2 * s[1, 1] + s[1, 0]) / dv**2
        huv = (s[2, 2] - s[2, 0] - s[0, 2] + s[0, 0]) / (4 * du * dv)
        if not (huu < 0 and hvv < 0 and huu * hvv > huv**2):
            return None, None, evaluations
        step = -np.linalg.solve([[huu, huv], [huv, hvv]], grad)
        sd_u, sd_v = 1 / math.sqrt(-huu), 1 / math.sqrt(-hvv)
        # At most a coarse cell per step; differences over a quarter of the width.
        u += float(np.clip(step[0], -hu, hu))
        v += float(np.clip(step[1], -hv, hv))
        du, dv = sd_u / 4, sd_v / 4
        if abs(step[0]) < 1e-3 * sd_u and abs(step[1]) < 1e-3 * sd_v:
            break
    return sd_u, sd_v, evaluations


def _odd_nodes(intervals: float, down: bool = False) -> int:
    """An odd number of nodes, at least ``_N_MIN``, for about ``intervals`` intervals.

    Odd, so that every second node makes the grid of twice the spacing.
    """
    n = max((math.floor if down else math.ceil)(intervals) + 1, _N_MIN)
    if n % 2 == 0:
        n += -1 if down and n > _N_MIN else 1
    return n


# ----------------------------------------------------------------------- integration


@dataclass(frozen=True)
class _GridResult:
    mean: dict[str, float]
    sd: dict[str, float]
    marginals: dict[str, Marginal]


def _integrate(us: np.ndarray, vs: np.ndarray, g: np.ndarray) -> _GridResult:
    """Moments and marginals of the posterior from its log density on a uniform grid."""
    hu, hv = us[1] - us[0], vs[1] - vs[0]
    g = g - g.max()
    log_fu = logsumexp(g, axis=1) + math.log(hv)
    log_fv = logsumexp(g, axis=0) + math.log(hu)
    log_z = logsumexp(log_fu) + math.log(hu)
    mean, sd, marginals = {}, {}, {}
    for p, nodes, log_f, h in (("alpha", us, log_fu, hu), ("beta", vs, log_fv, hv)):
        log_f = log_f - log_z
        w = np.exp(log_f) * h
        x = _to_natural(p, nodes)
        m = float(w @ x)
        mean[p] = m
        sd[p] = float(math.sqrt(w @ (x - m) ** 2))
        marginals[p] = Marginal(p, nodes, log_f)
    return _GridResult(mean, sd, marginals)


def _change(fine: _GridResult, coarse: _GridResult, truth) -> dict[str, float]:
    """How much the results move from a grid to a coarser one (see ExactPosterior)."""
    out = {}
    for p in PARAMS:
        sd = fine.sd[p]
        out[f"{p}_mean"] = abs(fine.mean[p] - coarse.mean[p]) / sd
        out[f"{p}_sd"] = abs(fine.sd[p] - coarse.sd[p]) / sd
        f, c = fine.marginals[p], coarse.marginals[p]
        # The CDFs compared at every node of the finer grid (where the interpolation
        # of the coarser one matters most) and at the truth.
        change = float(np.max(np.abs(f._cdf_free(f.nodes) - c._cdf_free(f.nodes))))
        if truth is not None:
            change = max(change, abs(f.cdf(float(truth[p])) - c.cdf(float(truth[p]))))
        out[f"{p}_cdf"] = change
    return out


def exact_posterior(
    actions: np.ndarray,
    rewards: np.ndarray,
    priors: Priors,
    q_init: float = 0.5,
    truth: Mapping[str, float] | None = None,
    *,
    tol: float = 1e-3,
    cut: float = 30.0,
    points_per_sd: float = 2.5,
    n_coarse: int = 64,
    max_points: int = 1_000_000,
) -> ExactPosterior:
    """The posterior of (alpha, beta) of one dataset by quadrature on an adaptive grid.

    Parameters
    ----------
    actions, rewards : numpy.ndarray
        One dataset (any number of trials, 2 or more for any information).
    priors : Priors
        alpha ~ Beta(a, b), beta ~ HalfNormal(sigma).
    q_init : float, default 0.5
        Initial Q value.
    truth : mapping of str to float, optional
        True ``{"alpha": ..., "beta": ...}``; gives ``cdf_true``.
    tol : float, default 1e-3
        Largest accepted change of the results between the grid and the grid of twice
        its spacing (mean and sd in units of the sd, CDF absolute).
    cut : float, default 30
        The box holds every point whose log density is within ``cut`` of the peak.
    points_per_sd : float, default 2.5
        Grid nodes per conditional posterior sd (at the mode) along each axis, before
        any refinement. The accuracy check compares with half as many; 2.5 passes it
        at ``tol = 1e-3`` without refinement on typical datasets.
    n_coarse : int, default 64
        Nodes per axis of the grids of the box search.
    max_points : int, default 1,000,000
        The grid is refined only while it keeps at most this many nodes (at least
        ``65 * 65``); when that stops it, ``converged`` is False.

    Returns
    -------
    ExactPosterior

    Raises
    ------
    ValueError
        For a non-positive ``tol``, ``cut`` or ``points_per_sd``, ``n_coarse`` below 8,
        ``max_points`` below ``65 * 65``, or data the model cannot take.
    """
    if not (tol > 0 and cut > 0 and points_per_sd > 0):
        raise ValueError(
            f"tol, cut and points_per_sd must be > 0, got {tol!r}, {cut!r}, {points_per_sd!r}"
        )
    if n_coarse < 8 or max_points < _N_MIN**2:
        raise ValueError(
            f"n_coarse must be >= 8 and max_points >= {_N_MIN**2}, "
            f"got {n_coarse!r} and {max_points!r}"
        )
    actions, rewards = as_data(actions, rewards)

    def logpost(us, vs):
        return log_posterior_free(us, vs, actions, rewards, priors, q_init)

    box, (cu, cv, cg), evaluations = _find_box(logpost, priors, cut, n_coarse)
    sd_u, sd_v, spent = _mode_widths(logpost, cu, cv, cg)
    evaluations += spent
    if sd_u is None:
        sd_u, sd_v = _conditional_sds(cu, cv, cg)
    nu = _odd_nodes((box[0, 1] - box[0, 0]) / sd_u * points_per_sd)
    nv = _odd_nodes((box[1, 1] - box[1, 0]) / sd_v * points_per_sd)
    if nu * nv > max_points:
        shrink = math.sqrt(max_points / (nu * nv))
        nu, nv = _odd_nodes(nu * shrink, down=True), _odd_nodes(nv * shrink, down=True)
    while True:
        us = np.linspace(*box[0], nu)
        vs = np.linspace(*box[1], nv)
        g = logpost(us, vs)
        evaluations += g.size
        fine = _integrate(us, vs, g)
        change = _change(fine, _integrate(us[::2], vs[::2], g[::2, ::2]), truth)
        worst = max(change.values())
        if worst <= tol:
            break
        # Halve the spacing along the axes whose doubling alone moves the results by
        # more than half the tolerance (along both if neither does on its own).
        refine_u = max(_change(fine, _integrate(us[::2], vs, g[::2]), truth).values()) > tol / 2
        refine_v = max(_change(fine, _integrate(us, vs[::2], g[:, ::2]), truth).values()) > tol / 2
        next_nu = 2 * nu - 1 if refine_u or not refine_v else nu
        next_nv = 2 * nv - 1 if refine_v or not refine_u else nv
        if next_nu * next_nv > max_points:
            break
        nu, nv = next_nu, next_nv

    edge = max(g[0].max(), g[-1].max(), g[:, 0].max(), g[:, -1].max()) - g.max()
    cdf_true = {
        p: (fine.marginals[p].cdf(float(truth[p])) if truth is not None else math.nan)
        for p in PARAMS
    }
    return ExactPosterior(
        mean=fine.mean,
        sd=fine.sd,
        median={p: fine.marginals[p].quantile(0.5) for p in PARAMS},
        cdf_true=cdf_true,
        marginals=fine.marginals,
        box={p: (float(box[d, 0]), float(box[d, 1])) for d, p in enumerate(PARAMS)},
        grid_shape=(nu, nv),
        n_evaluations=int(evaluations),
        edge_log_density=float(edge),
        refinement=change,
        refinement_change=float(worst),
        tol=float(tol),
        converged=bool(worst <= tol),
    )


# ------------------------------------------------------------------------ comparison


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


def compare_with_mcmc(
    exact: ExactPosterior,
    mcmc_mean: Mapping[str, float],
    mcmc_mcse: Mapping[str, float],
    mcmc_cdf: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """How far MCMC estimates lie from the exact posterior, in their own error units.

    Parameters
    ----------
    exact : ExactPosterior
        The exact posterior of the dataset.
    mcmc_mean, mcmc_mcse : mapping of str to float
        MCMC posterior mean of each parameter and its Monte Carlo standard error
        (:func:`mcse_mean`).
    mcmc_cdf : mapping of str to float, optional
        Share of the draws <= the truth of each parameter (``{p}_cdf_true`` of
        :func:`rlrecover.bayes.posterior_summary`).

    Returns
    -------
    dict
        ``{p}_z = (mcmc_mean - exact mean) / mcmc_mcse`` (about standard normal when
        the sampler is right) and ``{p}_cdf_diff = mcmc_cdf - exact cdf_true`` (NaN
        without ``mcmc_cdf`` or without a truth in ``exact``).
    """
    out = {}
    for p in PARAMS:
        with np.errstate(divide="ignore", invalid="ignore"):  # MCSE 0 (or NaN): +-inf
            z = (np.float64(mcmc_mean[p]) - exact.mean[p]) / np.float64(mcmc_mcse[p])
        out[f"{p}_z"] = float(z)
        cdf = math.nan if mcmc_cdf is None else float(mcmc_cdf[p])
        out[f"{p}_cdf_diff"] = cdf - exact.cdf_true[p]
    return out
