"""``ck``: the choice kernel (Wilson & Collins 2019, model 4): perseveration alone.

Each arm has a choice trace ``C`` starting at 0. The agent chooses the right arm with
probability ``sigmoid(beta_c (C1 - C0))``; after each choice every trace decays,
``C <- (1 - alpha_c) C``, and the chosen arm's grows, ``C[a] += alpha_c``. Only the
difference ``D = C1 - C0`` matters: ``D <- (1 - alpha_c) D +- alpha_c`` (+ after a
right choice).
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

__all__ = ["MODEL", "kernel_step"]


@numba.njit(cache=True, inline="always")
def kernel_step(alpha_c, action, d, dd):
    """One trial of the choice kernel: ``D = C1 - C0`` and ``dD / d alpha_c`` after it."""
    target = 1.0 if action == 1 else -1.0
    dd = (1.0 - alpha_c) * dd + (target - d)
    d = (1.0 - alpha_c) * d + alpha_c * target
    return d, dd


@numba.njit(cache=True, inline="always")
def decision(alpha_c, beta_c, actions, rewards, z, dz):
    """Log-odds of choosing the right arm on trials 2..n and their gradient."""
    d = 0.0
    dd = 0.0
    for t in range(z.shape[0]):
        d, dd = kernel_step(alpha_c, actions[t], d, dd)
        z[t] = beta_c * d
        dz[t, 0] = beta_c * dd
        dz[t, 1] = d


@numba.njit(cache=True)
def loglik_grad_kernel(alpha_c, beta_c, actions, rewards, out_grad):
    z, dz = decision_arrays(actions.shape[0], 2)
    decision(alpha_c, beta_c, actions, rewards, z, dz)
    return logit_loglik_grad(z, dz, actions[1:], out_grad)


@numba.njit(cache=True)
def choice_loglik_grad_kernel(alpha_c, beta_c, actions, rewards, observed, out_grad):
    z, dz = decision_arrays(actions.shape[0], 2)
    decision(alpha_c, beta_c, actions, rewards, z, dz)
    return logit_loglik_grad(z, dz, observed, out_grad)


@numba.njit(cache=True)
def right_probs_jac_kernel(alpha_c, beta_c, actions, rewards, p, jac):
    z, dz = decision_arrays(actions.shape[0], 2)
    decision(alpha_c, beta_c, actions, rewards, z, dz)
    logit_probs_jac(z, dz, p, jac)


@numba.njit(cache=True)
def simulate_kernel(alpha_c, beta_c, uniforms, p_left, p_right, actions, rewards):
    d = 0.0
    for t in range(actions.shape[0]):
        p1 = sigmoid(beta_c * d)
        a = 1 if uniforms[2 * t] >= 1.0 - p1 else 0
        actions[t] = a
        rewards[t] = 1 if uniforms[2 * t + 1] < (p_right[t] if a == 1 else p_left[t]) else 0
        d, _ = kernel_step(alpha_c, a, d, 0.0)


MODEL = Model(
    name="ck",
    title="Choice kernel",
    params=(
        Param("alpha_c", "unit", "choice-kernel learning rate"),
        Param("beta_c", "positive", "choice-kernel inverse temperature"),
    ),
    kernels=Kernels(
        loglik_grad=loglik_grad_kernel,
        choice_loglik_grad=choice_loglik_grad_kernel,
        right_probs_jac=right_probs_jac_kernel,
        salt=kernel_salt(
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
        "P(right) = sigmoid(beta_c (C1 - C0)); after each choice C <- (1 - alpha_c) C, "
        "then C[a] += alpha_c; C starts at 0"
    ),
)
