"""rw, the reference notebook's model: its figures, the scan graph, the grid kernel, its priors.

What every model passes (the plain reference, finite differences over the support,
simulation, the record) is in test_models.py; here are the checks only rw has: the
notebook's numbers, its ``pytensor.scan`` likelihood, its grid kernel for the exact
posterior, its learning rule, the starts and streams it keeps from the single-model
releases, and the priors it is fitted with (the conftest's PRIOR_CASES).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
import reference_models as ref
import scipy.optimize
from conftest import PRIOR_CASES, RW, rw_priors
from scipy import stats
from scipy.special import expit

from rlrecover import models
from rlrecover.models import rw
from rlrecover.models.base import as_data

EPS = np.finfo(np.float64).eps

N_TRIALS = (2, 3, 150, 1000)
ALPHAS = (0.0, 1e-6, 0.5, 1 - 1e-6, 1.0)
BETAS = (1e-3, 1.0, 5.0, 50.0)
Q_INITS = (0.5, 0.2)
DATA_KINDS = ("random", "simulated")
SEEDS = (0, 1, 2)


def loglik(alpha, beta, actions, rewards, q_init=0.5):
    return RW.loglik({"alpha": alpha, "beta": beta}, actions, rewards, {"q_init": q_init})


def loglik_grad(alpha, beta, actions, rewards, q_init=0.5):
    return RW.loglik_grad({"alpha": alpha, "beta": beta}, actions, rewards, {"q_init": q_init})


def right_probs_jac(alpha, beta, actions, rewards, q_init=0.5):
    return RW.right_probs_jac({"alpha": alpha, "beta": beta}, actions, rewards, {"q_init": q_init})


def simulate(alpha, beta, n, reward_probs=(0.4, 0.6), q_init=0.5, *, rng):
    return RW.simulate({"alpha": alpha, "beta": beta}, n, rng, reward_probs, {"q_init": q_init})


@functools.cache
def make_data(kind: str, n: int, seed: int, q_init: float = 0.5):
    """Seeded test data: uniformly random actions and rewards, or a simulated agent.

    Cached (simulating is the slow part of these tests); the arrays are read-only.
    """
    rng = np.random.default_rng([seed, n, 7])
    if kind == "random":
        actions, rewards = rng.integers(0, 2, n), rng.integers(0, 2, n)
    else:
        actions, rewards = simulate(0.3, 4.0, n, (0.3, 0.7), q_init, rng=rng)
    actions.setflags(write=False)
    rewards.setflags(write=False)
    return actions, rewards


# ------------------------------------------------------------------------------------
# 1. The reference notebook's figures
# ------------------------------------------------------------------------------------


def test_notebook_nll_at_truth(notebook_data):
    actions, rewards = notebook_data
    assert actions.shape == rewards.shape == (150,)
    # The notebook prints 47.418936097207016; our kernel sums the same 149 terms in a
    # different (but exact-math-equivalent) form, so the difference is ~100 eps * 47.
    assert -loglik(0.5, 5, actions, rewards) == pytest.approx(47.418936097207016, abs=1e-9)
    theta = {"alpha": 0.5, "beta": 5.0}
    assert -ref.loglik("rw", theta, actions, rewards) == pytest.approx(
        47.418936097207016, abs=1e-9
    )


def test_notebook_mle(notebook_data):
    actions, rewards = notebook_data
    res = scipy.optimize.minimize(
        lambda x: -loglik(x[0], x[1], actions, rewards), [0.5, 5.0], method="BFGS"
    )
    assert res.success
    # The notebook prints x = (0.50473117, 5.7073849), fun = 47.050814541102895. BFGS
    # stops at gradient norm 1e-5; with hess_inv ~ diag(0.007, 0.87) that moves x by
    # < 1e-5 and the value by ~1e-10, far inside the requested 1e-3 / 1e-4.
    assert res.x[0] == pytest.approx(0.5047, abs=1e-3)
    assert res.x[1] == pytest.approx(5.7074, abs=1e-3)
    assert res.fun == pytest.approx(47.0508, abs=1e-4)


# ------------------------------------------------------------------------------------
# 2. The gradient at the ends of alpha's range, and the kernels against the scan graph
# ------------------------------------------------------------------------------------


def _central(fun, x, h):
    return (fun(x + h) - fun(x - h)) / (2 * h)


@pytest.mark.parametrize("n", N_TRIALS)
@pytest.mark.parametrize("kind", DATA_KINDS)
def test_loglik_grad_finite_differences_at_the_ends_of_alpha(kind, n):
    # test_models.py checks the gradient inside the support; rw's also holds at alpha
    # = 0 and 1, on the grid the single-model releases checked.
    h = 1e-6
    for seed, alpha, beta, q_init in itertools.product(SEEDS[:2], ALPHAS, BETAS, Q_INITS):
        actions, rewards = make_data(kind, n, seed, q_init)
        ll, grad = loglik_grad(alpha, beta, actions, rewards, q_init)
        assert ll == loglik(alpha, beta, actions, rewards, q_init)
        funs = (
            lambda x: loglik(x, beta, actions, rewards, q_init),  # noqa: B023
            lambda x: loglik(alpha, x, actions, rewards, q_init),  # noqa: B023
        )
        for i, (fun, x) in enumerate(zip(funs, (alpha, beta), strict=True)):
            # The likelihood is a smooth function of alpha (a polynomial recursion, also
            # valid just outside [0, 1]) and beta, so central differences apply at the
            # ends of the range too. A plain central difference has truncation error
            # h^2 f'''/6, which at beta = 50 and n = 1000 reaches ~1e-5 relative (as
            # measured); Richardson extrapolation (4 D(h) - D(2h)) / 3 cancels that term
            # and leaves O(h^4) < 1e-6 relative. Rounding: each loglik value carries at
            # most ~n eps |ll| absolute error (recursive summation of n-1 terms), and the
            # extrapolated difference divides by h with weights summing to < 2.
            d_h = _central(fun, x, h)
            d_2h = _central(fun, x, 2 * h)
            fd = d_h + (d_h - d_2h) / 3
            tol = 1e-6 * abs(grad[i]) + 4 * n * EPS * (abs(ll) + 1) / h
            assert abs(fd - grad[i]) <= tol, (seed, alpha, beta, q_init, i, fd, grad[i])


# Gradients and Jacobians against the notebook's scan graph. The two compute the same
# exact derivatives with different floating-point operation orders; measured
# differences are <= 4e-14 relative, so 1e-10 leaves room without hiding any bug (a
# missed term of the recursion shows up at >= 1e-3).
SCAN_RTOL = 1e-10
SCAN_ATOL = 1e-10


@pytest.mark.parametrize("n", N_TRIALS)
@pytest.mark.parametrize("kind", DATA_KINDS)
def test_loglik_grad_matches_scan(scan_reference, kind, n):
    for seed, alpha, beta, q_init in itertools.product(SEEDS[:2], ALPHAS, BETAS, Q_INITS):
        actions, rewards = make_data(kind, n, seed, q_init)
        ll, grad = loglik_grad(alpha, beta, actions, rewards, q_init)
        ll_s, grad_s = scan_reference.loglik_grad(alpha, beta, actions, rewards, q_init)
        where = (seed, alpha, beta, q_init)
        np.testing.assert_allclose(ll, ll_s, rtol=SCAN_RTOL, atol=SCAN_ATOL, err_msg=where)
        np.testing.assert_allclose(grad, grad_s, rtol=SCAN_RTOL, atol=SCAN_ATOL, err_msg=where)


# The scan Jacobian is O(n^2) (one backward pass per row), so n = 150 gets a reduced grid.
JAC_CASES = [
    (n, kind, alpha, beta, q)
    for n in (2, 3, 20)
    for kind in DATA_KINDS
    for alpha, beta, q in itertools.product(ALPHAS, BETAS, Q_INITS)
] + [
    (150, kind, alpha, beta, 0.5)
    for kind in DATA_KINDS
    for alpha, beta in (
        ((1e-6, 5.0), (0.5, 50.0)) if kind == "random" else ((0.5, 1e-3), (1.0, 5.0))
    )
]


@pytest.mark.parametrize("n", sorted({c[0] for c in JAC_CASES}))
def test_right_probs_jac_matches_scan(scan_reference, n):
    for _, kind, alpha, beta, q_init in (c for c in JAC_CASES if c[0] == n):
        actions, rewards = make_data(kind, n, 0, q_init)
        p, jac = right_probs_jac(alpha, beta, actions, rewards, q_init)
        assert p.shape == (n - 1,) and jac.shape == (n - 1, 2)
        p_s, jac_s = scan_reference.right_probs_jac(alpha, beta, actions, rewards, q_init)
        where = (kind, alpha, beta, q_init)
        np.testing.assert_allclose(p, p_s, rtol=SCAN_RTOL, atol=SCAN_ATOL, err_msg=where)
        np.testing.assert_allclose(jac, jac_s, rtol=SCAN_RTOL, atol=SCAN_ATOL, err_msg=where)


# ------------------------------------------------------------------------------------
# 3. Simulation: the notebook's generate_data, choice by choice
# ------------------------------------------------------------------------------------


def _notebook_generate_data(alpha, beta, n, p_r, q_init, rng):
    """The notebook's ``generate_data`` loop: one ``rng.choice`` and one ``rng.random()``
    per trial, with numpy's softmax (the reference for :meth:`Model.simulate`)."""
    actions = np.zeros(n, dtype=np.int64)
    rewards = np.zeros(n, dtype=np.int64)
    q = np.array([q_init, q_init], dtype=np.float64)
    for t in range(n):
        z = beta * q
        z -= z.max()
        prob = np.exp(z)
        prob /= prob.sum()
        a = int(rng.choice([0, 1], p=prob))
        r = int(rng.random() < p_r[a])
        q[a] = q[a] + alpha * (r - q[a])
        actions[t], rewards[t] = a, r
    return actions, rewards


