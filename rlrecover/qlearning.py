"""The Q-learning model of a two-armed bandit: everything specific to it, in one place.

Its parameters and priors, its simulation, the numba kernels of its likelihood that
every fitter calls, its PyMC models and the transforms the maximum-likelihood fit
works on. Code elsewhere (the PyTensor Ops, the MLE optimiser, the summaries) reads
the parameter names from :data:`PARAMS` and the kernels from :data:`KERNELS`.

Model
-----
Two arms with reward probabilities ``reward_probs``. Both action values start at
``q_init``. On trial ``t`` the agent picks the right arm (action 1) with
probability ``sigmoid(beta * (Q[1] - Q[0]))`` (the two-arm softmax), receives a
reward ``r`` in {0, 1} and updates the chosen arm only::

    Q[a] += alpha * (r - Q[a])

The log-likelihood is the sum of ``log p(observed action)`` over trials
``2..n``: the first choice is left out, as in the reference notebook.

Kernel conventions
------------------
Kernels take the parameters as leading scalar arguments ``(alpha, beta)``, then the
data, then the model's constants ``(q_init,)``, then the output arrays (see
:class:`rlrecover.kernels.Kernels`), so that generic code can call them without
knowing the parameters' names.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike

from rlrecover.kernels import Kernels

__all__ = [
    "KERNELS",
    "KINDS",
    "MLE_FIRST_START",
    "MLE_FREE",
    "PARAMS",
    "RMSE_TARGET_KIND",
    "Priors",
    "as_data",
    "build_model",
    "check_data",
    "check_params",
    "learn_step",
    "loglik",
    "loglik_grad",
    "loglik_grid_kernel",
    "loglik_reference",
    "mle_start",
    "right_probs",
    "right_probs_jac",
    "simulate",
]

#: Parameter names, in the order of ``theta``.
PARAMS: tuple[str, str] = ("alpha", "beta")

#: Unconstrained scale of the maximum-likelihood fit: the transform of each parameter
#: and the box its free value is kept in (alpha in about [6e-6, 1 - 6e-6], beta in
#: [1e-3, 1e3]).
MLE_FREE: dict[str, tuple[str, tuple[float, float]]] = {
    "alpha": ("logit", (-12.0, 12.0)),
    "beta": ("log", (math.log(1e-3), math.log(1e3))),
}


#: How a grid cell's RMSE target of each parameter is given in the config: in the
#: parameter's units (alpha) or relative to its true value (beta, a scale parameter).
RMSE_TARGET_KIND: dict[str, str] = {"alpha": "absolute", "beta": "relative"}


@dataclass(frozen=True)
class Priors:
    """Priors of the Bayesian fits: alpha ~ Beta(alpha_a, alpha_b), beta ~ HalfNormal(beta_sigma).

    Attributes
    ----------
    alpha_a, alpha_b : float
        Shape parameters of the Beta prior of alpha.
    beta_sigma : float
        Scale of the half-normal prior of beta.
    """

    alpha_a: float
    alpha_b: float
    beta_sigma: float

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Priors:
        """Priors from the validated ``priors`` section of the config.

        Parameters
        ----------
        section : mapping
            ``{"alpha": {"a": ..., "b": ...}, "beta": {"sigma": ...}}``.

        Returns
        -------
        Priors
        """
        return cls(
            alpha_a=float(section["alpha"]["a"]),
            alpha_b=float(section["alpha"]["b"]),
            beta_sigma=float(section["beta"]["sigma"]),
        )

    def draw(self, rng: np.random.Generator) -> tuple[float, float]:
        """One draw of (alpha, beta) from the priors.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.

        Returns
        -------
        tuple of float
        """
        alpha = float(rng.beta(self.alpha_a, self.alpha_b))
        beta = float(abs(rng.normal(0.0, self.beta_sigma)))
        return alpha, beta

    def logpdf(self, alpha: ArrayLike, beta: ArrayLike) -> np.ndarray:
        """Log prior density of (alpha, beta): Beta(a, b) times HalfNormal(sigma).

        Parameters
        ----------
        alpha, beta : float or array_like
            Parameter values; broadcast against each other.

        Returns
        -------
        numpy.ndarray
            ``log Beta(alpha | a, b) + log HalfNormal(beta | sigma)``; ``-inf`` where
            alpha is outside [0, 1], beta < 0 or beta is infinite; ``+inf`` at alpha = 0
            or 1 when the corresponding shape parameter is below 1 (and beta is in its
            support), like ``scipy.stats.beta``.
        """
        from scipy.special import betaln, xlog1py, xlogy

        alpha = np.asarray(alpha, dtype=np.float64)
        beta = np.asarray(beta, dtype=np.float64)
        a, b, sigma = self.alpha_a, self.alpha_b, self.beta_sigma
        with np.errstate(divide="ignore", invalid="ignore"):
            la = xlogy(a - 1.0, alpha) + xlog1py(b - 1.0, -alpha) - betaln(a, b)
            lb = 0.5 * math.log(2.0 / math.pi) - math.log(sigma) - 0.5 * (beta / sigma) ** 2
        la = np.where((alpha >= 0.0) & (alpha <= 1.0), la, -np.inf)
        lb = np.where(beta >= 0.0, lb, -np.inf)
        # Zero density in either factor wins over an infinite one in the other; a NaN
        # input stays NaN (the comparisons above are False for it).
        with np.errstate(invalid="ignore"):
            out = np.where((la == -np.inf) | (lb == -np.inf), -np.inf, la + lb)
        return np.where(np.isnan(alpha) | np.isnan(beta), np.nan, out)

    def logpdf_free(self, logit_alpha: ArrayLike, log_beta: ArrayLike) -> np.ndarray:
        """Log prior density of ``(logit(alpha), log(beta))``, the scale NUTS samples on.

        This is :meth:`logpdf` plus the log-Jacobian ``log(alpha (1 - alpha)) +
        log(beta)``, written in terms of the free values so that it stays accurate
        where alpha rounds to 0 or 1: the density of PyMC's ``alpha_logodds__`` and
        ``beta_log__``.

        Parameters
        ----------
        logit_alpha, log_beta : float or array_like
            Free values; broadcast against each other.

        Returns
        -------
        numpy.ndarray
            ``a log(alpha) + b log(1 - alpha) - log B(a, b)`` plus
            ``log(2 / pi) / 2 - log(sigma) - beta^2 / (2 sigma^2) + log(beta)``.
        """
        from scipy.special import betaln, log_expit

        u = np.asarray(logit_alpha, dtype=np.float64)
        v = np.asarray(log_beta, dtype=np.float64)
        a, b, sigma = self.alpha_a, self.alpha_b, self.beta_sigma
        la = a * log_expit(u) + b * log_expit(-u) - betaln(a, b)
        with np.errstate(over="ignore"):
            lb = 0.5 * math.log(2.0 / math.pi) - math.log(sigma) - 0.5 * np.exp(2.0 * v) / sigma**2
        return la + lb + v


def check_params(alpha: float, beta: float) -> None:
    """Raise ``ValueError`` naming the value when (alpha, beta) is outside the model.

    Parameters
    ----------
    alpha : float
        Learning rate, must lie in [0, 1].
    beta : float
        Inverse temperature, must be finite and > 0.
    """
    if not (0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    if not (beta > 0.0 and math.isfinite(beta)):
        raise ValueError(f"beta must be finite and > 0, got {beta!r}")


def _check_task(n_trials: int, reward_probs: Sequence[float]) -> None:
    if int(n_trials) != n_trials or n_trials < 2:
        raise ValueError(f"n_trials must be an integer >= 2, got {n_trials!r}")
    if len(reward_probs) != 2 or not all(0.0 <= p <= 1.0 for p in reward_probs):
        raise ValueError(
            f"reward_probs must be two probabilities in [0, 1], got {list(reward_probs)!r}"
        )


# --------------------------------------------------------------------------------------
# The learning rule. Every kernel and the simulation call it: Q values and their
# derivative with respect to alpha (forward-mode sensitivity) move together.
# --------------------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def learn_step(alpha, action, reward, q0, q1, dq0, dq1):
    """One trial of learning: update the chosen arm's value and its d/dalpha.

    Parameters
    ----------
    alpha : float
        Learning rate.
    action : int
        Chosen arm, 0 or 1.
    reward : float or int
        Reward received, 0 or 1.
    q0, q1 : float
        Values of the left and right arm before the trial.
    dq0, dq1 : float
        Their derivatives with respect to alpha.

    Returns
    -------
    tuple of float
        ``(q0, q1, dq0, dq1)`` after the trial.
    """
    if action == 0:
        dq0 = (1.0 - alpha) * dq0 + (reward - q0)
        q0 += alpha * (reward - q0)
    else:
        dq1 = (1.0 - alpha) * dq1 + (reward - q1)
        q1 += alpha * (reward - q1)
    return q0, q1, dq0, dq1


def simulate(
    alpha: float,
    beta: float,
    n_trials: int,
    reward_probs: Sequence[float] = (0.4, 0.6),
    q_init: float = 0.5,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate one agent on the two-armed bandit.

    Random numbers are drawn in the same order as the reference notebook's
    ``generate_data``: on each trial one ``rng.choice`` for the action, then one
    ``rng.random()`` for the reward. A generator seeded like the notebook's
    therefore reproduces its dataset exactly.

    Parameters
    ----------
    alpha : float
        Learning rate in [0, 1].
    beta : float
        Inverse temperature, > 0.
    n_trials : int
        Number of trials, >= 2.
    reward_probs : sequence of float, default (0.4, 0.6)
        Reward probability of the left (0) and right (1) arm.
    q_init : float, default 0.5
        Initial value of both arms.
    rng : numpy.random.Generator
        Source of randomness. Required: results must be reproducible.

    Returns
    -------
    actions : numpy.ndarray of int64, shape (n_trials,)
        0 = left, 1 = right.
    rewards : numpy.ndarray of int64, shape (n_trials,)
        0 or 1.
    """
    if rng is None:
        raise TypeError("simulate needs an explicit numpy.random.Generator as rng")
    check_params(alpha, beta)
    _check_task(n_trials, reward_probs)
    actions = np.zeros(n_trials, dtype=np.int64)
    rewards = np.zeros(n_trials, dtype=np.int64)
    # The notebook draws, per trial, rng.choice(2, p=softmax) and then rng.random():
    # two uniform doubles in that order (numpy's choice with p draws one, self.random()).
    # Drawn at once, they are the same numbers.
    uniforms = rng.random(2 * int(n_trials))
    _simulate_kernel(
        float(alpha),
        float(beta),
        uniforms,
        float(reward_probs[0]),
        float(reward_probs[1]),
        float(q_init),
        actions,
        rewards,
    )
    return actions, rewards


