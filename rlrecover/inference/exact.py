"""Reference posteriors of the library's models, to check MCMC against.

Every model of the library has one to four parameters, few enough that its posterior
can be computed to an accuracy that is *measured* instead of sampled by the sampler
under test. Everything is computed on the free scale that NUTS samples (``logit`` of
a parameter in [0, 1], ``log`` of a positive one; :attr:`Param.transform`), where the
posterior density (likelihood, prior and Jacobian, :func:`log_posterior_free`: the
density of PyMC's ``{name}_logodds__`` and ``{name}_log__``) is smooth and vanishes
towards every edge, even when the posterior of a rate piles up at 0 or 1 or that of an
inverse temperature at 0.

==========  ==============================  =============================================
parameters  method (default)                accuracy check (``reliable`` when it passes)
==========  ==============================  =============================================
1, 2        quadrature, uniform grid        the results from every second node (twice
3           quadrature, sinh-spaced grid    the spacing) differ by at most ``tol``; the
                                            grid's faces are below ``-cut`` of the peak
4           importance sampling from the    Pareto k-hat <= 0.7 and ESS >= 10,000; the
            mode (:mod:`.importance`)       Monte Carlo error of each mean (``mean_se``)
==========  ==============================  =============================================

``method=`` asks for either. The tests check importance sampling against quadrature in
two and three dimensions, and against this quadrature run in four dimensions (3-5
million evaluations, 5-8 s for 25-60 trials: too slow for every dataset of a study).
When quadrature, chosen by default, fails its check within its point budget,
importance sampling is tried and returned if it passes its own (``fallback``); when
neither passes, the quadrature result is returned with ``reliable`` False, and the
report says that the dataset has no reliable reference.

Quadrature
----------
1. **Box.** A coarse uniform grid (``n_coarse`` nodes per axis: 64 for one or two
   parameters, 20 for three) over a box from the priors' ``1e-12`` quantiles is
   narrowed (or widened, when the posterior reaches an edge) to the bounding box of
   the nodes where the log posterior density is within ``cut`` (default 30) of its
   maximum, until the box stops shrinking. Outside it the density is below ``e^-30``
   of its peak and its tails decay at least exponentially, so the mass left out is
   negligible. The largest log density on the final grid's faces (relative to the
   peak) is reported; while a face is within ``cut`` of the peak (a narrow ridge the
   coarse grid missed), the box is widened on that side by half its width.
2. **Grid.** A grid on that box with ``points_per_sd`` nodes (8 for one parameter,
   2.5 for two, 2 for three) per conditional posterior sd at the mode along each axis,
   and at least ``min_nodes`` (65; 33 for three parameters). With one or two parameters the nodes
   are equally spaced, and the sds come from the curvature at the mode found by
   Newton's method from the coarse grid's peak (central differences on a ``3^d``
   stencil), exactly as the single-model release did. With three, the mode and the
   Hessian come from the exact gradient (:func:`rlrecover.inference.importance.laplace`)
   and each axis is ``u = mode + w sinh(t)`` with ``t`` equally spaced and ``w`` =
   ``core`` (1.5) marginal sds of the Laplace approximation: nearly equal spacing where
   the mass lies, exponentially wider spacing over the long tails (a rate's posterior
   on the logit scale decays only like ``e^-|u|`` where the data cannot tell it from 0
   or 1), which an equally spaced 3-D grid could not afford. The rectangle rule in
   ``t`` converges exponentially fast for a smooth integrand that vanishes at the
   edges, so means and sds are accurate far beyond what the spacing suggests.
3. **Marginal CDF.** The marginal density of each parameter (the grid summed over the
   other axes) is interpolated between nodes by a cubic spline of its logarithm (in
   ``t`` on a sinh-spaced axis; exact for Gaussian and exponential shapes, positive,
   so the CDF is monotone), integrated within each cell by 16-point Gauss-Legendre, and
   normalised by its own total.
4. **Accuracy check.** Every result is computed again from every second node (the grid
   with twice the spacing along every axis, same box). The largest change of a mean or
   sd (in units of the sd) or of a CDF value (at the truth and at every node of the
   grid) is reported (``refinement``); while it exceeds ``tol`` the spacing is reduced
   (halved; by 1.5 with three parameters) along the axes that need it (those whose
   doubling alone moves a result by more than ``tol / 2``; if none does, all axes, or
   with three parameters the one that moves them most), until the point budget
   ``max_points`` runs out (then ``converged`` is False). The change estimates
   the error of the coarser grid; the error of the grid reported is smaller still (by
   orders of magnitude for the means and sds, by about 16 for the CDF: the spline's
   error goes as the spacing to the fourth power). Measured on 36 simulated ``rw2``
   datasets, results differ from those of grids 1.25-2 times finer by at most 4 % of
   the reported change.

Cost: the log-likelihood of a grid comes from ``rw``'s grid kernel
(:attr:`Model.grid_loglik`, bitwise its pointwise kernel) for ``rw``, otherwise from a
numba loop over the nodes calling the model's kernel (:func:`loglik_grid`, compiled
once per process and model), 2-9 microseconds per node for 100-400 trials. A 1-D
posterior takes a few hundred evaluations, a 2-D one 10^4-10^5, a 3-D one 10^5-10^6
(median 1.8 x 10^5).
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import CubicSpline
from scipy.optimize import brentq
from scipy.special import logsumexp

from rlrecover.models.base import Model, Priors, as_data

__all__ = [
    "IMPORTANCE",
    "METHODS",
    "QUADRATURE",
    "ExactPosterior",
    "Marginal",
    "compare_with_mcmc",
    "exact_posterior",
    "free_limits",
    "log_posterior_free",
    "loglik_grid",
    "loglik_points",
]

#: The two methods, as :attr:`ExactPosterior.method` names them.
QUADRATURE = "quadrature"
IMPORTANCE = "importance sampling"
METHODS = (QUADRATURE, IMPORTANCE)
#: The options of quadrature (see :func:`exact_posterior`).
QUADRATURE_OPTIONS = (
    "cut",
    "points_per_sd",
    "n_coarse",
    "min_nodes",
    "max_points",
    "spacing",
    "core",
    "growth",
)
#: Largest number of parameters integrated by quadrature unless asked otherwise.
MAX_QUADRATURE_PARAMS = 3

#: Prior quantile that bounds the first, wide box.
_WIDE_QUANTILE = 1e-12
#: The box is never widened beyond these free values: a rate within ~1e-304 of 0 or 1,
#: a positive parameter between ~1e-304 and far beyond any prior's reach.
_LIMITS = {"unit": (-700.0, 700.0), "positive": (-700.0, 50.0)}
#: Defaults of the quadrature's settings by number of parameters: fewest nodes per axis
#: (odd), nodes per axis of the box search's grids, the point budget. Three parameters
#: take a coarser search (20^3 = 8000 nodes per step instead of 64^3) and fewer
#: nodes at least: the accuracy check still decides.
_MIN_NODES = {1: 65, 2: 65, 3: 33}
_POINTS_PER_SD = {1: 8.0, 2: 2.5, 3: 2.0}
_N_COARSE = {1: 64, 2: 64, 3: 20}
_MAX_POINTS = {1: 1_000_000, 2: 1_000_000, 3: 1_000_000}

#: The marginal CDF is interpolated over the nodes whose log density is within this of
#: its peak (the mass beyond is negligible).
_MARGINAL_RANGE = 80.0
#: Times the box may be widened when a face of the grid is within ``cut`` of the peak.
_MAX_WIDENINGS = 10

_GL_T, _GL_W = np.polynomial.legendre.leggauss(16)


# ------------------------------------------------------------------------- free scale


def free_limits(model: Model) -> np.ndarray:
    """The free values the methods never go beyond, ``(n_params, 2)``."""
    return np.array([_LIMITS[p.kind] for p in model.params], dtype=np.float64)


def _to_free(scale: str, x: ArrayLike) -> np.ndarray:
    """Free values of natural values ``x``; +-inf at and beyond the support's edges."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if scale == "logit":
            u = np.log(x) - np.log1p(-x)
            u = np.where(x <= 0.0, -np.inf, np.where(x >= 1.0, np.inf, u))
        else:
            u = np.where(x <= 0.0, -np.inf, np.log(x))
    return np.where(np.isnan(x), np.nan, u)


