"""Tests of rlrecover.ops: the numba-kernel Ops in both PyTensor backends."""

from __future__ import annotations

import itertools
import sys
import types

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from conftest import POINTS, op_datasets

from rlrecover.kernels import Kernels, kernels_of
from rlrecover.ops import (
    ChoiceLogLikOp,
    LogLikOp,
    RightProbsOp,
    loglik_op,
    right_probs_op,
)
from rlrecover.qlearning import KERNELS, loglik_grad, right_probs_jac

#: The learning model the Ops call.
MODEL = "rlrecover.qlearning"
Q_INITS = (0.5, 0.2)
# Values and derivatives are produced by the very same numba kernels, so against them
# the Ops must agree to rounding (measured: bit-identical or a few eps).
RTOL = 1e-10
ATOL = 1e-10


class CompiledOps:
    """One compiled function per backend returning, for each q_init in Q_INITS:
    loglik, its gradient, right probs, their Jacobian, and the Bernoulli-style logp
    of actions[1:] under the right probs together with its gradient."""

    def __init__(self, mode: str) -> None:
        alpha = pt.dscalar("alpha")
        beta = pt.dscalar("beta")
        actions = pt.lvector("actions")
        rewards = pt.lvector("rewards")
        outputs = []
        for q_init in Q_INITS:
            ll = loglik_op(MODEL, (q_init,), [alpha, beta], actions, rewards)
            p = right_probs_op(MODEL, (q_init,), [alpha, beta], actions, rewards)
            obs = actions[1:]
            bern = pt.sum(pt.switch(pt.eq(obs, 1), pt.log(p), pt.log1p(-p)))
            outputs += [
                ll,
                pt.stack(pytensor.grad(ll, [alpha, beta])),
                p,
                # Jacobian columns as forward-mode products (PyTensor builds them from two
                # reverse passes through the Op's L_op): no scan, cheap to compile.
                pt.stack(
                    [
                        pytensor.gradient.Rop(p, alpha, pt.constant(1.0)),
                        pytensor.gradient.Rop(p, beta, pt.constant(1.0)),
                    ],
                    axis=1,
                ),
                bern,
                pt.stack(pytensor.grad(bern, [alpha, beta])),
            ]
        self.fn = pytensor.function([alpha, beta, actions, rewards], outputs, mode=mode)
        # loglik and its gradient alone: the kernel must run once for both.
        ll = loglik_op(MODEL, (0.5,), [alpha, beta], actions, rewards)
        g = pytensor.grad(ll, [alpha, beta])
        self.logp_dlogp = pytensor.function([alpha, beta, actions, rewards], [ll, *g], mode=mode)

    def __call__(self, alpha, beta, actions, rewards):
        out = self.fn(alpha, beta, actions, rewards)
        keys = ("ll", "grad", "p", "jac", "bern", "bern_grad")
        return {
            q: dict(zip(keys, out[6 * i : 6 * i + 6], strict=True)) for i, q in enumerate(Q_INITS)
        }


# The compiled function also evaluates the Bernoulli-form logp at beta = 50, where p
# rounds to exactly 0 or 1: its gradient is then inf * 0 = nan inside the C backend's
# dot (numpy warns). Those outputs are only asserted at beta <= 5.
NAN_DOT = pytest.mark.filterwarnings("ignore:invalid value encountered in dot:RuntimeWarning")


@pytest.fixture(scope="module", params=["FAST_RUN", "NUMBA"])
def compiled(request):
    return CompiledOps(request.param)