def test_simulate_draws_exactly_the_notebooks_choices_and_rewards():
    # Random parameters, beta from 0.01 to about 20,000, any task; the same seed must
    # give the same dataset, choice by choice, as the notebook's per-trial loop.
    params = np.random.default_rng(11)
    for seed in range(200):
        alpha = float(params.random())
        beta = float(np.exp(params.uniform(np.log(0.01), 10.0)))
        p_r = (float(params.random()), float(params.random()))
        q_init = float(params.random())
        got = simulate(alpha, beta, 300, p_r, q_init, rng=np.random.default_rng(seed))
        want = _notebook_generate_data(alpha, beta, 300, p_r, q_init, np.random.default_rng(seed))
        np.testing.assert_array_equal(got[0], want[0], err_msg=f"actions, seed {seed}")
        np.testing.assert_array_equal(got[1], want[1], err_msg=f"rewards, seed {seed}")


def test_simulate_reward_probabilities_respected():
    # reward_probs (0, 1): left never pays, right always pays
    actions, rewards = simulate(0.5, 5, 300, (0.0, 1.0), rng=np.random.default_rng(1))
    np.testing.assert_array_equal(rewards, actions)


# ------------------------------------------------------------------------------------
# 4. The learning rule, the record, the starts of the single-model releases
# ------------------------------------------------------------------------------------