def _to_natural(scale: str, u: ArrayLike) -> np.ndarray:
    from scipy.special import expit

    u = np.asarray(u, dtype=np.float64)
    if scale == "logit":
        return expit(u)
    with np.errstate(over="ignore"):
        return np.exp(u)


# ------------------------------------------------------------------ likelihood batches

_EVALUATORS: dict[tuple[str, object, str], Callable] = {}
_EVALUATORS_LOCK = threading.Lock()


def _evaluator(model: Model, layout: str) -> Callable:
    """A numba function calling ``model``'s kernel at many parameter values (cached).

    ``layout`` is ``"grid"``: ``f(axis_0, ..., axis_{d-1}, actions, rewards, *consts,
    out)`` fills the d-dimensional ``out`` with the log-likelihood at every node of the
    grid of natural values; or ``"points"``: ``f(points, actions, rewards, *consts,
    out)`` at each row of ``points`` ``(m, d)``. The kernels take the parameters as
    separate scalars, so the source is written for the model's number of parameters and
    constants and compiled on first use (about 0.3 s, once per process and model).
    """
    key = (model.name, model.kernels.loglik_grad, layout)
    with _EVALUATORS_LOCK:
        found = _EVALUATORS.get(key)
    if found is not None:
        return found
    d, n_consts = model.n_params, len(model.consts)
    consts = "".join(f", c{j}" for j in range(n_consts))
    if layout == "grid":
        axes = ", ".join(f"a{j}" for j in range(d))
        lines = [f"def f({axes}, actions, rewards{consts}, out):", f"    grad = np.empty({d})"]
        indent = "    "
        for j in range(d):
            lines.append(f"{indent}for i{j} in range(a{j}.shape[0]):")
            indent += "    "
            lines.append(f"{indent}x{j} = a{j}[i{j}]")
        index = ", ".join(f"i{j}" for j in range(d))
        theta = ", ".join(f"x{j}" for j in range(d))
        lines.append(f"{indent}out[{index}] = kernel({theta}, actions, rewards{consts}, grad)")
    elif layout == "points":
        theta = ", ".join(f"points[i, {j}]" for j in range(d))
        lines = [
            f"def f(points, actions, rewards{consts}, out):",
            f"    grad = np.empty({d})",
            "    for i in range(points.shape[0]):",
            f"        out[i] = kernel({theta}, actions, rewards{consts}, grad)",
        ]
    else:
        raise ValueError(f"layout must be 'grid' or 'points', got {layout!r}")
    namespace: dict[str, Any] = {"np": np, "kernel": model.kernels.loglik_grad}
    exec("\n".join(lines), namespace)  # our own source text: nothing from outside
    # nogil: jobs run as threads of one process, and a grid takes long enough to stall
    # the other jobs' Python if it held the GIL.
    compiled = numba.njit(nogil=True)(namespace["f"])
    with _EVALUATORS_LOCK:
        return _EVALUATORS.setdefault(key, compiled)


def loglik_grid(
    model: Model,
    values: Sequence[np.ndarray],
    actions: np.ndarray,
    rewards: np.ndarray,
    consts: tuple[float, ...],
) -> np.ndarray:
    """The log-likelihood at every node of a grid of natural parameter values.

    Parameters
    ----------
    model : Model
        The learning model.
    values : sequence of numpy.ndarray
        One 1-d array of natural values per parameter, in the model's order.
    actions, rewards : numpy.ndarray
        One dataset in the kernels' dtypes (:func:`rlrecover.models.base.as_data`).
    consts : tuple of float
        The model's constants.

    Returns
    -------
    numpy.ndarray
        Shape ``tuple(len(v) for v in values)``. With two parameters and a
        :attr:`Model.grid_loglik` that kernel fills it (bitwise the model's kernel);
        otherwise a numba loop calls :attr:`Kernels.loglik_grad` at every node.
    """
    values = [np.ascontiguousarray(v, dtype=np.float64) for v in values]
    out = np.empty(tuple(v.shape[0] for v in values))
    if out.size == 0:
        return out
    if len(values) == 2 and model.grid_loglik is not None:
        model.grid_loglik(values[0], values[1], actions, rewards, *consts, out)
    else:
        _evaluator(model, "grid")(*values, actions, rewards, *consts, out)
    return out


