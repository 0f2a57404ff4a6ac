"""Tests of rlrecover.inference.pymc_models and rlrecover.inference.sampling.

Both PyMC models of every library model: their structure, their compiled log density
against the plain reference log-likelihood plus the priors' free-scale density, their
gradients, prior and posterior predictive draws, and NUTS sampling through nutpie;
for rw also the scan likelihood and nutpie against PyMC's own sampler. Then
posterior sampling of many datasets and the posterior diagnostics (R-hat and ESS).
(MCMC against the exact or reference posterior is in test_exact.py.)
"""

from __future__ import annotations

import math

import arviz as az
import numpy as np
import pymc as pm
import pytest
import reference_models as ref
from arviz.stats.diagnostics import _ess_bulk, _ess_tail, _rhat_rank
from conftest import RW, default_priors, rw_priors
from model_cases import EPS, MODELS, by_model, interior
from pymc_cases import (
    HALFNORMAL_CONST,
    by_hand_logp,
    compiled,
    data,
    random_points,
    value_names,
)
from scipy.signal import lfilter

from rlrecover.config import SamplerSettings
from rlrecover.inference import sampling
from rlrecover.inference.posterior import PosteriorFit, posterior_diagnostics
from rlrecover.inference.pymc_models import KINDS, build_model
from rlrecover.inference.sampling import ModelSpec, sample_posteriors

#: The notebook's priors of rw: alpha ~ Beta(1, 1), beta ~ HalfNormal(10).
PRIORS = rw_priors(1.0, 1.0, 10.0)
by_kind = pytest.mark.parametrize("kind", KINDS)


# ------------------------------------------------------------------------------------
# The two PyMC models of every model (compiled once per session: pymc_cases)
# ------------------------------------------------------------------------------------


@pytest.mark.slow
@by_model
@by_kind
def test_model_structure(model, kind):
    pymc_model = compiled(model.name, kind).model
    assert [v.name for v in pymc_model.free_RVs] == list(model.param_names)
    assert list(pymc_model.initial_point()) == value_names(model)
    if kind == "potential":
        assert [p.name for p in pymc_model.potentials] == ["like"]
        assert not pymc_model.observed_RVs
    else:
        assert [v.name for v in pymc_model.observed_RVs] == ["like"]
        assert not pymc_model.potentials
    np.testing.assert_array_equal(pymc_model["actions"].get_value(), data()[0])
    np.testing.assert_array_equal(pymc_model["rewards"].get_value(), data()[1])


def _logp_tolerances(model):
    """Absolute tolerance of a log density, and of a difference of two.

    PyMC's HalfNormal constant (HALFNORMAL_CONST per positive parameter) cancels in a
    difference. What is left is the likelihood against the plain reference, 149 terms
    of a few eps times their scale (<= 1 + 20 + 25 here: test_models.scale_of), about
    4e-12, and the priors' few log/exp: 1e-10 is margin.
    """
    n_positive = sum(p.kind == "positive" for p in model.params)
    return n_positive * HALFNORMAL_CONST + 1e-10, 1e-10


@pytest.mark.slow
@by_model
@by_kind
def test_compiled_logp_is_the_reference_loglik_plus_the_free_priors(model, kind):
    # The check that both PyMC models of every model compute their posterior: PyMC's
    # compiled log density at random free points against the plain-Python reference
    # (tests/reference_models.py) plus Priors.logpdf_free.
    cm = compiled(model.name, kind)
    actions, rewards = data()
    points = random_points(model, 1)
    base, base_want = cm.logp(points[0]), by_hand_logp(model, points[0], actions, rewards)
    absolute, relative = _logp_tolerances(model)
    for point in points:
        got, want = cm.logp(point), by_hand_logp(model, point, actions, rewards)
        assert got == pytest.approx(want, rel=0, abs=absolute), point
        assert got - base == pytest.approx(want - base_want, rel=0, abs=relative), point


