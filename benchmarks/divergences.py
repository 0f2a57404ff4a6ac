"""Divergent transitions of the PyMC fits: how often, where, and what they do to the estimates.

Run ``python benchmarks/divergences.py`` (about 6 minutes on one core; ``--n 100`` for
a shorter run). It prints figures and asserts nothing about time. Findings:
benchmarks/divergences.md.

Setting (issue 8): 400 truths drawn from the priors (alpha ~ Beta(1, 1), beta ~
HalfNormal(10)), one 100-trial dataset each (reward probabilities 0.4 / 0.6,
q_init 0.5), fitted with nutpie through :func:`rlrecover.inference.sampling.sample_posteriors`,
4 chains x (1,000 tune + 1,000 draws), at target_accept 0.8 (the default), 0.9 and
0.95; every setting samples each dataset with the same seed.

1. Divergences: the share of fits with any divergent transition after warm-up, by
   region of the true beta and the true alpha; median true beta of divergent fits;
   seconds per fit; smallest bulk ESS.
2. Calibration under SBC: for each fit, the posterior CDF at the truth (share of draws
   <= truth) must be uniform over datasets drawn from the prior, and stays uniform in
   any subset chosen by the data and the sampler's seed (such as "the fit diverged"),
   because each truth is a draw from its own exact posterior. Reported: the KS test
   against uniform (p-value) and the largest ECDF deviation D, for divergent fits and
   for the rest. Subsets chosen by the *truth* (the beta regions) need not be uniform,
   so calibration is not reported by region.
3. The exact check: the exact posterior of each dataset by quadrature on a grid of
   (logit alpha, log beta) (two parameters, so a grid is cheap and accurate). Reported:
   the RMS over fits of z = (MCMC mean - exact mean) / MCSE, with MCSE from
   ``arviz.mcse(x, method="mean")``: about 1 when the reported Monte Carlo error is
   right, and it estimates (actual MC error) / (reported MC error). Also the mean
   |CDF_MCMC(truth) - CDF_exact(truth)| and the largest |bias| / sd.
4. Refits: 12 datasets that diverged at 0.8, and as a reference the 12 with the
   smallest true beta among those that did not, refitted with 8 new seeds each at
   target_accept 0.8 and 0.95: the spread of the posterior means across seeds against
   the reported MCSE, and the bias of their average against the exact mean (in its
   standard errors, with a chi-square test over the datasets, and in posterior sds).
   Averaging over seeds finds a bias that one fit's Monte Carlo error hides. Before
   that, where the divergent transitions of those datasets start.
5. The Bernoulli model: it shares the Potential model's log-density (rlrecover fuses
   its likelihood into the same numba kernel), so with the same seed nutpie's draws are
   bit-for-bit the same. The script checks that on the first 20 datasets of every
   setting and fits all datasets only if any draw differs (``--bernoulli full``
   always fits all).
6. Alternative parameterisations at target_accept 0.8 (``--alt NAME ...``; ``--alt``
   alone skips them). PyMC already samples (logit alpha, log beta), so sampling
   log(beta) with the pushed-through prior would be the same model. Divergences start
   where alpha -> 0 and beta is large: there the choices depend on about alpha * beta
   only (a thin ridge log alpha + log beta = const), which runs into the steep wall
   of the half-normal prior on the log-beta scale. ``logkappa`` (the default) samples
   u = logit(alpha), w = log(alpha * beta), the same priors pushed through
   (log-Jacobian log alpha + log(1 - alpha) + log beta), so the ridge is axis-aligned;
   ``absz`` samples beta = 10 |z|, z ~ N(0, 1) (the half-normal non-centred: no
   exponential wall, but a kink at beta = 0).

Uses the private ``rlrecover.inference.sampling._nutpie_sampler`` and ``_finish`` for the
alternative model only.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numba  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from rlrecover import models  # noqa: E402
from rlrecover.models.base import BetaPrior, HalfNormalPrior  # noqa: E402
from rlrecover.models.base import Priors as ModelPriors  # noqa: E402

RW = models.get("rw")
loglik_grad_kernel = RW.kernels.loglik_grad


class Priors:
    """rw's priors by their numbers: alpha ~ Beta(alpha_a, alpha_b), beta ~ HalfNormal."""

    def __init__(self, alpha_a: float, alpha_b: float, beta_sigma: float) -> None:
        self.alpha_a, self.alpha_b, self.beta_sigma = alpha_a, alpha_b, beta_sigma
        self.record = ModelPriors(
            (("alpha", BetaPrior(alpha_a, alpha_b)), ("beta", HalfNormalPrior(beta_sigma)))
        )

    def draw(self, rng):
        return tuple(self.record.draw(rng).values())