@numba.njit(cache=True)
def _simulate_kernel(alpha, beta, uniforms, p_left, p_right, q_init, actions, rewards):
    """The trials of :func:`simulate`, given its uniform draws (two per trial).

    The choice follows numpy's ``Generator.choice(2, p=prob)``: softmax
    probabilities normalised as numpy does (``prob / prob.sum()``, then the
    cumulative sum divided by its last element), and the right arm when the
    uniform is at least the left arm's cumulative probability.
    """
    q0 = q_init
    q1 = q_init
    for t in range(actions.shape[0]):
        z0 = beta * q0
        z1 = beta * q1
        top = max(z0, z1)
        e0 = np.exp(z0 - top)
        e1 = np.exp(z1 - top)
        total = e0 + e1
        p0 = e0 / total
        p1 = e1 / total
        a = 1 if uniforms[2 * t] >= p0 / (p0 + p1) else 0
        r = 1 if uniforms[2 * t + 1] < (p_right if a == 1 else p_left) else 0
        q0, q1, _, _ = learn_step(alpha, a, float(r), q0, q1, 0.0, 0.0)
        actions[t] = a
        rewards[t] = r


# --------------------------------------------------------------------------------------
# Likelihood kernels.
# --------------------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _sigmoid(s: float) -> float:
    if s >= 0.0:
        return 1.0 / (1.0 + math.exp(-s))
    e = math.exp(s)
    return e / (1.0 + e)


