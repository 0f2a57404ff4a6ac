"""What a learning model of the two-armed bandit is, as one record that generic code takes.

A model is one module of :mod:`rlrecover.models` that defines a :class:`Model` named
``MODEL``: its parameters (each a :class:`Param` with its support), the task constants
its kernels take (``q_init``), its numba kernels (:class:`Kernels`) and its simulation
kernel. Everything else (the free scale and search box of each parameter, its default
prior, the maximum-likelihood starts, simulation with seeded uniforms, the PyMC models)
follows from the record, so fitters, summaries, analyses and the report take a
:class:`Model` and never name a parameter.

Conventions every model follows
-------------------------------
* Actions ``a_t`` in {0, 1} (1 = right arm), rewards ``r_t`` in {0, 1}.
* The log-likelihood sums ``log p(a_t | history)`` over trials ``2..n``: every model
  scores the same choices.
* Kernels take the parameters as leading float scalars, in the order of
  ``Model.params``, then ``actions`` and ``rewards``, then the model's constants
  (``Model.consts``), then their output arrays.
* A kernel's helpers are inlined (``inline="always"``), so that they are compiled
  with the options of the kernel that calls them, whoever compiled them first
  (:func:`rlrecover.inference.ops.op_kernel`).
* Most models are written through their *decision variable*: the log-odds ``z_t`` of
  choosing the right arm on trial ``t`` and its gradient. :func:`logit_loglik_grad` and
  :func:`logit_probs_jac` turn ``(z, dz)`` into the log-likelihood and the right-arm
  probabilities, so such a model writes one numba function ``decision`` and three
  one-line kernels around it (see :mod:`rlrecover.models.bias`, the shortest), and
  salts them with :data:`BASE_HELPERS`.
* Simulation draws two uniforms per trial, the first for the choice (the right arm
  when it is at least the probability of the left arm), the second for the reward
  (1 when it is below the chosen arm's reward probability).
"""

from __future__ import annotations

import hashlib
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike
from scipy import special

__all__ = [
    "BASE_HELPERS",
    "KINDS",
    "BetaPrior",
    "HalfNormalPrior",
    "Kernels",
    "Model",
    "Param",
    "Priors",
    "Transform",
    "as_data",
    "check_data",
    "decision_arrays",
    "kernel_salt",
    "logit_loglik_grad",
    "logit_probs_jac",
    "sigmoid",
]

#: Kinds of parameter: ``"unit"`` in [0, 1] (rates, probabilities), ``"positive"`` > 0
#: (inverse temperatures).
KINDS = ("unit", "positive")


# --------------------------------------------------------------------------- transforms


@dataclass(frozen=True)
class Transform:
    """A map from a parameter's support to the real line (its free scale), and back.

    The one place each free scale is written: the maximum-likelihood fit, the exact
    posterior, the priors' free-scale densities and the analyses use it.

    Scalar maps (exact for the optimiser) and array maps (which give ``+-inf`` at the
    ends of the support instead of raising) are kept apart on purpose: the two
    libraries can differ in the last bit.

    Attributes
    ----------
    name : str
        ``"logit"`` or ``"log"``.
    to_free, from_free : callable
        Scalar maps to and from the free scale.
    to_free_np, from_free_np : callable
        The same maps on arrays.
    chain : callable
        ``chain(g, theta)``: ``g`` times ``d theta / d free`` at ``theta``.
    log_jacobian : callable
        ``log(d theta / d free)`` at free values (array).
    """

    name: str
    to_free: Callable[[float], float]
    from_free: Callable[[float], float]
    to_free_np: Callable[[ArrayLike], np.ndarray]
    from_free_np: Callable[[ArrayLike], np.ndarray]
    chain: Callable[[float, float], float]
    log_jacobian: Callable[[ArrayLike], np.ndarray]


def _log_np(x):
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.where(np.isnan(x), x, -np.inf))


def _exp_np(x):
    with np.errstate(over="ignore"):  # a flat direction gives an unbounded interval
        return np.exp(x)


