"""Tests of rlrecover.exact and the pieces of rlrecover.qlearning it is built on.

The prior densities (:meth:`Priors.logpdf`, :meth:`Priors.logpdf_free`) and the grid
likelihood kernel; the exact posterior on a grid (against known posteriors, an
independent quadrature and finer grids); and MCMC (nutpie) against it.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit

from rlrecover.qlearning import Priors, as_data, loglik, loglik_grid_kernel, simulate

#: Priors the densities are checked with: the default, a skewed one, and shapes below
#: 1 (densities infinite at alpha = 0 and 1).
PRIOR_CASES = [Priors(1.0, 1.0, 10.0), Priors(2.0, 5.0, 3.0), Priors(0.5, 0.5, 1.0)]


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
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-12)


def test_grid_kernel_refuses_a_wrong_output_shape(notebook_data):
    actions, rewards = as_data(*notebook_data)
    with pytest.raises(ValueError, match="shape"):
        loglik_grid_kernel(
            np.array([0.5]), np.array([1.0, 2.0]), actions, rewards, 0.5, np.empty((2, 1))
        )