@numba.njit(cache=True)
def choice_loglik_grad_kernel(alpha, beta, actions, rewards, observed, q_init, out_grad):
    """Log-probability of ``observed`` choices on trials 2..n and its gradient (numba).

    The model observes its own actions (``observed = actions[1:]``); a separate
    argument lets the fused Bernoulli likelihood keep ``pm.Bernoulli``'s semantics: an
    observation other than 0 or 1 has probability 0 (log -inf) and adds nothing to the
    gradient. Writes ``(d/dalpha, d/dbeta)`` to ``out_grad`` and returns the value.
    """
    # Trial t contributes log_sigmoid(s) = min(s, 0) - log(1 + e), e = exp(-|s|), with
    # s = +-beta * (Q1 - Q0). Its derivative sigmoid(-s) needs the same e, so one
    # exponential per trial serves both. The log(1 + e) terms are summed as the log of
    # their product (each factor is in (1, 2]), taken every 256 trials so it cannot
    # overflow: one logarithm per 256 trials instead of one per trial halves the cost,
    # and agrees with the per-trial sum to ~1e-14 relative.
    q0 = q_init
    q1 = q_init
    dq0 = 0.0  # dQ0 / dalpha
    dq1 = 0.0  # dQ1 / dalpha
    ll = 0.0
    log_norm = 0.0
    prod = 1.0
    g_alpha = 0.0
    g_beta = 0.0
    impossible = False
    n = actions.shape[0]
    if observed.shape[0] != max(n - 1, 0):
        raise ValueError("observed choices must number one fewer than the trials")
    for t in range(n):
        if t > 0:
            o = observed[t - 1]
            if o == 1 or o == 0:
                diff = q1 - q0
                sign = 1.0 if o == 1 else -1.0
                s = sign * beta * diff
                e = math.exp(-abs(s))
                one_e = 1.0 + e
                prod *= one_e
                if (t & 255) == 0:
                    log_norm += math.log(prod)
                    prod = 1.0
                if s >= 0.0:
                    dz = sign * e / one_e
                else:
                    ll += s
                    dz = sign / one_e
                # dz = d log p / d(beta * diff)
                g_beta += dz * diff
                g_alpha += dz * (dq1 - dq0)
            else:
                impossible = True
        q0, q1, dq0, dq1 = learn_step(alpha, actions[t], rewards[t], q0, q1, dq0, dq1)
    out_grad[0] = g_alpha * beta
    out_grad[1] = g_beta
    if impossible:
        return -math.inf
    return ll - (log_norm + math.log(prod))