SEED = 20261126
PRIORS = Priors(1.0, 1.0, 10.0)
N_TRIALS = 100
REWARD_PROBS = (0.4, 0.6)
Q_INIT = 0.5
TARGET_ACCEPTS = (0.8, 0.9, 0.95)
BETA_EDGES = (0.0, 1.0, 3.0, 10.0, math.inf)
ALPHA_EDGES = (0.0, 0.1, 0.5, 0.9, 1.0)
N_REFIT_DATASETS = 12
N_REFIT_SEEDS = 8
N_BERNOULLI_CHECK = 20


def settings(target_accept: float):
    from rlrecover.config import SamplerSettings

    return SamplerSettings(
        backend="nutpie", chains=4, tune=1000, draws=1000, target_accept=target_accept
    )


def make_datasets(n: int):
    """``n`` truths from the priors, a dataset and a sampling seed for each."""
    rng = np.random.default_rng(SEED)
    truths = np.array([PRIORS.draw(rng) for _ in range(n)])
    streams = np.random.SeedSequence(SEED).spawn(n)
    data = []
    for i, (alpha, beta) in enumerate(truths):
        actions, rewards = RW.simulate(
            {"alpha": alpha, "beta": beta},
            N_TRIALS,
            np.random.default_rng(streams[i]),
            reward_probs=REWARD_PROBS,
            consts={"q_init": Q_INIT},
        )
        data.append((actions, rewards))
    seeds = rng.integers(0, 2**31, size=n)
    return truths, data, seeds


# ------------------------------------------------------------------------ exact posterior
@numba.njit(cache=True)
def _grid_logpost(us, vs, actions, rewards, q_init, a, b, sigma, out):
    """Log posterior density of (u, v) = (logit alpha, log beta), up to a constant."""
    grad = np.empty(2)
    for i in range(us.shape[0]):
        u = us[i]
        # log alpha and log(1 - alpha), stable for large |u|
        log_a = -(max(-u, 0.0) + math.log1p(math.exp(-abs(u))))
        log_1ma = -(max(u, 0.0) + math.log1p(math.exp(-abs(u))))
        alpha = math.exp(log_a)
        lp_alpha = a * log_a + b * log_1ma  # Beta(a, b) density times d alpha / d u
        for j in range(vs.shape[0]):
            beta = math.exp(vs[j])
            lp_beta = -0.5 * (beta / sigma) ** 2 + vs[j]  # HalfNormal times d beta / d v
            ll = loglik_grad_kernel(alpha, beta, actions, rewards, q_init, grad)
            out[i, j] = ll + lp_alpha + lp_beta


def _logpost(us, vs, actions, rewards):
    out = np.empty((us.size, vs.size))
    _grid_logpost(
        us,
        vs,
        actions,
        rewards.astype(np.float64),
        Q_INIT,
        PRIORS.alpha_a,
        PRIORS.alpha_b,
        PRIORS.beta_sigma,
        out,
    )
    return out


def _aligned(lo, hi, n, at):
    """About ``n`` equally spaced nodes covering [lo, hi], one of them at ``at`` if inside."""
    h = (hi - lo) / n
    k = np.arange(math.floor((lo - at) / h), math.ceil((hi - at) / h) + 1)
    return at + h * k


def _cdf_at_node(x, m, at):
    """CDF at ``at`` of the density with values ``m`` at the equally spaced nodes ``x``.

    Simpson's rule from the first node up to the node at ``at`` (its error falls as
    h^4; a sum of whole cells would only fall as h^2), over the trapezoid rule on all
    nodes, which is as accurate as the tails are negligible at both ends.
    """
    if at < x[0]:
        return 0.0
    if at > x[-1]:
        return 1.0
    k0 = int(np.argmin(np.abs(x - at)))
    start = k0 % 2  # an even number of intervals; the first node's mass is negligible
    seg = m[start : k0 + 1]
    simpson = (seg[0] + seg[-1] + 4 * seg[1:-1:2].sum() + 2 * seg[2:-1:2].sum()) / 3
    if seg.size == 1:
        simpson = 0.0
    return float(simpson / (m.sum() - 0.5 * (m[0] + m[-1])))


