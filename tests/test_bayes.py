"""Tests of rlrecover.bayes and the PyMC models of rlrecover.qlearning.

The two PyMC models, posterior sampling of many datasets and the posterior
diagnostics (R-hat and ESS).
"""

from __future__ import annotations

import math

import arviz as az
import numpy as np
import pymc as pm
import pytest
from arviz.stats.diagnostics import _ess_bulk, _ess_tail, _rhat_rank
from scipy.signal import lfilter

from rlrecover.bayes import PosteriorFit, posterior_diagnostics, sample_posteriors
from rlrecover.config import SamplerSettings
from rlrecover.qlearning import KINDS, Priors, build_model, loglik, right_probs, simulate

#: The priors of the by-hand logp below: alpha ~ Beta(1, 1), beta ~ HalfNormal(10).
PRIORS = Priors(1.0, 1.0, 10.0)
EPS = np.finfo(np.float64).eps
VARS = ("alpha_logodds__", "beta_log__")


def random_points(seed: int, k: int = 6) -> list[dict[str, np.ndarray]]:
    """Seeded unconstrained points: alpha in (0.05, 0.95), beta in (0.5, 10).

    beta <= 10 keeps every right-probability p above sigmoid(-10) = 4.5e-5 on either
    side, which bounds how far the Bernoulli form (log p, log1p(-p)) may drift from
    the kernel's log-sigmoid (see test_potential_and_bernoulli_logp_agree).
    """
    rng = np.random.default_rng(seed)
    return [
        {
            "alpha_logodds__": np.array(rng.uniform(-3.0, 3.0)),
            "beta_log__": np.array(rng.uniform(np.log(0.5), np.log(10.0))),
        }
        for _ in range(k)
    ]


class CompiledModel:
    def __init__(self, kind: str, likelihood: str, actions, rewards):
        self.model = build_model(kind, actions, rewards, PRIORS, likelihood=likelihood)
        self.logp = self.model.compile_logp()
        self.dlogp = self.model.compile_dlogp(vars=[self.model[v] for v in ("alpha", "beta")])


@pytest.fixture(scope="module")
def compiled_models(notebook_data):
    actions, rewards = (np.array(x) for x in notebook_data)
    return {
        (kind, lik): CompiledModel(kind, lik, actions, rewards)
        for kind in KINDS
        for lik in ("op", "scan")
    }


@pytest.mark.parametrize("kind", KINDS)
def test_model_structure(compiled_models, notebook_data, kind):
    model = compiled_models[(kind, "op")].model
    assert {v.name for v in model.free_RVs} == {"alpha", "beta"}
    assert set(model.initial_point()) == set(VARS)
    if kind == "potential":
        assert [p.name for p in model.potentials] == ["like"]
        assert not model.observed_RVs
    else:
        assert [v.name for v in model.observed_RVs] == ["like"]
    np.testing.assert_array_equal(model["actions"].get_value(), notebook_data[0])


def _logp_at(point, actions, rewards):
    """Model logp written out by hand: priors + Jacobians + the kernel's loglik."""
    u_a = float(point["alpha_logodds__"])
    u_b = float(point["beta_log__"])
    alpha = 1 / (1 + np.exp(-u_a))
    beta = np.exp(u_b)
    # Beta(1, 1) density is 1 on (0, 1); logit Jacobian log(alpha (1 - alpha)).
    lp_alpha = np.log(alpha) + np.log1p(-alpha)
    # HalfNormal(10): log(2) - log(10) - 0.5 log(2 pi) - beta^2 / 200; log Jacobian u_b.
    lp_beta = np.log(2) - np.log(10) - 0.5 * np.log(2 * np.pi) - beta**2 / 200 + u_b
    return lp_alpha + lp_beta + loglik(alpha, beta, actions, rewards)


# PyMC's HalfNormal logp is off the closed form by a constant -3.2e-8 (measured with
# pm.logp(pm.HalfNormal.dist(10), x) alone, so not this package). The constant does not
# depend on beta, so absolute logps are compared to 1e-7 and logp differences between
# points, where it cancels, to 1e-10 (a few log/exp each side, ~1e-14 relative, plus the
# Bernoulli-form drift bounded in test_potential_and_bernoulli_logp_agree).
HALFNORMAL_CONST_TOL = 1e-7


