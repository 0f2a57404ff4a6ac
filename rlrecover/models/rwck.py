"""``rwck``: Rescorla-Wagner plus a choice kernel (Wilson & Collins 2019, model 5).

Values ``Q`` learn from rewards as in :mod:`rlrecover.models.rw` and choice traces
``C`` from choices as in :mod:`rlrecover.models.ck`; the agent chooses the right arm
with probability ``sigmoid(beta (Q1 - Q0) + beta_c (C1 - C0))``.
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
from rlrecover.models.ck import kernel_step
from rlrecover.models.rw import learn_step

__all__ = ["MODEL"]


@numba.njit(cache=True, inline="always")
def decision(alpha, beta, alpha_c, beta_c, actions, rewards, q_init, z, dz):
    """Log-odds of choosing the right arm on trials 2..n and their gradient."""
    q0 = q_init
    q1 = q_init
    dq0 = 0.0
    dq1 = 0.0
    d = 0.0
    dd = 0.0
    for t in range(z.shape[0]):
        q0, q1, dq0, dq1 = learn_step(alpha, actions[t], rewards[t], q0, q1, dq0, dq1)
        d, dd = kernel_step(alpha_c, actions[t], d, dd)
        z[t] = beta * (q1 - q0) + beta_c * d
        dz[t, 0] = beta * (dq1 - dq0)
        dz[t, 1] = q1 - q0
        dz[t, 2] = beta_c * dd
        dz[t, 3] = d


@numba.njit(cache=True)
def loglik_grad_kernel(alpha, beta, alpha_c, beta_c, actions, rewards, q_init, out_grad):
    z, dz = decision_arrays(actions.shape[0], 4)
    decision(alpha, beta, alpha_c, beta_c, actions, rewards, q_init, z, dz)
    return logit_loglik_grad(z, dz, actions[1:], out_grad)


@numba.njit(cache=True)
def choice_loglik_grad_kernel(
    alpha, beta, alpha_c, beta_c, actions, rewards, observed, q_init, out_grad
):
    z, dz = decision_arrays(actions.shape[0], 4)
    decision(alpha, beta, alpha_c, beta_c, actions, rewards, q_init, z, dz)
    return logit_loglik_grad(z, dz, observed, out_grad)


@numba.njit(cache=True)
def right_probs_jac_kernel(alpha, beta, alpha_c, beta_c, actions, rewards, q_init, p, jac):
    z, dz = decision_arrays(actions.shape[0], 4)
    decision(alpha, beta, alpha_c, beta_c, actions, rewards, q_init, z, dz)
    logit_probs_jac(z, dz, p, jac)


@numba.njit(cache=True)
def simulate_kernel(
    alpha, beta, alpha_c, beta_c, uniforms, p_left, p_right, q_init, actions, rewards
):
    q0 = q_init
    q1 = q_init
    d = 0.0
    for t in range(actions.shape[0]):
        p1 = sigmoid(beta * (q1 - q0) + beta_c * d)
        a = 1 if uniforms[2 * t] >= 1.0 - p1 else 0
        r = 1 if uniforms[2 * t + 1] < (p_right[t] if a == 1 else p_left[t]) else 0
        actions[t] = a
        rewards[t] = r
        q0, q1, _, _ = learn_step(alpha, a, float(r), q0, q1, 0.0, 0.0)
        d, _ = kernel_step(alpha_c, a, d, 0.0)


MODEL = Model(
    name="rwck",
    title="Rescorla-Wagner with a choice kernel",
    params=(
        Param("alpha", "unit", "learning rate"),
        Param("beta", "positive", "inverse temperature"),
        Param("alpha_c", "unit", "choice-kernel learning rate"),
        Param("beta_c", "positive", "choice-kernel inverse temperature"),
    ),
    kernels=Kernels(
        loglik_grad=loglik_grad_kernel,
        choice_loglik_grad=choice_loglik_grad_kernel,
        right_probs_jac=right_probs_jac_kernel,
        salt=kernel_salt(
            learn_step,
            kernel_step,
            decision,
            loglik_grad_kernel,
            choice_loglik_grad_kernel,
            right_probs_jac_kernel,
            *BASE_HELPERS,
        ),
    ),
    simulate_kernel=simulate_kernel,
    equations=(
        "P(right) = sigmoid(beta (Q1 - Q0) + beta_c (C1 - C0)); Q learns as in rw, C as in ck"
    ),
    consts=(("q_init", 0.5),),
)