def exact_posterior(actions, rewards, truth, coarse=121, fine=181):
    """Posterior means, sds and CDF at the truth of alpha and beta by quadrature.

    A coarse grid over u = logit alpha in [-16, 16] and v = log beta in [-12,
    log(6 sigma)] finds the box where the log density is within 30 of its maximum.
    A finer grid over that box (one coarse cell wider), with a node at the truth,
    gives the means and sds (trapezoid rule, whose error vanishes fast for a density
    that vanishes smoothly at the box's edges) and the CDF at the truth (Simpson's
    rule on each marginal). Mass outside the coarse grid is below ~1e-5 (prior tails).
    """
    u0 = math.log(truth[0]) - math.log1p(-truth[0])
    v0 = math.log(truth[1])
    us = np.linspace(-16.0, 16.0, coarse)
    vs = np.linspace(-12.0, math.log(6 * PRIORS.beta_sigma), coarse)
    lp = _logpost(us, vs, actions, rewards)
    keep = lp > lp.max() - 30.0
    iu = np.flatnonzero(keep.any(axis=1))
    iv = np.flatnonzero(keep.any(axis=0))
    du, dv = us[1] - us[0], vs[1] - vs[0]
    us = _aligned(us[iu[0]] - du, us[iu[-1]] + du, fine, u0)
    vs = _aligned(vs[iv[0]] - dv, vs[iv[-1]] + dv, fine, v0)
    lp = _logpost(us, vs, actions, rewards)
    w = np.exp(lp - lp.max())
    m_u, m_v = w.sum(axis=1), w.sum(axis=0)
    out = {}
    for p, x, m in (("alpha", 1.0 / (1.0 + np.exp(-us)), m_u), ("beta", np.exp(vs), m_v)):
        m = m / m.sum()
        mean = float(m @ x)
        out[f"{p}_mean"] = mean
        out[f"{p}_sd"] = float(np.sqrt(m @ (x - mean) ** 2))
    out["alpha_cdf"] = _cdf_at_node(us, m_u, u0)
    out["beta_cdf"] = _cdf_at_node(vs, m_v, v0)
    return out


# ------------------------------------------------------------------------ alternative model
def build_model_logkappa(actions, rewards, priors: Priors, q_init: float):
    """Same posterior, sampled as u = logit(alpha) and w = log(alpha * beta)."""
    import pytensor.tensor as pt

    from rlrecover.inference.ops import loglik_op
    from rlrecover.inference.sampling import pm

    with pm.Model(check_bounds=False) as model:
        actions_d = pm.Data("actions", np.asarray(actions, dtype=np.int64))
        rewards_d = pm.Data("rewards", np.asarray(rewards, dtype=np.int64))
        u = pm.Flat("u")
        w = pm.Flat("w")
        log_alpha = -pt.softplus(-u)
        log_1ma = -pt.softplus(u)
        log_beta = w - log_alpha
        alpha = pm.Deterministic("alpha", pt.exp(log_alpha))
        beta = pm.Deterministic("beta", pt.exp(log_beta))
        # Beta(a, b) and HalfNormal(sigma) densities times |d(alpha, beta) / d(u, w)|
        # = alpha (1 - alpha) beta; constants dropped.
        pm.Potential(
            "prior",
            priors.alpha_a * log_alpha
            + priors.alpha_b * log_1ma
            - 0.5 * (beta / priors.beta_sigma) ** 2
            + log_beta,
        )
        pm.Potential(
            "like",
            loglik_op("rw", (float(q_init),), [alpha, beta], actions_d, rewards_d),
        )
    return model


