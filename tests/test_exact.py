"""Tests of rlrecover.exact: the exact posterior on a grid (against known posteriors, an
independent quadrature and finer grids), and MCMC (nutpie) against it.

The prior densities and the grid likelihood kernel it is built on are tested in
test_qlearning.py.
"""

from __future__ import annotations

import math

import arviz as az
import numpy as np
import pytest
from conftest import NOTEBOOK_ALPHA, NOTEBOOK_BETA, PRIOR_CASES
from scipy import stats
from scipy.integrate import quad
from scipy.signal import lfilter
from scipy.special import logsumexp

from rlrecover.bayes import posterior_summary, sample_posteriors
from rlrecover.config import SamplerSettings
from rlrecover.exact import (
    ExactPosterior,
    compare_with_mcmc,
    exact_posterior,
    log_posterior_free,
    mcse_mean,
)
from rlrecover.qlearning import (
    PARAMS,
    Priors,
    build_model,
    simulate,
)

# ------------------------------------------------------------------------------------
# The exact posterior
# ------------------------------------------------------------------------------------

#: The pipeline's default priors.
PRIORS = Priors(1.0, 1.0, 10.0)
EPS = np.finfo(np.float64).eps

#: Simulated datasets: (alpha, beta, n_trials, seed). Little information (2-20 trials,
#: beta near 0) and posteriors piling up at alpha = 0 or 1 or at beta = 0 included.
SIMULATED = {
    "beta_small_150": (0.3, 0.5, 150, 7),
    "trials_30": (0.6, 3.0, 30, 8),
    "alpha_near_1_150": (0.999, 10.0, 150, 200),
    "alpha_near_0_150": (0.01, 10.0, 150, 201),
    "beta_tiny_20": (0.5, 0.05, 20, 104),
    "alpha_near_1_12": (0.98, 10.0, 12, 102),
    "trials_5": (0.9, 20.0, 5, 105),
    "trials_2": (0.05, 2.0, 2, 106),
}
DATASET_NAMES = ["notebook", *SIMULATED]


def dataset(name: str, notebook_data) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """``(actions, rewards, truth)`` of a named dataset."""
    if name == "notebook":
        return (*notebook_data, {"alpha": NOTEBOOK_ALPHA, "beta": NOTEBOOK_BETA})
    alpha, beta, n, seed = SIMULATED[name]
    actions, rewards = simulate(alpha, beta, n, rng=np.random.default_rng(seed))
    return actions, rewards, {"alpha": alpha, "beta": beta}


@pytest.fixture(scope="module")
def exact_results(notebook_data) -> dict[str, ExactPosterior]:
    """The exact posterior of every named dataset, with its truth."""
    out = {}
    for name in DATASET_NAMES:
        actions, rewards, truth = dataset(name, notebook_data)
        out[name] = exact_posterior(actions, rewards, PRIORS, truth=truth)
    return out


def test_log_posterior_free_is_pymcs_log_density():
    # PyMC's potential model, on the free values it samples: the same density up to a
    # constant (PyMC's normalising constants differ from scipy's by ~2e-8).
    actions, rewards = simulate(0.3, 2.0, 40, rng=np.random.default_rng(1))
    priors, q_init = Priors(2.0, 3.0, 4.0), 0.3
    logp = build_model("potential", actions, rewards, priors, q_init).compile_logp()
    us = np.array([-30.0, -3.0, 0.2, 4.0, 35.0])
    vs = np.array([-20.0, -1.0, 0.5, 2.5])
    ours = log_posterior_free(us, vs, actions, rewards, priors, q_init)
    theirs = np.array([[logp({"alpha_logodds__": u, "beta_log__": v}) for v in vs] for u in us])
    diff = ours - theirs
    np.testing.assert_allclose(diff, diff[0, 0], rtol=0, atol=1e-10)
    assert abs(diff[0, 0]) < 1e-6


def _rounding(e: ExactPosterior) -> float:
    """Rounding error of sums over the grid (relative): eps per term, ten times over."""
    return 10 * EPS * e.grid_shape[0] * e.grid_shape[1]