def loglik_points(
    model: Model,
    points: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    consts: tuple[float, ...],
) -> np.ndarray:
    """The log-likelihood at each row of ``points`` ``(m, n_params)`` (natural values).

    The other parameters are as in :func:`loglik_grid`; a numba loop calls the model's
    kernel at each point.
    """
    points = np.ascontiguousarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != model.n_params:
        raise ValueError(f"points must have shape (m, {model.n_params}), got {points.shape}")
    out = np.empty(points.shape[0])
    if out.size:
        _evaluator(model, "points")(points, actions, rewards, *consts, out)
    return out


def _check_priors(model: Model, priors: Priors) -> None:
    if priors.names != model.param_names:
        raise ValueError(
            f"priors of {list(priors.names)} do not match the parameters of {model.name}, "
            f"{list(model.param_names)}"
        )


def _consts(model: Model, consts: Sequence[float] | None) -> tuple[float, ...]:
    if consts is None:
        return model.default_consts
    consts = tuple(float(c) for c in consts)
    if len(consts) != len(model.consts):
        raise ValueError(
            f"model {model.name} takes the constants {list(model.const_names)}, got {consts}"
        )
    return consts


def log_posterior_free(
    model: Model,
    free: Sequence[ArrayLike],
    actions: ArrayLike,
    rewards: ArrayLike,
    priors: Priors,
    consts: tuple[float, ...] | None = None,
) -> np.ndarray:
    """Unnormalised log posterior density of the free values on a grid.

    Parameters
    ----------
    model : Model
        The learning model.
    free : sequence of array_like
        One 1-d array of free values (``logit`` or ``log`` of the parameter,
        :attr:`Param.transform`) per parameter, in the model's order.
    actions, rewards : array_like
        One dataset.
    priors : Priors
        The parameters' priors, in the model's order.
    consts : tuple of float, optional
        The model's constants (default: their defaults).

    Returns
    -------
    numpy.ndarray, shape ``tuple(len(x) for x in free)``
        Log-likelihood plus :meth:`Priors.logpdf_free`: the log density PyMC's
        ``pm.Potential`` model gives its free variables (``{name}_logodds__``,
        ``{name}_log__``), up to a constant.
    """
    _check_priors(model, priors)
    actions, rewards = as_data(actions, rewards)
    free = [np.ascontiguousarray(x, dtype=np.float64) for x in free]
    if len(free) != model.n_params or any(x.ndim != 1 for x in free):
        raise ValueError(
            f"free must be {model.n_params} 1-d arrays (one per parameter of {model.name})"
        )
    return _LogPosterior(model, actions, rewards, priors, _consts(model, consts))(free)


class _LogPosterior:
    """The log posterior density of one dataset on grids of free values."""

    def __init__(self, model, actions, rewards, priors, consts) -> None:
        self.model, self.actions, self.rewards = model, actions, rewards
        self.priors, self.consts = priors, consts
        self.scales = [p.transform.name for p in model.params]
        self.transforms = [p.transform for p in model.params]

    def __call__(self, axes: Sequence[np.ndarray]) -> np.ndarray:
        d = len(axes)
        values = [t.from_free_np(x) for t, x in zip(self.transforms, axes, strict=True)]
        ll = loglik_grid(self.model, values, self.actions, self.rewards, self.consts)
        shaped = [x.reshape([-1 if j == i else 1 for j in range(d)]) for i, x in enumerate(axes)]
        return ll + self.priors.logpdf_free(shaped)


# -------------------------------------------------------------------------- marginals