def build_model_absz(actions, rewards, priors: Priors, q_init: float):
    """Same posterior, with beta = sigma * |z|, z ~ Normal(0, 1) sampled as is."""
    import pytensor.tensor as pt

    from rlrecover.inference.ops import loglik_op
    from rlrecover.inference.sampling import pm

    with pm.Model(check_bounds=False) as model:
        actions_d = pm.Data("actions", np.asarray(actions, dtype=np.int64))
        rewards_d = pm.Data("rewards", np.asarray(rewards, dtype=np.int64))
        alpha = pm.Beta("alpha", alpha=priors.alpha_a, beta=priors.alpha_b)
        z = pm.Normal("z", 0.0, 1.0)
        beta = pm.Deterministic("beta", priors.beta_sigma * pt.abs(z))
        pm.Potential(
            "like",
            loglik_op("rw", (float(q_init),), [alpha, beta], actions_d, rewards_d),
        )
    return model


ALTERNATIVES = {
    "logkappa": (build_model_logkappa, "u = logit(alpha), w = log(alpha * beta)"),
    "absz": (build_model_absz, "alpha on PyMC's logit scale, beta = 10 |z|, z ~ N(0, 1)"),
}


def fit_alternative(name, data, seeds, target_accept):
    """An alternative model's fits, as :class:`rlrecover.inference.posterior.PosteriorFit`."""
    from rlrecover.inference.sampling import _finish, _nutpie_sampler

    t0 = time.perf_counter()
    model = ALTERNATIVES[name][0](*data[0], PRIORS, Q_INIT)
    start = _nutpie_sampler(model, RW.param_names, settings(target_accept), None)
    compile_seconds = time.perf_counter() - t0
    fits = []
    for i, ((actions, rewards), seed) in enumerate(zip(data, seeds, strict=True)):
        t = time.perf_counter()
        fit = start(actions, rewards, int(seed))
        fits.append(_finish(i, t, compile_seconds if i == 0 else 0.0, fit))
    return fits


# ------------------------------------------------------------------------ figures
def fit_all(kind, data, seeds, target_accept, idx=None):
    from rlrecover.inference.sampling import sample_posteriors

    idx = range(len(data)) if idx is None else idx
    items = [(i, *data[i], int(seeds[i])) for i in idx]
    fits = list(
        sample_posteriors(RW, kind, items, settings(target_accept), PRIORS.record, (Q_INIT,))
    )
    bad = [f.error for f in fits if f.error]
    if bad:
        raise RuntimeError(f"{len(bad)} fits failed, first: {bad[0]}")
    return fits


def fit_table(fits, truths, exact):
    """Per-fit figures as arrays: divergences, seconds, ESS, means, MCSE, CDF at truth."""
    import arviz as az

    rows = {k: [] for k in ("div", "sec", "ess", "rhat")}
    for p in ("alpha", "beta"):
        for k in ("mean", "mcse", "cdf", "sd"):
            rows[f"{p}_{k}"] = []
    for f, (a0, b0) in zip(fits, truths, strict=True):
        rows["div"].append(f.divergences)
        rows["sec"].append(f.seconds)
        rows["ess"].append(f.ess_bulk_min)
        rows["rhat"].append(f.rhat_max)
        for p, t in (("alpha", a0), ("beta", b0)):
            x = f.draws[p]
            rows[f"{p}_mean"].append(x.mean())
            rows[f"{p}_sd"].append(x.std(ddof=1))
            rows[f"{p}_mcse"].append(float(np.squeeze(az.mcse(x, method="mean"))))
            rows[f"{p}_cdf"].append(np.mean(x <= t))
    out = {k: np.asarray(v, dtype=float) for k, v in rows.items()}
    for p in ("alpha", "beta"):
        out[f"{p}_z"] = (out[f"{p}_mean"] - exact[f"{p}_mean"]) / out[f"{p}_mcse"]
        out[f"{p}_dcdf"] = np.abs(out[f"{p}_cdf"] - exact[f"{p}_cdf"])
        out[f"{p}_bias_sd"] = np.abs(out[f"{p}_mean"] - exact[f"{p}_mean"]) / exact[f"{p}_sd"]
    return out


def _share(mask, within):
    n = int(within.sum())
    k = int((mask & within).sum())
    return f"{k}/{n} ({100 * k / n:.0f}%)" if n else "-"


