"""Maximum likelihood: the notebook's optimum, recovery on long data, intervals, bounds."""

import math

import numpy as np
import pytest

from rlrecover import mle
from rlrecover.mle import delta_sd
from rlrecover.qlearning import MLE_FREE, loglik, simulate

LEVELS = (0.5, 0.8, 0.9, 0.95)
U_BOUND = MLE_FREE["alpha"][1][1]
V_BOUNDS = MLE_FREE["beta"][1]


def fit_mle(actions, rewards, **kwargs):
    """``rlrecover.mle.fit_mle`` with the shipped config's settings unless overridden."""
    settings = {"consts": (0.5,), "n_starts": 5, "method": "L-BFGS-B", "levels": LEVELS}
    return mle.fit_mle(actions, rewards, **{**settings, **kwargs})


@pytest.fixture(scope="module")
def notebook_data():
    rng = np.random.default_rng(sum(map(ord, "RL_PyMC")))
    return simulate(0.5, 5, 150, (0.4, 0.6), 0.5, rng=rng)


@pytest.mark.parametrize("method", ["L-BFGS-B", "BFGS"])
def test_notebook_optimum(notebook_data, method):
    actions, rewards = notebook_data
    res = fit_mle(actions, rewards, method=method, levels=LEVELS, rng=np.random.default_rng(0))
    # The notebook prints alpha 0.5047, beta 5.7074 (4 decimals) and nll 47.050814541102895.
    assert res.estimate["alpha"] == pytest.approx(0.5047, abs=1e-3)
    assert res.estimate["beta"] == pytest.approx(5.7074, abs=1e-3)
    assert res.nll == pytest.approx(47.050814541102895, abs=1e-6)
    assert res.converged and not res.at_bound
    assert res.nll == pytest.approx(
        -loglik(res.estimate["alpha"], res.estimate["beta"], actions, rewards), abs=1e-12
    )


def test_recovers_truth_on_long_data():
    # On 2,000 trials the MLE is close to normal with the Wald standard error; a
    # 4-sd band fails with probability about 6e-5 per parameter and seed.
    for seed, (alpha, beta) in enumerate([(0.3, 4.0), (0.7, 8.0), (0.15, 2.0)]):
        actions, rewards = simulate(alpha, beta, 2000, rng=np.random.default_rng(seed))
        res = fit_mle(actions, rewards, rng=np.random.default_rng(100 + seed))
        sd = delta_sd(res)
        assert abs(res.estimate["alpha"] - alpha) < 4 * sd["alpha"], (
            alpha,
            res.estimate["alpha"],
            sd,
        )
        assert abs(res.estimate["beta"] - beta) < 4 * sd["beta"], (beta, res.estimate["beta"], sd)


def test_intervals_nest_and_respect_bounds(notebook_data):
    actions, rewards = notebook_data
    res = fit_mle(
        actions,
        rewards,
        levels=LEVELS,
        rng=np.random.default_rng(1),
        truth={"alpha": 0.5, "beta": 5.0},
    )
    for p, est in res.estimate.items():
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
        truth={"alpha": first.estimate["alpha"], "beta": first.estimate["beta"]},
    )
    assert res.cdf_true["alpha"] == pytest.approx(0.5, abs=1e-12)
    assert res.cdf_true["beta"] == pytest.approx(0.5, abs=1e-12)


def test_deterministic_choices_put_beta_at_bound():
    # Always the right arm, always rewarded: the likelihood grows without limit in beta.
    actions = np.ones(50, dtype=int)
    rewards = np.ones(50, dtype=int)
    res = fit_mle(actions, rewards, rng=np.random.default_rng(3))
    assert res.at_bound
    assert math.log(res.estimate["beta"]) == pytest.approx(V_BOUNDS[1], abs=1e-3) or abs(
        math.log(res.estimate["alpha"] / (1 - res.estimate["alpha"]))
    ) == pytest.approx(U_BOUND, abs=1e-3)


@pytest.mark.parametrize(("kwargs", "text"), [({"n_starts": 0}, "0"), ({"method": "CG"}, "CG")])
def test_bad_settings_name_the_value(notebook_data, kwargs, text):
    actions, rewards = notebook_data
    with pytest.raises(ValueError, match=text):
        fit_mle(actions, rewards, rng=np.random.default_rng(0), **kwargs)


