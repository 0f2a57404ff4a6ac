"""The reference notebook's ``pytensor.scan`` likelihood of the Q-learning model.

Written with the current scan API, independently of the numba kernels. It is slow
(a scan over trials, differentiated by PyTensor) and kept only as a reference: the
tests check the fast Ops against it, and ``benchmarks/speed.py`` times the
notebook's way of fitting with it.
"""

from __future__ import annotations

import pytensor
import pytensor.tensor as pt

__all__ = ["scan_loglik", "scan_right_probs"]


def _update_q(action, reward, q, alpha):
    return pt.set_subtensor(q[action], q[action] + alpha * (reward - q[action]))


def _scan_logp_actions(alpha, beta, actions, rewards, q_init):
    actions = pt.cast(pt.as_tensor_variable(actions), "int32")
    rewards = pt.cast(pt.as_tensor_variable(rewards), "int32")
    q0 = q_init * pt.ones((2,), dtype="float64")
    qs = pytensor.scan(
        fn=_update_q,
        sequences=[actions, rewards],
        outputs_info=[q0],
        non_sequences=[alpha],
        return_updates=False,
    )
    # qs[t] holds Q after trial t, i.e. the values that drive the choice on trial t+1.
    z = qs[:-1] * beta
    return actions, z - pt.logsumexp(z, axis=1, keepdims=True)


def scan_loglik(alpha, beta, actions, rewards, q_init: float = 0.5):
    """The notebook's ``pytensor.scan`` log-likelihood of trials 2..n (reference).

    Returns
    -------
    TensorVariable
        Scalar log-likelihood.
    """
    actions, logp = _scan_logp_actions(alpha, beta, actions, rewards, q_init)
    return pt.sum(logp[pt.arange(actions.shape[0] - 1), actions[1:]])


def scan_right_probs(alpha, beta, actions, rewards, q_init: float = 0.5):
    """The notebook's ``pytensor.scan`` right-arm probabilities on trials 2..n (reference).

    Returns
    -------
    TensorVariable
        Vector of length n - 1.
    """
    _, logp = _scan_logp_actions(alpha, beta, actions, rewards, q_init)
    return pt.exp(logp[:, 1])