@numba.njit(cache=True)
def loglik_grad_kernel(alpha, beta, actions, rewards, q_init, out_grad):
    """The model's log-likelihood and gradient: observed choices are ``actions[1:]`` (numba)."""
    return choice_loglik_grad_kernel(alpha, beta, actions, rewards, actions[1:], q_init, out_grad)


@numba.njit(cache=True)
def right_probs_jac_kernel(alpha, beta, actions, rewards, q_init, p, jac):
    """``p[t-1] = P(action_t = right | history)``, t = 1..n-1, and its Jacobian (numba).

    ``jac[t-1] = (dp/dalpha, dp/dbeta)``.
    """
    q0 = q_init
    q1 = q_init
    dq0 = 0.0
    dq1 = 0.0
    n = actions.shape[0]
    for t in range(n):
        if t > 0:
            diff = q1 - q0
            pr = _sigmoid(beta * diff)
            p[t - 1] = pr
            w = pr * (1.0 - pr)
            jac[t - 1, 0] = w * beta * (dq1 - dq0)
            jac[t - 1, 1] = w * diff
        q0, q1, dq0, dq1 = learn_step(alpha, actions[t], rewards[t], q0, q1, dq0, dq1)


# nogil: jobs run as threads of one process, and a grid takes long enough to stall the
# other jobs' Python if it held the GIL.
@numba.njit(cache=True, nogil=True)
def loglik_grid_kernel(alphas, betas, actions, rewards, q_init, out):
    """``out[i, j]`` = the log-likelihood at ``(alphas[i], betas[j])`` (numba).

    The same arithmetic as :func:`loglik_grad_kernel`, in the same order, so every value
    is bitwise the one it returns (the tests check this), but organised for a grid: the
    values' path depends on alpha only (beta scales the difference of the two values),
    so it is learned once per alpha with :func:`learn_step`, and each trial's term is
    then added for all betas at once; no gradient is computed.
    """
    if out.shape[0] != alphas.shape[0] or out.shape[1] != betas.shape[0]:
        raise ValueError("out must have shape (len(alphas), len(betas))")
    n = actions.shape[0]
    m = max(n - 1, 0)
    n_beta = betas.shape[0]
    signed_diff = np.empty(m)  # (Q1 - Q0) before trial t, signed by the choice made
    ll = np.empty(n_beta)
    log_norm = np.empty(n_beta)
    prod = np.empty(n_beta)
    for i in range(alphas.shape[0]):
        alpha = alphas[i]
        q0 = q_init
        q1 = q_init
        dq0 = 0.0
        dq1 = 0.0
        impossible = False
        for t in range(n):
            if t > 0:
                o = actions[t]
                if o == 1 or o == 0:
                    sign = 1.0 if o == 1 else -1.0
                    signed_diff[t - 1] = sign * (q1 - q0)
                else:
                    impossible = True
            q0, q1, dq0, dq1 = learn_step(alpha, actions[t], rewards[t], q0, q1, dq0, dq1)
        if impossible:
            out[i, :] = -math.inf
            continue
        ll[:] = 0.0
        log_norm[:] = 0.0
        prod[:] = 1.0
        for t in range(1, n):
            d = signed_diff[t - 1]
            flush = (t & 255) == 0
            for j in range(n_beta):
                s = betas[j] * d
                e = math.exp(-abs(s))
                p = prod[j] * (1.0 + e)
                if flush:
                    log_norm[j] += math.log(p)
                    p = 1.0
                prod[j] = p
                if s < 0.0:
                    ll[j] += s
        for j in range(n_beta):
            out[i, j] = ll[j] - (log_norm[j] + math.log(prod[j]))