def _logit_np(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return special.logit(x)


LOGIT = Transform(
    name="logit",
    to_free=special.logit,
    from_free=special.expit,
    to_free_np=_logit_np,
    from_free_np=special.expit,
    chain=lambda g, th: g * th * (1.0 - th),
    log_jacobian=lambda u: special.log_expit(u) + special.log_expit(-np.asarray(u)),
)
LOG = Transform(
    name="log",
    to_free=math.log,
    from_free=math.exp,
    to_free_np=_log_np,
    from_free_np=_exp_np,
    chain=lambda g, th: g * th,
    log_jacobian=lambda v: np.asarray(v, dtype=np.float64),
)


# --------------------------------------------------------------------------- priors


@dataclass(frozen=True)
class BetaPrior:
    """``Beta(a, b)``: the prior of a parameter in [0, 1]."""

    a: float
    b: float

    def draw(self, rng: np.random.Generator) -> float:
        """One draw."""
        return float(rng.beta(self.a, self.b))

    def logpdf_free(self, u: ArrayLike) -> np.ndarray:
        """Log density of ``u = logit(x)`` (Jacobian included), accurate where x rounds to 0, 1."""
        u = np.asarray(u, dtype=np.float64)
        return (
            self.a * special.log_expit(u)
            + self.b * special.log_expit(-u)
            - special.betaln(self.a, self.b)
        )

    def free_quantiles(self, q: float) -> tuple[float, float]:
        """The free values of the ``q`` and ``1 - q`` quantiles (no rounding near 1)."""
        from scipy.stats import beta as beta_dist

        lo = beta_dist.ppf(q, self.a, self.b)
        hi_one_minus = beta_dist.ppf(q, self.b, self.a)  # 1 - x ~ Beta(b, a)
        return (
            math.log(lo) - math.log1p(-lo),
            math.log1p(-hi_one_minus) - math.log(hi_one_minus),
        )

    @property
    def mean(self) -> float:
        """Prior mean."""
        return self.a / (self.a + self.b)

    @property
    def variance(self) -> float:
        """Prior variance."""
        s = self.a + self.b
        return self.a * self.b / (s * s * (s + 1.0))

    def __str__(self) -> str:
        return f"Beta({self.a:g}, {self.b:g})"


@dataclass(frozen=True)
class HalfNormalPrior:
    """``HalfNormal(sigma)``: the prior of a positive parameter."""

    sigma: float

    def draw(self, rng: np.random.Generator) -> float:
        """One draw (the absolute value of a normal draw)."""
        return float(abs(rng.normal(0.0, self.sigma)))

    def logpdf_free(self, v: ArrayLike) -> np.ndarray:
        """Log density of ``v = log(x)`` (Jacobian ``v`` included)."""
        v = np.asarray(v, dtype=np.float64)
        with np.errstate(over="ignore"):
            lb = (
                0.5 * math.log(2.0 / math.pi)
                - math.log(self.sigma)
                - 0.5 * np.exp(2.0 * v) / self.sigma**2
            )
        return lb + v

    def free_quantiles(self, q: float) -> tuple[float, float]:
        """The free values of the ``q`` and ``1 - q`` quantiles."""
        from scipy.stats import halfnorm

        return (
            math.log(halfnorm.ppf(q, scale=self.sigma)),
            math.log(halfnorm.isf(q, scale=self.sigma)),
        )

    @property
    def mean(self) -> float:
        """Prior mean."""
        return self.sigma * math.sqrt(2.0 / math.pi)

    @property
    def variance(self) -> float:
        """Prior variance."""
        return self.sigma**2 * (1.0 - 2.0 / math.pi)

    def __str__(self) -> str:
        return f"HalfNormal({self.sigma:g})"


Prior = BetaPrior | HalfNormalPrior


@dataclass(frozen=True)
class Priors:
    """The priors of one model's parameters, in the model's order (hashable).

    Attributes
    ----------
    items : tuple of (str, prior)
        ``(name, BetaPrior or HalfNormalPrior)`` per parameter.
    """

    items: tuple[tuple[str, Prior], ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names."""
        return tuple(n for n, _ in self.items)

    def __getitem__(self, name: str) -> Prior:
        for n, prior in self.items:
            if n == name:
                return prior
        raise KeyError(name)

    def draw(self, rng: np.random.Generator) -> dict[str, float]:
        """One draw of every parameter, in order, from ``rng``."""
        return {n: prior.draw(rng) for n, prior in self.items}

    def logpdf_free(self, free: Sequence[ArrayLike]) -> np.ndarray:
        """Log prior density of the free values (one array per parameter, broadcast)."""
        total = None
        for (_, prior), x in zip(self.items, free, strict=True):
            term = prior.logpdf_free(x)
            total = term if total is None else total + term
        return np.asarray(total)

    def to_config(self) -> dict[str, dict[str, float]]:
        """The ``priors`` section of a model in the config that makes these priors."""
        out = {}
        for n, prior in self.items:
            if isinstance(prior, BetaPrior):
                out[n] = {"a": prior.a, "b": prior.b}
            else:
                out[n] = {"sigma": prior.sigma}
        return out

    def __str__(self) -> str:
        return ", ".join(f"{n} ~ {p}" for n, p in self.items)


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Param:
    """One parameter of a model.

    Attributes
    ----------
    name : str
        Its name (columns ``{name}_true``, ``{name}_est``, ...).
    kind : {"unit", "positive"}
        ``"unit"``: in [0, 1], free scale logit, Beta prior, absolute RMSE target;
        ``"positive"``: > 0, free scale log, half-normal prior, RMSE target relative
        to the true value, summarised also on the log scale.
    description : str
        What it is, for the report.
    """

    name: str
    kind: str
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"parameter {self.name}: kind must be one of {KINDS}, got {self.kind!r}"
            )

    @property
    def transform(self) -> Transform:
        """The free scale: logit for a unit parameter, log for a positive one."""
        return LOGIT if self.kind == "unit" else LOG

    @property
    def mle_box(self) -> tuple[float, float]:
        """Box of the free value searched by maximum likelihood.

        A unit parameter in about [6e-6, 1 - 6e-6] (logit in [-12, 12]), a positive
        one in [1e-3, 1e3].
        """
        return (-12.0, 12.0) if self.kind == "unit" else (math.log(1e-3), math.log(1e3))

    @property
    def log_scale(self) -> bool:
        """Whether its errors are multiplicative (positive parameters): also summarised in logs."""
        return self.kind == "positive"

    @property
    def rmse_target_kind(self) -> str:
        """``"absolute"`` (unit) or ``"relative"`` to the true value (positive)."""
        return "absolute" if self.kind == "unit" else "relative"

    def check(self, value: float) -> None:
        """Raise ``ValueError`` naming the value unless it is in the support."""
        if self.kind == "unit":
            if not (0.0 <= value <= 1.0):
                raise ValueError(f"{self.name} must lie in [0, 1], got {value!r}")
        elif not (value > 0.0 and math.isfinite(value)):
            raise ValueError(f"{self.name} must be finite and > 0, got {value!r}")

    def prior_from_config(self, section: Mapping[str, Any]) -> Prior:
        """The prior of the validated ``priors -> {name}`` section."""
        if self.kind == "unit":
            return BetaPrior(float(section["a"]), float(section["b"]))
        return HalfNormalPrior(float(section["sigma"]))


# --------------------------------------------------------------------------- kernels


@dataclass(frozen=True)
class Kernels:
    """The numba likelihood kernels of one model.

    Every kernel takes the parameters as leading float scalars (in the model's order),
    then ``actions`` and ``rewards``, then the model's constants, then preallocated
    output arrays. Below ``*theta`` stands for the parameters, ``*consts`` for the
    constants.

    Attributes
    ----------
    loglik_grad : callable
        ``loglik_grad(*theta, actions, rewards, *consts, out_grad) -> float``: the
        log-likelihood of the choices on trials 2..n and its gradient.
    choice_loglik_grad : callable
        ``choice_loglik_grad(*theta, actions, rewards, observed, *consts, out_grad)``:
        the Bernoulli log-likelihood of ``observed`` (n - 1 choices in {0, 1}; any
        other value gives ``-inf``) under the model's right-arm probabilities.
    right_probs_jac : callable
        ``right_probs_jac(*theta, actions, rewards, *consts, p, jac)``: the right-arm
        probabilities of trials 2..n and their Jacobian, ``jac`` of shape
        ``(n - 1, n_params)``.
    salt : int
        Hash of the kernels' source: part of PyTensor's on-disk cache key, so a change
        to a kernel invalidates compiled graphs that call it (:func:`kernel_salt`). It
        must cover every numba function the three kernels call (the model's own and
        :data:`BASE_HELPERS`); ``tests/test_models.py`` checks that it does.
    """

    loglik_grad: Callable
    choice_loglik_grad: Callable
    right_probs_jac: Callable
    salt: int


def kernel_salt(*functions: Callable) -> int:
    """A hash of the source of ``functions`` (numba dispatchers or plain functions)."""
    text = "".join(inspect.getsource(getattr(f, "py_func", f)) for f in functions)
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


@numba.njit(cache=True, inline="always")
def sigmoid(s: float) -> float:
    """``1 / (1 + exp(-s))`` without overflow (numba)."""
    if s >= 0.0:
        return 1.0 / (1.0 + math.exp(-s))
    e = math.exp(s)
    return e / (1.0 + e)


@numba.njit(cache=True, inline="always")
def logit_loglik_grad(z, dz, observed, out_grad):
    """``sum_t log p(observed[t])`` with ``P(right) = sigmoid(z[t])``, and its gradient (numba).

    ``dz[t, j]`` is ``d z[t] / d theta_j``; the gradient goes to ``out_grad``. An
    observation other than 0 or 1 has probability 0 (``-inf``, as ``pm.Bernoulli``)
    and adds nothing to the gradient.
    """
    k = dz.shape[1]
    for j in range(k):
        out_grad[j] = 0.0
    if observed.shape[0] != z.shape[0]:
        raise ValueError("observed choices must number one fewer than the trials")
    ll = 0.0
    impossible = False
    for t in range(z.shape[0]):
        o = observed[t]
        if o == 1 or o == 0:
            sign = 1.0 if o == 1 else -1.0
            s = sign * z[t]
            # log sigmoid(s) = min(s, 0) - log(1 + e), e = exp(-|s|); its derivative
            # sigmoid(-s) needs the same e.
            e = math.exp(-abs(s))
            if s >= 0.0:
                ll -= math.log1p(e)
                d = sign * e / (1.0 + e)
            else:
                ll += s - math.log1p(e)
                d = sign / (1.0 + e)
            for j in range(k):
                out_grad[j] += d * dz[t, j]
        else:
            impossible = True
    if impossible:
        return -math.inf
    return ll


@numba.njit(cache=True, inline="always")
def decision_arrays(n_trials, n_params):
    """Empty ``z`` (n - 1) and ``dz`` (n - 1, n_params) for a decision kernel (numba)."""
    m = n_trials - 1 if n_trials > 0 else 0
    return np.empty(m), np.empty((m, n_params))


@numba.njit(cache=True, inline="always")
def logit_probs_jac(z, dz, p, jac):
    """``p[t] = sigmoid(z[t])`` and ``jac[t] = p (1 - p) dz[t]`` (numba)."""
    for t in range(z.shape[0]):
        pr = sigmoid(z[t])
        p[t] = pr
        w = pr * (1.0 - pr)
        for j in range(dz.shape[1]):
            jac[t, j] = w * dz[t, j]


#: The numba helpers above, which the kernels of a model written through its decision
#: variable call: such a model passes them to :func:`kernel_salt` with its own
#: functions, so that a change to one of them changes its salt too.
BASE_HELPERS = (sigmoid, logit_loglik_grad, decision_arrays, logit_probs_jac)


# --------------------------------------------------------------------------- data


def check_data(actions: ArrayLike, rewards: ArrayLike) -> None:
    """Raise ``ValueError`` naming the first bad value unless the data fit the task.

    Parameters
    ----------
    actions, rewards : array_like
        1-d, equal length; actions and rewards each 0 or 1.
    """
    actions = np.asarray(actions)
    rewards = np.asarray(rewards)
    if actions.ndim != 1 or actions.shape != rewards.shape:
        raise ValueError(
            f"actions and rewards must be 1-d of equal length, got shapes "
            f"{actions.shape} and {rewards.shape}"
        )
    for name, x in (("action", actions), ("reward", rewards)):
        bad = np.flatnonzero((x != 0) & (x != 1))
        if bad.size:
            # .item(): the value as Python writes it (2, 0.5), not numpy's np.int64(2)
            value = x[bad[0]].item()
            raise ValueError(f"{name} must be 0 or 1, got {value!r} on trial {bad[0] + 1}")


def as_data(actions: ArrayLike, rewards: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Checked, contiguous copies of one dataset in the kernels' dtypes.

    Returns
    -------
    actions : numpy.ndarray of int64
    rewards : numpy.ndarray of float64
    """
    check_data(actions, rewards)
    return (
        np.ascontiguousarray(actions, dtype=np.int64),
        np.ascontiguousarray(rewards, dtype=np.float64),
    )


def _check_task(n_trials: int, reward_probs: Sequence[float]) -> None:
    if int(n_trials) != n_trials or n_trials < 2:
        raise ValueError(f"n_trials must be an integer >= 2, got {n_trials!r}")
    if len(reward_probs) != 2 or not all(0.0 <= p <= 1.0 for p in reward_probs):
        raise ValueError(
            f"reward_probs must be two probabilities in [0, 1], got {list(reward_probs)!r}"
        )


# --------------------------------------------------------------------------- the record


@dataclass(frozen=True)
class Model:
    """A learning model of the two-armed bandit, as every fitter and summary takes it.

    Attributes
    ----------
    name : str
        Short name, as in the config (``rw``, ``rwck``, ...); the PyTensor Ops keep it
        as their props and find the record again by it (:func:`rlrecover.models.get`).
    title : str
        Its name in the report, e.g. "Rescorla-Wagner (Q-learning)".
    params : tuple of Param
        Its parameters, in the order the kernels take them.
    kernels : Kernels
        Its likelihood kernels.
    simulate_kernel : callable
        ``simulate_kernel(*theta, uniforms, p_left, p_right, *consts, actions, rewards)``:
        fills ``actions`` and ``rewards`` (int64, length n) from ``2 n`` uniforms
        (:meth:`simulate`), ``p_left`` and ``p_right`` being each trial's reward
        probabilities.
    equations : str
        Its choice rule and learning rule in words and symbols, for the report.
    consts : tuple of (str, float)
        The task constants the kernels take, with their defaults (``("q_init", 0.5)``).
    grid_loglik : callable, optional
        A faster way to evaluate the log-likelihood on a 2-D grid,
        ``grid_loglik(values_0, values_1, actions, rewards, *consts, out)``, bitwise
        equal to the kernel's values; the exact posterior uses it when given.
    legacy_streams : bool
        Random streams without the model's name in their key: only ``rw``, which keeps
        the streams (and so the results) of the single-model releases. Every other
        model's streams include its name, so two models with the same parameter values
        never share a stream. Such a model also keeps the single-model releases'
        maximum-likelihood starts (:meth:`mle_first_start`, :meth:`mle_start`).
    """

    name: str
    title: str
    params: tuple[Param, ...]
    kernels: Kernels = field(repr=False)
    simulate_kernel: Callable = field(repr=False)
    equations: str = field(default="", repr=False)
    consts: tuple[tuple[str, float], ...] = ()
    grid_loglik: Callable | None = field(default=None, repr=False)
    legacy_streams: bool = field(default=False, repr=False)
    _index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"model {self.name}: parameter names repeat: {names}")
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(names)})

    def __reduce__(self):
        # Pickled by name (to the figure workers, say): the record holds numba kernels.
        from rlrecover.models import get

        return get, (self.name,)

    # ------------------------------------------------------------------ names

    @property
    def param_names(self) -> tuple[str, ...]:
        """Parameter names, in order."""
        return tuple(p.name for p in self.params)

    @property
    def n_params(self) -> int:
        """Number of parameters."""
        return len(self.params)

    @property
    def const_names(self) -> tuple[str, ...]:
        """Names of the task constants its kernels take."""
        return tuple(c for c, _ in self.consts)

    @property
    def default_consts(self) -> tuple[float, ...]:
        """The constants' default values."""
        return tuple(float(v) for _, v in self.consts)

    @property
    def log_params(self) -> tuple[str, ...]:
        """Positive parameters, whose errors are also summarised on the log scale."""
        return tuple(p.name for p in self.params if p.log_scale)

    def param(self, name: str) -> Param:
        """The parameter called ``name``."""
        try:
            return self.params[self._index[name]]
        except KeyError:
            raise KeyError(
                f"model {self.name} has no parameter {name!r}; it has {self.param_names}"
            ) from None

    def stream_parts(self) -> tuple[str, ...]:
        """What a random stream's key adds for this model: its name (``()`` for ``rw``)."""
        return () if self.legacy_streams else (self.name,)

    # ------------------------------------------------------------------ values

    def check_theta(self, theta: Mapping[str, float]) -> tuple[float, ...]:
        """The parameter values of ``theta`` in order, checked against their supports."""
        missing = [n for n in self.param_names if n not in theta]
        extra = [n for n in theta if n not in self._index]
        if missing or extra:
            raise ValueError(
                f"model {self.name} takes {list(self.param_names)}; got {list(theta)}"
            )
        values = tuple(float(theta[n]) for n in self.param_names)
        for p, v in zip(self.params, values, strict=True):
            p.check(v)
        return values

    def consts_of(self, values: Mapping[str, float] | None) -> tuple[float, ...]:
        """The constants in kernel order from a mapping (missing ones: their defaults)."""
        values = values or {}
        return tuple(float(values.get(c, d)) for c, d in self.consts)

    def priors_from_config(self, section: Mapping[str, Any]) -> Priors:
        """The priors of the validated ``models -> {name} -> priors`` section."""
        return Priors(tuple((p.name, p.prior_from_config(section[p.name])) for p in self.params))

    # ------------------------------------------------------------------ simulation

    def simulate(
        self,
        theta: Mapping[str, float],
        n_trials: int,
        rng: np.random.Generator,
        reward_probs: Sequence[float] = (0.4, 0.6),
        consts: Mapping[str, float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Simulate one agent on the two-armed bandit.

        Two uniforms are drawn per trial, all at once: for ``rw`` these are the numbers,
        in the order, of the reference notebook's ``generate_data`` (its
        ``rng.choice`` and then ``rng.random()``), so a generator seeded like the
        notebook's reproduces its dataset exactly.

        Parameters
        ----------
        theta : mapping of str to float
            The parameters.
        n_trials : int
            Number of trials, >= 2.
        rng : numpy.random.Generator
            Source of randomness (required: results must be reproducible).
        reward_probs : sequence of float, default (0.4, 0.6)
            Reward probability of the left and right arm.
        consts : mapping, optional
            Task constants (``{"q_init": 0.5}``); missing ones take their defaults.

        Returns
        -------
        actions, rewards : numpy.ndarray of int64, shape (n_trials,)
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError("simulate needs an explicit numpy.random.Generator as rng")
        values = self.check_theta(theta)
        _check_task(n_trials, reward_probs)
        n = int(n_trials)
        actions = np.zeros(n, dtype=np.int64)
        rewards = np.zeros(n, dtype=np.int64)
        uniforms = rng.random(2 * n)
        p_left = np.full(n, float(reward_probs[0]))
        p_right = np.full(n, float(reward_probs[1]))
        self.simulate_kernel(
            *values, uniforms, p_left, p_right, *self.consts_of(consts), actions, rewards
        )
        return actions, rewards

    # ------------------------------------------------------------------ likelihood

    def loglik_grad(
        self,
        theta: Mapping[str, float] | Sequence[float],
        actions: ArrayLike,
        rewards: ArrayLike,
        consts: Mapping[str, float] | None = None,
    ) -> tuple[float, np.ndarray]:
        """Log-likelihood of trials 2..n and its exact gradient (in parameter order).

        Parameters
        ----------
        theta : mapping of str to float, or sequence in parameter order
        actions, rewards : array_like
        consts : mapping, optional

        Returns
        -------
        ll : float
        grad : numpy.ndarray, shape (n_params,)
        """
        values = self._values(theta)
        actions, rewards = as_data(actions, rewards)
        grad = np.empty(self.n_params)
        ll = self.kernels.loglik_grad(*values, actions, rewards, *self.consts_of(consts), grad)
        return float(ll), grad

    def loglik(self, theta, actions, rewards, consts=None) -> float:
        """Log-likelihood of trials 2..n (see :meth:`loglik_grad`)."""
        return self.loglik_grad(theta, actions, rewards, consts)[0]

    def right_probs_jac(
        self, theta, actions: ArrayLike, rewards: ArrayLike, consts=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Right-arm probabilities on trials 2..n and their Jacobian ``(n - 1, n_params)``."""
        values = self._values(theta)
        actions, rewards = as_data(actions, rewards)
        m = max(actions.shape[0] - 1, 0)
        p = np.empty(m)
        jac = np.empty((m, self.n_params))
        self.kernels.right_probs_jac(*values, actions, rewards, *self.consts_of(consts), p, jac)
        return p, jac

    def right_probs(self, theta, actions, rewards, consts=None) -> np.ndarray:
        """Right-arm probabilities on trials 2..n."""
        return self.right_probs_jac(theta, actions, rewards, consts)[0]

    def _values(self, theta) -> tuple[float, ...]:
        if isinstance(theta, Mapping):
            return tuple(float(theta[n]) for n in self.param_names)
        values = tuple(float(v) for v in theta)
        if len(values) != self.n_params:
            raise ValueError(f"model {self.name} takes {self.n_params} parameters, got {values}")
        return values

    # ------------------------------------------------------------------ maximum likelihood

    # The starts of the single-model releases (rw: legacy_streams) were tuned to rw
    # alone. On the other models, with 100-300 trials (truths: rates uniform in
    # [0.05, 0.95], inverse temperatures HalfNormal(10)), the best of their 5 starts
    # missed the best of 50 (by more than 0.01 in nll) on 2.7 % (ck), 3.9 % (rwck) and
    # 5.1 % (rw2) of 1,100 datasets, in two ways (tests/test_mle.py):
    #
    # * From an inverse temperature of 3 the gradient is large (tens to hundreds on
    #   the free scale), and L-BFGS-B's first step, the whole negative gradient, often
    #   lands in the box's corner where every rate is ~0 and every inverse temperature
    #   ~1e-3: a plateau of log(1/2) per trial with a zero gradient, where it stops (the
    #   choice kernel's flat corner, also rw's). A first start at 1 mostly avoids it.
    # * Along the ridge where a learning rate goes to 0 as its inverse temperature
    #   grows, the best fit lies at rates of 1e-3 to 1e-2 and inverse temperatures of
    #   100 to 1000, which starts in [0.05, 0.95] x [0.3, 30] rarely reach.
    #
    # The starts below (logit-uniform rates in [-6, 3], about [0.0025, 0.95], and
    # log-uniform inverse temperatures in [0.3, 300]) bring those rates to 0.8 %, 2.1 %
    # and 3.5 % (rw2's remaining misses mostly have their best fit at the box's edge,
    # beta = 1000, on the ridge). bias and wsls never missed; rw, with its old starts,
    # misses on 2.1 %.
    _FIRST_POSITIVE = 1.0
    _START_LOGIT = (-6.0, 3.0)
    _START_POSITIVE = (0.3, 300.0)

    def mle_first_start(self) -> dict[str, float]:
        """The optimiser's fixed first start: 0.5 for a unit parameter, 1 for a positive one.

        ``rw`` (:attr:`legacy_streams`) keeps the single-model releases' 0.5 and 3.
        """
        positive = 3.0 if self.legacy_streams else self._FIRST_POSITIVE
        return {p.name: (0.5 if p.kind == "unit" else positive) for p in self.params}

    def mle_start(self, rng: np.random.Generator) -> dict[str, float]:
        """A random start: rates logit-uniform in [-6, 3], positive ones log-uniform in [0.3, 300].

        ``rw`` (:attr:`legacy_streams`) keeps the single-model releases' starts: alpha
        uniform in [0.05, 0.95], beta log-uniform in [0.3, 30] (the same draws from
        ``rng``).
        """
        out = {}
        for p in self.params:
            if self.legacy_streams:
                if p.kind == "unit":
                    out[p.name] = rng.uniform(0.05, 0.95)
                else:
                    out[p.name] = math.exp(rng.uniform(math.log(0.3), math.log(30.0)))
            elif p.kind == "unit":
                out[p.name] = float(special.expit(rng.uniform(*self._START_LOGIT)))
            else:
                lo, hi = self._START_POSITIVE
                out[p.name] = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        return out