def test_free_scale_box_and_transforms():
    # alpha on the logit scale within |u| <= 12, beta on the log scale in [1e-3, 1e3].
    assert U_BOUND == 12.0
    assert np.exp(V_BOUNDS) == pytest.approx([1e-3, 1e3])
    logit, log = mle.TRANSFORMS["logit"], mle.TRANSFORMS["log"]
    for t, x in ((logit, 0.3), (log, 7.0)):
        assert t.from_free(t.to_free(x)) == pytest.approx(x, rel=1e-15)
        assert float(t.from_free_np(t.to_free_np(x))) == pytest.approx(x, rel=1e-15)
        # chain(g, theta) is g times d theta / d free, by central differences.
        h = 1e-6
        u = t.to_free(x)
        fd = (t.from_free(u + h) - t.from_free(u - h)) / (2 * h)
        assert t.chain(2.0, x) == pytest.approx(2.0 * fd, rel=1e-8)
    # The numpy maps give the ends of the support instead of raising.
    assert log.from_free_np(1e4) == np.inf
    assert log.to_free_np(0.0) == -np.inf
    assert logit.to_free_np(1.0) == np.inf


def test_singular_hessian_gives_no_interval_and_says_so():
    # Two trials: one observed choice cannot identify two parameters.
    actions = np.array([0, 1])
    rewards = np.array([1, 0])
    res = fit_mle(actions, rewards, rng=np.random.default_rng(0), truth={"alpha": 0.5, "beta": 1})
    assert math.isnan(res.se_free["alpha"]) and math.isnan(res.se_free["beta"])
    assert "Hessian not positive definite" in res.message
    assert all(math.isnan(v) for bounds in res.intervals.values() for v in bounds)


def test_notebook_fit_is_usable(notebook_data):
    actions, rewards = notebook_data
    res = fit_mle(actions, rewards, rng=np.random.default_rng(0), truth={"alpha": 0.5, "beta": 5})
    assert (res.status, res.problem) == ("ok", "")
    assert res.hessian_pd


@pytest.mark.parametrize("pattern", range(16))
def test_two_trials_never_give_usable_intervals(pattern):
    # Every dataset of two trials (issue 9: beta 229 +- 2.3e14, intervals [0, inf] or
    # NaN standard errors, all with status ok): one informative choice cannot pin
    # down two parameters, so no Wald interval of such a fit may be used.
    bits = [(pattern >> k) & 1 for k in range(4)]
    actions, rewards = np.array(bits[:2]), np.array(bits[2:])
    res = fit_mle(actions, rewards, rng=np.random.default_rng(0), truth={"alpha": 0.4, "beta": 8})
    assert res.status == mle.STATUS_UNUSABLE_SE
    assert all(math.isfinite(v) for v in res.estimate.values())  # kept for the metrics
    if res.hessian_pd:
        assert "SE of logit(alpha)" in res.problem and "width of its search box" in res.problem
    else:
        assert res.problem.startswith("Hessian not positive definite")


def _result(**changes) -> mle.MLEResult:
    base = {
        "estimate": {"alpha": 0.4, "beta": 3.0},
        "nll": 20.0,
        "converged": True,
        "at_bound": False,
        "se_free": {"alpha": 1.0, "beta": 0.5},
        "intervals": {("alpha", 0.9): (0.2, 0.6), ("beta", 0.9): (1.5, 6.0)},
        "cdf_true": {"alpha": 0.4, "beta": 0.6},
    }
    return mle.MLEResult(**{**base, **changes})


def test_usability_draws_the_line_at_the_width_of_the_box():
    width_u = U_BOUND - MLE_FREE["alpha"][1][0]  # 24
    width_v = V_BOUNDS[1] - V_BOUNDS[0]  # 13.8
    assert mle.usability(_result()) == ("ok", "")
    edge = _result(se_free={"alpha": width_u, "beta": width_v})
    assert mle.usability(edge) == ("ok", "")
    over = _result(se_free={"alpha": width_u * 1.001, "beta": 0.5})
    status, why = mle.usability(over)
    assert status == mle.STATUS_UNUSABLE_SE
    assert why == "SE of logit(alpha) 24 > 24, the width of its search box [-12, 12]"
    status, why = mle.usability(_result(se_free={"alpha": 1.0, "beta": 2.3e14}))
    assert status == mle.STATUS_UNUSABLE_SE and why.startswith("SE of log(beta) 2.3e+14 > 13.8")


@pytest.mark.parametrize(
    ("changes", "status", "text"),
    [
        ({"se_free": {"alpha": math.nan, "beta": 0.5}}, "unusable_se", "SE of logit(alpha) not"),
        ({"hessian_pd": False}, "unusable_se", "Hessian not positive definite"),
        (
            {"intervals": {("alpha", 0.9): (0.2, 0.6), ("beta", 0.9): (0.0, math.inf)}},
            "unusable_se",
            "Wald interval of beta not finite",
        ),
        ({"cdf_true": {"alpha": math.nan, "beta": 0.5}}, "unusable_se", "CDF at the truth"),
        ({"estimate": {"alpha": 0.4, "beta": math.inf}}, "nonfinite", "estimate of beta"),
        ({"nll": math.nan}, "nonfinite", "negative log-likelihood nan"),
    ],
)
def test_usability_names_what_is_wrong(changes, status, text):
    got, why = mle.usability(_result(**changes))
    assert got == status
    assert text in why