@dataclass(frozen=True)
class Marginal:
    """The marginal posterior of one parameter, interpolated between grid nodes.

    The nodes are equally spaced on the free scale, or (``centre`` and ``width`` given)
    at ``u = centre + width * sinh(t)`` for equally spaced ``t``: then the density of
    ``t`` is interpolated, the same way.

    Attributes
    ----------
    param : str
        Parameter name.
    scale : {"logit", "log"}
        Its free scale.
    nodes : numpy.ndarray
        The grid's free values along the parameter's axis, increasing.
    log_density : numpy.ndarray
        Log marginal posterior density of the free value at ``nodes`` (normalised by
        the grid's quadrature rule).
    centre, width : float
        The map of a sinh-spaced axis (NaN for equally spaced nodes).
    t_nodes : numpy.ndarray, optional
        The equally spaced ``t`` of a sinh-spaced axis.
    """

    param: str
    scale: str
    nodes: np.ndarray
    log_density: np.ndarray
    centre: float = math.nan
    width: float = math.nan
    t_nodes: np.ndarray | None = field(default=None, repr=False)
    _t: np.ndarray = field(init=False, repr=False, compare=False)
    _spline: CubicSpline = field(init=False, repr=False, compare=False)
    _cum: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mapped:
            t = self.t_nodes
            if t is None:
                t = np.arcsinh((self.nodes - self.centre) / self.width)
            log_t_density = self.log_density + math.log(self.width) + np.log(np.cosh(t))
            # Only the nodes within _MARGINAL_RANGE of the peak: beyond them the mass
            # is below e^-80 of the peak's, and a cliff of the log density there (a
            # prior's e^(2v) tail, widely spaced) would make the spline overshoot.
            peak = np.max(log_t_density)
            keep = np.flatnonzero(log_t_density >= peak - _MARGINAL_RANGE)
            first = min(int(keep[0]), t.shape[0] - 2)
            last = max(int(keep[-1]), first + 1)
            t, log_t_density = t[first : last + 1], log_t_density[first : last + 1]
        else:
            t, log_t_density = self.nodes, self.log_density
        spline = CubicSpline(t, log_t_density)
        h = float(t[1] - t[0])
        x = t[:-1, None] + 0.5 * h * (1.0 + _GL_T[None, :])
        cell = 0.5 * h * (np.exp(spline(x)) @ _GL_W)
        object.__setattr__(self, "_t", t)
        object.__setattr__(self, "_spline", spline)
        object.__setattr__(self, "_cum", np.concatenate([[0.0], np.cumsum(cell)]))

    @property
    def mapped(self) -> bool:
        """Whether the nodes are sinh-spaced."""
        return not math.isnan(self.width)

    @property
    def step(self) -> float:
        """Spacing of the nodes (of ``t`` for a sinh-spaced axis)."""
        return float(self._t[1] - self._t[0])

    def _t_of(self, u: np.ndarray) -> np.ndarray:
        if self.mapped:
            with np.errstate(invalid="ignore"):
                return np.arcsinh((u - self.centre) / self.width)
        return u

    def _cdf_free(self, u: ArrayLike) -> np.ndarray:
        """The CDF at free values ``u`` (any shape)."""
        u = self._t_of(np.asarray(u, dtype=np.float64))
        nodes, h = self._t, self.step
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
            Values of the parameter itself, not its free value.

        Returns
        -------
        float or numpy.ndarray
            In [0, 1], non-decreasing in ``x`` (NaN for NaN); a float for a scalar.
        """
        out = self._cdf_free(_to_free(self.scale, x))
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
        i = min(max(i, 0), self._t.shape[0] - 2)
        lo, hi = self._t[i], self._t[i + 1]

        def free(t: float) -> float:
            return self.centre + self.width * math.sinh(t) if self.mapped else t

        def f(t: float) -> float:
            return float(self._cdf_free(free(t))) - q

        if f(lo) >= 0.0:  # rounding put the quantile on a node
            t = lo
        elif f(hi) <= 0.0:
            t = hi
        else:
            t = brentq(f, lo, hi, xtol=1e-14, rtol=1e-14)
        return float(_to_natural(self.scale, free(t)))


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class ExactPosterior:
    """The reference posterior of one dataset, with its method and accuracy.

    Attributes
    ----------
    method : {"quadrature", "importance sampling"}
        How it was computed.
    description : str
        One sentence naming the method and its measured accuracy for this dataset,
        for the report.
    reliable : bool
        Whether its accuracy check passed (quadrature: ``converged`` and
        ``edge_log_density < -cut``; importance sampling: Pareto k-hat <= 0.7 and
        ``ess >= min_ess``). Without it there is no reliable reference for the dataset.
    mean, sd, median : dict of str to float
        Posterior mean, standard deviation and median of each parameter.
    cdf_true : dict of str to float
        Posterior probability that the parameter is <= its true value; NaN when no
        truth was given.
    mean_se : dict of str to float
        Monte Carlo standard error of each mean (0.0 for quadrature, whose error is
        bounded by ``refinement`` instead).
    marginals : dict of str to Marginal or WeightedMarginal
        The marginal of each parameter, with ``cdf(x)`` and ``quantile(q)`` on the
        natural scale.
    n_evaluations : int
        Likelihood evaluations spent (box search, mode search and draws included).
    tol : float
        The accuracy asked of quadrature (unused by importance sampling).
    converged : bool
        Quadrature: ``refinement_change <= tol``; importance sampling: ``reliable``.
    box : dict of str to (float, float) or None
        The integration box on the free scale (quadrature).
    grid_shape : tuple of int
        Nodes of the final grid along each parameter (quadrature; ``()`` otherwise).
    refinement : dict of str to float
        Change of each result when computed from every second node of the grid (twice
        the spacing): ``{p}_mean`` and ``{p}_sd`` in units of the sd, ``{p}_cdf`` the
        largest absolute change of the CDF at the truth and at every grid node
        (quadrature; empty otherwise).
    refinement_change : float
        The largest value in ``refinement``; it bounds the error of the coarser grid
        (NaN for importance sampling).
    edge_log_density : float
        Largest log posterior density on the box's faces minus the largest inside it
        (quadrature; NaN otherwise).
    pareto_k : float
        Pareto k-hat of the importance weights (NaN for quadrature).
    ess : float
        Effective sample size of the importance weights (NaN for quadrature).
    n_draws : int
        Draws from the proposal (0 for quadrature).
    mode : dict of str to float or None
        The posterior mode on the free scale (importance sampling).
    """

    method: str
    description: str
    reliable: bool
    mean: dict[str, float]
    sd: dict[str, float]
    median: dict[str, float]
    cdf_true: dict[str, float]
    mean_se: dict[str, float]
    marginals: dict[str, Any] = field(repr=False)
    n_evaluations: int
    tol: float
    converged: bool
    box: dict[str, tuple[float, float]] | None = None
    grid_shape: tuple[int, ...] = ()
    refinement: dict[str, float] = field(default_factory=dict)
    refinement_change: float = math.nan
    edge_log_density: float = math.nan
    pareto_k: float = math.nan
    ess: float = math.nan
    n_draws: int = 0
    mode: dict[str, float] | None = None

    @property
    def params(self) -> tuple[str, ...]:
        """Parameter names, in the model's order."""
        return tuple(self.mean)

    def cdf(self, param: str, x: ArrayLike) -> float | np.ndarray:
        """Posterior probability that ``param`` is <= ``x`` (natural scale)."""
        return self.marginals[param].cdf(x)

    def quantile(self, param: str, q: float) -> float:
        """The ``q`` quantile of ``param`` (natural scale)."""
        return self.marginals[param].quantile(q)


# ------------------------------------------------------------------------------- box


def _wide_box(priors: Priors) -> np.ndarray:
    """Free-scale box between the priors' ``1e-12`` and ``1 - 1e-12`` quantiles."""
    return np.array([prior.free_quantiles(_WIDE_QUANTILE) for _, prior in priors.items])


def _clip_box(box: np.ndarray, limits: np.ndarray) -> np.ndarray:
    box = box.copy()
    for d in range(box.shape[0]):
        box[d] = np.clip(box[d], *limits[d])
    return box


