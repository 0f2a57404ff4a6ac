"""``bias``: random responding with a side bias (Wilson & Collins 2019, model 1).

The agent chooses the right arm with probability ``b`` on every trial, whatever
happened before: ``P(right) = b``. The decision variable is ``z = logit(b)``.
"""

from __future__ import annotations

import math

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
)

__all__ = ["MODEL"]


@numba.njit(cache=True, inline="always")
def decision(b, actions, rewards, z, dz):
    """Log-odds of choosing the right arm on trials 2..n and their gradient."""
    logit = math.log(b) - math.log1p(-b)  # -inf at b = 0, +inf at b = 1
    # d logit(b) / d b; infinite (not a division by zero) at the ends of the support,
    # where every choice is certain.
    w = b * (1.0 - b)
    slope = 1.0 / w if w > 0.0 else math.inf
    for t in range(z.shape[0]):
        z[t] = logit
        dz[t, 0] = slope


@numba.njit(cache=True)
def loglik_grad_kernel(b, actions, rewards, out_grad):
    z, dz = decision_arrays(actions.shape[0], 1)
    decision(b, actions, rewards, z, dz)
    return logit_loglik_grad(z, dz, actions[1:], out_grad)


@numba.njit(cache=True)
def choice_loglik_grad_kernel(b, actions, rewards, observed, out_grad):
    z, dz = decision_arrays(actions.shape[0], 1)
    decision(b, actions, rewards, z, dz)
    return logit_loglik_grad(z, dz, observed, out_grad)


@numba.njit(cache=True)
def right_probs_jac_kernel(b, actions, rewards, p, jac):
    z, dz = decision_arrays(actions.shape[0], 1)
    decision(b, actions, rewards, z, dz)
    logit_probs_jac(z, dz, p, jac)


@numba.njit(cache=True)
def simulate_kernel(b, uniforms, p_left, p_right, actions, rewards):
    for t in range(actions.shape[0]):
        a = 1 if uniforms[2 * t] >= 1.0 - b else 0
        actions[t] = a
        rewards[t] = 1 if uniforms[2 * t + 1] < (p_right[t] if a == 1 else p_left[t]) else 0


MODEL = Model(
    name="bias",
    title="Random responding with a bias",
    params=(Param("b", "unit", "probability of choosing the right arm"),),
    kernels=Kernels(
        loglik_grad=loglik_grad_kernel,
        choice_loglik_grad=choice_loglik_grad_kernel,
        right_probs_jac=right_probs_jac_kernel,
        salt=kernel_salt(
            decision,
            loglik_grad_kernel,
            choice_loglik_grad_kernel,
            right_probs_jac_kernel,
            *BASE_HELPERS,
        ),
    ),
    simulate_kernel=simulate_kernel,
    equations="P(right) = b on every trial; no learning",
)