@pytest.mark.parametrize("priors", PRIOR_CASES)
def test_without_information_the_posterior_is_the_prior(priors):
    # With q_init = 1 and reward 1 on trial 1 both Q values stay 1, so the choice on
    # trial 2 has probability 1/2 whatever (alpha, beta): a constant likelihood.
    actions, rewards = np.array([0, 1]), np.array([1, 1])
    e = exact_posterior(actions, rewards, priors, q_init=1.0)
    a, b, sigma = priors.alpha_a, priors.alpha_b, priors.beta_sigma
    prior = {"alpha": stats.beta(a, b), "beta": stats.halfnorm(scale=sigma)}
    np.testing.assert_allclose(prior["alpha"].mean(), a / (a + b), rtol=1e-15)
    np.testing.assert_allclose(prior["beta"].mean(), sigma * math.sqrt(2 / math.pi), rtol=1e-15)
    assert e.converged and e.refinement_change <= 1e-3
    assert e.edge_log_density < -25
    # refinement[...] is the change to a grid of twice the spacing: it bounds the error
    # of that coarser grid, and so (quadrature converging) that of the grid used.
    for p in PARAMS:
        sd = prior[p].std()
        bound = (max(e.refinement[f"{p}_mean"], e.refinement[f"{p}_sd"]) + _rounding(e)) * sd
        assert abs(e.mean[p] - prior[p].mean()) <= bound, (p, e.mean[p], prior[p].mean())
        assert abs(e.sd[p] - sd) <= bound, (p, e.sd[p], sd)
        x = prior[p].ppf(np.linspace(0.001, 0.999, 999))
        cdf_error = np.max(np.abs(e.cdf(p, x) - prior[p].cdf(x)))
        assert cdf_error <= e.refinement[f"{p}_cdf"] + _rounding(e), (p, cdf_error)
        assert abs(prior[p].cdf(e.median[p]) - 0.5) <= e.refinement[f"{p}_cdf"]
    assert np.isnan(e.cdf_true["alpha"]) and np.isnan(e.cdf_true["beta"])


def _quadrature_cdf(e: ExactPosterior, p: str, xs, actions, rewards) -> list[float]:
    """The marginal CDF at ``xs`` by adaptive quadrature (scipy.integrate.quad).

    The marginal density at a free value is summed over the other axis on ``e``'s
    grid (spectrally accurate there); along the parameter's own axis ``quad`` adapts
    its points, independently of how ``e`` interpolates between grid nodes. The box is
    ``e``'s.
    """
    axes = [np.linspace(*e.box[q], n) for q, n in zip(PARAMS, e.grid_shape, strict=True)]
    peak = log_posterior_free(*axes, actions, rewards, PRIORS).max()
    d = PARAMS.index(p)

    def density(t: float) -> float:
        grid = [axes[0], axes[1]]
        grid[d] = np.array([t])
        g = log_posterior_free(*grid, actions, rewards, PRIORS)
        return math.exp(logsumexp(g - peak))

    lo, hi = e.box[p]
    kw = {"epsabs": 0.0, "epsrel": 1e-9, "limit": 200}
    total = quad(density, lo, hi, **kw)[0]
    free = [math.log(x) - math.log1p(-x) if p == "alpha" else math.log(x) for x in xs]
    return [quad(density, lo, t, **kw)[0] / total for t in free]


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_cdf_agrees_with_direct_quadrature(exact_results, notebook_data, name):
    e = exact_results[name]
    actions, rewards, truth = dataset(name, notebook_data)
    assert e.converged and e.edge_log_density < -25
    for p in PARAMS:
        xs = (truth[p], e.median[p])
        # quad's relative tolerance 1e-9 is negligible next to the grid's bound (>1e-7).
        for x, want in zip(xs, _quadrature_cdf(e, p, xs, actions, rewards), strict=True):
            assert abs(e.cdf(p, x) - want) <= e.refinement[f"{p}_cdf"], (p, x, want)
        assert e.cdf_true[p] == e.cdf(p, truth[p])