@pytest.mark.slow
@by_model
@by_kind
def test_model_dlogp_finite_differences(model, kind):
    cm = compiled(model.name, kind)
    h = 1e-6
    n = len(data()[0])
    names = value_names(model)
    for point in random_points(model, 2, k=3):
        grad = cm.dlogp(point)
        lp = cm.logp(point)
        for i, var in enumerate(names):

            def f(x, var=var, point=point):
                return cm.logp({**point, var: np.array(x)})

            x0 = float(point[var])
            d_h = (f(x0 + h) - f(x0 - h)) / (2 * h)
            d_2h = (f(x0 + 2 * h) - f(x0 - 2 * h)) / (4 * h)
            # Richardson extrapolation cancels the h^2 truncation term; the O(h^4) rest is
            # < 1e-6 relative for these smooth, moderately curved logps (inverse
            # temperatures <= 10). Rounding: each logp value carries <~ n eps |logp| (sum
            # of n-1 terms), and the extrapolated difference divides it by h with weights
            # summing to < 2.
            fd = d_h + (d_h - d_2h) / 3
            tol = 1e-6 * abs(grad[i]) + 4 * n * EPS * (abs(lp) + 1) / h
            assert abs(fd - grad[i]) <= tol, (kind, point, var, fd, grad[i])


@pytest.mark.slow
@by_model
def test_potential_and_bernoulli_models_agree(model):
    # Compiled, the Bernoulli model's likelihood is fused into the same kernel the
    # potential computes (test_rewrites.py), so the two log densities differ only in
    # the order their terms are added: a few eps of the largest term.
    pot = compiled(model.name, "potential")
    ber = compiled(model.name, "bernoulli")
    for point in random_points(model, 3):
        lp = pot.logp(point)
        assert ber.logp(point) == pytest.approx(lp, rel=0, abs=64 * EPS * (abs(lp) + 1))
        np.testing.assert_allclose(ber.dlogp(point), pot.dlogp(point), rtol=1e-12, atol=1e-12)