def _source_salt() -> int:
    # A change to any kernel's source invalidates PyTensor's on-disk numba cache.
    text = "".join(
        inspect.getsource(f)
        for f in (
            learn_step,
            _sigmoid,
            choice_loglik_grad_kernel,
            loglik_grad_kernel,
            right_probs_jac_kernel,
        )
    )
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


#: The kernels as the PyTensor Ops and the MLE optimiser call them.
KERNELS = Kernels(
    name="qlearning",
    params=PARAMS,
    loglik_grad=loglik_grad_kernel,
    choice_loglik_grad=choice_loglik_grad_kernel,
    right_probs_jac=right_probs_jac_kernel,
    salt=_source_salt(),
)


# --------------------------------------------------------------------------------------
# Python entry points.
# --------------------------------------------------------------------------------------


def check_data(actions: np.ndarray, rewards: np.ndarray) -> None:
    """Raise ``ValueError`` naming the first bad value unless the data fit the model.

    Parameters
    ----------
    actions, rewards : numpy.ndarray
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
            raise ValueError(f"{name} must be 0 or 1, got {x[bad[0]]!r} on trial {bad[0] + 1}")


def as_data(actions: np.ndarray, rewards: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Checked, contiguous copies of one dataset in the kernels' dtypes.

    Parameters
    ----------
    actions, rewards : numpy.ndarray
        One dataset (see :func:`check_data`).

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


def loglik(
    alpha: float, beta: float, actions: np.ndarray, rewards: np.ndarray, q_init: float = 0.5
) -> float:
    """Log-likelihood of the observed actions, trials 2..n.

    Parameters
    ----------
    alpha, beta : float
        Model parameters.
    actions, rewards : numpy.ndarray
        Observed data, 1-d, equal length.
    q_init : float, default 0.5
        Initial Q value of both arms.

    Returns
    -------
    float
        ``sum_{t>=2} log p(actions[t] | history)``.
    """
    return loglik_grad(alpha, beta, actions, rewards, q_init)[0]


def loglik_grad(
    alpha: float, beta: float, actions: np.ndarray, rewards: np.ndarray, q_init: float = 0.5
) -> tuple[float, np.ndarray]:
    """Log-likelihood and its exact gradient with respect to (alpha, beta).

    The gradient is computed in the same pass by carrying dQ/dalpha through the
    trial loop (forward-mode sensitivities).

    Parameters
    ----------
    alpha, beta : float
        Model parameters.
    actions, rewards : numpy.ndarray
        Observed data.
    q_init : float, default 0.5
        Initial Q value of both arms.

    Returns
    -------
    ll : float
        Log-likelihood, as :func:`loglik`.
    grad : numpy.ndarray, shape (2,)
        ``(d ll / d alpha, d ll / d beta)``.
    """
    actions, rewards = as_data(actions, rewards)
    grad = np.empty(2)
    ll = loglik_grad_kernel(float(alpha), float(beta), actions, rewards, float(q_init), grad)
    return float(ll), grad


def right_probs(
    alpha: float, beta: float, actions: np.ndarray, rewards: np.ndarray, q_init: float = 0.5
) -> np.ndarray:
    """Probability of choosing the right arm on trials 2..n, given the history.

    Parameters
    ----------
    alpha, beta : float
        Model parameters.
    actions, rewards : numpy.ndarray
        Observed data.
    q_init : float, default 0.5
        Initial Q value of both arms.

    Returns
    -------
    numpy.ndarray, shape (n - 1,)
    """
    return right_probs_jac(alpha, beta, actions, rewards, q_init)[0]


def right_probs_jac(
    alpha: float, beta: float, actions: np.ndarray, rewards: np.ndarray, q_init: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Right-arm probabilities on trials 2..n and their Jacobian, in one pass.

    Parameters
    ----------
    alpha, beta : float
        Model parameters.
    actions, rewards : numpy.ndarray
        Observed data.
    q_init : float, default 0.5
        Initial Q value of both arms.

    Returns
    -------
    p : numpy.ndarray, shape (n - 1,)
    jac : numpy.ndarray, shape (n - 1, 2)
        ``jac[i] = (dp[i]/dalpha, dp[i]/dbeta)``.
    """
    actions, rewards = as_data(actions, rewards)
    n = actions.shape[0]
    p = np.empty(max(n - 1, 0))
    jac = np.empty((max(n - 1, 0), 2))
    right_probs_jac_kernel(float(alpha), float(beta), actions, rewards, float(q_init), p, jac)
    return p, jac