def test_learn_step_updates_only_the_chosen_arm_and_its_derivative():
    q0, q1, dq0, dq1 = rw.learn_step(0.25, 1, 1.0, 0.5, 0.5, 0.0, 0.0)
    assert (q0, dq0) == (0.5, 0.0)
    assert q1 == 0.5 + 0.25 * (1.0 - 0.5)
    assert dq1 == 1.0 - 0.5  # d/dalpha of alpha * (r - q) at dq = 0
    # The derivative recursion agrees with a finite difference of the values.
    h = 1e-7
    rng = np.random.default_rng(0)
    actions, rewards = rng.integers(0, 2, 50), rng.integers(0, 2, 50)

    def run(alpha):
        state = (0.5, 0.5, 0.0, 0.0)
        for a, r in zip(actions, rewards, strict=True):
            state = rw.learn_step(alpha, int(a), float(r), *state)
        return state

    q0, q1, dq0, dq1 = run(0.3)
    up, down = run(0.3 + h), run(0.3 - h)
    assert dq0 == pytest.approx((up[0] - down[0]) / (2 * h), rel=1e-6)
    assert dq1 == pytest.approx((up[1] - down[1]) / (2 * h), rel=1e-6)


def test_rw_record():
    assert models.get("rw") is RW is rw.MODEL
    assert RW.param_names == ("alpha", "beta") and RW.n_params == 2
    assert [p.kind for p in RW.params] == ["unit", "positive"]
    assert RW.consts == (("q_init", 0.5),) and RW.default_consts == (0.5,)
    assert RW.kernels.loglik_grad is rw.loglik_grad_kernel
    assert RW.kernels.choice_loglik_grad is rw.choice_loglik_grad_kernel
    assert RW.kernels.right_probs_jac is rw.right_probs_jac_kernel
    assert RW.grid_loglik is rw.loglik_grid_kernel
    assert isinstance(RW.kernels.salt, int) and RW.kernels.salt > 0
    # The streams and starts of the single-model releases.
    assert RW.legacy_streams and RW.stream_parts() == ()
    assert all(m.stream_parts() == (m.name,) for m in models.registry().values() if m is not RW)