@pytest.mark.slow
@by_kind
def test_op_and_scan_models_agree(kind):
    # Same graph around the likelihood; the likelihoods themselves agree to ~1e-14
    # relative (test_model_rw, test_scan_reference), so 1e-10 is pure margin.
    op = compiled("rw", kind)
    scan = compiled("rw", kind, "scan")
    for point in random_points(RW, 4):
        np.testing.assert_allclose(op.logp(point), scan.logp(point), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(op.dlogp(point), scan.dlogp(point), rtol=1e-10, atol=1e-10)


@pytest.mark.slow
@by_model
def test_model_data_can_be_swapped(model):
    # One compiled model serves every dataset: set_data changes the shared values,
    # which the already compiled logp reads at call time.
    cm = compiled(model.name, "potential")
    actions, rewards = model.simulate(interior(model), 150, np.random.default_rng(9))
    point = random_points(model, 5, k=1)[0]
    old = {k: cm.model[k].get_value() for k in ("actions", "rewards")}
    try:
        with cm.model:
            pm.set_data({"actions": actions, "rewards": rewards})
        want = by_hand_logp(model, point, actions, rewards)
        assert cm.logp(point) == pytest.approx(want, rel=0, abs=_logp_tolerances(model)[0])
    finally:
        with cm.model:
            pm.set_data(old)


def test_bad_kind_likelihood_and_priors():
    actions, rewards = data()
    with pytest.raises(ValueError, match="'gaussian'"):
        build_model(RW, "gaussian", actions, rewards, PRIORS)
    with pytest.raises(ValueError, match="'jax'"):
        build_model(RW, "potential", actions, rewards, PRIORS, likelihood="jax")
    ck = next(m for m in MODELS if m.name == "ck")
    with pytest.raises(ValueError, match="scan likelihood is the notebook's rw model, not ck"):
        build_model(ck, "potential", actions, rewards, default_priors(ck), likelihood="scan")
    with pytest.raises(ValueError, match=r"priors of \['alpha', 'beta'\] do not match .* ck"):
        build_model(ck, "potential", actions, rewards, PRIORS)


@pytest.mark.slow
@by_model
def test_bernoulli_prior_and_posterior_predictive(model):
    pymc_model = compiled(model.name, "bernoulli").model
    n = len(data()[0])
    with pymc_model:
        prior = pm.sample_prior_predictive(draws=50, random_seed=123)
    like = prior.prior_predictive["like"].to_numpy()
    assert like.shape == (1, 50, n - 1)
    assert set(np.unique(like)) <= {0, 1}
    # prior draws of the parameters differ, so the simulated choices must vary
    assert len({tuple(row) for row in like[0]}) > 1
    # The choices follow the model's probabilities at each prior draw: their sum over
    # the 50 x 149 draws is within 5 sd of the expected sum (given the history, each is
    # Bernoulli(p), so the sum has variance sum p (1 - p)).
    actions, rewards = data()
    draws = prior.prior
    p = np.array(
        [
            ref.right_probs(
                model.name,
                {q: float(draws[q].to_numpy()[0, i]) for q in model.param_names},
                actions,
                rewards,
                dict(model.consts),
            )
            for i in range(50)
        ]
    )
    z = (like[0].sum() - p.sum()) / math.sqrt(np.sum(p * (1 - p)))
    assert abs(z) < 5

    # Posterior predictive from a stand-in posterior (the prior draws): no NUTS needed.
    with pymc_model:
        post = pm.sample_posterior_predictive(
            prior.prior[list(model.param_names)], random_seed=456, progressbar=False
        )
    like = post.posterior_predictive["like"].to_numpy()
    assert like.shape == (1, 50, n - 1)
    assert set(np.unique(like)) <= {0, 1}


# ------------------------------------------------------------------------------------
# sample_posteriors (slow: compiles nutpie's numba model and runs NUTS)
# ------------------------------------------------------------------------------------


@pytest.mark.slow
@by_model
@by_kind
def test_both_models_of_every_model_sample_with_nutpie(model, kind):
    # Short chains (this is no accuracy check: test_exact.py compares MCMC with the
    # exact posterior): every model's both PyMC models compile for nutpie and sample,
    # the draws inside the support and moving.
    actions, rewards = data()
    settings = SamplerSettings("nutpie", 2, 150, 150, 0.8)
    (fit,) = sample_posteriors(
        model, kind, [("nb", actions, rewards, 5)], settings, default_priors(model)
    )
    assert fit.key == "nb" and fit.error == "", fit.error
    assert list(fit.draws) == list(model.param_names)
    for p in model.params:
        x = fit.draws[p.name]
        assert x.shape == (2, 150) and np.all(np.isfinite(x)) and x.std() > 0
        assert np.all(x > 0) and (p.kind == "positive" or np.all(x < 1))
    assert math.isfinite(fit.rhat_max) and fit.ess_bulk_min > 0
    assert fit.divergences >= 0 and fit.compile_seconds > 0


def _posterior_means_and_mcse(fit: PosteriorFit):
    assert not fit.error, fit.error
    out = {}
    for p in ("alpha", "beta"):
        draws = fit.draws[p]
        assert draws.shape == (4, 500)
        out[p] = (float(draws.mean()), np.asarray(az.mcse(draws, method="mean")).item())
    return out


@pytest.mark.slow
@by_kind
def test_nutpie_agrees_with_pymc(kind):
    actions, rewards = (np.array(x) for x in data())
    results = {}
    for backend, seed in (("nutpie", 11), ("pymc", 12)):
        settings = SamplerSettings(
            backend=backend, chains=4, tune=500, draws=500, target_accept=0.8
        )
        (fit,) = sample_posteriors(RW, kind, [("nb", actions, rewards, seed)], settings, PRIORS)
        assert fit.key == "nb"
        assert fit.rhat_max < 1.05
        results[backend] = _posterior_means_and_mcse(fit)
    for p in ("alpha", "beta"):
        (m_a, se_a), (m_b, se_b) = results["nutpie"][p], results["pymc"][p]
        # Two independent MCMC estimates of one posterior mean: their difference has
        # standard error sqrt(se_a^2 + se_b^2); 4 of those is a ~6e-5 false-alarm rate.
        assert abs(m_a - m_b) <= 4 * np.hypot(se_a, se_b), (p, results)


@pytest.mark.slow
def test_sample_posteriors_survives_bad_dataset():
    actions, rewards = (np.array(x) for x in data())
    short_a, short_r = RW.simulate({"alpha": 0.5, "beta": 5}, 100, np.random.default_rng(3))
    other_a, other_r = RW.simulate({"alpha": 0.3, "beta": 2}, 150, np.random.default_rng(4))
    settings = SamplerSettings(backend="nutpie", chains=1, tune=100, draws=100, target_accept=0.8)
    fits = list(
        sample_posteriors(
            RW,
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


def test_sample_posteriors_rejects_unknown_backend():
    settings = SamplerSettings("stan", 4, 1000, 1000, 0.8)
    with pytest.raises(ValueError, match="'stan'"):
        list(sample_posteriors(RW, "potential", [(0, *data(), 1)], settings, PRIORS))


def test_sample_posteriors_passes_log_to_the_nutpie_compile(monkeypatch):
    # The log callable reaches compile_model, which sends it the fallback warning.
    from rlrecover.inference import nutpie_compile

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
                RW, "potential", [(0, *data(), 1)], settings, PRIORS, log=messages.append
            )
        )
    assert seen == [messages.append]


def test_model_spec_builds_the_model_it_names():
    rwck = next(m for m in MODELS if m.name == "rwck")
    spec = ModelSpec("rwck", "bernoulli", default_priors(rwck), (0.25,))
    assert spec == ModelSpec("rwck", "bernoulli", default_priors(rwck), (0.25,))
    assert hash(spec) == hash(ModelSpec("rwck", "bernoulli", default_priors(rwck), (0.25,)))
    pymc_model = spec.build(*data())
    assert [v.name for v in pymc_model.free_RVs] == list(rwck.param_names)
    assert [v.name for v in pymc_model.observed_RVs] == ["like"]


@pytest.mark.slow
@by_kind
def test_one_compiled_model_serves_every_number_of_trials(kind):
    # Cells at 60 trials after cells at 25 reuse the model compiled for 25; the draws
    # must equal those of a process that compiled for 60 trials first.
    settings = SamplerSettings("nutpie", 2, 150, 150, 0.8)
    theta = {"alpha": 0.4, "beta": 3.0}
    short = RW.simulate(theta, 25, np.random.default_rng(1))
    long = RW.simulate(theta, 60, np.random.default_rng(2))
    saved = dict(sampling._NUTPIE_RUNNERS)
    try:
        sampling._NUTPIE_RUNNERS.clear()
        list(sample_posteriors(RW, kind, [(0, *short, 1)], settings, priors=PRIORS))
        reused = next(iter(sample_posteriors(RW, kind, [(1, *long, 7)], settings, priors=PRIORS)))
        sampling._NUTPIE_RUNNERS.clear()
        fresh = next(iter(sample_posteriors(RW, kind, [(1, *long, 7)], settings, priors=PRIORS)))
    finally:
        sampling._NUTPIE_RUNNERS.update(saved)
    for p in ("alpha", "beta"):
        np.testing.assert_array_equal(reused.draws[p], fresh.draws[p])


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


def test_diagnostics_take_the_worst_of_any_number_of_parameters():
    # A four-parameter model's draws: the worst of each diagnostic over all of them.
    rng = np.random.default_rng(12)
    phis = {"a": 0.2, "b": 0.9, "c": 0.5, "d": 0.3}
    draws = {n: _ar1(rng, phi) for n, phi in phis.items()}
    rhat, bulk, tail = posterior_diagnostics(draws)
    assert bulk == min(posterior_diagnostics({n: x})[1] for n, x in draws.items())
    assert tail == min(posterior_diagnostics({n: x})[2] for n, x in draws.items())
    assert rhat == max(posterior_diagnostics({n: x})[0] for n, x in draws.items())


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