def loglik_reference(
    alpha: float, beta: float, actions: np.ndarray, rewards: np.ndarray, q_init: float = 0.5
) -> float:
    """Plain-Python loop log-likelihood, written independently of the kernels.

    It follows the reference notebook's ``llik_td`` (softmax through a general
    log-sum-exp over both arms) and exists only to check the fast kernels.

    Parameters
    ----------
    alpha, beta : float
        Model parameters.
    actions, rewards : numpy.ndarray
        Observed data.
    q_init : float, default 0.5
        Initial Q value of both arms.

    Returns
    -------
    float
    """
    q = np.array([q_init, q_init], dtype=np.float64)
    total = 0.0
    for t, (a, r) in enumerate(zip(np.asarray(actions), np.asarray(rewards), strict=True)):
        z = beta * q
        m = z.max()
        logp = z - (m + math.log(math.exp(z[0] - m) + math.exp(z[1] - m)))
        if t > 0:
            total += logp[int(a)]
        q[int(a)] += alpha * (float(r) - q[int(a)])
    return float(total)


# --------------------------------------------------------------------------------------
# Maximum likelihood: random starting points on the natural scale.
# --------------------------------------------------------------------------------------


def mle_start(rng: np.random.Generator) -> dict[str, float]:
    """A random starting point of the optimiser (alpha in [0.05, 0.95], beta in [0.3, 30]).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    dict
        ``{"alpha": ..., "beta": ...}``.
    """
    alpha = rng.uniform(0.05, 0.95)
    beta = math.exp(rng.uniform(math.log(0.3), math.log(30.0)))
    return {"alpha": alpha, "beta": beta}