@pytest.mark.parametrize("kind", KINDS)
def test_model_logp_by_hand(compiled_models, notebook_data, kind):
    cm = compiled_models[(kind, "op")]
    points = random_points(1)
    base, base_want = cm.logp(points[0]), _logp_at(points[0], *notebook_data)
    for point in points:
        got, want = cm.logp(point), _logp_at(point, *notebook_data)
        assert got == pytest.approx(want, rel=0, abs=HALFNORMAL_CONST_TOL)
        assert got - base == pytest.approx(want - base_want, rel=0, abs=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_model_dlogp_finite_differences(compiled_models, kind):
    cm = compiled_models[(kind, "op")]
    h = 1e-6
    n = 150
    for point in random_points(2):
        grad = cm.dlogp(point)
        lp = cm.logp(point)
        for i, var in enumerate(VARS):

            def f(x, var=var, point=point):
                return cm.logp({**point, var: np.array(x)})

            x0 = float(point[var])
            d_h = (f(x0 + h) - f(x0 - h)) / (2 * h)
            d_2h = (f(x0 + 2 * h) - f(x0 - 2 * h)) / (4 * h)
            # Richardson extrapolation cancels the h^2 truncation term; the O(h^4) rest is
            # < 1e-6 relative for these smooth, moderately curved logps (beta <= 10).
            # Rounding: each logp value carries <~ n eps |logp| (sum of n-1 terms), and the
            # extrapolated difference divides it by h with weights summing to < 2.
            fd = d_h + (d_h - d_2h) / 3
            tol = 1e-6 * abs(grad[i]) + 4 * n * EPS * (abs(lp) + 1) / h
            assert abs(fd - grad[i]) <= tol, (kind, point, var, fd, grad[i])


def test_potential_and_bernoulli_logp_agree(compiled_models, notebook_data):
    # The Bernoulli model sums log p / log1p(-p) of the Op's probabilities; each term
    # has absolute error ~ eps / min(p, 1 - p) <= eps / sigmoid(-10) = 5e-12 at beta <= 10,
    # and the actual points stay far below that worst case. We check the bound at each
    # point from the actual probabilities, then the 1e-10 agreement.
    pot = compiled_models[("potential", "op")]
    ber = compiled_models[("bernoulli", "op")]
    for point in random_points(3):
        alpha = 1 / (1 + np.exp(-float(point["alpha_logodds__"])))
        beta = np.exp(float(point["beta_log__"]))
        p = right_probs(alpha, beta, *notebook_data)
        bound = 4 * EPS * np.sum(1 / np.minimum(p, 1 - p))
        assert bound < 1e-10
        assert ber.logp(point) == pytest.approx(pot.logp(point), rel=0, abs=1e-10)
        np.testing.assert_allclose(ber.dlogp(point), pot.dlogp(point), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_op_and_scan_models_agree(compiled_models, kind):
    # Same graph around the likelihood; the likelihoods themselves agree to ~1e-14
    # relative (test_qlearning, test_scan_reference), so 1e-10 is pure margin.
    op = compiled_models[(kind, "op")]
    scan = compiled_models[(kind, "scan")]
    for point in random_points(4):
        np.testing.assert_allclose(op.logp(point), scan.logp(point), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(op.dlogp(point), scan.dlogp(point), rtol=1e-10, atol=1e-10)


def test_model_data_can_be_swapped(compiled_models):
    # One compiled model serves every dataset: set_data changes the shared values,
    # which the already compiled logp reads at call time.
    cm = compiled_models[("potential", "op")]
    actions, rewards = simulate(0.3, 2.0, 150, rng=np.random.default_rng(9))
    point = random_points(5, k=1)[0]
    old = {k: cm.model[k].get_value() for k in ("actions", "rewards")}
    try:
        with cm.model:
            pm.set_data({"actions": actions, "rewards": rewards})
        want = _logp_at(point, actions, rewards)
        assert cm.logp(point) == pytest.approx(want, rel=0, abs=HALFNORMAL_CONST_TOL)
    finally:
        with cm.model:
            pm.set_data(old)


def test_bad_kind_and_likelihood(notebook_data):
    with pytest.raises(ValueError, match="'gaussian'"):
        build_model("gaussian", *notebook_data, PRIORS)
    with pytest.raises(ValueError, match="'jax'"):
        build_model("potential", *notebook_data, PRIORS, likelihood="jax")


def test_bernoulli_prior_and_posterior_predictive(compiled_models, notebook_data):
    model = compiled_models[("bernoulli", "op")].model
    n = len(notebook_data[0])
    with model:
        prior = pm.sample_prior_predictive(draws=50, random_seed=123)
    like = prior.prior_predictive["like"].to_numpy()
    assert like.shape == (1, 50, n - 1)
    assert set(np.unique(like)) <= {0, 1}
    # prior draws of (alpha, beta) differ, so the simulated choices must vary
    assert len({tuple(row) for row in like[0]}) > 1

    # Posterior predictive from a stand-in posterior (the prior draws): no NUTS needed.
    with model:
        post = pm.sample_posterior_predictive(
            prior.prior[["alpha", "beta"]], random_seed=456, progressbar=False
        )
    like = post.posterior_predictive["like"].to_numpy()
    assert like.shape == (1, 50, n - 1)
    assert set(np.unique(like)) <= {0, 1}


# ------------------------------------------------------------------------------------
# sample_posteriors (slow: compiles nutpie's numba model and runs NUTS)
# ------------------------------------------------------------------------------------


def _posterior_means_and_mcse(fit: PosteriorFit):
    assert not fit.error, fit.error
    out = {}
    for p in ("alpha", "beta"):
        draws = fit.draws[p]
        assert draws.shape == (4, 500)
        out[p] = (float(draws.mean()), np.asarray(az.mcse(draws, method="mean")).item())
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_nutpie_agrees_with_pymc(notebook_data, kind):
    actions, rewards = (np.array(x) for x in notebook_data)
    results = {}
    for backend, seed in (("nutpie", 11), ("pymc", 12)):
        settings = SamplerSettings(
            backend=backend, chains=4, tune=500, draws=500, target_accept=0.8
        )
        (fit,) = sample_posteriors(kind, [("nb", actions, rewards, seed)], settings, PRIORS)
        assert fit.key == "nb"
        assert fit.rhat_max < 1.05
        results[backend] = _posterior_means_and_mcse(fit)
    for p in ("alpha", "beta"):
        (m_a, se_a), (m_b, se_b) = results["nutpie"][p], results["pymc"][p]
        # Two independent MCMC estimates of one posterior mean: their difference has
        # standard error sqrt(se_a^2 + se_b^2); 4 of those is a ~6e-5 false-alarm rate.
        assert abs(m_a - m_b) <= 4 * np.hypot(se_a, se_b), (p, results)


@pytest.mark.slow
def test_sample_posteriors_survives_bad_dataset(notebook_data):
    actions, rewards = (np.array(x) for x in notebook_data)
    short_a, short_r = simulate(0.5, 5, 100, rng=np.random.default_rng(3))
    other_a, other_r = simulate(0.3, 2, 150, rng=np.random.default_rng(4))
    settings = SamplerSettings(backend="nutpie", chains=1, tune=100, draws=100, target_accept=0.8)
    fits = list(
        sample_posteriors(
            "potential",
            [
                (0, actions, rewards, 1),
                (1, short_a, short_r, 2),
                (2, other_a, other_r, 3),
            ],
            settings,
            PRIORS,
        )
    )
    assert [f.key for f in fits] == [0, 1, 2]
    bad = fits[1]
    assert "n_trials" in bad.error and "100" in bad.error
    assert bad.draws == {}
    for fit in (fits[0], fits[2]):
        assert fit.error == ""
        assert fit.draws["alpha"].shape == (1, 100)
        assert np.all((fit.draws["alpha"] > 0) & (fit.draws["alpha"] < 1))
        assert np.all(fit.draws["beta"] > 0)
    # the two good datasets really were fitted on their own data
    assert fits[0].draws["beta"].mean() != fits[2].draws["beta"].mean()


def test_sample_posteriors_rejects_unknown_backend(notebook_data):
    settings = SamplerSettings("stan", 4, 1000, 1000, 0.8)
    with pytest.raises(ValueError, match="'stan'"):
        list(sample_posteriors("potential", [(0, *notebook_data, 1)], settings, PRIORS))


def test_sample_posteriors_passes_log_to_the_nutpie_compile(monkeypatch, notebook_data):
    # The log callable reaches compile_model, which sends it the fallback warning.
    from rlrecover import nutpie_compile

    class Stop(Exception):
        pass

    seen = []

    def fake_compile_model(model, log=None):
        seen.append(log)
        raise Stop

    monkeypatch.setattr(nutpie_compile, "compile_model", fake_compile_model)
    # Settings no other test uses, so no compiled runner is cached for them.
    settings = SamplerSettings("nutpie", 1, 7, 7, 0.81)
    messages = []
    with pytest.raises(Stop):
        list(
            sample_posteriors(
                "potential", [(0, *notebook_data, 1)], settings, PRIORS, log=messages.append
            )
        )
    assert seen == [messages.append]


# ------------------------------------------------------------------------------------
# posterior_diagnostics: the public ArviZ diagnostics must equal the private functions
# bit for bit (results tables did not change when bayes switched to them)
# ------------------------------------------------------------------------------------


def _ar1(rng, phi, shape=(4, 1000), offsets=0.0):
    """Stationary AR(1) chains, one per row, shifted by ``offsets`` (poor mixing)."""
    e = rng.standard_normal(shape)
    e[:, 0] /= math.sqrt(1 - phi**2)
    return lfilter([1.0], [1.0, -phi], e, axis=1) + np.reshape(offsets, (-1, 1))


def _private(draws):
    # What bayes computed before it went through the public arviz.rhat / arviz.ess.
    return (
        max(float(_rhat_rank(x)) for x in draws.values()),
        min(float(_ess_bulk(x)) for x in draws.values()),
        min(float(_ess_tail(x)) for x in draws.values()),
    )


def _assert_identical(got, want):
    assert all(type(v) is float for v in got)
    for g, w in zip(got, want, strict=True):
        assert g == w or (math.isnan(g) and math.isnan(w)), (got, want)


@pytest.mark.parametrize("seed", range(8))
def test_diagnostics_identical_to_private_functions(seed):
    rng = np.random.default_rng(seed)
    draws = {
        "alpha": 1 / (1 + np.exp(-_ar1(rng, 0.9))),
        "beta": np.exp(_ar1(rng, 0.5)),
    }
    _assert_identical(posterior_diagnostics(draws), _private(draws))


def test_diagnostics_identical_when_mixing_is_poor_and_picks_the_worst():
    rng = np.random.default_rng(10)
    good = _ar1(rng, 0.3)
    bad = _ar1(rng, 0.95, offsets=(0.0, 0.0, 2.0, 5.0))
    got = posterior_diagnostics({"alpha": good, "beta": bad})
    _assert_identical(got, _private({"alpha": good, "beta": bad}))
    only_bad = posterior_diagnostics({"beta": bad})
    assert got == only_bad
    assert got[0] > 1.1 and got[1] < posterior_diagnostics({"alpha": good})[1]


# A constant chain has zero within-chain variance: R-hat divides 0 by 0 (NaN).
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_diagnostics_identical_on_ties_constant_and_nan():
    rng = np.random.default_rng(11)
    with_nan = _ar1(rng, 0.5)
    with_nan[2, 17] = np.nan
    cases = [
        np.round(_ar1(rng, 0.8), 1),  # many ties in the ranks
        np.full((4, 1000), 0.3),  # constant: R-hat NaN, ESS = number of draws
        np.vstack([np.full(1000, 0.3), _ar1(rng, 0.5, shape=(3, 1000))]),
        with_nan,
        _ar1(rng, 0.5, shape=(2, 50)),
    ]
    for x in cases:
        _assert_identical(posterior_diagnostics({"p": x}), _private({"p": x}))
    rhat, ess_bulk, ess_tail = posterior_diagnostics({"p": np.full((4, 1000), 0.3)})
    assert math.isnan(rhat) and ess_bulk == ess_tail == 4000.0
    assert all(math.isnan(v) for v in posterior_diagnostics({"p": with_nan}))


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_one_compiled_model_serves_every_number_of_trials(kind):
    # Cells at 60 trials after cells at 25 reuse the model compiled for 25; the draws
    # must equal those of a process that compiled for 60 trials first.
    from rlrecover import bayes

    settings = SamplerSettings("nutpie", 2, 150, 150, 0.8)
    short = simulate(0.4, 3.0, 25, rng=np.random.default_rng(1))
    long = simulate(0.4, 3.0, 60, rng=np.random.default_rng(2))
    bayes._NUTPIE_RUNNERS.clear()
    list(sample_posteriors(kind, [(0, *short, 1)], settings, priors=PRIORS))
    reused = next(iter(sample_posteriors(kind, [(1, *long, 7)], settings, priors=PRIORS)))
    bayes._NUTPIE_RUNNERS.clear()
    fresh = next(iter(sample_posteriors(kind, [(1, *long, 7)], settings, priors=PRIORS)))
    for p in ("alpha", "beta"):
        np.testing.assert_array_equal(reused.draws[p], fresh.draws[p])


def test_posterior_summary_columns_and_values():
    from rlrecover.bayes import posterior_summary

    rng = np.random.default_rng(3)
    a = rng.normal(0.5, 0.1, size=(4, 500))
    b = 2.0 + 0.8 * (a - 0.5) / 0.1 + rng.normal(0, 0.6, size=(4, 500))
    out = posterior_summary({"alpha": a, "beta": b}, {"alpha": 0.5, "beta": 2.0}, [0.9])
    assert out["alpha_est"] == pytest.approx(a.mean()) and out["beta_sd"] == pytest.approx(
        b.std(ddof=1)
    )
    assert out["alpha_cdf_true"] == pytest.approx(np.mean(a <= 0.5))
    lo, hi = np.quantile(a, [0.05, 0.95])
    assert (out["alpha_lower_90"], out["alpha_upper_90"]) == pytest.approx((lo, hi))
    # corr(a, b) = 0.8 / sqrt(0.8^2 + 0.6^2) = 0.8; 2,000 draws: se about 0.01.
    assert out["ab_corr"] == pytest.approx(0.8, abs=0.05)
    # MCSE of the mean of independent draws is sd / sqrt(n); ArviZ estimates it.
    assert out["alpha_mcse"] == pytest.approx(0.1 / np.sqrt(2000), rel=0.15)
    assert out["alpha_mcse"] == float(az.mcse(a, method="mean").item())