@NAN_DOT
def test_ops_match_kernels(compiled, notebook_data):
    for name, (actions, rewards) in op_datasets(notebook_data).items():
        for alpha, beta in POINTS:
            res = compiled(alpha, beta, actions, rewards)
            for q_init in Q_INITS:
                where = f"{name} alpha={alpha} beta={beta} q_init={q_init}"
                ll, grad = loglik_grad(alpha, beta, actions, rewards, q_init)
                p, jac = right_probs_jac(alpha, beta, actions, rewards, q_init)
                r = res[q_init]
                assert np.ndim(r["ll"]) == 0
                np.testing.assert_allclose(r["ll"], ll, rtol=RTOL, atol=ATOL, err_msg=where)
                np.testing.assert_allclose(r["grad"], grad, rtol=RTOL, atol=ATOL, err_msg=where)
                assert r["p"].shape == (len(actions) - 1,)
                np.testing.assert_allclose(r["p"], p, rtol=RTOL, atol=ATOL, err_msg=where)
                np.testing.assert_allclose(r["jac"], jac, rtol=RTOL, atol=ATOL, err_msg=where)


@NAN_DOT
def test_bernoulli_logp_equals_loglik(compiled, notebook_data):
    # log p and log1p(-p) of a probability p lose ~eps/min(p, 1-p) absolute each. For
    # beta <= 5 and |Q1 - Q0| <= 1, min(p, 1-p) >= sigmoid(-5) = 6.7e-3, so the sum of
    # n-1 <= 999 terms differs from the kernel's log-sigmoid by < 999 * 3.3e-14 = 3.3e-11.
    # (At beta = 50 the Bernoulli form is genuinely less accurate, so it is not a
    # reference there.) Gradients: the VJP g @ jac with g = obs/p - (1-obs)/(1-p) has
    # the same relative conditioning, amplified by |jac| <= beta * n.
    for name, (actions, rewards) in op_datasets(notebook_data).items():
        for alpha, beta in itertools.product((0.0, 0.3, 1.0), (1e-3, 1.0, 5.0)):
            res = compiled(alpha, beta, actions, rewards)
            for q_init in Q_INITS:
                where = f"{name} alpha={alpha} beta={beta} q_init={q_init}"
                r = res[q_init]
                np.testing.assert_allclose(r["bern"], r["ll"], rtol=0, atol=1e-10, err_msg=where)
                np.testing.assert_allclose(
                    r["bern_grad"], r["grad"], rtol=1e-10, atol=1e-10, err_msg=where
                )


def test_logp_and_gradient_run_the_kernel_once(compiled, notebook_data):
    nodes = compiled.logp_dlogp.maker.fgraph.apply_nodes
    assert sum(isinstance(node.op, LogLikOp) for node in nodes) == 1
    actions, rewards = notebook_data
    ll, g_a, g_b = compiled.logp_dlogp(0.5, 5.0, actions, rewards)
    ll_k, grad_k = loglik_grad(0.5, 5.0, actions, rewards)
    np.testing.assert_allclose([ll, g_a, g_b], [ll_k, *grad_k], rtol=RTOL, atol=ATOL)


def test_op_props_and_input_checks():
    assert LogLikOp(MODEL, (0.5,)) == LogLikOp(MODEL, (0.5,))
    assert hash(LogLikOp(MODEL, (0.5,))) == hash(LogLikOp(MODEL, (0.5,)))
    assert LogLikOp(MODEL, (0.5,)) != LogLikOp(MODEL, (0.2,))
    assert LogLikOp(MODEL, (0.5,)) != LogLikOp("some.other.model", (0.5,))
    assert RightProbsOp(MODEL, (0.2,)) == RightProbsOp(MODEL, (0.2,))
    # Props are normalised (a str and a tuple of floats), so equal constants given as
    # an int or a list make the same Op, with the same cache key.
    op = LogLikOp(MODEL, [1])
    assert op == LogLikOp(MODEL, (1.0,)) and hash(op) == hash(LogLikOp(MODEL, (1.0,)))
    assert op.model == MODEL and op.consts == (1.0,) and type(op.consts[0]) is float
    with pytest.raises(TypeError, match="integer"):
        loglik_op(MODEL, (0.5,), [0.5, 5.0], np.zeros(5), np.zeros(5))
    with pytest.raises(TypeError, match="vectors"):
        right_probs_op(MODEL, (0.5,), [0.5, 5.0], np.zeros((2, 2), dtype=int), np.zeros((2, 2)))


