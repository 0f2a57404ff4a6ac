"""Tests of rlrecover.pytensor_ops: the numba-kernel Ops in both PyTensor backends."""

from __future__ import annotations

import itertools

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.traversal import apply_ancestors

from rlrecover.model import loglik_grad, right_probs_jac, simulate
from rlrecover.pytensor_ops import (
    ChoiceLogLikOp,
    LogLikOp,
    RightProbsOp,
    loglik_op,
    right_probs_op,
)

Q_INITS = (0.5, 0.2)
# Values and derivatives are produced by the very same numba kernels, so against them
# the Ops must agree to rounding (measured: bit-identical or a few eps); against the
# scan graph the difference is operation order only (measured <= 4e-14 relative).
RTOL = 1e-10
ATOL = 1e-10

POINTS = [
    (alpha, beta)
    for alpha, beta in itertools.product((0.0, 1e-6, 0.5, 1 - 1e-6, 1.0), (1e-3, 1.0, 5.0, 50.0))
]


def _datasets(notebook_data):
    rng = np.random.default_rng(20240601)
    return {
        "notebook": notebook_data,
        "random_1000": (rng.integers(0, 2, 1000), rng.integers(0, 2, 1000)),
        "simulated_300": simulate(0.2, 8.0, 300, rng=rng),
        "simulated_20": simulate(0.7, 3.0, 20, rng=rng),
        "two_trials": (np.array([1, 0]), np.array([1, 1])),
    }


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
            ll = loglik_op(alpha, beta, actions, rewards, q_init)
            p = right_probs_op(alpha, beta, actions, rewards, q_init)
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
        g = pytensor.grad(loglik_op(alpha, beta, actions, rewards), [alpha, beta])
        self.logp_dlogp = pytensor.function(
            [alpha, beta, actions, rewards],
            [loglik_op(alpha, beta, actions, rewards), *g],
            mode=mode,
        )

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
    for name, (actions, rewards) in _datasets(notebook_data).items():
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
def test_ops_match_scan(compiled, scan_reference, notebook_data):
    for name, (actions, rewards) in _datasets(notebook_data).items():
        for alpha, beta in POINTS[::3]:
            res = compiled(alpha, beta, actions, rewards)
            for q_init in Q_INITS:
                where = f"{name} alpha={alpha} beta={beta} q_init={q_init}"
                r = res[q_init]
                ll_s, grad_s = scan_reference.loglik_grad(alpha, beta, actions, rewards, q_init)
                np.testing.assert_allclose(r["ll"], ll_s, rtol=RTOL, atol=ATOL, err_msg=where)
                np.testing.assert_allclose(r["grad"], grad_s, rtol=RTOL, atol=ATOL, err_msg=where)
                if len(actions) <= 20:  # the scan Jacobian is O(n^2); see test_model
                    p_s, jac_s = scan_reference.right_probs_jac(
                        alpha, beta, actions, rewards, q_init
                    )
                    np.testing.assert_allclose(r["p"], p_s, rtol=RTOL, atol=ATOL, err_msg=where)
                    np.testing.assert_allclose(
                        r["jac"], jac_s, rtol=RTOL, atol=ATOL, err_msg=where
                    )


@NAN_DOT
def test_bernoulli_logp_equals_loglik(compiled, notebook_data):
    # log p and log1p(-p) of a probability p lose ~eps/min(p, 1-p) absolute each. For
    # beta <= 5 and |Q1 - Q0| <= 1, min(p, 1-p) >= sigmoid(-5) = 6.7e-3, so the sum of
    # n-1 <= 999 terms differs from the kernel's log-sigmoid by < 999 * 3.3e-14 = 3.3e-11.
    # (At beta = 50 the Bernoulli form is genuinely less accurate, so it is not a
    # reference there.) Gradients: the VJP g @ jac with g = obs/p - (1-obs)/(1-p) has
    # the same relative conditioning, amplified by |jac| <= beta * n.
    for name, (actions, rewards) in _datasets(notebook_data).items():
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
    assert LogLikOp(0.5) == LogLikOp(0.5) and hash(LogLikOp(0.5)) == hash(LogLikOp(0.5))
    assert LogLikOp(0.5) != LogLikOp(0.2)
    assert RightProbsOp(0.2) == RightProbsOp(0.2)
    with pytest.raises(TypeError, match="integer"):
        loglik_op(0.5, 5.0, np.zeros(5), np.zeros(5))
    with pytest.raises(TypeError, match="vectors"):
        right_probs_op(0.5, 5.0, np.zeros((2, 2), dtype=int), np.zeros((2, 2)))


def test_op_infer_shape(notebook_data):
    actions = pt.lvector("actions")
    rewards = pt.dvector("rewards")
    p = right_probs_op(0.5, 5.0, actions, rewards)
    n = pytensor.function([actions, rewards], p.shape[0], on_unused_input="ignore")
    # shape inference must not need to run the kernel: the Op node is rewritten away
    assert not any(isinstance(node.op, RightProbsOp) for node in n.maker.fgraph.apply_nodes)
    assert n(np.asarray(notebook_data[0]), np.asarray(notebook_data[1], float)) == 149


# ------------------------------------------------------------------------------------
# ChoiceLogLikOp and the rewrite that fuses the Bernoulli model's likelihood into it
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
        ll = ChoiceLogLikOp(q_init)(alpha, beta, actions, rewards, observed)[0]
        outputs += [ll, pt.stack(pytensor.grad(ll, [alpha, beta]))]
    return pytensor.function(
        [alpha, beta, actions, rewards, observed], outputs, mode=request.param
    )


