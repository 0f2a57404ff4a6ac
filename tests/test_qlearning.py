"""Tests of rlrecover.qlearning: the notebook's figures, the kernels against references."""

from __future__ import annotations

import functools
import itertools
import math
import re

import numpy as np
import pytest
import scipy.optimize
from conftest import PRIOR_CASES
from scipy import stats
from scipy.special import expit

from rlrecover.qlearning import (
    Priors,
    as_data,
    loglik,
    loglik_grad,
    loglik_grad_kernel,
    loglik_grid_kernel,
    loglik_reference,
    right_probs,
    right_probs_jac,
    simulate,
)

EPS = np.finfo(np.float64).eps

N_TRIALS = (2, 3, 150, 1000)
ALPHAS = (0.0, 1e-6, 0.5, 1 - 1e-6, 1.0)
BETAS = (1e-3, 1.0, 5.0, 50.0)
Q_INITS = (0.5, 0.2)
DATA_KINDS = ("random", "simulated")
SEEDS = (0, 1, 2)


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
    assert -loglik_reference(0.5, 5, actions, rewards) == pytest.approx(
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
# 2. Kernels against the plain-loop reference and finite differences
# ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", N_TRIALS)
@pytest.mark.parametrize("kind", DATA_KINDS)
def test_loglik_matches_reference(kind, n):
    for seed, alpha, beta, q_init in itertools.product(SEEDS, ALPHAS, BETAS, Q_INITS):
        actions, rewards = make_data(kind, n, seed, q_init)
        fast = loglik(alpha, beta, actions, rewards, q_init)
        ref = loglik_reference(alpha, beta, actions, rewards, q_init)
        # rtol 1e-12: both sum the same n-1 negative terms (no cancellation), so the
        # relative difference is bounded by ~n eps. atol: the reference computes each
        # term as (z_a - m) - log(1 + exp(z_o - m)) with |z| <= beta (Q in [0, 1]), which
        # has absolute error ~ eps (1 + beta) per term, and loses all relative precision
        # when the log-probability is below eps (e.g. beta 50: log(1 + e^-40) == 0.0,
        # while the kernel's log1p gives -4e-18).
        atol = 4 * (n - 1) * EPS * (1 + beta)
        assert abs(fast - ref) <= 1e-12 * abs(ref) + atol, (seed, alpha, beta, q_init)


def test_loglik_first_trial_left_out():
    # With two trials only the second choice counts, whatever the first is.
    for a0, r0, a1 in itertools.product((0, 1), repeat=3):
        got = loglik(0.5, 5.0, [a0, a1], [r0, 0])
        q = [0.5, 0.5]
        q[a0] += 0.5 * (r0 - q[a0])
        p_right = 1 / (1 + np.exp(-5.0 * (q[1] - q[0])))
        want = np.log(p_right if a1 == 1 else 1 - p_right)
        # one log/exp evaluation each side: a few eps
        assert got == pytest.approx(want, rel=1e-14, abs=1e-15)


def _central(fun, x, h):
    return (fun(x + h) - fun(x - h)) / (2 * h)


@pytest.mark.parametrize("n", N_TRIALS)
@pytest.mark.parametrize("kind", DATA_KINDS)
def test_loglik_grad_finite_differences(kind, n):
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
        np.testing.assert_array_equal(p, right_probs(alpha, beta, actions, rewards, q_init))
        p_s, jac_s = scan_reference.right_probs_jac(alpha, beta, actions, rewards, q_init)
        where = (kind, alpha, beta, q_init)
        np.testing.assert_allclose(p, p_s, rtol=SCAN_RTOL, atol=SCAN_ATOL, err_msg=where)
        np.testing.assert_allclose(jac, jac_s, rtol=SCAN_RTOL, atol=SCAN_ATOL, err_msg=where)


def test_right_probs_consistent_with_loglik():
    actions, rewards = make_data("simulated", 150, 3)
    p = right_probs(0.4, 3.0, actions, rewards)
    obs = actions[1:]
    # p >= sigmoid(-3) here, so log(p) and log1p(-p) lose at most ~eps/p relative each
    want = np.sum(np.where(obs == 1, np.log(p), np.log1p(-p)))
    assert loglik(0.4, 3.0, actions, rewards) == pytest.approx(want, rel=1e-12)


# ------------------------------------------------------------------------------------
# simulate
# ------------------------------------------------------------------------------------


def test_simulate_shapes_and_values():
    actions, rewards = simulate(0.5, 5, 200, rng=np.random.default_rng(0))
    assert actions.shape == rewards.shape == (200,)
    assert actions.dtype == rewards.dtype == np.int64
    assert set(np.unique(actions)) <= {0, 1}
    assert set(np.unique(rewards)) <= {0, 1}


def test_simulate_is_seeded():
    a1, r1 = simulate(0.3, 2, 50, rng=np.random.default_rng(5))
    a2, r2 = simulate(0.3, 2, 50, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(r1, r2)


def _notebook_generate_data(alpha, beta, n, p_r, q_init, rng):
    """The notebook's ``generate_data`` loop: one ``rng.choice`` and one ``rng.random()``
    per trial, with numpy's softmax (the reference for :func:`simulate`)."""
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


@pytest.mark.parametrize(
    ("alpha", "beta", "text"),
    [(1.5, 5.0, "1.5"), (-0.1, 5.0, "-0.1"), (0.5, 0.0, "0.0"), (0.5, -2.0, "-2.0")],
)
def test_simulate_rejects_bad_params(alpha, beta, text):
    with pytest.raises(ValueError, match=re.escape(text)):
        simulate(alpha, beta, 10, rng=np.random.default_rng(0))


def test_simulate_rejects_bad_task_and_missing_rng():
    with pytest.raises(ValueError, match="n_trials"):
        simulate(0.5, 5, 1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="reward_probs"):
        simulate(0.5, 5, 10, (0.4, 1.2), rng=np.random.default_rng(0))
    with pytest.raises(TypeError):
        simulate(0.5, 5, 10)


def test_loglik_rejects_mismatched_data():
    with pytest.raises(ValueError, match="equal length"):
        loglik(0.5, 5, np.zeros(10, dtype=int), np.zeros(9))


# ------------------------------------------------------------------------------------
# The learning rule, priors and MLE starts
# ------------------------------------------------------------------------------------


def test_learn_step_updates_only_the_chosen_arm_and_its_derivative():
    from rlrecover.qlearning import learn_step

    q0, q1, dq0, dq1 = learn_step(0.25, 1, 1.0, 0.5, 0.5, 0.0, 0.0)
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
            state = learn_step(alpha, int(a), float(r), *state)
        return state

    q0, q1, dq0, dq1 = run(0.3)
    up, down = run(0.3 + h), run(0.3 - h)
    assert dq0 == pytest.approx((up[0] - down[0]) / (2 * h), rel=1e-6)
    assert dq1 == pytest.approx((up[1] - down[1]) / (2 * h), rel=1e-6)


def test_priors_from_config_and_draws():
    from rlrecover.qlearning import Priors

    priors = Priors.from_config({"alpha": {"a": 2, "b": 3}, "beta": {"sigma": 4}})
    assert priors == Priors(2.0, 3.0, 4.0)
    rng = np.random.default_rng(1)
    draws = np.array([priors.draw(rng) for _ in range(20_000)])
    # Beta(2, 3) has mean 0.4 and sd 0.2; HalfNormal(4) has mean 4 sqrt(2 / pi).
    # 5 standard errors of the mean of 20,000 draws.
    se_alpha = 0.2 / math.sqrt(len(draws))
    assert draws[:, 0].mean() == pytest.approx(0.4, abs=5 * se_alpha)
    sd_beta = 4 * math.sqrt(1 - 2 / math.pi)
    assert draws[:, 1].mean() == pytest.approx(
        4 * math.sqrt(2 / math.pi), abs=5 * sd_beta / math.sqrt(len(draws))
    )
    assert (draws[:, 0] > 0).all() and (draws[:, 0] < 1).all() and (draws[:, 1] >= 0).all()


def test_mle_starts_lie_in_their_ranges_and_follow_the_generator():
    from rlrecover.qlearning import MLE_FIRST_START, MLE_FREE, mle_start

    starts = [mle_start(np.random.default_rng(3)) for _ in range(2)]
    assert starts[0] == starts[1]
    rng = np.random.default_rng(4)
    for _ in range(200):
        s = mle_start(rng)
        assert 0.05 <= s["alpha"] <= 0.95 and 0.3 <= s["beta"] <= 30
    assert set(MLE_FIRST_START) == set(MLE_FREE) == {"alpha", "beta"}


# ------------------------------------------------------------------------------------
# Priors.logpdf and Priors.logpdf_free
# ------------------------------------------------------------------------------------


@pytest.mark.parametrize("priors", PRIOR_CASES)
def test_priors_logpdf_matches_scipy(priors):
    alpha = np.array([-0.5, 0.0, 1e-300, 1e-8, 0.3, 0.5, 1 - 1e-8, 1.0, 1.5])[:, None]
    beta = np.array([-1.0, 0.0, 1e-300, 1e-3, 2.0, 50.0, np.inf])[None, :]
    got = priors.logpdf(alpha, beta)
    la = stats.beta.logpdf(alpha, priors.alpha_a, priors.alpha_b)
    lb = stats.halfnorm.logpdf(beta, scale=priors.beta_sigma)
    # Zero density of one factor makes the joint density zero even where the other is
    # infinite (scipy's sum would be NaN there).
    with np.errstate(invalid="ignore"):
        want = np.where((la == -np.inf) | (lb == -np.inf), -np.inf, la + lb)
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    np.testing.assert_array_equal(np.sign(got[np.isinf(got)]), np.sign(want[np.isinf(want)]))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-13, atol=1e-13)


def test_priors_logpdf_is_nan_for_nan_and_scalar_for_scalars():
    priors = PRIOR_CASES[0]
    assert np.isnan(priors.logpdf(np.nan, 1.0))
    assert np.isnan(priors.logpdf(0.5, np.nan))
    assert priors.logpdf(0.5, 1.0).shape == ()


@pytest.mark.parametrize("priors", PRIOR_CASES)
def test_priors_logpdf_free_is_logpdf_plus_log_jacobian(priors):
    u = np.linspace(-20.0, 20.0, 41)[:, None]
    v = np.linspace(-10.0, 4.0, 15)[None, :]
    alpha, beta = expit(u), np.exp(v)
    want = priors.logpdf(alpha, beta) + np.log(alpha) + np.log1p(-alpha) + v
    # The reference works with alpha rounded to double, which moves log(1 - alpha) by
    # up to eps / (2 (1 - alpha)); it enters with weight (b - 1) + 1.
    eps = np.finfo(np.float64).eps
    rounding = (abs(priors.alpha_b - 1.0) + 1.0) * eps / (1.0 - alpha)
    error = np.abs(priors.logpdf_free(u, v) - want)
    assert np.all(error <= 1e-13 * np.abs(want) + 1e-13 + rounding), error.max()


@pytest.mark.parametrize("priors", PRIOR_CASES)
def test_priors_logpdf_free_stays_accurate_where_alpha_rounds_to_one(priors):
    # alpha = expit(u) rounds to 1 for u > 37, so logpdf cannot be used there; the
    # density of logit(alpha) under Beta(a, b) is that of -logit(alpha) under Beta(b, a),
    # which is evaluated where alpha is tiny and represented exactly.
    swapped = Priors(priors.alpha_b, priors.alpha_a, priors.beta_sigma)
    for u in (40.0, 200.0, 600.0):
        tiny = expit(-u)
        want = (
            stats.beta.logpdf(tiny, priors.alpha_b, priors.alpha_a)
            + np.log(tiny)
            + stats.halfnorm.logpdf(1.0, scale=priors.beta_sigma)
        )
        got = priors.logpdf_free(u, 0.0)
        assert np.isfinite(got)
        np.testing.assert_allclose(got, want, rtol=1e-13)
        np.testing.assert_allclose(got, swapped.logpdf_free(-u, 0.0), rtol=1e-15)


# ------------------------------------------------------------------------------------
# loglik_grid_kernel
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
    loglik_grid_kernel(alphas, betas, actions, rewards, q_init, out)
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
        loglik_grid_kernel(alphas, betas, actions, rewards, 0.5, out)
        want = [[loglik(a, b, actions, rewards, 0.5) for b in betas] for a in alphas]
        np.testing.assert_array_equal(out, np.array(want))


def test_grid_kernel_gives_minus_infinity_for_a_choice_the_model_cannot_make():
    actions = np.array([0, 1, 2, 0], dtype=np.int64)  # 2 is no arm
    rewards = np.array([1, 0, 1, 0], dtype=np.int64)
    out = np.zeros((2, 3))
    loglik_grid_kernel(np.array([0.2, 0.8]), np.array([0.5, 1.0, 3.0]), actions, rewards, 0.5, out)
    assert np.all(out == -np.inf)  # as the fitters' kernel (loglik checks the data first)
    assert loglik_grad_kernel(0.2, 1.0, actions, rewards, 0.5, np.empty(2)) == -np.inf


def test_grid_kernel_refuses_a_wrong_output_shape(notebook_data):
    actions, rewards = as_data(*notebook_data)
    with pytest.raises(ValueError, match="shape"):
        loglik_grid_kernel(
            np.array([0.5]), np.array([1.0, 2.0]), actions, rewards, 0.5, np.empty((2, 1))
        )