def test_op_reads_the_models_kernels():
    op = RightProbsOp(MODEL, (0.5,))
    assert op.kernels is KERNELS
    assert op.n_params == 2 == len(KERNELS.params)


@pytest.mark.parametrize("op_type", [LogLikOp, RightProbsOp, ChoiceLogLikOp])
def test_op_rejects_wrong_number_of_inputs(op_type):
    actions, rewards = pt.lvectors("actions", "rewards")
    alpha, beta, gamma = pt.dscalars("alpha", "beta", "gamma")
    extra = [pt.lvector("observed")] if op_type is ChoiceLogLikOp else []
    op = op_type(MODEL, (0.5,))
    data = "actions, rewards and observed" if extra else "actions and rewards"
    n_data = 2 + len(extra)
    for params in ([alpha], [alpha, beta, gamma]):
        message = rf"takes 2 parameters, {data}; got {len(params) + n_data} inputs"
        with pytest.raises(TypeError, match=message):
            op(*params, actions, rewards, *extra)
    # The right number of inputs builds a node.
    assert op(alpha, beta, actions, rewards, *extra)[0].owner.op == op


@pytest.mark.parametrize("op_type", [LogLikOp, RightProbsOp, ChoiceLogLikOp])
def test_op_rejects_non_scalar_parameter(op_type):
    actions, rewards = pt.lvectors("actions", "rewards")
    extra = [pt.lvector("observed")] if op_type is ChoiceLogLikOp else []
    op = op_type(MODEL, (0.5,))
    with pytest.raises(TypeError, match="parameter alpha must be a scalar"):
        op(pt.dvector("alpha"), 5.0, actions, rewards, *extra)
    with pytest.raises(TypeError, match="parameter beta must be a scalar"):
        op(0.5, np.array([5.0, 6.0]), actions, rewards, *extra)


def test_kernels_of_rejects_module_without_kernels(monkeypatch):
    assert kernels_of(MODEL) is KERNELS and isinstance(KERNELS, Kernels)
    with pytest.raises(TypeError, match="'math' defines no KERNELS"):
        kernels_of("math")
    # A KERNELS that is not a Kernels record is rejected as well.
    fake = types.ModuleType("fake_learning_model")
    fake.KERNELS = {"loglik_grad": KERNELS.loglik_grad}
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    with pytest.raises(TypeError, match="'fake_learning_model' defines no KERNELS"):
        kernels_of(fake.__name__)
    # An Op of such a module fails when it is applied, with the same message.
    with pytest.raises(TypeError, match="no KERNELS record"):
        loglik_op("math", (0.5,), [0.5, 5.0], pt.lvector("a"), pt.lvector("r"))


def test_op_infer_shape(notebook_data):
    actions = pt.lvector("actions")
    rewards = pt.dvector("rewards")
    p = right_probs_op(MODEL, (0.5,), [0.5, 5.0], actions, rewards)
    n = pytensor.function([actions, rewards], p.shape[0], on_unused_input="ignore")
    # shape inference must not need to run the kernel: the Op node is rewritten away
    assert not any(isinstance(node.op, RightProbsOp) for node in n.maker.fgraph.apply_nodes)
    assert n(np.asarray(notebook_data[0]), np.asarray(notebook_data[1], float)) == 149


# ------------------------------------------------------------------------------------
# ChoiceLogLikOp (the rewrite that puts it in the Bernoulli model: test_rewrites.py)
# ------------------------------------------------------------------------------------


def _bernoulli_reference(alpha, beta, actions, rewards, observed, q_init):
    """sum_t log Bernoulli(observed_t | p_t) and its gradient, from p and its Jacobian.

    Terms whose observation is not 0 or 1 are left out of both (the caller expects
    -inf for the value then), as in pm.Bernoulli's switch.
    """
    p, jac = right_probs_jac(alpha, beta, actions, rewards, q_init)
    one, zero = observed == 1, observed == 0
    ll = np.sum(np.log(p[one])) + np.sum(np.log1p(-p[zero]))
    g = np.where(one, 1 / p, 0.0) - np.where(zero, 1 / (1 - p), 0.0)
    return ll, g @ jac


