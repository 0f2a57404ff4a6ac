"""The template every model of the library passes: one test per property, run per model.

Every test here is parametrised over :func:`rlrecover.models.registry`, so a model
added to the library (one module of :mod:`rlrecover.models`) is checked as soon as it
exists; its author adds its plain reference to ``tests/reference_models.py`` (the
first test fails until then). Per model:

* the log-likelihood and the right-arm probabilities equal an independent
  plain-Python implementation written from the model's equations;
* the three kernels agree: the log-likelihood is the sum of the logs of the
  probabilities, the choice kernel with ``observed = actions[1:]`` is the likelihood
  kernel bit for bit, and an impossible observation has probability 0;
* the gradient and the Jacobian equal finite differences (hypothesis);
* the log-likelihood is finite and <= 0 over the support, edges included, unless the
  data hold a choice the model cannot make;
* simulation draws two uniforms per trial, replays the reference from them, is
  reproducible from its seed, chooses with the model's own probabilities and refuses
  parameters outside the support naming the value;
* the record is well formed: kernel signatures, starts, pickling, and a hash of the
  kernels' source (their PyTensor cache key) that covers every numba function they call.

rw's own figures (the notebook's, the scan graph, the grid kernel) are in
test_model_rw.py; maximum likelihood in test_mle.py; the PyMC models in
test_sampling.py.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import itertools
import math
import pickle
import re
import runpy
import sys
from types import SimpleNamespace

import numba
import numpy as np
import pytest
import reference_models as ref
from conftest import default_priors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_cases import (
    MODELS,
    bernoulli_bound,
    bernoulli_grad_bound,
    bernoulli_reference,
    by_model,
    const_cases,
    edge_points,
    interior,
    moderate_points,
    name_seed,
    scale_of,
)

from rlrecover import models
from rlrecover.models import base

EPS = np.finfo(np.float64).eps

N_TRIALS = (2, 3, 150, 1000)
DATA_KINDS = ("random", "simulated")
SEEDS = (0, 1, 2)


@functools.cache
def make_data(name: str, kind: str, n: int, seed: int):
    """Seeded data: uniformly random actions and rewards, or the model simulated.

    Cached; the arrays are read-only. The simulated agent is at :func:`interior` with
    reward probabilities (0.3, 0.7).
    """
    model = models.get(name)
    rng = np.random.default_rng([seed, n, name_seed(name)])
    if kind == "random":
        actions, rewards = rng.integers(0, 2, n), rng.integers(0, 2, n)
    else:
        actions, rewards = model.simulate(interior(model), n, rng, reward_probs=(0.3, 0.7))
    actions.setflags(write=False)
    rewards.setflags(write=False)
    return actions, rewards


def raw_kernel_args(model, theta, consts):
    """The leading parameters and trailing constants of a kernel call, in order."""
    return [float(theta[n]) for n in model.param_names], [
        float(consts[c]) for c in model.const_names
    ]


# ------------------------------------------------------------------------------------
# 1. Against the plain references
# ------------------------------------------------------------------------------------


@by_model
def test_every_model_has_a_plain_reference(model):
    assert model.name in ref.REFERENCES, (
        f"add the plain reference of {model.name} to tests/reference_models.py"
    )
    theta = interior(model)
    actions, rewards = make_data(model.name, "random", 5, 0)
    lp = ref.log_probs(model.name, theta, actions, rewards, dict(model.consts))
    assert len(lp) == 5
    # Each trial's two log-probabilities are those of a distribution on the two arms.
    for left, right in lp:
        assert math.exp(left) + math.exp(right) == pytest.approx(1.0, abs=1e-15)


@by_model
@pytest.mark.parametrize("n", N_TRIALS)
@pytest.mark.parametrize("kind", DATA_KINDS)
def test_loglik_and_right_probs_match_the_reference(model, kind, n):
    for seed, theta, consts in itertools.product(SEEDS, edge_points(model), const_cases(model)):
        actions, rewards = make_data(model.name, kind, n, seed)
        where = (seed, theta, consts)
        lp = ref.log_probs(model.name, theta, actions, rewards, consts)
        want = math.fsum(lp[t][a] for t, a in enumerate(actions.tolist()) if t > 0)
        got = model.loglik(theta, actions, rewards, consts)
        if want == -math.inf:  # a choice the model cannot make (bias, wsls at an edge)
            assert got == -math.inf, where
            continue
        # Both sum n - 1 log-probabilities <= 0 (no cancellation), so the sums differ
        # relatively by at most ~n eps (< 1e-12 for n <= 1000) on top of each term's
        # own absolute error, a few eps times its scale (scale_of).
        scale = scale_of(model, theta, lp)
        atol = 4 * (n - 1) * EPS * scale
        assert abs(got - want) <= 1e-12 * abs(want) + atol, (*where, got, want)
        # A probability's error is p (1 - p) <= 1/4 times its log-odds' error.
        p = model.right_probs(theta, actions, rewards, consts)
        p_ref = np.exp([right for _, right in lp[1:]])
        np.testing.assert_allclose(p, p_ref, rtol=0, atol=4 * EPS * scale, err_msg=str(where))


@by_model
def test_only_the_second_choice_counts_in_two_trials(model):
    # With two trials only the second choice is scored, whatever the first trial was
    # (its choice and reward still drive the learning).
    theta = interior(model, 0.4, 2.5)
    consts = dict(model.consts)
    for a0, r0, a1 in itertools.product((0, 1), repeat=3):
        got = model.loglik(theta, [a0, a1], [r0, 0], consts)
        lp = ref.log_probs(model.name, theta, [a0, a1], [r0, 0], consts)
        # one log/exp evaluation each side: a few eps of the scale
        assert got == pytest.approx(lp[1][a1], rel=0, abs=8 * EPS * scale_of(model, theta, lp))


# ------------------------------------------------------------------------------------
# 2. The three kernels agree
# ------------------------------------------------------------------------------------


@by_model
@pytest.mark.parametrize("kind", DATA_KINDS)
def test_loglik_is_the_sum_of_the_logs_of_the_right_probs(model, kind):
    for seed, theta, consts in itertools.product(
        SEEDS, moderate_points(model), const_cases(model)
    ):
        actions, rewards = make_data(model.name, kind, 1000, seed)
        ll = model.loglik(theta, actions, rewards, consts)
        want, _, p = bernoulli_reference(model, theta, actions, rewards, actions[1:], consts)
        scale = scale_of(model, theta, ref.log_probs(model.name, theta, actions, rewards, consts))
        assert abs(ll - want) <= bernoulli_bound(p, 1000, scale, want), (seed, theta, consts)


@by_model
@pytest.mark.parametrize("kind", DATA_KINDS)
def test_choice_kernel_of_own_actions_is_the_loglik_kernel_bit_for_bit(model, kind):
    k = model.kernels
    for seed, theta, consts in itertools.product(SEEDS, edge_points(model), const_cases(model)):
        actions, rewards = base.as_data(*make_data(model.name, kind, 150, seed))
        params, cs = raw_kernel_args(model, theta, consts)
        g1, g2, g3 = (np.empty(model.n_params) for _ in range(3))
        ll = k.loglik_grad(*params, actions, rewards, *cs, g1)
        # observed as a copy, and as int32 (how pm.Data stores integers)
        ll2 = k.choice_loglik_grad(*params, actions, rewards, actions[1:].copy(), *cs, g2)
        obs32 = actions[1:].astype(np.int32)
        ll3 = k.choice_loglik_grad(*params, actions, rewards, obs32, *cs, g3)
        where = (seed, theta, consts)
        assert ll2 == ll3 == ll or (np.isnan(ll) and np.isnan(ll2) and np.isnan(ll3)), where
        np.testing.assert_array_equal(g2, g1, err_msg=str(where))
        np.testing.assert_array_equal(g3, g1, err_msg=str(where))


@by_model
@pytest.mark.parametrize("bad", [2, -1])
def test_choice_kernel_gives_minus_infinity_to_an_impossible_observation(model, bad):
    # pm.Bernoulli gives log-probability -inf to a value outside {0, 1}; the other
    # terms still contribute their gradient (the switch passes none through -inf).
    actions, rewards = base.as_data(*make_data(model.name, "simulated", 150, 0))
    for theta, consts in itertools.product(moderate_points(model), const_cases(model)):
        params, cs = raw_kernel_args(model, theta, consts)
        observed = actions[1:].copy()
        observed[17] = bad
        grad = np.empty(model.n_params)
        ll = model.kernels.choice_loglik_grad(*params, actions, rewards, observed, *cs, grad)
        assert ll == -np.inf
        _, want, p = bernoulli_reference(model, theta, actions, rewards, observed, consts)
        _, jac = model.right_probs_jac(theta, actions, rewards, consts)
        lp = ref.log_probs(model.name, theta, actions, rewards, consts)
        tol = bernoulli_grad_bound(p, jac, observed, scale_of(model, theta, lp))
        assert np.all(np.abs(grad - want) <= tol), (theta, grad, want, tol)


@by_model
def test_choice_kernel_checks_the_number_of_observations(model):
    actions, rewards = base.as_data(*make_data(model.name, "random", 20, 0))
    params, cs = raw_kernel_args(model, interior(model), dict(model.consts))
    for observed in (actions, actions[2:]):
        with pytest.raises(ValueError, match="one fewer"):
            model.kernels.choice_loglik_grad(
                *params, actions, rewards, observed, *cs, np.empty(model.n_params)
            )


@by_model
def test_right_probs_shapes(model):
    for n in (2, 3, 40):
        actions, rewards = make_data(model.name, "simulated", n, 1)
        p, jac = model.right_probs_jac(interior(model), actions, rewards)
        assert p.shape == (n - 1,) and jac.shape == (n - 1, model.n_params)
        np.testing.assert_array_equal(p, model.right_probs(interior(model), actions, rewards))


# ------------------------------------------------------------------------------------
# 3. Properties over the support (hypothesis)
# ------------------------------------------------------------------------------------

# Derandomised: the same examples on every run (seeded, like the rest of the suite).
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)

#: Anywhere in the support, its edges (and the largest inverse temperature) included.
unit_any = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))
positive_any = st.one_of(st.sampled_from([100.0]), st.floats(0.0, 100.0, exclude_min=True))
#: Inside the support, where central differences fit in it.
unit_inner = st.floats(1e-3, 1 - 1e-3)
positive_inner = st.floats(1e-2, 100.0)
n_trials = st.one_of(st.sampled_from([2, 5000]), st.integers(2, 5000))
# How the sequence is made: random, all zeros, all ones, or alternating.
kinds = st.sampled_from(["random", "zeros", "ones", "alternating"])
q_inits = st.sampled_from([0.5, 0.0, 1.0, 0.2])


def thetas(model, inner: bool):
    unit, positive = (unit_inner, positive_inner) if inner else (unit_any, positive_any)
    return st.fixed_dictionaries(
        {p.name: unit if p.kind == "unit" else positive for p in model.params}
    )


def _sequence(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "random":
        return rng.integers(0, 2, n)
    if kind == "zeros":
        return np.zeros(n, dtype=np.int64)
    if kind == "ones":
        return np.ones(n, dtype=np.int64)
    return np.arange(n) % 2


def draw_data(data, model, max_n=None):
    """Actions, rewards (any sequences) and constants of one example."""
    n = data.draw(n_trials if max_n is None else st.integers(2, max_n))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    actions = _sequence(data.draw(kinds), n, rng)
    rewards = _sequence(data.draw(kinds), n, rng)
    consts = {c: data.draw(q_inits) if c == "q_init" else d for c, d in model.consts}
    return actions, rewards, consts


def _central_difference(f, x: float, h: float):
    return (f(x + h) - f(x - h)) / (2 * h)


def _step(model, name: str, x: float) -> float:
    """1e-4 of the distance to the edge of the support (unit) or of the value (positive)."""
    return 1e-4 * (min(x, 1 - x) if model.param(name).kind == "unit" else x)


@by_model
@SETTINGS
@given(data=st.data())
def test_loglik_is_finite_and_at_most_zero_unless_a_choice_is_impossible(model, data):
    theta = data.draw(thetas(model, inner=False))
    actions, rewards, consts = draw_data(data, model)
    ll, grad = model.loglik_grad(theta, actions, rewards, consts)
    lp = ref.log_probs(model.name, theta, actions, rewards, consts)
    scored = [lp[t][a] for t, a in enumerate(actions.tolist()) if t > 0]
    if -math.inf in scored:
        # bias at b = 0 or 1, wsls at epsilon = 0: the data hold a choice of
        # probability 0.
        assert ll == -math.inf
    else:
        assert np.isfinite(ll) and ll <= 0.0
    # A rate within a subnormal number of an edge (epsilon = 2e-313, say) has a
    # derivative of its log-odds, 1 / epsilon, beyond the largest double: the
    # gradient overflows there, and is only asserted for normal distances.
    normal = all(
        min(theta[q.name], 1 - theta[q.name]) >= np.finfo(np.float64).tiny
        for q in model.params
        if q.kind == "unit"
    )
    if normal and all(math.isfinite(x) for pair in lp[1:] for x in pair):
        # Every choice uncertain. (Where one is certain, at those same edges, the
        # log-odds are infinite and the derivative through them is 0 * inf: undefined.)
        assert np.all(np.isfinite(grad))
    p = model.right_probs(theta, actions, rewards, consts)
    assert np.all((p >= 0.0) & (p <= 1.0))


@by_model
@SETTINGS
@given(data=st.data())
def test_gradient_equals_finite_differences(model, data):
    theta = data.draw(thetas(model, inner=True))
    actions, rewards, consts = draw_data(data, model)
    ll, grad = model.loglik_grad(theta, actions, rewards, consts)
    for i, name in enumerate(model.param_names):

        def f(x, name=name):
            return model.loglik({**theta, name: x}, actions, rewards, consts)

        x = theta[name]
        h = _step(model, name, x)
        d1 = _central_difference(f, x, h)
        d2 = _central_difference(f, x, h / 2)
        # Central differences err by c h^2 (truncation) plus noise(f) / h (rounding).
        # Halving h quarters the first: |d1 - d2| estimates 3/4 of d1's truncation
        # error, and d2 (with its Richardson correction) is at most that far off. The
        # kernel sums n terms, so its value carries up to n eps |f| of rounding noise;
        # each difference turns that into at most 2 n eps |f| / h.
        noise = len(actions) * EPS * (abs(ll) + 1.0)
        rounding = 2 * noise / (h / 2)
        tol = 2 * abs(d1 - d2) + 2 * rounding + 1e-12 * abs(grad[i])
        richardson = d2 + (d2 - d1) / 3
        assert abs(richardson - grad[i]) <= tol, (name, richardson, grad[i], tol)


@by_model
@SETTINGS
@given(data=st.data())
def test_right_probs_jacobian_equals_finite_differences(model, data):
    theta = data.draw(thetas(model, inner=True))
    actions, rewards, consts = draw_data(data, model, max_n=500)
    _, jac = model.right_probs_jac(theta, actions, rewards, consts)
    # A probability's rounding error is at most p (1 - p) <= 1/4 times that of its
    # log-odds, a few eps times the inverse temperatures (scale_of without log p).
    positives = sum(theta[q.name] for q in model.params if q.kind == "positive")
    noise = 4 * EPS * (1.0 + positives)
    for i, name in enumerate(model.param_names):

        def f(x, name=name):
            return model.right_probs({**theta, name: x}, actions, rewards, consts)

        x = theta[name]
        h = _step(model, name, x)
        d1 = _central_difference(f, x, h)
        d2 = _central_difference(f, x, h / 2)
        # The same error model as for the gradient, element by element.
        tol = 2 * np.abs(d1 - d2) + 2 * (2 * noise / (h / 2)) + 1e-12 * np.abs(jac[:, i])
        richardson = d2 + (d2 - d1) / 3
        bad = np.flatnonzero(np.abs(richardson - jac[:, i]) > tol)
        assert bad.size == 0, (name, bad[:5], richardson[bad[:5]], jac[bad[:5], i])


@by_model
@SETTINGS
@given(
    data=st.data(),
    n=st.integers(2, 2000),
    seed=st.integers(0, 2**63 - 1),
    probs=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
)
def test_simulation_is_reproducible_from_its_seed(model, data, n, seed, probs):
    theta = data.draw(thetas(model, inner=False))
    first = model.simulate(theta, n, np.random.default_rng(seed), probs)
    again = model.simulate(theta, n, np.random.default_rng(seed), probs)
    for x, y in zip(first, again, strict=True):
        np.testing.assert_array_equal(x, y)
        assert x.shape == (n,) and x.dtype == np.int64 and set(np.unique(x)) <= {0, 1}


# ------------------------------------------------------------------------------------
# 4. Simulation
# ------------------------------------------------------------------------------------


def simulation_points(model):
    return [interior(model), interior(model, 0.8, 1.5), *edge_points(model)[::7]]


@by_model
def test_simulation_uses_two_uniforms_per_trial_and_replays_the_reference(model):
    n = 120
    for i, (theta, consts) in enumerate(
        itertools.product(simulation_points(model), const_cases(model))
    ):
        seed = [i, name_seed(model.name)]
        rng = np.random.default_rng(seed)
        actions, rewards = model.simulate(theta, n, rng, (0.3, 0.8), consts)
        fresh = np.random.default_rng(seed)
        uniforms = fresh.random(2 * n)
        # The generator was consumed by exactly those 2 n uniforms.
        assert rng.random() == fresh.random()
        want = ref.replay(model.name, theta, uniforms, (0.3, 0.8), consts)
        # Equal unless a uniform falls within rounding (~1e-16) of its threshold: with
        # these seeds it does not.
        assert actions.tolist() == want[0], (theta, consts)
        assert rewards.tolist() == want[1], (theta, consts)


@by_model
def test_simulated_choices_follow_the_models_probabilities(model):
    # Given the history, the choice on trial t is Bernoulli(p_t), so the sum of
    # a_t - p_t over the trials whose p_t falls in a bin is a martingale with
    # predictable variance V = sum p_t (1 - p_t): by the martingale central limit
    # theorem it is about N(0, V). Each bin and the whole sequence must lie within
    # 4.5 sd (two-sided false alarm 7e-6 per check; seeded, so the same every run).
    n = 5000
    for i, theta in enumerate([interior(model), interior(model, 0.7, 1.5)]):
        actions, rewards = model.simulate(
            theta, n, np.random.default_rng([i, 99, name_seed(model.name)])
        )
        p = model.right_probs(theta, actions, rewards)
        a = actions[1:]
        bins = np.digitize(p, [0.2, 0.4, 0.6, 0.8])
        for b in [None, *range(5)]:
            mask = np.ones_like(p, dtype=bool) if b is None else bins == b
            var = float(np.sum(p[mask] * (1 - p[mask])))
            if var < 5:  # too few uncertain trials for the normal approximation
                continue
            z = float(np.sum(a[mask] - p[mask])) / math.sqrt(var)
            assert abs(z) < 4.5, (theta, b, z, int(mask.sum()))


@by_model
def test_simulate_respects_the_reward_probabilities(model):
    # reward_probs (0, 1): left never pays, right always pays
    for theta in (interior(model), interior(model, 0.9, 0.5)):
        actions, rewards = model.simulate(theta, 300, np.random.default_rng(1), (0.0, 1.0))
        np.testing.assert_array_equal(rewards, actions)


def _bad_values(param):
    if param.kind == "unit":
        return [1.5, -0.1, math.nan]
    return [0.0, -2.0, math.inf, math.nan]


BAD_PARAMS = [(m, p.name, v) for m in MODELS for p in m.params for v in _bad_values(p)]


@pytest.mark.parametrize(
    ("model", "name", "value"), BAD_PARAMS, ids=[f"{m.name}-{n}-{v}" for m, n, v in BAD_PARAMS]
)
def test_simulate_refuses_a_parameter_outside_its_support(model, name, value):
    theta = {**interior(model), name: value}
    with pytest.raises(ValueError, match=rf"{name} must .*got {re.escape(repr(value))}"):
        model.simulate(theta, 10, np.random.default_rng(0))


@by_model
def test_simulate_refuses_wrong_names_bad_tasks_and_no_generator(model):
    theta = interior(model)
    rng = np.random.default_rng(0)
    missing = dict(list(theta.items())[1:])
    for bad in (missing, {**theta, "gamma": 0.5}):
        with pytest.raises(ValueError, match=rf"model {model.name} takes"):
            model.simulate(bad, 10, rng)
    with pytest.raises(ValueError, match="n_trials"):
        model.simulate(theta, 1, rng)
    with pytest.raises(ValueError, match="reward_probs"):
        model.simulate(theta, 10, rng, (0.4, 1.2))
    with pytest.raises(TypeError, match="Generator"):
        model.simulate(theta, 10, None)


@by_model
def test_likelihood_refuses_bad_data(model):
    theta = interior(model)
    with pytest.raises(ValueError, match="equal length"):
        model.loglik(theta, np.zeros(10, dtype=int), np.zeros(9))
    with pytest.raises(ValueError, match="action must be 0 or 1, got 2 on trial 3"):
        model.loglik(theta, [0, 1, 2], [0, 0, 0])
    with pytest.raises(ValueError, match=f"takes {model.n_params} parameters"):
        model.loglik([0.5] * (model.n_params + 1), [0, 1], [0, 1])


# ------------------------------------------------------------------------------------
# 5. The record
# ------------------------------------------------------------------------------------


@by_model
def test_kernel_signatures_follow_the_convention(model):
    # parameters, then actions and rewards (and observed), then the constants, then
    # the outputs: a new model whose kernels take another order fails here.
    k, c = model.n_params, len(model.consts)
    expected = {
        model.kernels.loglik_grad: k + 2 + c + 1,
        model.kernels.choice_loglik_grad: k + 3 + c + 1,
        model.kernels.right_probs_jac: k + 2 + c + 2,
        model.simulate_kernel: k + 3 + c + 2,
    }
    for fn, n_args in expected.items():
        assert isinstance(fn, numba.core.registry.CPUDispatcher), fn
        names = list(inspect.signature(fn.py_func).parameters)
        assert len(names) == n_args, (fn, names)
        assert names[:k] == list(model.param_names), (fn, names)
    assert list(inspect.signature(model.kernels.loglik_grad.py_func).parameters)[
        k + 2 : k + 2 + c
    ] == list(model.const_names)


@by_model
def test_record_names_and_lookup(model):
    assert models.get(model.name) is model
    assert model.title and model.equations
    assert len(set(model.param_names)) == model.n_params >= 1
    assert all(p.kind in base.KINDS for p in model.params)
    assert model.log_params == tuple(p.name for p in model.params if p.kind == "positive")
    # Pickled by name: the workers get the registered record back.
    assert pickle.loads(pickle.dumps(model)) is model
    with pytest.raises(KeyError, match=f"model {model.name} has no parameter 'nope'"):
        model.param("nope")


@by_model
def test_mle_starts_lie_in_the_support_and_the_box_and_follow_the_generator(model):
    first = model.mle_first_start()
    assert model.check_theta(first)
    starts = [model.mle_start(np.random.default_rng(3)) for _ in range(2)]
    assert starts[0] == starts[1]
    rng = np.random.default_rng(4)
    for start in [first, *(model.mle_start(rng) for _ in range(200))]:
        assert list(start) == list(model.param_names)
        for p in model.params:
            lo, hi = p.mle_box
            assert lo < p.transform.to_free(start[p.name]) < hi, (p.name, start)


@by_model
def test_default_prior_draws_lie_in_the_support(model):
    priors = default_priors(model)
    assert priors.names == model.param_names
    rng = np.random.default_rng(5)
    for _ in range(100):
        model.check_theta(priors.draw(rng))


def _numba_callees(fn) -> set:
    """The Python functions of ``fn`` and of every numba function it calls, recursively."""
    dispatcher = numba.core.registry.CPUDispatcher
    seen, stack = set(), [fn]
    while stack:
        py = stack.pop().py_func
        if py in seen:
            continue
        seen.add(py)
        codes = [py.__code__]
        while codes:
            code = codes.pop()
            codes += [c for c in code.co_consts if inspect.iscode(c)]
            for name in code.co_names:
                g = py.__globals__.get(name)
                if isinstance(g, dispatcher):
                    stack.append(g)
    return seen


@by_model
def test_kernel_salt_covers_every_numba_function_the_kernels_call(model, monkeypatch):
    # The salt is part of the Ops' PyTensor cache key: a change to any function the
    # likelihood kernels call must change it, or a compiled graph on disk would keep
    # running the old code. The model's module is run again with kernel_salt recording
    # what it is given.
    given = []

    def record(*functions):
        given.extend(functions)
        return 0

    kernel_salt = base.kernel_salt
    module = sys.modules[model.kernels.loglik_grad.py_func.__module__]
    monkeypatch.setattr(base, "kernel_salt", record)
    runpy.run_path(module.__file__, run_name=f"{module.__name__}_salt_probe")
    salted = {inspect.getsource(getattr(f, "py_func", f)) for f in given}
    k = model.kernels
    called = set().union(
        *(_numba_callees(f) for f in (k.loglik_grad, k.choice_loglik_grad, k.right_probs_jac))
    )
    missing = sorted(py.__qualname__ for py in called if inspect.getsource(py) not in salted)
    assert not missing, f"{model.name}'s kernel salt leaves out {missing}"
    assert k.salt == kernel_salt(*given) and k.salt > 0


# ------------------------------------------------------------------------------------
# 6. The registry
# ------------------------------------------------------------------------------------


def test_registry_holds_the_library_in_order():
    names = models.names()
    assert names[: len(models.ORDER)] == models.ORDER
    assert all(isinstance(m, base.Model) for m in models.registry().values())
    with pytest.raises(KeyError, match="unknown model 'nope'; the library has bias, wsls"):
        models.get("nope")


def _fake_registry(monkeypatch, fake_modules):
    """:func:`models.registry` (uncached) over the given ``{module name: MODEL}``."""
    infos = [SimpleNamespace(name=n) for n in fake_modules]
    monkeypatch.setattr(models.pkgutil, "iter_modules", lambda path: infos)
    prefix = f"{models.__name__}."

    def fake_import(name):
        short = name.removeprefix(prefix)
        if short in fake_modules:
            return SimpleNamespace(MODEL=fake_modules[short])
        return importlib.import_module(name)

    monkeypatch.setattr(models.importlib, "import_module", fake_import)
    return models.registry.__wrapped__()


def test_registry_finds_user_models_and_sorts_them_after_the_library(monkeypatch):
    rw = models.get("rw")
    extra = base.Model("zzz", "z", rw.params, rw.kernels, rw.simulate_kernel)
    found = _fake_registry(
        monkeypatch, {"zzz": extra, "rw": rw, "bias": models.get("bias"), "notes": None}
    )
    assert list(found) == ["bias", "rw", "zzz"]


def test_registry_rejects_a_model_that_is_no_model_and_repeated_names(monkeypatch):
    with pytest.raises(ValueError, match=r"rlrecover.models.fake.MODEL is a dict, not a Model"):
        _fake_registry(monkeypatch, {"fake": {"name": "fake"}})
    rw = models.get("rw")
    with pytest.raises(
        ValueError, match=r"rlrecover\.models\.a and rlrecover\.models\.b are both"
    ):
        _fake_registry(monkeypatch, {"a": rw, "b": rw})