def test_choice_loglik_of_own_actions_is_the_loglik(choice_fn, notebook_data):
    # Same kernel arithmetic as LogLikOp: agreement to rounding.
    for name, (actions, rewards) in _datasets(notebook_data).items():
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
    for name, (actions, rewards) in _datasets(notebook_data).items():
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
        ChoiceLogLikOp()(0.4, 3.0, actions, rewards, np.zeros(149))


FUSE_REWRITES = ("canonicalize", "stabilize", "local_remove_check_parameter")


def _ops(var) -> set[type]:
    return {type(node.op) for node in apply_ancestors([var])}


def _compile_pair(logp, inputs, wrt):
    """logp and gradient compiled with and without the fusing rewrite."""
    outs = [logp, *pytensor.grad(logp, wrt)]
    fused = pytensor.function(inputs, outs, mode="FAST_RUN")
    plain = pytensor.function(
        inputs, outs, mode=pytensor.compile.get_mode("FAST_RUN").excluding("fuse_bernoulli_loglik")
    )
    return fused, plain


@pytest.mark.parametrize("obs_dtype", ["int64", "int32"])
def test_rewrite_fuses_pymc_bernoulli_logp(notebook_data, obs_dtype):
    # The graph PyMC itself builds for sum(logp(Bernoulli(p), c)), with p from the Op.
    # int32 observations (pm.Data's integer type) are cast to int64 by pm.Bernoulli.
    alpha, beta = pt.dscalars("alpha", "beta")
    actions, rewards = pt.lvectors("actions", "rewards")
    c = pt.vector("c", dtype=obs_dtype)
    p = right_probs_op(alpha, beta, actions, rewards, 0.2)
    logp = pm.logp(pm.Bernoulli.dist(p=p), c).sum()
    rewritten = pytensor.graph.rewrite_graph(logp, include=FUSE_REWRITES)
    ops = _ops(rewritten)
    assert ChoiceLogLikOp in ops and RightProbsOp not in ops
    (fused_node,) = [n for n in apply_ancestors([rewritten]) if isinstance(n.op, ChoiceLogLikOp)]
    assert fused_node.op.q_init == pytest.approx(0.2)
    # The widening cast is dropped: the kernel reads the observations as they are.
    assert fused_node.inputs[4] is c

    # Differentiating the rewritten graph goes through the fused Op alone.
    grads = pytensor.grad(rewritten, [alpha, beta])
    assert RightProbsOp not in _ops(pt.stack(grads))

    # Compiled with and without the rewrite: the same function, also for observations
    # other than the actions and for impossible ones.
    fused, plain = _compile_pair(logp, [alpha, beta, actions, rewards, c], [alpha, beta])
    assert any(isinstance(n.op, ChoiceLogLikOp) for n in fused.maker.fgraph.apply_nodes)
    assert not any(isinstance(n.op, ChoiceLogLikOp) for n in plain.maker.fgraph.apply_nodes)
    actions_v, rewards_v = (np.asarray(x) for x in notebook_data)
    rng = np.random.default_rng(8)
    impossible = actions_v[1:].copy()
    impossible[3] = 2
    for obs in (actions_v[1:], rng.integers(0, 2, 149), impossible):
        obs = obs.astype(obs_dtype)
        for alpha_v, beta_v in itertools.product((0.05, 0.5, 0.95), (0.5, 2.0, 5.0)):
            got = fused(alpha_v, beta_v, actions_v, rewards_v, obs)
            want = plain(alpha_v, beta_v, actions_v, rewards_v, obs)
            # beta <= 5: Bernoulli-form drift < 3.3e-11 (test_bernoulli_logp_equals_loglik)
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_rewrite_leaves_other_graphs_alone():
    alpha, beta = pt.dscalars("alpha", "beta")
    actions, rewards, c = pt.lvectors("actions", "rewards", "c")
    p = right_probs_op(alpha, beta, actions, rewards)

    def support(c, hi=1):
        return pt.or_(pt.lt(c, 0), pt.gt(c, hi))

    others = {
        # no support check: a 2 would count as a 1 here, not as impossible
        "unchecked": pt.switch(c, pt.log(p), pt.log1p(-p)),
        "other support": pt.switch(support(c, 2), -np.inf, pt.switch(c, pt.log(p), pt.log1p(-p))),
        "swapped branches": pt.switch(support(c), -np.inf, pt.switch(c, pt.log1p(-p), pt.log(p))),
        "other probabilities": pm.logp(pm.Bernoulli.dist(p=pt.sigmoid(beta * p)), c),
        "float observations": pm.logp(pm.Bernoulli.dist(p=p), pt.dvector("c")),
        "not summed": pt.max(pm.logp(pm.Bernoulli.dist(p=p), c)),
    }
    for name, expr in others.items():
        rewritten = pytensor.graph.rewrite_graph(
            pt.as_tensor(expr).sum() if name != "not summed" else expr, include=FUSE_REWRITES
        )
        assert ChoiceLogLikOp not in _ops(rewritten), name


def test_only_lossless_casts_are_skipped():
    from rlrecover.pytensor_ops import _uncast

    wide = pt.lvector("wide")
    narrow = pt.ivector("narrow")
    assert _uncast(pt.cast(narrow, "int64")) is narrow
    narrowed = pt.cast(wide, "int8")  # would wrap 300 to 44: must stay
    assert _uncast(narrowed) is narrowed
    from_float = pt.cast(pt.dvector("f"), "int64")  # would truncate 0.5 to 0
    assert _uncast(from_float) is from_float