def _others(d: int, ndim: int) -> tuple[int, ...]:
    return tuple(j for j in range(ndim) if j != d)


def _find_box(logpost, box: np.ndarray, limits: np.ndarray, cut: float, n: int, max_iter=30):
    """Narrow (or widen) a box to the region within ``cut`` of the peak log density.

    Returns the box, the last coarse grid ``(axes, G)`` and the evaluations spent.
    """
    ndim = box.shape[0]
    evaluations = 0
    for _ in range(max_iter):
        axes = [np.linspace(lo, hi, n) for lo, hi in box]
        g = logpost(axes)
        evaluations += g.size
        inside = g >= g.max() - cut
        new = box.copy()
        moved = False
        for d in range(ndim):
            keep = inside.any(axis=_others(d, ndim)) if ndim > 1 else inside
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
        new = _clip_box(new, limits)
        for d in range(ndim):
            width = box[d, 1] - box[d, 0]
            grew = new[d, 0] < box[d, 0] or new[d, 1] > box[d, 1]
            # Keep narrowing while the region fills less than half the box.
            if grew or (new[d, 1] - new[d, 0]) < 0.5 * width:
                moved = True
        if not moved:
            return box, (axes, g), evaluations
        box = new
    return box, (axes, g), evaluations


def _conditional_sds(axes: Sequence[np.ndarray], g: np.ndarray) -> list[float]:
    """Posterior sd of each free value given the others, through the grid's peak.

    Never below half the grid's spacing: a peak narrower than that is not resolved
    here, and the accuracy check refines the grid further.
    """
    peak = np.unravel_index(np.argmax(g), g.shape)
    out = []
    for d, x in enumerate(axes):
        index = list(peak)
        index[d] = slice(None)
        row = g[tuple(index)]
        w = np.exp(row - row.max())
        w /= w.sum()
        m = w @ x
        out.append(max(float(math.sqrt(w @ (x - m) ** 2)), 0.5 * (x[1] - x[0])))
    return out


def _negative_definite(h: np.ndarray) -> bool:
    """Whether a symmetric Hessian is that of a maximum."""
    d = h.shape[0]
    if d == 1:
        return bool(h[0, 0] < 0)
    if d == 2:
        huu, huv, hvv = h[0, 0], h[0, 1], h[1, 1]
        return bool(huu < 0 and hvv < 0 and huu * hvv > huv**2)
    if not np.all(np.diag(h) < 0):
        return False
    try:
        np.linalg.cholesky(-h)
    except np.linalg.LinAlgError:
        return False
    return True


def _mode_widths(logpost, axes: Sequence[np.ndarray], g: np.ndarray, max_iter: int = 20):
    """Conditional sd of each free value at the posterior mode, from its curvature.

    Newton's method from the coarse grid's peak, with the gradient and Hessian of the
    log density by central differences on a ``3^d`` stencil. The coarse grid can only
    say that a peak is narrower than its spacing; the curvature says how much.
    Returns ``(sds, evaluations)``; ``sds`` is None where the curvature is not that of
    a maximum (then the coarse estimate stands).
    """
    ndim = len(axes)
    peak = np.unravel_index(np.argmax(g), g.shape)
    x = [float(axes[d][peak[d]]) for d in range(ndim)]
    spacing = [axes[d][1] - axes[d][0] for d in range(ndim)]
    dx = [h / 4 for h in spacing]
    centre = (1,) * ndim
    evaluations = 0
    sds = None

    def at(*moves: tuple[int, int]) -> float:
        index = list(centre)
        for d, step in moves:
            index[d] += step
        return s[tuple(index)]

    for _ in range(max_iter):
        s = logpost([np.array([x[d] - dx[d], x[d], x[d] + dx[d]]) for d in range(ndim)])
        evaluations += s.size
        grad = np.array([(at((d, 1)) - at((d, -1))) / (2 * dx[d]) for d in range(ndim)])
        hess = np.empty((ndim, ndim))
        for d in range(ndim):
            hess[d, d] = (at((d, 1)) - 2 * s[centre] + at((d, -1))) / dx[d] ** 2
            for e in range(d + 1, ndim):
                hess[d, e] = hess[e, d] = (
                    at((d, 1), (e, 1)) - at((d, 1), (e, -1)) - at((d, -1), (e, 1))
                    + at((d, -1), (e, -1))
                ) / (4 * dx[d] * dx[e])  # fmt: skip
        if not _negative_definite(hess):
            return None, evaluations
        step = -np.linalg.solve(hess, grad)
        sds = [1 / math.sqrt(-hess[d, d]) for d in range(ndim)]
        # At most a coarse cell per step; differences over a quarter of the width.
        for d in range(ndim):
            x[d] += float(np.clip(step[d], -spacing[d], spacing[d]))
        dx = [sd / 4 for sd in sds]
        if all(abs(step[d]) < 1e-3 * sds[d] for d in range(ndim)):
            break
    return sds, evaluations


def _grown(n: int, growth: float) -> int:
    """The odd number of nodes after refining ``n`` by ``growth`` (2: ``2 n - 1``)."""
    if growth == 2.0:
        return 2 * n - 1
    m = max(math.ceil((n - 1) * growth) + 1, n + 2)
    return m + 1 if m % 2 == 0 else m


def _faces(g: np.ndarray) -> np.ndarray:
    """The largest value on each face of a grid, ``(ndim, 2)`` (low and high end)."""
    return np.array(
        [[np.take(g, 0, axis=d).max(), np.take(g, -1, axis=d).max()] for d in range(g.ndim)]
    )


def _odd_nodes(intervals: float, n_min: int, down: bool = False) -> int:
    """An odd number of nodes, at least ``n_min``, for about ``intervals`` intervals.

    Odd, so that every second node makes the grid of twice the spacing.
    """
    n = max((math.floor if down else math.ceil)(intervals) + 1, n_min)
    if n % 2 == 0:
        n += -1 if down and n > n_min else 1
    return n


# ----------------------------------------------------------------------- integration


