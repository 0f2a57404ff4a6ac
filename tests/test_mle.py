"""Maximum likelihood: the notebook's optimum, recovery on long data, intervals, bounds."""

import math

import numpy as np
import pytest

from rlrecover.mle import U_BOUND, V_BOUNDS, delta_sd, fit_mle
from rlrecover.model import loglik, simulate

LEVELS = (0.5, 0.8, 0.9, 0.95)


@pytest.fixture(scope="module")
def notebook_data():
    rng = np.random.default_rng(sum(map(ord, "RL_PyMC")))
    return simulate(0.5, 5, 150, (0.4, 0.6), 0.5, rng=rng)


@pytest.mark.parametrize("method", ["L-BFGS-B", "BFGS"])
def test_notebook_optimum(notebook_data, method):
    actions, rewards = notebook_data
    res = fit_mle(actions, rewards, method=method, levels=LEVELS, rng=np.random.default_rng(0))
    # The notebook prints alpha 0.5047, beta 5.7074 (4 decimals) and nll 47.050814541102895.
    assert res.alpha == pytest.approx(0.5047, abs=1e-3)
    assert res.beta == pytest.approx(5.7074, abs=1e-3)
    assert res.nll == pytest.approx(47.050814541102895, abs=1e-6)
    assert res.converged and not res.at_bound
    assert res.nll == pytest.approx(-loglik(res.alpha, res.beta, actions, rewards), abs=1e-12)


def test_recovers_truth_on_long_data():
    # On 2,000 trials the MLE is close to normal with the Wald standard error; a
    # 4-sd band fails with probability about 6e-5 per parameter and seed.
    for seed, (alpha, beta) in enumerate([(0.3, 4.0), (0.7, 8.0), (0.15, 2.0)]):
        actions, rewards = simulate(alpha, beta, 2000, rng=np.random.default_rng(seed))
        res = fit_mle(actions, rewards, rng=np.random.default_rng(100 + seed))
        sd = delta_sd(res)
        assert abs(res.alpha - alpha) < 4 * sd["alpha"], (alpha, res.alpha, sd)
        assert abs(res.beta - beta) < 4 * sd["beta"], (beta, res.beta, sd)


def test_intervals_nest_and_respect_bounds(notebook_data):
    actions, rewards = notebook_data
    res = fit_mle(
        actions,
        rewards,
        levels=LEVELS,
        rng=np.random.default_rng(1),
        truth={"alpha": 0.5, "beta": 5.0},
    )
    for p, est in (("alpha", res.alpha), ("beta", res.beta)):
        previous = (est, est)
        for level in LEVELS:
            lo, hi = res.intervals[(p, level)]
            assert lo < previous[0] <= previous[1] < hi
            previous = (lo, hi)
        assert 0.0 < res.cdf_true[p] < 1.0
    lo, hi = res.intervals[("alpha", 0.95)]
    assert 0.0 < lo and hi < 1.0
    assert res.intervals[("beta", 0.95)][0] > 0.0


def test_cdf_at_estimate_is_one_half(notebook_data):
    actions, rewards = notebook_data
    first = fit_mle(actions, rewards, rng=np.random.default_rng(2))
    res = fit_mle(
        actions,
        rewards,
        rng=np.random.default_rng(2),
        truth={"alpha": first.alpha, "beta": first.beta},
    )
    assert res.cdf_true["alpha"] == pytest.approx(0.5, abs=1e-12)
    assert res.cdf_true["beta"] == pytest.approx(0.5, abs=1e-12)


def test_deterministic_choices_put_beta_at_bound():
    # Always the right arm, always rewarded: the likelihood grows without limit in beta.
    actions = np.ones(50, dtype=int)
    rewards = np.ones(50, dtype=int)
    res = fit_mle(actions, rewards, rng=np.random.default_rng(3))
    assert res.at_bound
    assert math.log(res.beta) == pytest.approx(V_BOUNDS[1], abs=1e-3) or abs(
        math.log(res.alpha / (1 - res.alpha))
    ) == pytest.approx(U_BOUND, abs=1e-3)


@pytest.mark.parametrize(("kwargs", "text"), [({"n_starts": 0}, "0"), ({"method": "CG"}, "CG")])
def test_bad_settings_name_the_value(notebook_data, kwargs, text):
    actions, rewards = notebook_data
    with pytest.raises(ValueError, match=text):
        fit_mle(actions, rewards, rng=np.random.default_rng(0), **kwargs)