def test_rw_keeps_the_starts_of_the_single_model_releases():
    # The single-model releases' first start and their draws from the generator,
    # alpha uniform in [0.05, 0.95] and beta log-uniform in [0.3, 30], in that order.
    assert RW.mle_first_start() == {"alpha": 0.5, "beta": 3.0}
    rng, again = np.random.default_rng(12), np.random.default_rng(12)
    for _ in range(50):
        want = {
            "alpha": again.uniform(0.05, 0.95),
            "beta": math.exp(again.uniform(math.log(0.3), math.log(30.0))),
        }
        assert RW.mle_start(rng) == want


# ------------------------------------------------------------------------------------
# 5. The priors: from the config, draws, free-scale densities
# ------------------------------------------------------------------------------------


def test_priors_from_config_and_draws():
    priors = RW.priors_from_config({"alpha": {"a": 2, "b": 3}, "beta": {"sigma": 4}})
    assert priors == rw_priors(2.0, 3.0, 4.0)
    assert priors.to_config() == {"alpha": {"a": 2.0, "b": 3.0}, "beta": {"sigma": 4.0}}
    assert str(priors) == "alpha ~ Beta(2, 3), beta ~ HalfNormal(4)"
    rng = np.random.default_rng(1)
    draws = [priors.draw(rng) for _ in range(20_000)]
    alpha = np.array([d["alpha"] for d in draws])
    beta = np.array([d["beta"] for d in draws])
    # Beta(2, 3) has mean 0.4 and sd 0.2; HalfNormal(4) has mean 4 sqrt(2 / pi).
    # 5 standard errors of the mean of 20,000 draws.
    assert priors["alpha"].mean == pytest.approx(0.4) and priors[
        "alpha"
    ].variance == pytest.approx(0.04)
    assert alpha.mean() == pytest.approx(0.4, abs=5 * 0.2 / math.sqrt(len(draws)))
    sd_beta = 4 * math.sqrt(1 - 2 / math.pi)
    assert priors["beta"].variance == pytest.approx(sd_beta**2)
    assert beta.mean() == pytest.approx(
        priors["beta"].mean, abs=5 * sd_beta / math.sqrt(len(draws))
    )
    assert priors["beta"].mean == pytest.approx(4 * math.sqrt(2 / math.pi))
    assert (alpha > 0).all() and (alpha < 1).all() and (beta >= 0).all()