@dataclass(frozen=True)
class _Axis:
    """The nodes of one axis of the grid: equally spaced, or sinh-spaced (``t`` given)."""

    u: np.ndarray
    t: np.ndarray | None = None
    centre: float = math.nan
    width: float = math.nan

    @classmethod
    def uniform(cls, lo: float, hi: float, n: int) -> _Axis:
        return cls(np.linspace(lo, hi, n))

    @classmethod
    def sinh(cls, centre: float, width: float, t_lo: float, t_hi: float, n: int) -> _Axis:
        t = np.linspace(t_lo, t_hi, n)
        return cls(centre + width * np.sinh(t), t, centre, width)

    def every_second(self) -> _Axis:
        return _Axis(self.u[::2], None if self.t is None else self.t[::2], self.centre, self.width)

    @property
    def log_weight(self) -> np.ndarray:
        """Log of each node's quadrature weight (``du/dt * dt``)."""
        dt = self.t[1] - self.t[0]
        return math.log(self.width) + np.log(np.cosh(self.t)) + math.log(dt)


@dataclass(frozen=True)
class _GridResult:
    mean: dict[str, float]
    sd: dict[str, float]
    marginals: dict[str, Marginal]


def _integrate(names, scales, axes: Sequence[_Axis], g: np.ndarray) -> _GridResult:
    """Moments and marginals of the posterior from its log density on a grid."""
    ndim = len(axes)
    g = g - g.max()
    log_f = []
    if all(a.t is None for a in axes):  # the rectangle rule, equal weights per axis
        h = [a.u[1] - a.u[0] for a in axes]
        for d in range(ndim):
            others = _others(d, ndim)
            if others:
                log_f.append(logsumexp(g, axis=others) + sum(math.log(h[e]) for e in others))
            else:
                log_f.append(g)
        log_z = logsumexp(log_f[0]) + math.log(h[0])
        weights = h
    else:
        log_w = [
            math.log(a.u[1] - a.u[0]) * np.ones(a.u.shape[0]) if a.t is None else a.log_weight
            for a in axes
        ]
        shaped = [
            w.reshape([-1 if j == d else 1 for j in range(ndim)]) for d, w in enumerate(log_w)
        ]
        for d in range(ndim):
            others = _others(d, ndim)
            if others:
                log_f.append(logsumexp(g + sum(shaped[e] for e in others), axis=others))
            else:
                log_f.append(g)
        log_z = logsumexp(log_f[0] + log_w[0])
        weights = [np.exp(w) for w in log_w]
    mean, sd, marginals = {}, {}, {}
    for d, (p, scale) in enumerate(zip(names, scales, strict=True)):
        lf = log_f[d] - log_z
        w = np.exp(lf) * weights[d]
        x = _to_natural(scale, axes[d].u)
        m = float(w @ x)
        mean[p] = m
        sd[p] = float(math.sqrt(w @ (x - m) ** 2))
        a = axes[d]
        marginals[p] = Marginal(p, scale, a.u, lf, a.centre, a.width, a.t)
    return _GridResult(mean, sd, marginals)


def _change(fine: _GridResult, coarse: _GridResult, truth) -> dict[str, float]:
    """How much the results move from a grid to a coarser one (see ExactPosterior)."""
    out = {}
    for p in fine.mean:
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


def _worst(change: Mapping[str, float]) -> float:
    """The largest change (infinite if any is NaN: the check cannot pass then)."""
    values = [math.inf if math.isnan(v) else v for v in change.values()]
    return max(values)


def _every_second(ndim: int, along: Sequence[int]) -> tuple[slice, ...]:
    return tuple(slice(None, None, 2) if d in along else slice(None) for d in range(ndim))


def _sinh_maps(model, actions, rewards, priors, consts, box, coarse_axes, coarse_g, core):
    """Centre, width and ``t`` spacing (per unit ``points_per_sd``) of sinh-spaced axes.

    The posterior mode and the curvature there come from the exact gradient
    (:func:`rlrecover.inference.importance.laplace`, started at the coarse grid's
    peak). Each axis is ``u = mode + width * sinh(t)`` with ``width = core`` marginal
    sds of the Laplace approximation, so the nodes are nearly equally spaced where the
    mass lies and spread out, exponentially, over the tails out to the box's edge; the
    ``t`` step gives one node per conditional sd at the mode (times ``points_per_sd``).
    Without a negative definite Hessian the coarse grid's conditional sds stand in for
    both sds.
    """
    from rlrecover.inference.importance import laplace

    ndim = box.shape[0]
    peak = np.unravel_index(np.argmax(coarse_g), coarse_g.shape)
    start = np.array([coarse_axes[d][peak[d]] for d in range(ndim)])
    approx = laplace(model, actions, rewards, priors, consts, [start])
    if approx.negative_definite:
        marginal, conditional = approx.sd, approx.conditional_sd
        centre = approx.mode
    else:
        marginal = conditional = np.array(_conditional_sds(coarse_axes, coarse_g))
        centre = start
    centre = np.clip(centre, box[:, 0], box[:, 1])
    widths = core * marginal
    steps = conditional / widths
    return centre, widths, steps, approx.evaluations


