"""Tests of rlrecover.inference.rewrites: the fusion of the Bernoulli model's likelihood,
for every model of the library."""

from __future__ import annotations

import itertools

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
import reference_models as ref
from model_cases import bernoulli_bound, bernoulli_grad_bound, by_model, scale_of
from pymc_cases import (
    data,
    natural,
    nutpie_compiled,
    plain_compiled,
    pymc_model,
    random_points,
    value_names,
)
from pytensor.graph.traversal import apply_ancestors

from rlrecover.inference.ops import ChoiceLogLikOp, RightProbsOp, right_probs_op
from rlrecover.inference.rewrites import uncast
from rlrecover.models.base import as_data

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


def _drift(model, theta, actions, rewards, observed, consts, total):
    """The Bernoulli form's drift bounds (value, gradient) at one point (model_cases)."""
    a, r = as_data(actions, rewards)
    p, jac = model.right_probs_jac(theta, a, r, consts)
    ok = (observed == 0) | (observed == 1)
    scale = scale_of(model, theta, ref.log_probs(model.name, theta, a, r, consts))
    value = bernoulli_bound(p[ok], len(a), scale, total)
    return value, bernoulli_grad_bound(p[ok], jac[ok], observed[ok], scale)


@by_model
@pytest.mark.parametrize("obs_dtype", ["int64", "int32"])
def test_rewrite_fuses_pymc_bernoulli_logp(model, obs_dtype):
    # The graph PyMC itself builds for sum(logp(Bernoulli(p), c)), with p from the Op.
    # int32 observations (pm.Data's integer type) are cast to int64 by pm.Bernoulli.
    params = [pt.dscalar(n) for n in model.param_names]
    actions, rewards = pt.lvectors("actions", "rewards")
    c = pt.vector("c", dtype=obs_dtype)
    consts = tuple(0.2 for _ in model.consts)  # not the defaults: they must be kept
    p = right_probs_op(model.name, consts, params, actions, rewards)
    logp = pm.logp(pm.Bernoulli.dist(p=p), c).sum()
    rewritten = pytensor.graph.rewrite_graph(logp, include=FUSE_REWRITES)
    ops = _ops(rewritten)
    assert ChoiceLogLikOp in ops and RightProbsOp not in ops
    (fused_node,) = [n for n in apply_ancestors([rewritten]) if isinstance(n.op, ChoiceLogLikOp)]
    # The fused Op keeps the model and constants of the RightProbsOp it replaces.
    assert fused_node.op.model == model.name
    assert fused_node.op.consts == pytest.approx(consts)
    k = model.n_params
    assert fused_node.inputs[: k + 2] == [*params, actions, rewards]
    # The widening cast is dropped: the kernel reads the observations as they are.
    assert fused_node.inputs[k + 2] is c

    # Differentiating the rewritten graph goes through the fused Op alone.
    grads = pytensor.grad(rewritten, params)
    assert RightProbsOp not in _ops(pt.stack(grads))

    # Compiled with and without the rewrite: the same function, also for observations
    # other than the actions and for impossible ones.
    fused, plain = _compile_pair(logp, [*params, actions, rewards, c], params)
    assert any(isinstance(n.op, ChoiceLogLikOp) for n in fused.maker.fgraph.apply_nodes)
    assert not any(isinstance(n.op, ChoiceLogLikOp) for n in plain.maker.fgraph.apply_nodes)
    actions_v, rewards_v = (np.asarray(x) for x in data())
    rng = np.random.default_rng(8)
    impossible = actions_v[1:].copy()
    impossible[3] = 2
    consts_map = dict(zip(model.const_names, consts, strict=True))
    for obs in (actions_v[1:], rng.integers(0, 2, 149), impossible):
        obs = obs.astype(obs_dtype)
        for unit, positive in itertools.product((0.05, 0.5, 0.95), (0.5, 2.0, 5.0)):
            theta = {q.name: unit if q.kind == "unit" else positive for q in model.params}
            values = [theta[n] for n in model.param_names]
            got = fused(*values, actions_v, rewards_v, obs)
            want = plain(*values, actions_v, rewards_v, obs)
            where = (theta, obs[:5])
            total = want[0] if np.isfinite(want[0]) else 0.0
            bound, grad_bound = _drift(model, theta, actions_v, rewards_v, obs, consts_map, total)
            if np.isneginf(want[0]):  # the impossible observation
                assert got[0] == -np.inf, where
            else:
                assert abs(got[0] - want[0]) <= bound, where
            # The gradients (which skip an impossible term alike) within the drift too.
            assert np.all(np.abs(np.subtract(got[1:], want[1:])) <= grad_bound), where


def test_rewrite_leaves_other_graphs_alone():
    alpha, beta = pt.dscalars("alpha", "beta")
    actions, rewards, c = pt.lvectors("actions", "rewards", "c")
    p = right_probs_op("rw", (0.5,), [alpha, beta], actions, rewards)

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
# The rewrite in nutpie's compiled model (compiles the numba logp of every model)
# ------------------------------------------------------------------------------------


@pytest.mark.slow
@by_model
def test_sampler_evaluates_the_bernoulli_model_through_the_fused_op(model):
    # nutpie's logp-and-gradient graph of the Bernoulli model: the stabilize rewrite
    # must have replaced pm.Bernoulli's summed logp of RightProbsOp by ChoiceLogLikOp,
    # in the gradient as well (a PyMC change to Bernoulli's logp would show up here as
    # a RightProbsOp back in the graph). Values: those of the unfused model graph.
    pytest.importorskip("nutpie")
    compiled = nutpie_compiled(model.name, "bernoulli")
    ops = {type(node.op) for node in compiled.logp_func.maker.fgraph.apply_nodes}
    assert ChoiceLogLikOp in ops and RightProbsOp not in ops

    plain = plain_compiled(model.name)
    plain_ops = {type(n.op) for n in plain.logp.f.maker.fgraph.apply_nodes}
    assert ChoiceLogLikOp not in plain_ops and RightProbsOp in plain_ops
    names = value_names(model)
    assert compiled.n_dim == model.n_params
    assert list(compiled.shape_info[0][: model.n_params]) == names
    assert set(pymc_model(model.name, "bernoulli").initial_point()) == set(names)
    actions, rewards = data()
    for point in random_points(model, 6):
        x = np.array([float(point[v]) for v in names])
        got_logp, got_grad = compiled.logp_func(x)
        want, want_grad = plain.logp(point), plain.dlogp(point)
        # The unfused graph is the Bernoulli form: its drift from the kernel bounds the
        # difference (the priors' terms are the same graph in both).
        theta = natural(model, point)
        bound, grad_bound = _drift(
            model, theta, actions, rewards, actions[1:], dict(model.consts), want
        )
        assert abs(float(got_logp) - want) <= bound
        # On the free scale each gradient is the natural one times d theta / d free <= 1
        # for rates (theta (1 - theta) < 1/4) and theta for inverse temperatures (<= 10).
        assert np.all(np.abs(got_grad - want_grad) <= 10 * grad_bound + 1e-12)
