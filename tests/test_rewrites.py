"""Tests of rlrecover.rewrites: the fusion of the Bernoulli model's likelihood."""

from __future__ import annotations

import itertools

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.traversal import apply_ancestors

from rlrecover.ops import ChoiceLogLikOp, RightProbsOp, right_probs_op
from rlrecover.qlearning import Priors, build_model
from rlrecover.rewrites import uncast

MODEL = "rlrecover.qlearning"
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
    p = right_probs_op(MODEL, (0.2,), [alpha, beta], actions, rewards)
    logp = pm.logp(pm.Bernoulli.dist(p=p), c).sum()
    rewritten = pytensor.graph.rewrite_graph(logp, include=FUSE_REWRITES)
    ops = _ops(rewritten)
    assert ChoiceLogLikOp in ops and RightProbsOp not in ops
    (fused_node,) = [n for n in apply_ancestors([rewritten]) if isinstance(n.op, ChoiceLogLikOp)]
    # The fused Op keeps the model and constants of the RightProbsOp it replaces.
    assert fused_node.op.model == MODEL
    assert fused_node.op.consts == pytest.approx((0.2,))
    assert fused_node.inputs[:4] == [alpha, beta, actions, rewards]
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
            # beta <= 5: Bernoulli-form drift < 3.3e-11
            # (test_ops.py::test_bernoulli_logp_equals_loglik)
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_rewrite_leaves_other_graphs_alone():
    alpha, beta = pt.dscalars("alpha", "beta")
    actions, rewards, c = pt.lvectors("actions", "rewards", "c")
    p = right_probs_op(MODEL, (0.5,), [alpha, beta], actions, rewards)

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
    wide = pt.lvector("wide")
    narrow = pt.ivector("narrow")
    assert uncast(pt.cast(narrow, "int64")) is narrow
    narrowed = pt.cast(wide, "int8")  # would wrap 300 to 44: must stay
    assert uncast(narrowed) is narrowed
    from_float = pt.cast(pt.dvector("f"), "int64")  # would truncate 0.5 to 0
    assert uncast(from_float) is from_float


# ------------------------------------------------------------------------------------
# The rewrite in nutpie's compiled model (slow-ish: compiles the numba logp)
# ------------------------------------------------------------------------------------

VARS = ("alpha_logodds__", "beta_log__")


def random_points(seed: int, k: int = 6) -> list[dict[str, np.ndarray]]:
    """Seeded unconstrained points: alpha in (0.05, 0.95), beta in (0.5, 10).

    The same points as tests/test_bayes.py's ``random_points``: beta <= 10 bounds the
    Bernoulli form's drift (see test_bayes.py::test_potential_and_bernoulli_logp_agree).
    """
    rng = np.random.default_rng(seed)
    return [
        {
            "alpha_logodds__": np.array(rng.uniform(-3.0, 3.0)),
            "beta_log__": np.array(rng.uniform(np.log(0.5), np.log(10.0))),
        }
        for _ in range(k)
    ]


def test_sampler_evaluates_bernoulli_model_through_fused_op(notebook_data):
    # nutpie's logp-and-gradient graph of the Bernoulli model: the stabilize rewrite
    # must have replaced pm.Bernoulli's summed logp of RightProbsOp by ChoiceLogLikOp,
    # in the gradient as well (a PyMC change to Bernoulli's logp would show up here as
    # a RightProbsOp back in the graph). Values: those of the unfused model graph.
    pytest.importorskip("nutpie")
    from rlrecover.nutpie_compile import compile_pymc_model_cached

    actions, rewards = (np.array(x) for x in notebook_data)
    model = build_model("bernoulli", actions, rewards, Priors(1.0, 1.0, 10.0))
    compiled = compile_pymc_model_cached(model)
    ops = {type(node.op) for node in compiled.logp_func.maker.fgraph.apply_nodes}
    assert ChoiceLogLikOp in ops and RightProbsOp not in ops

    plain = pytensor.compile.get_mode("FAST_RUN").excluding("fuse_bernoulli_loglik")
    logp = model.compile_logp(mode=plain)
    dlogp = model.compile_dlogp(mode=plain)
    assert not any(isinstance(n.op, ChoiceLogLikOp) for n in logp.f.maker.fgraph.apply_nodes)
    assert RightProbsOp in {type(n.op) for n in logp.f.maker.fgraph.apply_nodes}
    assert compiled.n_dim == 2 and list(compiled.shape_info[0][:2]) == list(VARS)
    for point in random_points(6):
        x = np.array([float(point[v]) for v in VARS])
        got_logp, got_grad = compiled.logp_func(x)
        # beta <= 10: Bernoulli-form drift < 1e-10 (test_potential_and_bernoulli_logp_agree)
        assert float(got_logp) == pytest.approx(logp(point), rel=0, abs=1e-10)
        np.testing.assert_allclose(got_grad, dlogp(point), rtol=1e-10, atol=1e-10)
