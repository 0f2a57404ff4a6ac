"""``rw``: the Rescorla-Wagner (Q-learning) model of the reference notebook.

Two arms; both action values start at ``q_init``. On trial ``t`` the agent picks the
right arm (action 1) with probability ``sigmoid(beta * (Q[1] - Q[0]))`` (the two-arm
softmax), receives a reward ``r`` in {0, 1} and updates the chosen arm only::

    Q[a] += alpha * (r - Q[a])

The log-likelihood is the sum of ``log p(observed action)`` over trials ``2..n``: the
first choice is left out, as in the reference notebook. Its kernels are written by
hand (one exponential per trial, logarithms batched every 256 trials), and it has a
fast grid kernel for the exact posterior. Its random streams are those of the
single-model releases (``legacy_streams``), so its results are unchanged.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from rlrecover.models.base import Kernels, Model, Param, kernel_salt, sigmoid

__all__ = ["MODEL", "learn_step"]


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


@numba.njit(cache=True)
def _simulate_kernel(alpha, beta, uniforms, p_left, p_right, q_init, actions, rewards):
    """The trials of :meth:`Model.simulate`, given its uniform draws (two per trial).

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
        r = 1 if uniforms[2 * t + 1] < (p_right[t] if a == 1 else p_left[t]) else 0
        q0, q1, _, _ = learn_step(alpha, a, float(r), q0, q1, 0.0, 0.0)
        actions[t] = a
        rewards[t] = r


# --------------------------------------------------------------------------------------
# Likelihood kernels.
# --------------------------------------------------------------------------------------


@numba.njit(cache=True)
def choice_loglik_grad_kernel(alpha, beta, actions, rewards, observed, q_init, out_grad):
    """Log-probability of ``observed`` choices on trials 2..n and its gradient (numba).

    The model observes its own actions (``observed = actions[1:]``); a separate
    argument lets the fused Bernoulli likelihood keep ``pm.Bernoulli``'s semantics: an
    observation other than 0 or 1 has probability 0 (log -inf) and adds nothing to the
    gradient. Writes ``(d/dalpha, d/dbeta)`` to ``out_grad`` and returns the value.
    """
    # Trial t contributes logsigmoid(s) = min(s, 0) - log(1 + e), e = exp(-|s|), with
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
            pr = sigmoid(beta * diff)
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


#: The model record.
MODEL = Model(
    name="rw",
    title="Rescorla-Wagner (Q-learning)",
    params=(
        Param("alpha", "unit", "learning rate"),
        Param("beta", "positive", "inverse temperature"),
    ),
    kernels=Kernels(
        loglik_grad=loglik_grad_kernel,
        choice_loglik_grad=choice_loglik_grad_kernel,
        right_probs_jac=right_probs_jac_kernel,
        salt=kernel_salt(
            learn_step,
            sigmoid,
            choice_loglik_grad_kernel,
            loglik_grad_kernel,
            right_probs_jac_kernel,
        ),
    ),
    simulate_kernel=_simulate_kernel,
    equations=(
        "P(right) = sigmoid(beta (Q1 - Q0)); after each choice Q[a] += alpha (r - Q[a]); "
        "Q starts at q_init"
    ),
    consts=(("q_init", 0.5),),
    grid_loglik=loglik_grid_kernel,
    legacy_streams=True,
)
