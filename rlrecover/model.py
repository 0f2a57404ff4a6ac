"""The Q-learning model of a two-armed bandit: simulation and likelihood.

This module is the single home of the model's mathematics. Every fitter (maximum
likelihood, both PyMC models, the reference implementations used in tests) calls
the kernels defined here.

Model
-----
Two arms with reward probabilities ``reward_probs``. Both action values start at
``q_init``. On trial ``t`` the agent picks the right arm (action 1) with
probability ``sigmoid(beta * (Q[1] - Q[0]))`` (the two-arm softmax), receives a
reward ``r`` in {0, 1} and updates the chosen arm only::

    Q[a] += alpha * (r - Q[a])

The log-likelihood is the sum of ``log p(observed action)`` over trials
``2..n``: the first choice is left out, as in the reference notebook.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np

__all__ = [
    "check_data",
    "check_params",
    "loglik",
    "loglik_grad",
    "loglik_reference",
    "right_probs",
    "right_probs_jac",
    "simulate",
]


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
    p_r = [float(p) for p in reward_probs]
    actions = np.zeros(n_trials, dtype=np.int64)
    rewards = np.zeros(n_trials, dtype=np.int64)
    q = np.array([q_init, q_init], dtype=np.float64)
    arms = np.array([0, 1])
    for t in range(n_trials):
        z = beta * q
        z -= z.max()
        prob = np.exp(z)
        prob /= prob.sum()
        a = int(rng.choice(arms, p=prob))
        r = int(rng.random() < p_r[a])
        q[a] += alpha * (r - q[a])
        actions[t] = a
        rewards[t] = r
    return actions, rewards


# --------------------------------------------------------------------------------------
# Numba kernels. All share one recursion: Q values and their derivative with respect
# to alpha (forward-mode sensitivity) are carried through the trial loop.
# --------------------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _sigmoid(s: float) -> float:
    if s >= 0.0:
        return 1.0 / (1.0 + math.exp(-s))
    e = math.exp(s)
    return e / (1.0 + e)


@numba.njit(cache=True)
def _choice_loglik_grad_kernel(alpha, beta, actions, rewards, observed, q_init, out_grad):
    # Log-probability of the choices observed[t - 1] on trials t = 1..n-1, given the Q
    # values learnt from actions[:t] and rewards[:t], and its gradient. The model
    # observes its own actions (observed = actions[1:]); a separate argument lets the
    # fused Bernoulli likelihood keep pm.Bernoulli's semantics: an observation other
    # than 0 or 1 has probability 0 (log -inf) and adds nothing to the gradient.
    #
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
        a = actions[t]
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
        r = rewards[t]
        if a == 0:
            dq0 = (1.0 - alpha) * dq0 + (r - q0)
            q0 += alpha * (r - q0)
        else:
            dq1 = (1.0 - alpha) * dq1 + (r - q1)
            q1 += alpha * (r - q1)
    out_grad[0] = g_alpha * beta
    out_grad[1] = g_beta
    if impossible:
        return -math.inf
    return ll - (log_norm + math.log(prod))


@numba.njit(cache=True)
def _loglik_grad_kernel(alpha, beta, actions, rewards, q_init, out_grad):
    # The model's likelihood: the observed choices are the actions of trials 2..n.
    return _choice_loglik_grad_kernel(alpha, beta, actions, rewards, actions[1:], q_init, out_grad)


@numba.njit(cache=True)
def _right_probs_jac_kernel(alpha, beta, actions, rewards, q_init, p, jac):
    # p[t-1] = P(action_t = right | history), t = 1..n-1; jac[t-1] = (dp/dalpha, dp/dbeta)
    q0 = q_init
    q1 = q_init
    dq0 = 0.0
    dq1 = 0.0
    n = actions.shape[0]
    for t in range(n):
        a = actions[t]
        if t > 0:
            diff = q1 - q0
            pr = _sigmoid(beta * diff)
            p[t - 1] = pr
            w = pr * (1.0 - pr)
            jac[t - 1, 0] = w * beta * (dq1 - dq0)
            jac[t - 1, 1] = w * diff
        r = rewards[t]
        if a == 0:
            dq0 = (1.0 - alpha) * dq0 + (r - q0)
            q0 += alpha * (r - q0)
        else:
            dq1 = (1.0 - alpha) * dq1 + (r - q1)
            q1 += alpha * (r - q1)


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


def _as_data(actions: np.ndarray, rewards: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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

    Returns
    -------
    ll : float
        Log-likelihood, as :func:`loglik`.
    grad : numpy.ndarray, shape (2,)
        ``(d ll / d alpha, d ll / d beta)``.
    """
    actions, rewards = _as_data(actions, rewards)
    grad = np.empty(2)
    ll = _loglik_grad_kernel(float(alpha), float(beta), actions, rewards, float(q_init), grad)
    return float(ll), grad


def right_probs(
    alpha: float, beta: float, actions: np.ndarray, rewards: np.ndarray, q_init: float = 0.5
) -> np.ndarray:
    """Probability of choosing the right arm on trials 2..n, given the history.

    Returns
    -------
    numpy.ndarray, shape (n - 1,)
    """
    return right_probs_jac(alpha, beta, actions, rewards, q_init)[0]


def right_probs_jac(
    alpha: float, beta: float, actions: np.ndarray, rewards: np.ndarray, q_init: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Right-arm probabilities on trials 2..n and their Jacobian, in one pass.

    Returns
    -------
    p : numpy.ndarray, shape (n - 1,)
    jac : numpy.ndarray, shape (n - 1, 2)
        ``jac[i] = (dp[i]/dalpha, dp[i]/dbeta)``.
    """
    actions, rewards = _as_data(actions, rewards)
    n = actions.shape[0]
    p = np.empty(max(n - 1, 0))
    jac = np.empty((max(n - 1, 0), 2))
    _right_probs_jac_kernel(float(alpha), float(beta), actions, rewards, float(q_init), p, jac)
    return p, jac


def loglik_reference(
    alpha: float, beta: float, actions: np.ndarray, rewards: np.ndarray, q_init: float = 0.5
) -> float:
    """Plain-Python loop log-likelihood, written independently of the kernels.

    It follows the reference notebook's ``llik_td`` (softmax through a general
    log-sum-exp over both arms) and exists only to check the fast kernels.
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