def _quadrature(
    model: Model,
    actions: np.ndarray,
    rewards: np.ndarray,
    priors: Priors,
    consts: tuple[float, ...],
    truth: Mapping[str, float] | None,
    *,
    tol: float,
    cut: float = 30.0,
    points_per_sd: float | None = None,
    n_coarse: int | None = None,
    min_nodes: int | None = None,
    max_points: int | None = None,
    spacing: str | None = None,
    core: float = 1.5,
    growth: float | None = None,
) -> ExactPosterior:
    """The posterior by quadrature on an adaptive grid (see the module's docstring)."""
    ndim = model.n_params
    n_coarse = _N_COARSE.get(ndim, 12) if n_coarse is None else int(n_coarse)
    if points_per_sd is None:
        points_per_sd = _POINTS_PER_SD.get(ndim, 2.0)
    n_min = _MIN_NODES.get(ndim, 17) if min_nodes is None else int(min_nodes)
    max_points = _MAX_POINTS.get(ndim, 2_000_000) if max_points is None else int(max_points)
    spacing = ("uniform" if ndim <= 2 else "sinh") if spacing is None else spacing
    growth = (2.0 if ndim <= 2 else 1.5) if growth is None else float(growth)
    if not 1.0 < growth <= 2.0:
        raise ValueError(f"growth must be in (1, 2], got {growth!r}")
    if not (cut > 0 and points_per_sd > 0 and core > 0):
        raise ValueError(
            f"cut, points_per_sd and core must be > 0, got {cut!r}, {points_per_sd!r}, {core!r}"
        )
    if spacing not in ("uniform", "sinh"):
        raise ValueError(f"spacing must be 'uniform' or 'sinh', got {spacing!r}")
    if n_min < 5 or n_min % 2 == 0:
        raise ValueError(f"min_nodes must be odd and >= 5, got {n_min!r}")
    if n_coarse < 8 or max_points < n_min**ndim:
        raise ValueError(
            f"n_coarse must be >= 8 and max_points >= {n_min**ndim} ({n_min}^{ndim}), "
            f"got {n_coarse!r} and {max_points!r}"
        )
    names = model.param_names
    scales = [p.transform.name for p in model.params]
    logpost = _LogPosterior(model, actions, rewards, priors, consts)
    limits = free_limits(model)

    def evaluate(axes: Sequence[_Axis]) -> np.ndarray:
        return logpost([a.u for a in axes])

    box = _clip_box(_wide_box(priors), limits)
    box, (coarse_axes, coarse_g), evaluations = _find_box(logpost, box, limits, cut, n_coarse)
    if spacing == "uniform":
        sds, spent = _mode_widths(logpost, coarse_axes, coarse_g)
        evaluations += spent
        if sds is None:
            sds = _conditional_sds(coarse_axes, coarse_g)

        def lengths(box: np.ndarray) -> list[float]:
            """Length of each axis in nodes per unit ``points_per_sd``."""
            return [(box[d, 1] - box[d, 0]) / sds[d] for d in range(ndim)]

        def make(box: np.ndarray, nodes: Sequence[int]) -> list[_Axis]:
            return [_Axis.uniform(*box[d], nodes[d]) for d in range(ndim)]

    else:
        centre, widths, steps, spent = _sinh_maps(
            model, actions, rewards, priors, consts, box, coarse_axes, coarse_g, core
        )
        evaluations += spent

        def t_range(box: np.ndarray, d: int) -> tuple[float, float]:
            return (
                math.asinh((box[d, 0] - centre[d]) / widths[d]),
                math.asinh((box[d, 1] - centre[d]) / widths[d]),
            )

        def lengths(box: np.ndarray) -> list[float]:
            return [(t_range(box, d)[1] - t_range(box, d)[0]) / steps[d] for d in range(ndim)]

        def make(box: np.ndarray, nodes: Sequence[int]) -> list[_Axis]:
            return [
                _Axis.sinh(centre[d], widths[d], *t_range(box, d), nodes[d]) for d in range(ndim)
            ]

    nodes = [_odd_nodes(n * points_per_sd, n_min) for n in lengths(box)]
    total = math.prod(nodes)
    if total > max_points:
        ratio = max_points / total
        shrink = math.sqrt(ratio) if ndim == 2 else ratio ** (1 / ndim)
        nodes = [_odd_nodes(n * shrink, n_min, down=True) for n in nodes]
    widened = 0
    while True:
        axes = make(box, nodes)
        g = evaluate(axes)
        evaluations += g.size
        faces = _faces(g)
        edge = float(np.max(faces) - g.max())
        # A face within ``cut`` of the peak: the coarse search missed part of the
        # region (a narrow ridge between its nodes). Widen the box on that side by
        # half its width, keeping the spacing, and start again.
        grow = (faces - g.max() >= -cut) & (box != limits)
        if grow.any() and widened < _MAX_WIDENINGS:
            old = lengths(box)
            width = box[:, 1] - box[:, 0]
            new = box + np.where(grow, 0.5 * width[:, None], 0.0) * np.array([-1.0, 1.0])
            new = _clip_box(new, limits)
            following = [
                _odd_nodes((n - 1) * length / length_old, n_min)
                for n, length, length_old in zip(nodes, lengths(new), old, strict=True)
            ]
            if math.prod(following) <= max_points:
                box, nodes, widened = new, following, widened + 1
                continue
        fine = _integrate(names, scales, axes, g)
        half = _every_second(ndim, range(ndim))
        coarse = _integrate(names, scales, [a.every_second() for a in axes], g[half])
        change = _change(fine, coarse, truth)
        worst = _worst(change)
        if worst <= tol:
            break
        # Refine along the axes whose doubling alone moves the results by more than
        # half the tolerance; if none does on its own, along all of them (one or two
        # parameters, as the single-model release) or along the one that moves them
        # most (three or more: each refinement of all axes costs 3.4 times the nodes).
        alone = []
        for d in range(ndim):
            sub = [a.every_second() if e == d else a for e, a in enumerate(axes)]
            coarser = _integrate(names, scales, sub, g[_every_second(ndim, (d,))])
            alone.append(_worst(_change(fine, coarser, truth)))
        refine = [c > tol / 2 for c in alone]
        if not any(refine):
            if ndim <= 2:
                refine = [True] * ndim
            else:
                refine[int(np.argmax(alone))] = True
        following = [_grown(n, growth) if r else n for n, r in zip(nodes, refine, strict=True)]
        if math.prod(following) > max_points:
            break
        nodes = following

    converged = bool(worst <= tol)
    reliable = converged and edge < -cut
    cdf_true = {
        p: (fine.marginals[p].cdf(float(truth[p])) if truth is not None else math.nan)
        for p in names
    }
    shape = "x".join(str(n) for n in nodes)
    description = (
        f"{ndim}-D quadrature on the free scale, {shape} nodes, accuracy check "
        f"{worst:.1g} (tol {tol:g}), edge log density {edge:.0f}"
    )
    if not converged:
        description += f"; not converged within {max_points:,} nodes"
    elif not reliable:
        description += f"; the box's edge is above -{cut:g}: mass may be cut off"
    return ExactPosterior(
        method=QUADRATURE,
        description=description,
        reliable=reliable,
        mean=fine.mean,
        sd=fine.sd,
        median={p: fine.marginals[p].quantile(0.5) for p in names},
        cdf_true=cdf_true,
        mean_se={p: 0.0 for p in names},
        marginals=fine.marginals,
        n_evaluations=int(evaluations),
        tol=float(tol),
        converged=converged,
        box={p: (float(box[d, 0]), float(box[d, 1])) for d, p in enumerate(names)},
        grid_shape=tuple(nodes),
        refinement=change,
        refinement_change=float(worst),
        edge_log_density=edge,
    )