@pytest.mark.parametrize("name", ["notebook", "beta_small_150", "beta_tiny_20", "trials_2"])
def test_a_finer_grid_stays_within_the_reported_accuracy(exact_results, notebook_data, name):
    e = exact_results[name]
    actions, rewards, truth = dataset(name, notebook_data)
    finer = exact_posterior(actions, rewards, PRIORS, truth=truth, points_per_sd=6.0)
    for p in PARAMS:
        for stat in ("mean", "sd"):
            change = abs(getattr(finer, stat)[p] - getattr(e, stat)[p]) / e.sd[p]
            assert change <= e.refinement[f"{p}_{stat}"] + _rounding(e), (p, stat, change)
        x = np.array([e.quantile(p, q) for q in (0.01, 0.1, 0.5, 0.9, 0.99)] + [truth[p]])
        change = np.max(np.abs(finer.cdf(p, x) - e.cdf(p, x)))
        assert change <= e.refinement[f"{p}_cdf"], (p, change)


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_cdf_is_monotone_and_half_at_the_median(exact_results, name):
    e = exact_results[name]
    for p in PARAMS:
        assert abs(e.cdf(p, e.median[p]) - 0.5) < 1e-12
        for q in (0.001, 0.1, 0.9, 0.999):
            assert abs(e.cdf(p, e.quantile(p, q)) - q) < 1e-12
        lo, hi = e.quantile(p, 1e-9), e.quantile(p, 1 - 1e-9)
        x = np.concatenate([np.linspace(lo, hi, 5001), np.geomspace(1e-300, lo, 50)])
        c = e.cdf(p, np.sort(x))
        assert np.all(np.diff(c) >= 0.0)
        assert np.all((c >= 0.0) & (c <= 1.0))
        assert e.cdf(p, 0.0) == 0.0 and e.cdf(p, -1.0) == 0.0
        assert np.isnan(e.cdf(p, np.nan))
    assert e.cdf("alpha", 1.0) == 1.0 and e.cdf("alpha", 2.0) == 1.0
    assert e.cdf("beta", 1e300) == 1.0


def test_cost_is_a_fraction_of_a_second_per_dataset(exact_results):
    # At ~2 us per likelihood evaluation of 150 trials, 200,000 evaluations are 0.4 s.
    for name, e in exact_results.items():
        assert e.n_evaluations <= 200_000, (name, e.n_evaluations, e.grid_shape)


def test_a_coarse_start_is_refined_until_accurate(exact_results, notebook_data):
    actions, rewards, truth = dataset("notebook", notebook_data)
    reference = exact_results["notebook"]
    e = exact_posterior(actions, rewards, PRIORS, truth=truth, points_per_sd=0.25)
    assert e.converged and e.refinement_change <= e.tol
    for p in PARAMS:
        assert abs(e.mean[p] - reference.mean[p]) <= e.refinement[f"{p}_mean"] * e.sd[p]
        assert abs(e.cdf_true[p] - reference.cdf_true[p]) <= e.refinement[f"{p}_cdf"]
    # Without the points to refine, the result says it is not accurate enough.
    capped = exact_posterior(
        actions, rewards, PRIORS, truth=truth, points_per_sd=0.25, max_points=5_000
    )
    assert not capped.converged and capped.refinement_change > capped.tol
    assert capped.refinement_change == max(capped.refinement.values())


def test_truth_at_the_edges_of_the_support(notebook_data):
    actions, rewards = notebook_data
    e = exact_posterior(actions, rewards, PRIORS, truth={"alpha": 0.0, "beta": 0.0})
    assert e.cdf_true == {"alpha": 0.0, "beta": 0.0}
    e = exact_posterior(actions, rewards, PRIORS, truth={"alpha": 1.0, "beta": 1e6})
    assert e.cdf_true == {"alpha": 1.0, "beta": 1.0}


def test_bad_settings_are_refused(notebook_data):
    with pytest.raises(ValueError, match="tol"):
        exact_posterior(*notebook_data, PRIORS, tol=0.0)
    with pytest.raises(ValueError, match="max_points"):
        exact_posterior(*notebook_data, PRIORS, max_points=1000)


# ------------------------------------------------------------------------------------
# mcse_mean and compare_with_mcmc
# ------------------------------------------------------------------------------------


def test_mcse_mean_is_arviz_mcse_and_matches_an_ar1_chain():
    rng = np.random.default_rng(3)
    rho, chains, draws = 0.5, 4, 5000
    x = lfilter([1.0], [1.0, -rho], rng.normal(size=(chains, draws)), axis=1)
    got = mcse_mean(x)
    assert got == np.asarray(az.mcse(x, method="mean")).item()
    # AR(1) with unit innovations: sd 1/sqrt(1 - rho^2), integrated autocorrelation
    # time (1 + rho)/(1 - rho). The ESS estimate behind the MCSE has a relative sd of
    # about 2 % at this length (seen over 200 seeds), so 10 % is 5 of its sds.
    want = math.sqrt((1 + rho) / (1 - rho) / (chains * draws)) / math.sqrt(1 - rho**2)
    assert abs(got / want - 1) < 0.10
    with pytest.raises(ValueError, match="chains, draws"):
        mcse_mean(x.ravel())