def _ks(cdf):
    if cdf.size < 2:
        return "n<2"
    res = stats.kstest(cdf, "uniform")
    return f"p={res.pvalue:.2f} D={res.statistic:.3f} (n={cdf.size})"


def _by_region(div, x, edges):
    return "; ".join(
        f"[{lo:g}, {hi:g}): {_share(div, (x >= lo) & (x < hi))}"
        for lo, hi in itertools.pairwise(edges)
    )


def report(label, t, truths):
    """Print one setting's figures; ``t`` from :func:`fit_table`."""
    div = t["div"] > 0
    a, b = truths[:, 0], truths[:, 1]
    n_div = t["div"][div]
    print(f"\n### {label}")
    print(
        f"fits with any divergence: {_share(div, np.ones_like(div))}; divergent transitions "
        f"per divergent fit: median {np.median(n_div) if div.any() else 0:.0f}, "
        f"max {t['div'].max():.0f}"
    )
    print(f"by true beta:  {_by_region(div, b, BETA_EDGES)}")
    print(f"by true alpha: {_by_region(div, a, ALPHA_EDGES)}")
    if div.any():
        print(
            f"median true beta: divergent {np.median(b[div]):.2f}, rest "
            f"{np.median(b[~div]):.2f}; median true alpha: divergent {np.median(a[div]):.2f}, "
            f"rest {np.median(a[~div]):.2f}"
        )
    sec, ess = t["sec"].mean(), np.median(t["ess"])
    print(
        f"seconds per fit: mean {sec:.3f} (compile excluded), {1000 * sec / ess:.3f} s per "
        f"1,000 bulk ESS (median); bulk ESS: min {t['ess'].min():.0f}, median {ess:.0f}; "
        f"largest R-hat {t['rhat'].max():.3f}"
    )
    print("calibration (SBC, posterior CDF at the truth vs uniform):")
    for p in ("alpha", "beta"):
        cdf = t[f"{p}_cdf"]
        print(f"  {p:5s}  all: {_ks(cdf)}; divergent: {_ks(cdf[div])}; rest: {_ks(cdf[~div])}")
    print(
        "exact check (RMS z = (mean - exact mean) / MCSE; mean |CDF - exact CDF|; "
        "max |bias| / sd):"
    )
    for p in ("alpha", "beta"):
        parts = []
        for name, m in (("divergent", div), ("rest", ~div)):
            if m.any():
                rms = np.sqrt(np.mean(t[f"{p}_z"][m] ** 2))
                dcdf = t[f"{p}_dcdf"][m].mean()
                bias = t[f"{p}_bias_sd"][m].max()
                parts.append(
                    f"{name}: RMS z {rms:.2f}, |CDF diff| {dcdf:.4f}, |bias|/sd {bias:.3f}"
                )
        print(f"  {p:5s}  " + "; ".join(parts))
    return div


def refit_spread(kind, data, seeds, idx, target_accept, exact_rows, label):
    """Refit datasets ``idx`` with N_REFIT_SEEDS new seeds; spread of means vs MCSE."""
    import arviz as az

    means = {p: np.zeros((len(idx), N_REFIT_SEEDS)) for p in ("alpha", "beta")}
    mcse = {p: np.zeros((len(idx), N_REFIT_SEEDS)) for p in ("alpha", "beta")}
    n_div = 0
    for s in range(N_REFIT_SEEDS):
        new = [int(seeds[i]) + 1 + s for i in idx]
        sub = [data[i] for i in idx]
        fits = fit_all(kind, sub, new, target_accept)
        for k, f in enumerate(fits):
            n_div += f.divergences > 0
            for p in ("alpha", "beta"):
                means[p][k, s] = f.draws[p].mean()
                mcse[p][k, s] = float(np.squeeze(az.mcse(f.draws[p], method="mean")))
    n_fits = len(idx) * N_REFIT_SEEDS
    print(
        f"  {label}: {len(idx)} datasets x {N_REFIT_SEEDS} new seeds at target_accept "
        f"{target_accept}; refits with a divergence: {n_div}/{n_fits}"
    )
    for p in ("alpha", "beta"):
        spread = means[p].std(axis=1, ddof=1)
        rms_mcse = np.sqrt(np.mean(mcse[p] ** 2, axis=1))
        pooled = np.sqrt(np.mean(spread**2) / np.mean(mcse[p] ** 2))
        ex = exact_rows[f"{p}_mean"][idx]
        z = (means[p] - ex[:, None]) / mcse[p]
        # bias: the average over seeds against the exact mean, in units of its own
        # standard error (reported MCSE / sqrt(seeds)) and of the posterior sd
        z_avg = (means[p].mean(axis=1) - ex) / (rms_mcse / np.sqrt(N_REFIT_SEEDS))
        chi2_p = stats.chi2.sf(np.sum(z_avg**2), len(idx))
        bias_sd = (means[p].mean(axis=1) - ex) / exact_rows[f"{p}_sd"][idx]
        print(
            f"    {p:5s}  sd of means across seeds / RMS reported MCSE: pooled {pooled:.2f} "
            f"(per dataset {np.min(spread / rms_mcse):.1f}-{np.max(spread / rms_mcse):.1f}); "
            f"RMS (mean - exact) / MCSE {np.sqrt(np.mean(z**2)):.2f}"
        )
        print(
            f"           bias of the {N_REFIT_SEEDS}-seed average, in its standard errors: "
            f"{np.array2string(z_avg, precision=1, separator=' ')}; chi2 p={chi2_p:.3g}; "
            f"in posterior sds: mean {bias_sd.mean():+.3f}, "
            f"largest |.| {np.abs(bias_sd).max():.3f}"
        )