@pytest.mark.parametrize("priors", PRIOR_CASES)
def test_priors_logpdf_free_is_the_density_plus_the_log_jacobian(priors):
    a, b = priors["alpha"].a, priors["alpha"].b
    sigma = priors["beta"].sigma
    u = np.linspace(-20.0, 20.0, 41)[:, None]
    v = np.linspace(-10.0, 4.0, 15)[None, :]
    alpha, beta = expit(u), np.exp(v)
    want = (
        stats.beta.logpdf(alpha, a, b)
        + np.log(alpha)
        + np.log1p(-alpha)
        + stats.halfnorm.logpdf(beta, scale=sigma)
        + v
    )
    # The reference works with alpha rounded to double, which moves log(1 - alpha) by
    # up to eps / (2 (1 - alpha)); it enters with weight (b - 1) + 1.
    rounding = (abs(b - 1.0) + 1.0) * EPS / (1.0 - alpha)
    error = np.abs(priors.logpdf_free([u, v]) - want)
    assert np.all(error <= 1e-13 * np.abs(want) + 1e-13 + rounding), error.max()


@pytest.mark.parametrize("priors", PRIOR_CASES)
def test_priors_logpdf_free_stays_accurate_where_alpha_rounds_to_one(priors):
    # alpha = expit(u) rounds to 1 for u > 37, so scipy cannot be used there; the
    # density of logit(alpha) under Beta(a, b) is that of -logit(alpha) under Beta(b, a),
    # which is evaluated where alpha is tiny and represented exactly.
    a, b = priors["alpha"].a, priors["alpha"].b
    swapped = rw_priors(b, a, priors["beta"].sigma)
    for u in (40.0, 200.0, 600.0):
        tiny = expit(-u)
        want = (
            stats.beta.logpdf(tiny, b, a)
            + np.log(tiny)
            + stats.halfnorm.logpdf(1.0, scale=priors["beta"].sigma)
        )
        got = priors.logpdf_free([u, 0.0])
        assert np.isfinite(got)
        np.testing.assert_allclose(got, want, rtol=1e-13)
        np.testing.assert_allclose(got, swapped.logpdf_free([-u, 0.0]), rtol=1e-15)


@pytest.mark.parametrize("priors", PRIOR_CASES)
def test_priors_free_quantiles(priors):
    lo_u, hi_u = priors["alpha"].free_quantiles(1e-3)
    a, b = priors["alpha"].a, priors["alpha"].b
    assert stats.beta.cdf(expit(lo_u), a, b) == pytest.approx(1e-3, rel=1e-9)
    assert stats.beta.sf(expit(hi_u), a, b) == pytest.approx(1e-3, rel=1e-6)
    lo_v, hi_v = priors["beta"].free_quantiles(1e-3)
    sigma = priors["beta"].sigma
    assert stats.halfnorm.cdf(math.exp(lo_v), scale=sigma) == pytest.approx(1e-3, rel=1e-9)
    assert stats.halfnorm.sf(math.exp(hi_v), scale=sigma) == pytest.approx(1e-3, rel=1e-9)


