"""Tests of rlrecover.inference.scan_reference: the notebook's scan likelihood against rw's Ops.

The kernels' Python entry points are checked against the scan graph in
test_model_rw.py; here the Ops that call the same kernels, compiled in both PyTensor
backends (C/Python ``perform`` and numba), are checked against it.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from conftest import POINTS, op_datasets

from rlrecover.inference.ops import loglik_op, right_probs_op

#: The notebook's model: the scan likelihood is rw's.
MODEL = "rw"
Q_INITS = (0.5, 0.2)
# Against the scan graph the difference is operation order only (measured <= 4e-14
# relative).
RTOL = 1e-10
ATOL = 1e-10


@pytest.fixture(scope="module", params=["FAST_RUN", "NUMBA"])
def compiled_ops(request):
    """For each q_init in Q_INITS: the Ops' loglik, its gradient, p and its Jacobian."""
    alpha = pt.dscalar("alpha")
    beta = pt.dscalar("beta")
    actions = pt.lvector("actions")
    rewards = pt.lvector("rewards")
    outputs = []
    for q_init in Q_INITS:
        ll = loglik_op(MODEL, (q_init,), [alpha, beta], actions, rewards)
        p = right_probs_op(MODEL, (q_init,), [alpha, beta], actions, rewards)
        outputs += [
            ll,
            pt.stack(pytensor.grad(ll, [alpha, beta])),
            p,
            # Jacobian columns as forward-mode products through the Op's L_op (no scan).
            pt.stack(
                [
                    pytensor.gradient.Rop(p, alpha, pt.constant(1.0)),
                    pytensor.gradient.Rop(p, beta, pt.constant(1.0)),
                ],
                axis=1,
            ),
        ]
    fn = pytensor.function([alpha, beta, actions, rewards], outputs, mode=request.param)

    def run(alpha, beta, actions, rewards):
        out = fn(alpha, beta, actions, rewards)
        keys = ("ll", "grad", "p", "jac")
        return {
            q: dict(zip(keys, out[4 * i : 4 * i + 4], strict=True)) for i, q in enumerate(Q_INITS)
        }

    return run


def test_ops_match_scan(compiled_ops, scan_reference, notebook_data):
    for name, (actions, rewards) in op_datasets(notebook_data).items():
        for alpha, beta in POINTS[::3]:
            res = compiled_ops(alpha, beta, actions, rewards)
            for q_init in Q_INITS:
                where = f"{name} alpha={alpha} beta={beta} q_init={q_init}"
                r = res[q_init]
                ll_s, grad_s = scan_reference.loglik_grad(alpha, beta, actions, rewards, q_init)
                np.testing.assert_allclose(r["ll"], ll_s, rtol=RTOL, atol=ATOL, err_msg=where)
                np.testing.assert_allclose(r["grad"], grad_s, rtol=RTOL, atol=ATOL, err_msg=where)
                if len(actions) <= 20:  # the scan Jacobian is O(n^2); see test_model_rw
                    p_s, jac_s = scan_reference.right_probs_jac(
                        alpha, beta, actions, rewards, q_init
                    )
                    np.testing.assert_allclose(r["p"], p_s, rtol=RTOL, atol=ATOL, err_msg=where)
                    np.testing.assert_allclose(
                        r["jac"], jac_s, rtol=RTOL, atol=ATOL, err_msg=where
                    )