def test_compare_with_mcmc(exact_results):
    e = exact_results["notebook"]
    mean = {"alpha": e.mean["alpha"] + 0.01, "beta": e.mean["beta"] - 0.3}
    mcse = {"alpha": 0.005, "beta": 0.1}
    cdf = {"alpha": e.cdf_true["alpha"] + 0.02, "beta": e.cdf_true["beta"]}
    out = compare_with_mcmc(e, mean, mcse, cdf)
    assert set(out) == {"alpha_z", "alpha_cdf_diff", "beta_z", "beta_cdf_diff"}
    assert out["alpha_z"] == pytest.approx(2.0, rel=1e-9)
    assert out["beta_z"] == pytest.approx(-3.0, rel=1e-9)
    assert out["alpha_cdf_diff"] == pytest.approx(0.02, abs=1e-15)
    assert out["beta_cdf_diff"] == 0.0
    no_cdf = compare_with_mcmc(e, mean, mcse)
    assert np.isnan(no_cdf["alpha_cdf_diff"]) and no_cdf["alpha_z"] == out["alpha_z"]


# ------------------------------------------------------------------------------------
# MCMC against the exact posterior (slow: compiles nutpie's model and runs NUTS)
# ------------------------------------------------------------------------------------

#: NUTS as the pipeline runs it, with more draws: 4 x 2000 after a short warm-up.
MCMC_SETTINGS = SamplerSettings("nutpie", chains=4, tune=500, draws=2000, target_accept=0.8)
MCMC_DATASETS = ["notebook", "beta_small_150", "alpha_near_1_150", "trials_30"]
#: If the sampler and the exact posterior are both right, each standardised difference
#: below is about N(0, 1), so exceeding 4.5 has probability 6.8e-6. This module makes
#: 4 datasets x 2 models x 2 parameters x (1 mean + 4 CDF values) = 80 such checks:
#: a false alarm in at most 5.4e-4 of seed choices (union bound).
Z_MAX = 4.5


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "seed"), [("potential", 11), ("bernoulli", 12)])
@pytest.mark.parametrize("name", MCMC_DATASETS)
def test_mcmc_agrees_with_the_exact_posterior(exact_results, notebook_data, name, kind, seed):
    actions, rewards, truth = dataset(name, notebook_data)
    e = exact_results[name]
    (fit,) = sample_posteriors(kind, [(name, actions, rewards, seed)], MCMC_SETTINGS, PRIORS)
    assert not fit.error, fit.error
    summary = posterior_summary(fit.draws, truth, [])
    mean = {p: summary[f"{p}_est"] for p in PARAMS}
    mcse = {p: mcse_mean(fit.draws[p]) for p in PARAMS}
    diff = compare_with_mcmc(e, mean, mcse, {p: summary[f"{p}_cdf_true"] for p in PARAMS})
    report = [f"{name} {kind}: divergences {fit.divergences}, ESS bulk {fit.ess_bulk_min:.0f}"]
    for p in PARAMS:
        # The exact mean's own error (below refinement * sd) widens the bound a little.
        z_bound = Z_MAX + e.refinement[f"{p}_mean"] * e.sd[p] / mcse[p]
        assert abs(diff[f"{p}_z"]) < z_bound, (p, diff, mean, e.mean)
        report.append(f"{p}_z {diff[p + '_z']:+.2f}")
        # A CDF estimate is the mean of the indicator draws <= x: its sd is
        # sqrt(c (1 - c) / ESS), with the ESS of that indicator.
        draws = fit.draws[p]
        points = {"truth": truth[p], **{f"q{q}": e.quantile(p, q) for q in (0.1, 0.5, 0.9)}}
        for label, x in points.items():
            below = (draws <= x).astype(float)
            c = e.cdf(p, x)
            ess = float(az.ess(below, method="mean"))
            assert math.isfinite(ess), (p, label, c)
            bound = Z_MAX * math.sqrt(c * (1 - c) / ess) + e.refinement[f"{p}_cdf"]
            d = float(below.mean()) - c
            assert abs(d) < bound, (p, label, x, d, bound)
            report.append(f"{p}_cdf_diff@{label} {d:+.4f} (bound {bound:.4f})")
        assert diff[f"{p}_cdf_diff"] == pytest.approx(summary[f"{p}_cdf_true"] - e.cdf_true[p])
    print("\n" + "; ".join(report))