def test_transforms_map_to_the_free_scale_and_back():
    # alpha on the logit scale within |u| <= 12, beta on the log scale in [1e-3, 1e3].
    assert RW.param("alpha").mle_box == (-12.0, 12.0)
    assert np.exp(RW.param("beta").mle_box) == pytest.approx([1e-3, 1e3])
    logit, log = RW.param("alpha").transform, RW.param("beta").transform
    assert (logit.name, log.name) == ("logit", "log")
    for t, x in ((logit, 0.3), (log, 7.0)):
        assert t.from_free(t.to_free(x)) == pytest.approx(x, rel=1e-15)
        assert float(t.from_free_np(t.to_free_np(x))) == pytest.approx(x, rel=1e-15)
        # chain(g, theta) is g times d theta / d free, by central differences.
        h = 1e-6
        u = t.to_free(x)
        fd = (t.from_free(u + h) - t.from_free(u - h)) / (2 * h)
        assert t.chain(2.0, x) == pytest.approx(2.0 * fd, rel=1e-8)
        assert float(t.log_jacobian(u)) == pytest.approx(math.log(fd), rel=1e-8)
    # The numpy maps give the ends of the support instead of raising.
    assert log.from_free_np(1e4) == np.inf
    assert log.to_free_np(0.0) == -np.inf
    assert logit.to_free_np(1.0) == np.inf


# ------------------------------------------------------------------------------------
# 6. loglik_grid_kernel (the exact posterior's)
# ------------------------------------------------------------------------------------


def _kernel_datasets(notebook_data):
    rng = np.random.default_rng(8)
    return {
        "notebook": notebook_data,
        "simulated_30": simulate(0.6, 3.0, 30, rng=rng),
        "two_trials": (np.array([0, 1]), np.array([0, 1])),
    }


@pytest.mark.parametrize("name", ["notebook", "simulated_30", "two_trials"])
def test_grid_kernel_matches_pointwise_loglik(notebook_data, name):
    actions, rewards = as_data(*_kernel_datasets(notebook_data)[name])
    alphas = np.array([0.0, 1e-9, 0.2, 0.5, 0.97, 1.0])
    betas = np.array([1e-6, 1e-3, 0.7, 5.0, 60.0])
    q_init = 0.3
    out = np.full((alphas.size, betas.size), np.nan)
    rw.loglik_grid_kernel(alphas, betas, actions, rewards, q_init, out)
    want = np.array([[loglik(a, b, actions, rewards, q_init) for b in betas] for a in alphas])
    # the same arithmetic in the same order as the fitters' kernel: bitwise equal
    np.testing.assert_array_equal(out, want)


def test_grid_kernel_matches_pointwise_loglik_past_its_256_trial_chunks():
    # the kernels take the log of a running product every 256 trials
    rng = np.random.default_rng(11)
    for n_trials in (255, 256, 257, 600):
        actions, rewards = as_data(*simulate(0.3, 4.0, n_trials, rng=rng))
        alphas, betas = rng.uniform(0, 1, 7), np.exp(rng.uniform(-3, 4, 9))
        out = np.empty((7, 9))
        rw.loglik_grid_kernel(alphas, betas, actions, rewards, 0.5, out)
        want = [[loglik(a, b, actions, rewards, 0.5) for b in betas] for a in alphas]
        np.testing.assert_array_equal(out, np.array(want))


def test_grid_kernel_gives_minus_infinity_for_a_choice_the_model_cannot_make():
    actions = np.array([0, 1, 2, 0], dtype=np.int64)  # 2 is no arm
    rewards = np.array([1, 0, 1, 0], dtype=np.int64)
    out = np.zeros((2, 3))
    rw.loglik_grid_kernel(
        np.array([0.2, 0.8]), np.array([0.5, 1.0, 3.0]), actions, rewards, 0.5, out
    )
    assert np.all(out == -np.inf)  # as the fitters' kernel (loglik checks the data first)
    assert rw.loglik_grad_kernel(0.2, 1.0, actions, rewards, 0.5, np.empty(2)) == -np.inf


def test_grid_kernel_refuses_a_wrong_output_shape(notebook_data):
    actions, rewards = as_data(*notebook_data)
    with pytest.raises(ValueError, match="shape"):
        rw.loglik_grid_kernel(
            np.array([0.5]), np.array([1.0, 2.0]), actions, rewards, 0.5, np.empty((2, 1))
        )