def divergence_locations(data, seeds, idx, target_accept, n_main):
    """Where the divergent transitions of datasets ``idx`` start, in (alpha, beta).

    Refits with nutpie directly (same model, seeds and settings as the main fits,
    so the same chains) to read ``divergence_start``, which ``sample_posteriors``
    does not keep.
    """
    import nutpie

    from rlrecover.inference.nutpie_compile import compile_model
    from rlrecover.inference.pymc_models import build_model

    cm = compile_model(build_model(RW, "potential", *data[idx[0]], PRIORS.record, (Q_INIT,)))
    s = settings(target_accept)
    starts, post = [], []
    for i in idx:
        tr = nutpie.sample(
            cm.with_data(actions=data[i][0], rewards=data[i][1]),
            draws=s.draws, tune=s.tune, chains=s.chains, cores=1, seed=int(seeds[i]),
            target_accept=s.target_accept, progress_bar=False, save_warmup=False,
            store_divergences=True,
        )  # fmt: skip
        st = tr.sample_stats
        names = list(st["unconstrained_parameter"].values)
        start = st["divergence_start"].values[st["diverging"].values]
        u = start[:, names.index("alpha_logodds__")]
        v = start[:, names.index("beta_log__")]
        starts.append(np.column_stack([1 / (1 + np.exp(-u)), np.exp(v)]))
        p = tr.posterior
        post.append(np.column_stack([p["alpha"].values.ravel(), p["beta"].values.ravel()]))
    starts, post = np.concatenate(starts), np.concatenate(post)
    corner = lambda x: (x[:, 0] < 0.1) & (x[:, 1] > 5)  # noqa: E731

    def pct(x, digits):
        return np.percentile(x, [10, 50, 90]).round(digits)

    print(
        f"  {len(idx)} datasets that diverged at {target_accept}, {len(starts)} divergent "
        f"transitions (the main fits: {n_main:.0f}); 10/50/90 % points where they start: "
        f"alpha {pct(starts[:, 0], 3)}, "
        f"beta {pct(starts[:, 1], 1)}; of these fits' posterior draws: "
        f"alpha {pct(post[:, 0], 3)}, beta {pct(post[:, 1], 1)}"
    )
    print(
        f"  share with alpha < 0.1 and beta > 5: {corner(starts).mean():.0%} of divergence "
        f"starts, {corner(post).mean():.1%} of posterior draws"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="datasets (default 400)")
    parser.add_argument("--bernoulli", choices=("check", "full"), default="check")
    parser.add_argument(
        "--alt",
        nargs="*",
        choices=sorted(ALTERNATIVES),
        default=["logkappa"],
        help="alternative parameterisations to fit at target_accept 0.8 (default logkappa; "
        "none: --alt with no name)",
    )
    args = parser.parse_args()
    t_start = time.perf_counter()

    truths, data, seeds = make_datasets(args.n)
    print(
        f"{args.n} truths from alpha ~ Beta(1, 1), beta ~ HalfNormal(10) (seed {SEED}); "
        f"{N_TRIALS} trials, reward_probs {REWARD_PROBS}, q_init {Q_INIT}; "
        f"nutpie, 4 chains x (1000 tune + 1000 draws)"
    )
    b = truths[:, 1]
    regions = ", ".join(
        f"[{lo:g}, {hi:g}): {int(((b >= lo) & (b < hi)).sum())}"
        for lo, hi in itertools.pairwise(BETA_EDGES)
    )
    print(f"true beta: median {np.median(b):.2f}; datasets per region {regions}")

    t0 = time.perf_counter()
    ex = [exact_posterior(*d, tuple(tr)) for d, tr in zip(data, truths, strict=True)]
    exact = {k: np.array([e[k] for e in ex]) for k in ex[0]}
    print(
        f"\nexact posteriors by quadrature: {time.perf_counter() - t0:.1f} s; "
        f"SBC of the exact posterior: alpha {_ks(exact['alpha_cdf'])}, "
        f"beta {_ks(exact['beta_cdf'])}"
    )

    tables, fits_by_ta = {}, {}
    for ta in TARGET_ACCEPTS:
        fits = fit_all("potential", data, seeds, ta)
        fits_by_ta[ta] = fits
        tables[ta] = fit_table(fits, truths, exact)
        print(
            f"\n[potential, target_accept {ta}: compile {fits[0].compile_seconds:.1f} s, "
            f"elapsed {time.perf_counter() - t_start:.0f} s]"
        )
        report(f"pm.Potential model, target_accept {ta}", tables[ta], truths)

    print("\n### pm.Bernoulli model")
    for ta in TARGET_ACCEPTS:
        n_check = len(data) if args.bernoulli == "full" else min(N_BERNOULLI_CHECK, len(data))
        idx = range(n_check)
        bfits = fit_all("bernoulli", data, seeds, ta, idx)
        same = all(
            np.array_equal(bf.draws[p], fits_by_ta[ta][i].draws[p])
            and bf.divergences == fits_by_ta[ta][i].divergences
            for i, bf in zip(idx, bfits, strict=True)
            for p in ("alpha", "beta")
        )
        print(
            f"target_accept {ta}: draws and divergences bit-for-bit equal to the Potential "
            f"model's on {len(bfits)} datasets: {same}"
        )
        if not same and args.bernoulli == "check":
            bfits = fit_all("bernoulli", data, seeds, ta)
            idx = range(len(data))
        if args.bernoulli == "full" or not same:
            sub = list(idx)
            table = fit_table(bfits, truths[sub], {k: v[sub] for k, v in exact.items()})
            report(f"pm.Bernoulli model, target_accept {ta}", table, truths[sub])

    div0 = tables[0.8]["div"] > 0
    div_idx = list(np.flatnonzero(div0)[:N_REFIT_DATASETS])
    if div_idx:
        print("\n### Where the divergences start (pm.Potential model, target_accept 0.8)")
        n_main = tables[0.8]["div"][div_idx].sum()
        divergence_locations(data, seeds, div_idx, 0.8, n_main)

    print("\n### Refits with new seeds (pm.Potential model)")
    calm = np.flatnonzero(~div0)
    calm_idx = list(calm[np.argsort(truths[calm, 1])][:N_REFIT_DATASETS])
    for ta in (0.8, 0.95):
        if div_idx:
            label = "datasets that diverged at 0.8"
            refit_spread("potential", data, seeds, div_idx, ta, exact, label)
        label = "reference: smallest true beta among datasets without divergence at 0.8"
        refit_spread("potential", data, seeds, calm_idx, ta, exact, label)

    for name in args.alt:
        alt = fit_alternative(name, data, seeds, 0.8)
        print(
            f"\n[alternative {name}: compile {alt[0].compile_seconds:.1f} s, "
            f"elapsed {time.perf_counter() - t_start:.0f} s]"
        )
        report(
            f"alternative parameterisation {name} ({ALTERNATIVES[name][1]}), target_accept 0.8",
            fit_table(alt, truths, exact),
            truths,
        )

    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