# ------------------------------------------------------------------------- entry point


def exact_posterior(
    model: Model,
    actions: ArrayLike,
    rewards: ArrayLike,
    priors: Priors,
    consts: tuple[float, ...] | None = None,
    truth: Mapping[str, float] | None = None,
    *,
    tol: float = 1e-3,
    **method_options: Any,
) -> ExactPosterior:
    """The reference posterior of one dataset, by quadrature or importance sampling.

    Parameters
    ----------
    model : Model
        The learning model.
    actions, rewards : array_like
        One dataset (any number of trials; 2 or more for any information).
    priors : Priors
        The parameters' priors, in the model's order.
    consts : tuple of float, optional
        The model's constants (default: their defaults).
    truth : mapping of str to float, optional
        True value of each parameter; gives ``cdf_true``.
    tol : float, default 1e-3
        Quadrature: largest accepted change of the results between the grid and the
        grid of twice its spacing (mean and sd in units of the sd, CDF absolute).
    **method_options
        ``method``: ``"quadrature"`` (default for up to three parameters) or
        ``"importance sampling"`` (default for four).

        Quadrature (see the module's docstring): ``cut`` (30), ``points_per_sd``
        (8 for one parameter, 2.5 for two, 2 for three), ``n_coarse`` (64; 20 for three),
        ``min_nodes`` (odd; 65; 33 for three), ``max_points`` (the grid is refined
        only while it keeps at most this many nodes: 1,000,000), ``spacing``
        (``"uniform"``, the default for one or two parameters, or ``"sinh"``, the
        default for three), ``core`` (1.5: the sinh map's width in marginal sds),
        ``growth`` (the factor by which refinement multiplies the nodes of an axis: 2;
        1.5 for three parameters), ``fallback`` (True unless ``method`` is given:
        importance sampling when quadrature fails its check).

        Importance sampling: see
        :func:`rlrecover.inference.importance.importance_posterior` (``n_draws``,
        ``df``, ``scale``, ``defensive``, ``adapt``, ``seed``, ``k_max``,
        ``min_ess``, ``n_starts``).

    Returns
    -------
    ExactPosterior

    Raises
    ------
    ValueError
        For a non-positive ``tol``, bad method options (naming them), priors or
        constants that do not fit the model, or data the model cannot take.
    """
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    _check_priors(model, priors)
    consts = _consts(model, consts)
    actions, rewards = as_data(actions, rewards)
    options = dict(method_options)
    method = options.pop("method", None)
    fallback = bool(options.pop("fallback", method is None))
    if method is None:
        method = QUADRATURE if model.n_params <= MAX_QUADRATURE_PARAMS else IMPORTANCE
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    from rlrecover.inference.importance import OPTIONS, importance_posterior

    if method == IMPORTANCE:
        _check_options(options, OPTIONS)
        return importance_posterior(
            model, actions, rewards, priors, consts, truth, tol=tol, **options
        )
    _check_options(options, QUADRATURE_OPTIONS)
    result = _quadrature(model, actions, rewards, priors, consts, truth, tol=tol, **options)
    if result.reliable or not fallback:
        return result
    # The grid did not pass its check within its budget (a posterior too narrow or too
    # curved for it): importance sampling, with its own check, is the reference then.
    sampled = importance_posterior(model, actions, rewards, priors, consts, truth, tol=tol)
    if not sampled.reliable:
        return result
    return dataclasses.replace(
        sampled,
        description=f"{sampled.description} (quadrature failed its check: {result.description})",
        n_evaluations=sampled.n_evaluations + result.n_evaluations,
    )


def _check_options(options: Mapping[str, Any], known: Sequence[str]) -> None:
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"unknown options {unknown}; this method takes {sorted(known)}")


# ------------------------------------------------------------------------ comparison


def compare_with_mcmc(
    exact: ExactPosterior,
    mcmc_mean: Mapping[str, float],
    mcmc_mcse: Mapping[str, float],
    mcmc_cdf: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """How far MCMC estimates lie from the reference posterior, in their own error units.

    Parameters
    ----------
    exact : ExactPosterior
        The reference posterior of the dataset.
    mcmc_mean, mcmc_mcse : mapping of str to float
        MCMC posterior mean of each parameter and its Monte Carlo standard error
        (:func:`rlrecover.inference.posterior.mcse_mean`).
    mcmc_cdf : mapping of str to float, optional
        Share of the draws <= the truth of each parameter (``{p}_cdf_true`` of
        :func:`rlrecover.inference.posterior.posterior_summary`).

    Returns
    -------
    dict
        For every parameter ``p``: ``{p}_z = (mcmc_mean - mean) / sqrt(mcmc_mcse^2 +
        mean_se^2)``, about standard normal when the sampler is right (``mean_se`` is
        the reference's own Monte Carlo error, 0 for quadrature), and ``{p}_cdf_diff =
        mcmc_cdf - cdf_true`` (NaN without ``mcmc_cdf`` or without a truth in
        ``exact``).
    """
    out = {}
    for p in exact.mean:
        se = math.sqrt(float(mcmc_mcse[p]) ** 2 + float(exact.mean_se[p]) ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):  # error 0 (or NaN): +-inf
            z = (np.float64(mcmc_mean[p]) - exact.mean[p]) / np.float64(se)
        out[f"{p}_z"] = float(z)
        cdf = math.nan if mcmc_cdf is None else float(mcmc_cdf[p])
        out[f"{p}_cdf_diff"] = cdf - exact.cdf_true[p]
    return out