@pytest.fixture(scope="module", params=["FAST_RUN", "NUMBA"])
def choice_fn(request):
    alpha, beta = pt.dscalars("alpha", "beta")
    actions, rewards, observed = pt.lvectors("actions", "rewards", "observed")
    outputs = []
    for q_init in Q_INITS:
        ll = ChoiceLogLikOp(MODEL, (q_init,))(alpha, beta, actions, rewards, observed)[0]
        outputs += [ll, pt.stack(pytensor.grad(ll, [alpha, beta]))]
    return pytensor.function(
        [alpha, beta, actions, rewards, observed], outputs, mode=request.param
    )


def test_choice_loglik_of_own_actions_is_the_loglik(choice_fn, notebook_data):
    # Same kernel arithmetic as LogLikOp: agreement to rounding.
    for name, (actions, rewards) in op_datasets(notebook_data).items():
        for alpha, beta in POINTS:
            out = choice_fn(alpha, beta, actions, rewards, np.asarray(actions)[1:])
            for i, q_init in enumerate(Q_INITS):
                where = f"{name} alpha={alpha} beta={beta} q_init={q_init}"
                ll, grad = loglik_grad(alpha, beta, actions, rewards, q_init)
                np.testing.assert_allclose(out[2 * i], ll, rtol=RTOL, atol=ATOL, err_msg=where)
                np.testing.assert_allclose(
                    out[2 * i + 1], grad, rtol=RTOL, atol=ATOL, err_msg=where
                )


def test_choice_loglik_of_other_observations(choice_fn, notebook_data):
    # Observations that are not the actions driving the learning: the Op must follow
    # Bernoulli(observed | p). Against log p / log1p(-p) the conditioning argument of
    # test_bernoulli_logp_equals_loglik applies (beta <= 5: < 3.3e-11 absolute).
    rng = np.random.default_rng(5)
    for name, (actions, rewards) in op_datasets(notebook_data).items():
        observed = rng.integers(0, 2, len(actions) - 1)
        for alpha, beta in itertools.product((0.0, 0.3, 1.0), (1e-3, 1.0, 5.0)):
            out = choice_fn(alpha, beta, actions, rewards, observed)
            for i, q_init in enumerate(Q_INITS):
                where = f"{name} alpha={alpha} beta={beta} q_init={q_init}"
                ll, grad = _bernoulli_reference(alpha, beta, actions, rewards, observed, q_init)
                np.testing.assert_allclose(out[2 * i], ll, rtol=0, atol=1e-10, err_msg=where)
                np.testing.assert_allclose(
                    out[2 * i + 1], grad, rtol=1e-10, atol=1e-10, err_msg=where
                )


@pytest.mark.parametrize("bad", [2, -1])
def test_choice_loglik_impossible_observation(choice_fn, notebook_data, bad):
    # pm.Bernoulli gives log-probability -inf to a value outside {0, 1}; the other
    # terms still contribute their gradient (the switch passes none through -inf).
    actions, rewards = notebook_data
    observed = np.array(actions[1:])
    observed[17] = bad
    out = choice_fn(0.4, 3.0, actions, rewards, observed)
    for i, q_init in enumerate(Q_INITS):
        assert out[2 * i] == -np.inf
        _, grad = _bernoulli_reference(0.4, 3.0, actions, rewards, observed, q_init)
        np.testing.assert_allclose(out[2 * i + 1], grad, rtol=1e-10, atol=1e-10)


def test_choice_loglik_checks_lengths(choice_fn, notebook_data):
    actions, rewards = notebook_data
    with pytest.raises(ValueError, match="one fewer"):
        choice_fn(0.4, 3.0, actions, rewards, np.asarray(actions))
    with pytest.raises(TypeError, match="integer vector"):
        ChoiceLogLikOp(MODEL, (0.5,))(0.4, 3.0, actions, rewards, np.zeros(149))
