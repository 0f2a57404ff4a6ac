"""Tests of rlrecover.inference.ops: the numba-kernel Ops of every model, in both PyTensor
backends (C/Python ``perform`` and numba)."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import reference_models as ref
from conftest import POINTS, RW, op_datasets
from model_cases import (
    bernoulli_bound,
    bernoulli_grad_bound,
    bernoulli_reference,
    by_model,
    const_cases,
    edge_points,
    interior,
    moderate_points,
    scale_of,
)

from rlrecover import models
from rlrecover.inference.ops import (
    ChoiceLogLikOp,
    LogLikOp,
    RightProbsOp,
    loglik_op,
    right_probs_op,
)
from rlrecover.models.base import as_data

MODES = ("FAST_RUN", "NUMBA")
# The Jacobian output is reached through forward-mode products (two reverse passes
# through the Op's L_op, a dot product), so it is compared with a tolerance: the same
# numbers in another order, ~1e-16 relative; 1e-10 is margin without hiding a bug (a
# wrong column is off by O(1)).
RTOL = 1e-10
ATOL = 1e-10


def points(model):
    """Where the Ops are checked: rw's POINTS, and each other model's edge points."""
    if model is RW:
        return [dict(zip(RW.param_names, x, strict=True)) for x in POINTS]
    return edge_points(model, max_points=20)


class CompiledOps:
    """One compiled function of a model per backend returning, for each case of its
    constants: loglik, its gradient, right probs, their Jacobian, and the
    Bernoulli-style logp of actions[1:] under the right probs with its gradient."""

    def __init__(self, model, mode: str) -> None:
        self.model = model
        self.cases = const_cases(model)
        params = [pt.dscalar(n) for n in model.param_names]
        actions = pt.lvector("actions")
        rewards = pt.lvector("rewards")
        outputs = []
        for consts in self.cases:
            c = tuple(consts[n] for n in model.const_names)
            ll = loglik_op(model.name, c, params, actions, rewards)
            p = right_probs_op(model.name, c, params, actions, rewards)
            obs = actions[1:]
            bern = pt.sum(pt.switch(pt.eq(obs, 1), pt.log(p), pt.log1p(-p)))
            outputs += [
                ll,
                pt.stack(pytensor.grad(ll, params)),
                p,
                # Jacobian columns as forward-mode products (PyTensor builds them from two
                # reverse passes through the Op's L_op): no scan, cheap to compile.
                pt.stack([pytensor.gradient.Rop(p, x, pt.constant(1.0)) for x in params], axis=1),
                bern,
                pt.stack(pytensor.grad(bern, params)),
            ]
        self.fn = pytensor.function([*params, actions, rewards], outputs, mode=mode)
        # loglik and its gradient alone: the kernel must run once for both.
        ll = loglik_op(model.name, model.default_consts, params, actions, rewards)
        g = pytensor.grad(ll, params)
        self.logp_dlogp = pytensor.function([*params, actions, rewards], [ll, *g], mode=mode)

    def __call__(self, theta, actions, rewards):
        values = [theta[n] for n in self.model.param_names]
        out = self.fn(*values, actions, rewards)
        keys = ("ll", "grad", "p", "jac", "bern", "bern_grad")
        return [
            (consts, dict(zip(keys, out[6 * i : 6 * i + 6], strict=True)))
            for i, consts in enumerate(self.cases)
        ]


# The compiled function also evaluates the Bernoulli-form logp at the edges, where p
# rounds to exactly 0 or 1: its gradient is then inf * 0 = nan inside the C backend's
# dot (numpy warns). Those outputs are only asserted at the moderate points.
NAN_DOT = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
NAN_LOG = pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")


@pytest.fixture(scope="module", params=MODES)
def compiled(request):
    """``{model name: CompiledOps}`` in one backend, each compiled on first use."""
    cache = {}

    def get(model):
        if model.name not in cache:
            cache[model.name] = CompiledOps(model, request.param)
        return cache[model.name]

    get.mode = request.param
    return get


@NAN_DOT
@NAN_LOG
@by_model
def test_ops_match_the_kernels(compiled, model, notebook_data):
    # The C backend's Ops (perform) call the very kernels the Python entry points call:
    # values, gradients and probabilities equal to the bit. The numba Ops call the same
    # kernels compiled with PyTensor's flags (rlrecover.inference.ops.op_kernel), which
    # LLVM may also fuse with the graph around them: equal to the kernels as written up
    # to rounding.
    ops = compiled(model)
    for name, (actions, rewards) in op_datasets(notebook_data).items():
        for theta in points(model):
            for consts, r in ops(theta, actions, rewards):
                where = f"{compiled.mode} {name} {theta} {consts}"
                ll, grad = model.loglik_grad(theta, actions, rewards, consts)
                p, jac = model.right_probs_jac(theta, actions, rewards, consts)
                assert np.ndim(r["ll"]) == 0
                assert r["p"].shape == (len(actions) - 1,)
                np.testing.assert_allclose(r["jac"], jac, rtol=RTOL, atol=ATOL, err_msg=where)
                if compiled.mode == "FAST_RUN":
                    np.testing.assert_array_equal(r["ll"], ll, err_msg=where)
                    np.testing.assert_array_equal(r["grad"], grad, err_msg=where)
                    np.testing.assert_array_equal(r["p"], p, err_msg=where)
                    continue
                # reassociated sums of n terms: ~n eps of the terms' total magnitude
                n = len(actions)
                np.testing.assert_allclose(
                    r["ll"], ll, rtol=0, atol=FASTMATH_EPS * n * (n + abs(ll)), err_msg=where
                )
                np.testing.assert_allclose(
                    r["grad"], grad, rtol=FASTMATH_EPS * n, atol=FASTMATH_EPS * n, err_msg=where
                )
                np.testing.assert_allclose(r["p"], p, rtol=1e-12, atol=1e-15, err_msg=where)


# The numba Ops compute with PyTensor's fastmath flags (reassociation, contraction,
# approximate functions): their sums over n trials may differ from the kernels compiled
# as written in the last bits, a few eps per term; 16 eps is margin.
FASTMATH_EPS = 16 * np.finfo(np.float64).eps


@by_model
def test_bernoulli_logp_equals_loglik(compiled, model, notebook_data):
    # log p and log1p(-p) of a probability p lose ~eps/min(p, 1-p) absolute each: the
    # drift from the kernel's log-sigmoid is bounded from the actual probabilities
    # (model_cases.bernoulli_bound), and so is that of the gradient, the VJP g @ jac
    # with g = obs/p - (1-obs)/(1-p) (bernoulli_grad_bound).
    ops = compiled(model)
    for name, (actions, rewards) in op_datasets(notebook_data).items():
        a, r_ = as_data(actions, rewards)
        for theta in moderate_points(model):
            for consts, r in ops(theta, actions, rewards):
                where = f"{compiled.mode} {name} {theta} {consts}"
                _, _, p = bernoulli_reference(model, theta, a, r_, a[1:], consts)
                _, jac = model.right_probs_jac(theta, a, r_, consts)
                lp = ref.log_probs(model.name, theta, a, r_, consts)
                scale = scale_of(model, theta, lp)
                bound = bernoulli_bound(p, len(a), scale, r["ll"])
                assert abs(r["bern"] - r["ll"]) <= bound, where
                tol = bernoulli_grad_bound(p, jac, a[1:], scale)
                assert np.all(np.abs(r["bern_grad"] - r["grad"]) <= tol), where


@by_model
def test_logp_and_gradient_run_the_kernel_once(compiled, model, notebook_data):
    fn = compiled(model).logp_dlogp
    nodes = fn.maker.fgraph.apply_nodes
    assert sum(isinstance(node.op, LogLikOp) for node in nodes) == 1
    actions, rewards = notebook_data
    theta = interior(model)
    out = fn(*(theta[n] for n in model.param_names), actions, rewards)
    ll_k, grad_k = model.loglik_grad(theta, actions, rewards)
    if compiled.mode == "FAST_RUN":
        np.testing.assert_array_equal(out, [ll_k, *grad_k])
    else:  # PyTensor's flags (op_kernel): to rounding
        n = len(actions)
        np.testing.assert_allclose(out, [ll_k, *grad_k], rtol=FASTMATH_EPS * n, atol=0)


def test_op_props_and_input_checks():
    assert LogLikOp("rw", (0.5,)) == LogLikOp("rw", (0.5,))
    assert hash(LogLikOp("rw", (0.5,))) == hash(LogLikOp("rw", (0.5,)))
    assert LogLikOp("rw", (0.5,)) != LogLikOp("rw", (0.2,))
    assert LogLikOp("rw", (0.5,)) != LogLikOp("rw2", (0.5,))
    assert RightProbsOp("rw", (0.2,)) == RightProbsOp("rw", (0.2,))
    assert LogLikOp("bias", ()) == LogLikOp("bias", []) and LogLikOp("bias", ()).consts == ()
    # Props are normalised (a str and a tuple of floats), so equal constants given as
    # an int or a list make the same Op, with the same cache key.
    op = LogLikOp("rw", [1])
    assert op == LogLikOp("rw", (1.0,)) and hash(op) == hash(LogLikOp("rw", (1.0,)))
    assert op.model == "rw" and op.consts == (1.0,) and type(op.consts[0]) is float
    with pytest.raises(TypeError, match="integer"):
        loglik_op("rw", (0.5,), [0.5, 5.0], np.zeros(5), np.zeros(5))
    with pytest.raises(TypeError, match="vectors"):
        right_probs_op("rw", (0.5,), [0.5, 5.0], np.zeros((2, 2), dtype=int), np.zeros((2, 2)))


@by_model
def test_op_reads_the_models_kernels(model):
    for op_type in (LogLikOp, RightProbsOp, ChoiceLogLikOp):
        op = op_type(model.name, model.default_consts)
        assert op.kernels is model.kernels
        assert op.param_names == model.param_names and op.n_params == model.n_params


def test_an_op_of_an_unknown_model_names_the_library():
    with pytest.raises(KeyError, match="unknown model 'nope'; the library has bias"):
        loglik_op("nope", (), [0.5], pt.lvector("a"), pt.lvector("r"))


@by_model
@pytest.mark.parametrize("op_type", [LogLikOp, RightProbsOp, ChoiceLogLikOp])
def test_op_rejects_wrong_number_of_inputs(model, op_type):
    actions, rewards = pt.lvectors("actions", "rewards")
    params = [pt.dscalar(n) for n in model.param_names]
    extra = [pt.lvector("observed")] if op_type is ChoiceLogLikOp else []
    op = op_type(model.name, model.default_consts)
    data = "actions, rewards and observed" if extra else "actions and rewards"
    n_data = 2 + len(extra)
    k = model.n_params
    for given in (params[:-1], [*params, pt.dscalar("gamma")]):
        message = rf"takes {k} parameters, {data}; got {len(given) + n_data} inputs"
        with pytest.raises(TypeError, match=message):
            op(*given, actions, rewards, *extra)
    # The right number of inputs builds a node.
    assert op(*params, actions, rewards, *extra)[0].owner.op == op


@by_model
@pytest.mark.parametrize("op_type", [LogLikOp, RightProbsOp, ChoiceLogLikOp])
def test_op_rejects_non_scalar_parameter(model, op_type):
    actions, rewards = pt.lvectors("actions", "rewards")
    extra = [pt.lvector("observed")] if op_type is ChoiceLogLikOp else []
    op = op_type(model.name, model.default_consts)
    scalars = [0.5] * model.n_params
    for i, name in enumerate(model.param_names):
        params = [*scalars[:i], np.array([0.5, 0.6]), *scalars[i + 1 :]]
        with pytest.raises(TypeError, match=f"parameter {name} must be a scalar"):
            op(*params, actions, rewards, *extra)


def test_op_infer_shape(notebook_data):
    actions = pt.lvector("actions")
    rewards = pt.dvector("rewards")
    p = right_probs_op("rw", (0.5,), [0.5, 5.0], actions, rewards)
    n = pytensor.function([actions, rewards], p.shape[0], on_unused_input="ignore")
    # shape inference must not need to run the kernel: the Op node is rewritten away
    assert not any(isinstance(node.op, RightProbsOp) for node in n.maker.fgraph.apply_nodes)
    assert n(np.asarray(notebook_data[0]), np.asarray(notebook_data[1], float)) == 149


# ------------------------------------------------------------------------------------
# ChoiceLogLikOp (the rewrite that puts it in the Bernoulli model: test_rewrites.py)
# ------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=MODES)
def choice_fn(request):
    """``{model name: function}``: ChoiceLogLikOp and its gradient for each const case."""
    cache = {}

    def get(model):
        if model.name not in cache:
            params = [pt.dscalar(n) for n in model.param_names]
            actions, rewards, observed = pt.lvectors("actions", "rewards", "observed")
            outputs = []
            for consts in const_cases(model):
                c = tuple(consts[n] for n in model.const_names)
                ll = ChoiceLogLikOp(model.name, c)(*params, actions, rewards, observed)[0]
                outputs += [ll, pt.stack(pytensor.grad(ll, params))]
            fn = pytensor.function(
                [*params, actions, rewards, observed], outputs, mode=request.param
            )

            def run(theta, *data, fn=fn, model=model):
                out = fn(*(theta[n] for n in model.param_names), *data)
                return list(zip(const_cases(model), out[::2], out[1::2], strict=True))

            cache[model.name] = run
        return cache[model.name]

    get.mode = request.param
    return get


@NAN_DOT
@by_model
def test_choice_loglik_of_own_actions_is_the_loglik(choice_fn, model, notebook_data):
    # Same kernel arithmetic as LogLikOp: equal to the bit in the C backend, to the
    # fastmath rounding of test_ops_match_the_kernels in numba.
    run = choice_fn(model)
    for name, (actions, rewards) in op_datasets(notebook_data).items():
        n = len(actions)
        for theta in points(model):
            for consts, ll_op, grad_op in run(theta, actions, rewards, np.asarray(actions)[1:]):
                where = f"{choice_fn.mode} {name} {theta} {consts}"
                ll, grad = model.loglik_grad(theta, actions, rewards, consts)
                if choice_fn.mode == "FAST_RUN":
                    np.testing.assert_array_equal(ll_op, ll, err_msg=where)
                    np.testing.assert_array_equal(grad_op, grad, err_msg=where)
                    continue
                np.testing.assert_allclose(
                    ll_op, ll, rtol=0, atol=FASTMATH_EPS * n * (n + abs(ll)), err_msg=where
                )
                np.testing.assert_allclose(
                    grad_op, grad, rtol=FASTMATH_EPS * n, atol=FASTMATH_EPS * n, err_msg=where
                )


@by_model
def test_choice_loglik_of_other_observations(choice_fn, model, notebook_data):
    # Observations that are not the actions driving the learning: the Op must follow
    # Bernoulli(observed | p), within the Bernoulli form's drift at moderate points.
    run = choice_fn(model)
    rng = np.random.default_rng(5)
    for name, (actions, rewards) in op_datasets(notebook_data).items():
        a, r = as_data(actions, rewards)
        observed = rng.integers(0, 2, len(a) - 1)
        for theta in moderate_points(model):
            for consts, ll_op, grad_op in run(theta, actions, rewards, observed):
                where = f"{name} {theta} {consts}"
                ll, grad, p = bernoulli_reference(model, theta, a, r, observed, consts)
                _, jac = model.right_probs_jac(theta, a, r, consts)
                scale = scale_of(model, theta, ref.log_probs(model.name, theta, a, r, consts))
                assert abs(ll_op - ll) <= bernoulli_bound(p, len(a), scale, ll), where
                tol = bernoulli_grad_bound(p, jac, observed, scale)
                assert np.all(np.abs(grad_op - grad) <= tol), where


@by_model
@pytest.mark.parametrize("bad", [2, -1])
def test_choice_loglik_impossible_observation(choice_fn, model, notebook_data, bad):
    # pm.Bernoulli gives log-probability -inf to a value outside {0, 1}; the other
    # terms still contribute their gradient (the switch passes none through -inf).
    actions, rewards = as_data(*notebook_data)
    observed = actions[1:].copy()
    observed[17] = bad
    theta = interior(model, 0.4, 3.0)
    g = np.empty(model.n_params)
    for consts, ll_op, grad_op in choice_fn(model)(theta, *notebook_data, observed):
        assert ll_op == -np.inf
        c = [consts[n] for n in model.const_names]
        values = [theta[n] for n in model.param_names]
        ll = model.kernels.choice_loglik_grad(*values, actions, rewards, observed, *c, g)
        assert ll == -np.inf
        if choice_fn.mode == "FAST_RUN":
            np.testing.assert_array_equal(grad_op, g)
        else:  # fastmath rounding, as in test_ops_match_the_kernels
            n = len(actions)
            np.testing.assert_allclose(grad_op, g, rtol=FASTMATH_EPS * n, atol=FASTMATH_EPS * n)


def test_choice_loglik_checks_lengths(choice_fn, notebook_data):
    actions, rewards = notebook_data
    run = choice_fn(RW)
    theta = {"alpha": 0.4, "beta": 3.0}
    with pytest.raises(ValueError, match="one fewer"):
        run(theta, actions, rewards, np.asarray(actions))
    with pytest.raises(TypeError, match="integer vector"):
        ChoiceLogLikOp("rw", (0.5,))(0.4, 3.0, actions, rewards, np.zeros(149))


def test_the_numba_ops_compute_with_pytensors_flags_whatever_ran_first(monkeypatch):
    # numba compiles a kernel whose options leave fastmath unset with the flags of the
    # function it is first compiled for, and keeps that version for the signature. The
    # wrappers used to call the kernels themselves, so an Op computed with PyTensor's
    # fastmath flags unless the same signature had been compiled from Python first: the
    # draws depended on what had run before. They now call op_kernel's copy. Checked
    # on a fresh copy of rw's choice kernel whose Op signature is compiled from Python
    # first, as perform or a test would.
    import dataclasses

    import numba
    from pytensor.link.numba.dispatch.basic import numba_njit

    from rlrecover.inference import ops
    from rlrecover.models.base import Kernels

    fresh = numba.njit(RW.kernels.choice_loglik_grad.py_func)
    rng = np.random.default_rng(3)
    actions = rng.integers(0, 2, 1000).astype(np.int32)
    rewards = rng.integers(0, 2, 1000).astype(np.int64)
    observed = actions[1:].copy()
    grad = np.empty(2)
    as_written = fresh(0.3, 2.0, actions, rewards, observed, 0.5, grad)  # Python first
    kernels = Kernels(RW.kernels.loglik_grad, fresh, RW.kernels.right_probs_jac, salt=1)
    probe = dataclasses.replace(RW, name="rw_probe", kernels=kernels, legacy_streams=False)
    monkeypatch.setitem(models.registry(), "rw_probe", probe)
    a, b = pt.dscalar("a"), pt.dscalar("b")
    data = pt.ivector("actions"), pt.lvector("rewards"), pt.ivector("observed")
    outputs = ChoiceLogLikOp("rw_probe", (0.5,))(a, b, *data)
    graph = pytensor.function([a, b, *data], outputs, mode="NUMBA")
    out, op_grad = graph(0.3, 2.0, actions, rewards, observed)
    copy = ops.op_kernel(fresh)
    assert copy is not fresh and copy is ops.op_kernel(fresh)  # one per kernel
    flags = numba_njit(lambda x: x).targetoptions["fastmath"]
    assert flags and copy.targetoptions["fastmath"] == flags
    want_grad = np.empty(2)
    want = copy(0.3, 2.0, actions, rewards, observed, 0.5, want_grad)
    # the graph may fuse the copy's code with its own: equal to a few ulp
    np.testing.assert_allclose(float(out), want, rtol=1e-14, atol=0)
    np.testing.assert_allclose(op_grad, want_grad, rtol=1e-13, atol=0)
    (signature,) = copy.signatures
    assert " reassoc " in copy.inspect_llvm(signature), "PyTensor's flags"
    # the kernel as written is untouched by the Op, and agrees to rounding
    (signature,) = fresh.signatures
    assert " reassoc " not in fresh.inspect_llvm(signature)
    assert abs(float(out) - as_written) <= 1e-11 * abs(as_written)