#: The optimiser's fixed first start: the middle of the alpha range and a moderate beta.
MLE_FIRST_START: dict[str, float] = {"alpha": 0.5, "beta": 3.0}


# --------------------------------------------------------------------------------------
# The two PyMC models of the reference notebook.
# --------------------------------------------------------------------------------------

#: The notebook's two ways to give PyMC the likelihood.
KINDS = ("potential", "bernoulli")


def build_model(
    kind: str,
    actions: np.ndarray,
    rewards: np.ndarray,
    priors: Priors,
    q_init: float = 0.5,
    likelihood: str = "op",
):
    """Build one of the notebook's two PyMC models.

    Parameters
    ----------
    kind : {"potential", "bernoulli"}
        ``"potential"`` adds the log-likelihood with ``pm.Potential``;
        ``"bernoulli"`` observes ``actions[1:]`` with ``pm.Bernoulli(p=...)``, so prior
        and posterior predictive sampling work.
    actions, rewards : numpy.ndarray
        Initial data (replaceable later through the ``pm.Data`` containers
        ``"actions"`` and ``"rewards"``).
    priors : Priors
        alpha ~ Beta(a, b), beta ~ HalfNormal(sigma).
    q_init : float, default 0.5
        Initial Q value.
    likelihood : {"op", "scan"}, default "op"
        ``"op"``: the one-pass numba Ops (:mod:`rlrecover.ops`); ``"scan"``: the
        notebook's ``pytensor.scan`` graph (:mod:`rlrecover.scan_reference`; slow).

    Returns
    -------
    pymc.Model
    """
    from rlrecover.bayes import pm

    if kind not in KINDS:
        raise ValueError(f"model kind must be one of {KINDS}, got {kind!r}")
    if likelihood not in ("op", "scan"):
        raise ValueError(f"likelihood must be 'op' or 'scan', got {likelihood!r}")
    actions = np.asarray(actions, dtype=np.int64)
    rewards = np.asarray(rewards, dtype=np.int64)
    # The likelihoods keep p inside [0, 1] and the priors' transforms keep alpha and
    # beta in their supports, so PyMC's parameter checks can never fire: dropping them
    # (check_bounds=False) removes work from every gradient evaluation.
    with pm.Model(check_bounds=False) as model:
        actions_d = pm.Data("actions", actions)
        rewards_d = pm.Data("rewards", rewards)
        alpha = pm.Beta("alpha", alpha=priors.alpha_a, beta=priors.alpha_b)
        beta = pm.HalfNormal("beta", sigma=priors.beta_sigma)
        if likelihood == "op":
            from rlrecover.ops import loglik_op, right_probs_op

            params = [alpha, beta]
            consts = (float(q_init),)
            if kind == "potential":
                ll = loglik_op(__name__, consts, params, actions_d, rewards_d)
                pm.Potential("like", ll)
            else:
                p = right_probs_op(__name__, consts, params, actions_d, rewards_d)
                pm.Bernoulli("like", p=p, observed=actions_d[1:])
        else:
            from rlrecover.scan_reference import scan_loglik, scan_right_probs

            if kind == "potential":
                pm.Potential("like", scan_loglik(alpha, beta, actions_d, rewards_d, q_init))
            else:
                p = scan_right_probs(alpha, beta, actions_d, rewards_d, q_init)
                pm.Bernoulli("like", p=p, observed=actions_d[1:])
    return model
