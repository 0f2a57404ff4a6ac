"""``wsls``: noisy win-stay lose-shift (Wilson & Collins 2019, model 2).

After a rewarded trial the agent repeats its last choice with probability
``1 - epsilon / 2``; after an unrewarded one it repeats it with probability
``epsilon / 2`` (it shifts with probability ``1 - epsilon / 2``). On the first trial
it chooses at random, which the likelihood (trials 2..n) does not score.
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
    sigmoid,
)

__all__ = ["MODEL"]


@numba.njit(cache=True, inline="always")
def _stay_logit(epsilon, last_reward):
    """Log-odds of repeating the last choice, and its derivative in epsilon."""
    # logit(1 - eps / 2) = log(2 - eps) - log(eps); after no reward the opposite.
    # At epsilon = 0 (the rule followed for certain) both are infinite, without a
    # division by zero.
    value = math.log(2.0 - epsilon) - math.log(epsilon)
    slope = -1.0 / (2.0 - epsilon) - (1.0 / epsilon if epsilon > 0.0 else math.inf)
    if last_reward == 1:
        return value, slope
    return -value, -slope


@numba.njit(cache=True, inline="always")
def decision(epsilon, actions, rewards, z, dz):
    """Log-odds of choosing the right arm on trials 2..n and their gradient."""
    for t in range(z.shape[0]):
        value, slope = _stay_logit(epsilon, rewards[t])
        side = 1.0 if actions[t] == 1 else -1.0  # staying means right after a right choice
        z[t] = side * value
        dz[t, 0] = side * slope


@numba.njit(cache=True)
def loglik_grad_kernel(epsilon, actions, rewards, out_grad):
    z, dz = decision_arrays(actions.shape[0], 1)
    decision(epsilon, actions, rewards, z, dz)
    return logit_loglik_grad(z, dz, actions[1:], out_grad)


@numba.njit(cache=True)
def choice_loglik_grad_kernel(epsilon, actions, rewards, observed, out_grad):
    z, dz = decision_arrays(actions.shape[0], 1)
    decision(epsilon, actions, rewards, z, dz)
    return logit_loglik_grad(z, dz, observed, out_grad)


@numba.njit(cache=True)
def right_probs_jac_kernel(epsilon, actions, rewards, p, jac):
    z, dz = decision_arrays(actions.shape[0], 1)
    decision(epsilon, actions, rewards, z, dz)
    logit_probs_jac(z, dz, p, jac)


@numba.njit(cache=True)
def simulate_kernel(epsilon, uniforms, p_left, p_right, actions, rewards):
    for t in range(actions.shape[0]):
        if t == 0:
            p1 = 0.5
        else:
            value, _ = _stay_logit(epsilon, rewards[t - 1])
            p1 = sigmoid(value if actions[t - 1] == 1 else -value)
        a = 1 if uniforms[2 * t] >= 1.0 - p1 else 0
        actions[t] = a
        rewards[t] = 1 if uniforms[2 * t + 1] < (p_right[t] if a == 1 else p_left[t]) else 0


MODEL = Model(
    name="wsls",
    title="Noisy win-stay lose-shift",
    params=(Param("epsilon", "unit", "noise: chance of not following the rule"),),
    kernels=Kernels(
        loglik_grad=loglik_grad_kernel,
        choice_loglik_grad=choice_loglik_grad_kernel,
        right_probs_jac=right_probs_jac_kernel,
        salt=kernel_salt(
            _stay_logit,
            decision,
            loglik_grad_kernel,
            choice_loglik_grad_kernel,
            right_probs_jac_kernel,
            *BASE_HELPERS,
        ),
    ),
    simulate_kernel=simulate_kernel,
    equations=(
        "after a rewarded trial P(repeat the last choice) = 1 - epsilon/2, after an "
        "unrewarded one epsilon/2; trial 1: 0.5"
    ),
)
