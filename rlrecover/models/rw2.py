"""``rw2``: Rescorla-Wagner with separate learning rates for positive and negative errors.

hBayesDM's ``prl_rp`` ("reward-punishment") model and pyEM's ``rw2a1b``: the chosen
arm's value moves by ``alpha_pos * d`` when the prediction error ``d = r - Q[a]`` is
positive and by ``alpha_neg * d`` otherwise; choices follow ``sigmoid(beta (Q1 -
Q0))``. hBayesDM picks the rate by the outcome's sign, which for rewards in {0, 1}
and values in [0, 1] is the same thing.
"""

from __future__ import annotations

import numba

from rlrecover.models.base import (
    BASE_HELPERS,
    Kernels,
    Model,
    Param,
    decision_arrays,
    kernel_salt,
    logit_loglik_grad,
    logit_probs_jac,
    sigmoid,
)

__all__ = ["MODEL", "learn_step2"]


@numba.njit(cache=True, inline="always")
def learn_step2(alpha_pos, alpha_neg, reward, q, dq_pos, dq_neg):
    """One update of the chosen arm's value ``q`` and its derivatives in both rates."""
    d = reward - q
    if d > 0.0:
        dq_pos = (1.0 - alpha_pos) * dq_pos + d
        dq_neg = (1.0 - alpha_pos) * dq_neg
        q += alpha_pos * d
    else:
        dq_pos = (1.0 - alpha_neg) * dq_pos
        dq_neg = (1.0 - alpha_neg) * dq_neg + d
        q += alpha_neg * d
    return q, dq_pos, dq_neg


@numba.njit(cache=True, inline="always")
def decision(alpha_pos, alpha_neg, beta, actions, rewards, q_init, z, dz):
    """Log-odds of choosing the right arm on trials 2..n and their gradient."""
    q = [q_init, q_init]
    dp = [0.0, 0.0]  # dQ / d alpha_pos per arm
    dn = [0.0, 0.0]  # dQ / d alpha_neg per arm
    for t in range(z.shape[0]):
        a = actions[t]
        q[a], dp[a], dn[a] = learn_step2(alpha_pos, alpha_neg, rewards[t], q[a], dp[a], dn[a])
        diff = q[1] - q[0]
        z[t] = beta * diff
        dz[t, 0] = beta * (dp[1] - dp[0])
        dz[t, 1] = beta * (dn[1] - dn[0])
        dz[t, 2] = diff


@numba.njit(cache=True)
def loglik_grad_kernel(alpha_pos, alpha_neg, beta, actions, rewards, q_init, out_grad):
    z, dz = decision_arrays(actions.shape[0], 3)
    decision(alpha_pos, alpha_neg, beta, actions, rewards, q_init, z, dz)
    return logit_loglik_grad(z, dz, actions[1:], out_grad)


@numba.njit(cache=True)
def choice_loglik_grad_kernel(
    alpha_pos, alpha_neg, beta, actions, rewards, observed, q_init, out_grad
):
    z, dz = decision_arrays(actions.shape[0], 3)
    decision(alpha_pos, alpha_neg, beta, actions, rewards, q_init, z, dz)
    return logit_loglik_grad(z, dz, observed, out_grad)


@numba.njit(cache=True)
def right_probs_jac_kernel(alpha_pos, alpha_neg, beta, actions, rewards, q_init, p, jac):
    z, dz = decision_arrays(actions.shape[0], 3)
    decision(alpha_pos, alpha_neg, beta, actions, rewards, q_init, z, dz)
    logit_probs_jac(z, dz, p, jac)


@numba.njit(cache=True)
def simulate_kernel(
    alpha_pos, alpha_neg, beta, uniforms, p_left, p_right, q_init, actions, rewards
):
    q = [q_init, q_init]
    for t in range(actions.shape[0]):
        p1 = sigmoid(beta * (q[1] - q[0]))
        a = 1 if uniforms[2 * t] >= 1.0 - p1 else 0
        r = 1 if uniforms[2 * t + 1] < (p_right[t] if a == 1 else p_left[t]) else 0
        actions[t] = a
        rewards[t] = r
        q[a], _, _ = learn_step2(alpha_pos, alpha_neg, float(r), q[a], 0.0, 0.0)


MODEL = Model(
    name="rw2",
    title="Rescorla-Wagner with two learning rates",
    params=(
        Param("alpha_pos", "unit", "learning rate after a positive prediction error"),
        Param("alpha_neg", "unit", "learning rate after a negative prediction error"),
        Param("beta", "positive", "inverse temperature"),
    ),
    kernels=Kernels(
        loglik_grad=loglik_grad_kernel,
        choice_loglik_grad=choice_loglik_grad_kernel,
        right_probs_jac=right_probs_jac_kernel,
        salt=kernel_salt(
            learn_step2,
            decision,
            loglik_grad_kernel,
            choice_loglik_grad_kernel,
            right_probs_jac_kernel,
            *BASE_HELPERS,
        ),
    ),
    simulate_kernel=simulate_kernel,
    equations=(
        "P(right) = sigmoid(beta (Q1 - Q0)); d = r - Q[a]; Q[a] += alpha_pos d if d > 0, "
        "else alpha_neg d; Q starts at q_init"
    ),
    consts=(("q_init", 0.5),),
)
