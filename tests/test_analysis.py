"""Tests of rlrecover.analysis (metrics, coverage, design, trade-off) with known answers.

The hand-computed tables are of ``rw`` (alpha, beta), the one-model tables of the
releases before the model library; tests/test_tradeoff.py and tests/test_headline.py
check the tables for other numbers of parameters.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rlrecover import models
from rlrecover.analysis.common import (
    cells_of,
    estimate_mask,
    flag_reasons,
    grid_values,
    is_missing,
    ok_mask,
    wilson_interval,
)
from rlrecover.analysis.coverage import coverage_table
from rlrecover.analysis.design import (
    default_rmse_targets,
    design_cells_table,
    design_table,
    rmse_targets,
)
from rlrecover.analysis.metrics import diagnostics, grid_map_table, recovery_metrics, runtime_table
from rlrecover.analysis.tradeoff import tradeoff_table
from rlrecover.summary import empty_row, interval_columns, summary_columns

RW = models.get("rw")


def columns(levels):
    """The recovery columns of rw at ``levels``."""
    return summary_columns(RW.param_names, levels)


def row_of(levels, method, truth, replicate, n_trials):
    """An empty rw summary row."""
    return empty_row("rw", levels, method, truth, replicate, n_trials)


LEVELS = (0.5, 0.9)
ALPHAS = (0.2, 0.6)
BETAS = (2.0, 8.0)
N_REP = 10
# number of replicates (0..N_REP-1) whose interval covers the truth, per level
N_COVERED = {0.5: 4, 0.9: 9}


def make_recovery(methods=("mle", "pymc_bernoulli"), seed=1, n_failed=0, trials=(150,)):
    """Synthetic recovery table: estimates = truth + seeded noise, known coverage.

    Replicate ``r`` of every cell covers the truth at level ``L`` iff
    ``r < N_COVERED[L]``. The last ``n_failed`` replicates of the first cell of
    each method (at the first number of trials) are failed fits.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for method in methods:
        for i, a in enumerate(ALPHAS):
            for j, b in enumerate(BETAS):
                for r, n_trials in itertools.product(range(N_REP), trials):
                    row = row_of(LEVELS, method, {"alpha": a, "beta": b}, r, n_trials)
                    if i == 0 and j == 0 and n_trials == trials[0] and r >= N_REP - n_failed:
                        row.update(status="failed", error="boom: sampler crashed", seconds=0.5)
                        rows.append(row)
                        continue
                    row["alpha_est"] = a + rng.normal(0, 0.05)
                    row["beta_est"] = b * math.exp(rng.normal(0, 0.2))
                    for level in LEVELS:
                        for p, t in (("alpha", a), ("beta", b)):
                            lo, hi = interval_columns(p, level)
                            if r < N_COVERED[level]:
                                # alternate strict and boundary-touching intervals
                                row[lo], row[hi] = (t - 0.1, t + 0.1) if r % 2 else (t, t + 1)
                            else:
                                row[lo], row[hi] = t + 0.5, t + 1.0
                    row["seconds"] = 1.0 + r
                    if method == "mle":
                        row.update(nll=90.0, converged=True, at_bound=False)
                    else:
                        row.update(rhat_max=1.001, ess_bulk_min=1500.0, ess_tail_min=1200.0)
                        row["divergences"] = 0.0
                    rows.append(row)
    return pd.DataFrame(rows, columns=columns(LEVELS))


def test_bias_rmse_hand_computed():
    rows = []
    for r, err in enumerate([0.1, -0.2, 0.4]):
        row = row_of(LEVELS, "mle", {"alpha": 0.5, "beta": 5.0}, r, 100)
        row.update(alpha_est=0.5 + err, beta_est=5.0 - 2 * err)
        rows.append(row)
    rec = pd.DataFrame(rows, columns=columns(LEVELS))
    m = recovery_metrics(rec, RW)
    a = m[(m.parameter == "alpha") & (m.cell == "all")].iloc[0]
    assert a.n == 3
    assert a.bias == pytest.approx(0.1)
    assert a.rmse == pytest.approx(math.sqrt((0.01 + 0.04 + 0.16) / 3))
    b = m[(m.parameter == "beta") & (m.cell == "all")].iloc[0]
    assert b.bias == pytest.approx(-0.2)
    assert b.rmse == pytest.approx(2 * math.sqrt(0.07))


def test_metrics_layout_and_correlations():
    rec = make_recovery()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = recovery_metrics(rec, RW)
    # n_trials joined the grouping keys and the log-scale columns came at the end
    assert list(m.columns) == [
        "method", "parameter", "n_trials", "cell", "alpha_true", "beta_true",
        "n", "bias", "rmse", "pearson_r", "spearman_r", "log_bias", "ratio", "log_rmse",
    ]  # fmt: skip
    assert m.n_trials.dtype == np.int64 and (m.n_trials == 150).all()
    n_cells = len(ALPHAS) * len(BETAS)
    assert len(m) == 2 * 2 * (1 + n_cells)
    assert list(m.method.unique()) == ["mle", "pymc_bernoulli"]
    pooled = m[m.cell == "all"]
    assert pooled.alpha_true.isna().all() and pooled.beta_true.isna().all()
    for method in ("mle", "pymc_bernoulli"):
        sub = rec[rec.method == method]
        for p in ("alpha", "beta"):
            row = pooled[(pooled.method == method) & (pooled.parameter == p)].iloc[0]
            err = sub[f"{p}_est"] - sub[f"{p}_true"]
            assert row.n == N_REP * n_cells
            assert row.bias == pytest.approx(err.mean())
            assert row.rmse == pytest.approx(math.sqrt((err**2).mean()))
            assert row.pearson_r == pytest.approx(
                stats.pearsonr(sub[f"{p}_true"], sub[f"{p}_est"]).statistic
            )
            assert row.spearman_r == pytest.approx(
                stats.spearmanr(sub[f"{p}_true"], sub[f"{p}_est"]).statistic
            )
    per_cell = m[m.cell != "all"]
    assert per_cell.pearson_r.isna().all()
    assert per_cell.spearman_r.isna().all()
    assert (per_cell.n == N_REP).all()
    one = per_cell[(per_cell.cell == "alpha~0.6/beta~2") & (per_cell.method == "mle")]
    assert one.alpha_true.tolist() == [0.6, 0.6] and one.beta_true.tolist() == [2.0, 2.0]


def test_failed_rows_excluded_from_metrics_and_coverage():
    rec = make_recovery(n_failed=3)
    m = recovery_metrics(rec, RW)
    first = m[(m.cell == "alpha~0.2/beta~2") & (m.parameter == "alpha")]
    assert (first.n == N_REP - 3).all()
    assert (m[m.cell == "all"].n == 4 * N_REP - 3).all()
    c = coverage_table(rec, RW, LEVELS)
    sel = c[(c.cell == "alpha~0.2/beta~2") & (c.level == 0.9)]
    # replicates 7, 8, 9 failed; of 0..6 all are covered at 0.9
    assert (sel.n == 7).all() and (sel.covered == 7).all()


def test_all_failed_method_gives_empty_rows():
    rec = make_recovery(methods=("mle",))
    dead = rec.copy()
    dead["method"] = "pymc_potential"
    dead["status"] = "failed"
    dead["alpha_est"] = np.nan
    dead["beta_est"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = recovery_metrics(pd.concat([dead, rec], ignore_index=True), RW)
    assert list(m.method.unique()) == ["mle", "pymc_potential"]
    dm = m[m.method == "pymc_potential"]
    assert (dm.n == 0).all() and dm.bias.isna().all() and dm.rmse.isna().all()


@pytest.mark.parametrize(
    "value", [None, pd.NA, math.nan, np.nan, np.float32("nan"), np.float64("nan")]
)
def test_is_missing_true(value):
    assert is_missing(value)


@pytest.mark.parametrize(
    "value", [0, 0.0, math.inf, -math.inf, "", "nan", "x", False, np.int64(3), (1, 2)]
)
def test_is_missing_false(value):
    assert not is_missing(value)


def test_wilson_matches_reference():
    lo, hi = wilson_interval(7, 20)
    assert lo == pytest.approx(0.1811918241010821, rel=1e-9)
    assert hi == pytest.approx(0.5671457233147637, rel=1e-9)
    for k, n in [(0, 10), (3, 10), (10, 10), (45, 50), (1, 1)]:
        ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        got = wilson_interval(k, n)
        assert got == pytest.approx((ref.low, ref.high), rel=1e-9, abs=1e-12)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(5, 3)


def test_wilson_hand_computed():
    # 9 successes in 10 trials, 95%: z = 1.959963984540054, p = 0.9, z^2/n = 0.384146,
    # centre = (0.9 + 0.192073) / 1.384146 = 0.788987,
    # half = z * sqrt(0.009 + 0.009604) / 1.384146 = 0.193137,
    # evaluated in 40-digit decimal arithmetic with z from statistics.NormalDist.
    lo, hi = wilson_interval(9, 10)
    assert lo == pytest.approx(0.5958499732047616, rel=1e-12)
    assert hi == pytest.approx(0.9821237869049271, rel=1e-12)
    # 99%: z = 2.5758293035489, centre = 0.740458, half = 0.247690
    lo99, hi99 = wilson_interval(9, 10, confidence=0.99)
    assert lo99 == pytest.approx(0.4927682287671065, rel=1e-12)
    assert hi99 == pytest.approx(0.9881484965889671, rel=1e-12)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError):
            wilson_interval(9, 10, confidence=bad)


def test_coverage_counts_exact():
    rec = make_recovery()
    c = coverage_table(rec, RW, LEVELS)
    assert list(c.columns) == [
        "method", "parameter", "cell", "alpha_true", "beta_true", "level",
        "n", "covered", "coverage", "ci_low", "ci_high", "n_fits", "n_excluded", "excluded",
    ]  # fmt: skip
    n_cells = len(ALPHAS) * len(BETAS)
    assert len(c) == 2 * 2 * len(LEVELS) * (1 + n_cells)
    assert (c.n_excluded == 0).all() and (c.excluded == "").all() and (c.n_fits == c.n).all()
    for level in LEVELS:
        pooled = c[(c.cell == "all") & (c.level == level)]
        assert (pooled.n == N_REP * n_cells).all()
        assert (pooled.covered == N_COVERED[level] * n_cells).all()
        assert pooled.coverage.to_numpy() == pytest.approx(N_COVERED[level] / N_REP)
        lo, hi = wilson_interval(N_COVERED[level] * n_cells, N_REP * n_cells)
        assert pooled.ci_low.to_numpy() == pytest.approx(lo)
        assert pooled.ci_high.to_numpy() == pytest.approx(hi)
        cells = c[(c.cell != "all") & (c.level == level)]
        assert (cells.covered == N_COVERED[level]).all() and (cells.n == N_REP).all()


def test_coverage_missing_intervals_and_columns():
    rec = make_recovery()
    lo, hi = interval_columns("beta", 0.5)
    rec.loc[rec.method == "mle", [lo, hi]] = np.nan
    c = coverage_table(rec, RW, LEVELS)
    sel = c[(c.method == "mle") & (c.parameter == "beta") & (c.level == 0.5)]
    assert (sel.n == 0).all() and sel.coverage.isna().all() and sel.ci_low.isna().all()
    assert (sel.n_excluded == sel.n_fits).all() and (sel.n_fits > 0).all()
    assert (sel.excluded == sel.n_fits.map(lambda k: f"no finite interval {k}")).all()
    with pytest.raises(KeyError, match="alpha_lower_80"):
        coverage_table(rec, RW, [0.8])


def test_diagnostics_flags(tmp_path):
    rec = make_recovery(n_failed=2)
    mle = rec.index[rec.method == "mle"]
    pm = rec.index[(rec.method == "pymc_bernoulli") & (rec.status == "ok")]
    rec.loc[mle[0], "at_bound"] = True
    rec.loc[mle[1], "converged"] = False
    rec.loc[pm[0], "rhat_max"] = 1.05
    rec.loc[pm[1], "ess_bulk_min"] = 120.0
    rec.loc[pm[2], "divergences"] = 3.0
    rec.loc[pm[3], ["rhat_max", "divergences"]] = [1.02, 1.0]
    # round trip through TSV, as the workflow does: booleans come back as text/objects
    path = tmp_path / "recovery.tsv"
    rec.to_csv(path, sep="\t", index=False)
    back = pd.read_csv(path, sep="\t")
    for table in (rec, back):
        d = diagnostics(table, RW)
        assert {"method", "cell", "replicate", "reason"} <= set(d.columns)
        assert len(d) == 2 + 4 + 2 * 2
        failed = d[d.status == "failed"]
        assert len(failed) == 4
        assert failed.reason.str.contains("boom: sampler crashed").all()
        reasons = " | ".join(d.reason)
        for text in ("at a bound", "did not converge", "R-hat", "bulk ESS", "divergence"):
            assert text in reasons
        both = d[d.reason.str.contains("R-hat 1.02")]
        assert len(both) == 1 and "1 divergence" in both.reason.iloc[0]
        assert list(d.method.unique()) == ["mle", "pymc_bernoulli"]
    assert diagnostics(make_recovery(), RW).empty
    assert len(diagnostics(rec, RW, rhat_max=1.1, ess_min=100)) == 2 + 4 + 2


def test_runtime_table():
    rec = make_recovery(n_failed=1)
    rt = runtime_table(rec)
    assert rt.method.tolist() == ["mle", "pymc_bernoulli"]
    row = rt.iloc[0]
    secs = rec.loc[rec.method == "mle", "seconds"]
    assert row.n_fits == 4 * N_REP and row.n_ok == 4 * N_REP - 1 and row.n_failed == 1
    assert row.total_seconds == pytest.approx(secs.sum())
    assert row.mean_seconds == pytest.approx(secs.mean())
    assert row.median_seconds == pytest.approx(secs.median())
    assert row.max_seconds == pytest.approx(secs.max())


def test_log_metrics_hand_computed():
    rows = []
    for r, factor in enumerate([2.0, 0.5, 1.0, 4.0]):
        row = row_of(LEVELS, "pymc_potential", {"alpha": 0.5, "beta": 3.0}, r, 100)
        row.update(alpha_est=0.5, beta_est=3.0 * factor)
        rows.append(row)
    m = recovery_metrics(pd.DataFrame(rows, columns=columns(LEVELS)), RW)
    b = m[(m.parameter == "beta") & (m.cell == "all")].iloc[0]
    # log(est/true) = ln2 * [1, -1, 0, 2]
    ln2 = math.log(2.0)
    assert b.log_bias == pytest.approx(ln2 * 2 / 4)
    assert b.ratio == pytest.approx(2.0**0.5)
    assert b.log_rmse == pytest.approx(ln2 * math.sqrt(6 / 4))
    a = m[m.parameter == "alpha"]
    assert a.log_bias.isna().all() and a.ratio.isna().all() and a.log_rmse.isna().all()


def test_log_metrics_nan_for_non_positive_estimate():
    rows = []
    for r, est in enumerate([0.0, 2.0, 4.0]):
        row = row_of(LEVELS, "mle", {"alpha": 0.5, "beta": 2.0}, r, 100)
        row.update(alpha_est=0.5, beta_est=est)
        rows.append(row)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = recovery_metrics(pd.DataFrame(rows, columns=columns(LEVELS)), RW)
    b = m[(m.parameter == "beta") & (m.cell == "all")].iloc[0]
    assert b.n == 3 and b.bias == pytest.approx(0.0)
    assert math.isnan(b.log_bias) and math.isnan(b.log_rmse)


def test_metrics_per_n_trials():
    rec = make_recovery(trials=(50, 400), n_failed=2)
    m = recovery_metrics(rec, RW)
    n_cells = len(ALPHAS) * len(BETAS)
    assert len(m) == 2 * 2 * 2 * (1 + n_cells)
    assert m.n_trials.dtype == np.int64
    # grouping order: method, parameter, n_trials ascending, pooled row first
    first = m[(m.method == "mle") & (m.parameter == "alpha")]
    assert first.n_trials.tolist() == [50] * (1 + n_cells) + [400] * (1 + n_cells)
    assert first.cell.iloc[0] == "all" and first.cell.iloc[1 + n_cells] == "all"
    for n_trials, n_ok in ((50, 4 * N_REP - 2), (400, 4 * N_REP)):
        sub = rec[(rec.method == "pymc_bernoulli") & (rec.n_trials == n_trials)]
        sub = sub[sub.status == "ok"]
        row = m[
            (m.method == "pymc_bernoulli")
            & (m.parameter == "beta")
            & (m.n_trials == n_trials)
            & (m.cell == "all")
        ].iloc[0]
        assert row.n == n_ok
        err = sub.beta_est - sub.beta_true
        log_err = np.log(sub.beta_est / sub.beta_true)
        assert row.bias == pytest.approx(err.mean())
        assert row.rmse == pytest.approx(math.sqrt((err**2).mean()))
        assert row.log_bias == pytest.approx(log_err.mean())
        assert row.log_rmse == pytest.approx(math.sqrt((log_err**2).mean()))
        assert row.pearson_r == pytest.approx(
            stats.pearsonr(sub.beta_true, sub.beta_est).statistic
        )
    cell = m[(m.method == "mle") & (m.parameter == "alpha") & (m.cell == "alpha~0.2/beta~2")]
    assert cell.n.tolist() == [N_REP - 2, N_REP]


def test_metrics_without_n_trials_column():
    rec = make_recovery().drop(columns="n_trials")
    m = recovery_metrics(rec, RW)
    assert m.n_trials.isna().all()
    assert len(m) == 2 * 2 * (1 + len(ALPHAS) * len(BETAS))
    d = diagnostics(make_recovery(n_failed=1).drop(columns="n_trials"), RW)
    assert len(d) == 2 and d.n_trials.isna().all()


def test_diagnostics_name_the_number_of_trials():
    rec = make_recovery(trials=(50, 400), n_failed=1)
    d = diagnostics(rec, RW)
    assert d.n_trials.tolist() == [50, 50] and d.n_trials.dtype == np.int64
    reasons = flag_reasons(rec, RW)
    assert len(reasons) == len(rec) and sum(bool(r) for r in reasons) == 2


# ------------------------------------------------------------- maps, trade-offs, design

C1, C2 = (0.2, 2.0), (0.6, 8.0)
# (alpha errors, beta factors est/true) of replicates 0..3
BAD = ([0.2, -0.2, 0.1, -0.1], [0.5, 2.0, 2**-0.5, 2**0.5])  # log beta linear in alpha
GOOD = ([0.05, -0.05, 0.05, -0.05], [1.1, 0.9, 1.1, 0.9])
WORSE = ([0.3, -0.3, 0.3, -0.3], [1.1, 0.9, 1.1, 0.9])
PLAN = {
    ("mle", 50): {C1: BAD, C2: BAD},
    ("mle", 400): {C1: GOOD, C2: GOOD},
    ("pymc_potential", 50): {C1: GOOD, C2: GOOD},
    ("pymc_potential", 400): {C1: GOOD, C2: WORSE},
}


def make_plan_table(post_corr=True):
    """Two methods, two cells, two lengths, 4 replicates, hand-chosen estimates.

    Replicates 0-2 have a 90% interval holding the truth, replicate 3 one missing it;
    the MLE at 400 trials in C2 reports no interval for replicate 0. Flagged: MLE at 50
    trials in C1 (replicate 0 at a bound, a fifth replicate failed) and PyMC at 400
    trials in C2 (replicate 1 with divergences).
    """
    rows = []
    for (method, n_trials), cells in PLAN.items():
        for (a, b), (errs, factors) in cells.items():
            for r in range(4):
                row = row_of(LEVELS, method, {"alpha": a, "beta": b}, r, n_trials)
                row.update(alpha_est=a + errs[r], beta_est=b * factors[r])
                for p, t in (("alpha", a), ("beta", b)):
                    lo, hi = interval_columns(p, 0.9)
                    row[lo], row[hi] = (t - 0.01, t + 0.01) if r < 3 else (t + 1, t + 2)
                if method == "mle":
                    row.update(converged=True, at_bound=False)
                    if n_trials == 400 and (a, b) == C2 and r == 0:
                        row.update({c: math.nan for c in interval_columns("alpha", 0.9)})
                        row.update({c: math.nan for c in interval_columns("beta", 0.9)})
                    if n_trials == 50 and (a, b) == C1 and r == 0:
                        row["at_bound"] = True
                else:
                    row.update(rhat_max=1.0, ess_bulk_min=1000.0, divergences=0.0)
                    row["corr_alpha_beta"] = (
                        [0.2, 0.4, math.nan, 0.6][r] if post_corr else math.nan
                    )
                    if n_trials == 400 and (a, b) == C2 and r == 1:
                        row["divergences"] = 2.0
                rows.append(row)
            if method == "mle" and n_trials == 50 and (a, b) == C1:
                row = row_of(LEVELS, method, {"alpha": a, "beta": b}, 4, n_trials)
                row.update(status="failed", error="boom")
                rows.append(row)
    return pd.DataFrame(rows, columns=columns(LEVELS))


def _rms(x):
    return math.sqrt(sum(v * v for v in x) / len(x))


def test_grid_map_table_hand_computed():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = grid_map_table(make_plan_table(), RW)
    assert list(g.columns) == [
        "method", "parameter", "n_trials", "cell", "alpha_true", "beta_true", "n",
        "bias", "rmse", "log_bias", "log_rmse", "rel_rmse", "coverage90",
        "n_interval", "n_fits", "n_flagged", "flagged_share",
    ]  # fmt: skip
    assert len(g) == 2 * 2 * 2 * 2
    assert g.n_trials.tolist()[:4] == [50, 50, 400, 400]
    row = g.set_index(["method", "parameter", "n_trials", "cell"])
    a = row.loc[("mle", "alpha", 50, "alpha~0.2/beta~2")]
    assert a.n == 4 and a.n_fits == 5 and a.n_flagged == 2 and a.flagged_share == 0.4
    assert a.bias == pytest.approx(0.0, abs=1e-12)
    assert a.rmse == pytest.approx(_rms(BAD[0]))
    assert math.isnan(a.log_rmse) and math.isnan(a.log_bias)
    assert a.coverage90 == 0.75 and a.n_interval == 4
    b = row.loc[("mle", "beta", 50, "alpha~0.6/beta~8")]
    ln2 = math.log(2)
    assert b.log_bias == pytest.approx(0.0, abs=1e-12)
    assert b.log_rmse == pytest.approx(ln2 * _rms([1, -1, 0.5, -0.5]))
    assert b.rel_rmse == pytest.approx(_rms([f - 1 for f in BAD[1]]))
    assert b.rmse == pytest.approx(8 * _rms([f - 1 for f in BAD[1]]))
    assert b.n_flagged == 0 and b.flagged_share == 0.0
    c = row.loc[("mle", "beta", 400, "alpha~0.6/beta~8")]
    assert c.n_interval == 3 and c.coverage90 == pytest.approx(2 / 3)
    d = row.loc[("pymc_potential", "alpha", 400, "alpha~0.6/beta~8")]
    assert d.flagged_share == 0.25 and d.rmse == pytest.approx(0.3)


def test_grid_map_table_without_intervals_or_n_trials():
    rec = make_plan_table().drop(columns=[*interval_columns("alpha", 0.9)])
    g = grid_map_table(rec, RW)
    assert g[g.parameter == "alpha"].coverage90.isna().all()
    assert (g[g.parameter == "alpha"].n_interval == 0).all()
    assert g[g.parameter == "beta"].coverage90.notna().all()
    assert "coverage50" in grid_map_table(rec, RW, level=0.5).columns
    g1 = grid_map_table(make_recovery().drop(columns="n_trials"), RW)
    assert g1.n_trials.isna().all() and (g1.n == N_REP).all()


def test_tradeoff_table_hand_computed():
    t = tradeoff_table(make_plan_table(), RW)
    assert list(t.columns) == [
        "method", "n_trials", "cell", "alpha_true", "beta_true", "param_1", "param_2", "n",
        "est_corr", "est_spearman", "n_post_corr", "post_corr_mean",
    ]  # fmt: skip
    assert len(t) == 2 * 2 * 2
    assert (t.param_1 == "alpha").all() and (t.param_2 == "beta").all()
    row = t.set_index(["method", "n_trials", "cell"])
    # BAD: log(beta_est) = log(2) - log(2) * err / 0.2, a falling line in alpha_est
    bad = row.loc[("mle", 50, "alpha~0.2/beta~2")]
    assert bad.n == 4 and bad.est_corr == pytest.approx(-1.0) and bad.est_spearman == -1.0
    # GOOD: alpha high <-> beta high, two values each
    good = row.loc[("mle", 400, "alpha~0.2/beta~2")]
    assert good.est_corr == pytest.approx(1.0)
    assert row.loc[("mle", 400, "alpha~0.2/beta~2")].n_post_corr == 0
    assert math.isnan(row.loc[("mle", 400, "alpha~0.2/beta~2")].post_corr_mean)
    pm = row.loc[("pymc_potential", 50, "alpha~0.6/beta~8")]
    assert pm.n_post_corr == 3 and pm.post_corr_mean == pytest.approx(0.4)
    t2 = tradeoff_table(make_plan_table(post_corr=False), RW)
    assert t2.post_corr_mean.isna().all() and (t2.n_post_corr == 0).all()
    assert t2.est_corr.tolist() == pytest.approx(t.est_corr.tolist())


def test_design_table_hand_computed():
    rec = make_plan_table()
    d = design_table(rec, RW, min_corr=0.8)
    assert list(d.columns) == [
        "method", "parameter", "n_trials", "n", "rmse", "rel_rmse", "log_rmse", "truth_corr",
        "corr_scale", "coverage90", "flagged_share", "target_kind", "target",
        "target_error", "meets_target", "min_trials_for_target", "min_corr",
        "meets_corr", "min_trials_for_corr",
    ]  # fmt: skip
    assert len(d) == 2 * 2 * 2
    row = d.set_index(["method", "parameter", "n_trials"])
    a50 = row.loc[("mle", "alpha", 50)]
    assert a50.n == 8 and a50.rmse == pytest.approx(_rms(BAD[0]))
    assert a50.target_kind == "absolute" and a50.target == 0.1
    assert a50.target_error == a50.rmse and not a50.meets_target
    assert a50.flagged_share == pytest.approx(2 / 9)
    assert a50.coverage90 == 0.75 and a50.corr_scale == "linear"
    ok = rec[(rec.method == "mle") & (rec.n_trials == 50) & (rec.status == "ok")]
    assert a50.truth_corr == pytest.approx(np.corrcoef(ok.alpha_true, ok.alpha_est)[0, 1])
    b50 = row.loc[("mle", "beta", 50)]
    assert b50.corr_scale == "log" and b50.target_kind == "relative"
    assert b50.truth_corr == pytest.approx(
        np.corrcoef(np.log(ok.beta_true), np.log(ok.beta_est))[0, 1]
    )
    assert b50.target_error == pytest.approx(_rms([f - 1 for f in BAD[1]]))
    assert b50.log_rmse == pytest.approx(math.log(2) * _rms([1, -1, 0.5, -0.5]))
    # C1: 3 of 4 intervals cover; C2: replicate 0 has none, 2 of the other 3 cover
    assert row.loc[("mle", "alpha", 400)].coverage90 == pytest.approx(5 / 7)
    # targets: MLE reaches both at 400 trials
    for p in ("alpha", "beta"):
        assert row.loc[("mle", p, 400)].meets_target
        assert row.loc[("mle", p, 50)].min_trials_for_target == 400
    # PyMC alpha meets at 50 but not at 400 (C2 gets worse): no length is enough
    pa = d[(d.method == "pymc_potential") & (d.parameter == "alpha")]
    assert pa.meets_target.tolist() == [True, False]
    assert pa.min_trials_for_target.isna().all()
    assert d.min_trials_for_target.dtype == "Int64"
    pb = d[(d.method == "pymc_potential") & (d.parameter == "beta")]
    assert (pb.min_trials_for_target == 50).all()
    assert row.loc[("pymc_potential", "alpha", 400)].flagged_share == pytest.approx(1 / 8)
    # correlation criterion, with min_corr between the two lengths' values
    corr = d[(d.method == "mle") & (d.parameter == "alpha")].truth_corr.tolist()
    assert corr[0] < corr[1]
    mid = design_table(rec, RW, min_corr=(corr[0] + corr[1]) / 2)
    sel = mid[(mid.method == "mle") & (mid.parameter == "alpha")]
    assert sel.meets_corr.tolist() == [False, True] and (sel.min_trials_for_corr == 400).all()
    low = design_table(rec, RW, min_corr=-1.0)
    assert (low.min_trials_for_corr == 50).all()
    high = design_table(rec, RW, min_corr=1.01)
    assert high.min_trials_for_corr.isna().all()


def test_design_table_targets_validated_and_optional():
    rec = make_plan_table()
    d = design_table(rec, RW, {"beta": ("absolute", 1.0)})
    a = d[d.parameter == "alpha"]
    assert (a.target_kind == "").all() and a.target.isna().all()
    assert not a.meets_target.any() and a.min_trials_for_target.isna().all()
    b = d[d.parameter == "beta"]
    assert (b.target_error == b.rmse).all()
    with pytest.raises(ValueError, match="gamma"):
        design_table(rec, RW, {"gamma": ("absolute", 1.0)})
    with pytest.raises(ValueError, match="kind"):
        design_table(rec, RW, {"alpha": ("percent", 1.0)})


def test_design_cells_table_hand_computed():
    c = design_cells_table(make_plan_table(), RW)
    assert list(c.columns) == [
        "method", "parameter", "cell", "alpha_true", "beta_true", "target_kind",
        "target", "n_trials_max", "rmse_at_max", "min_trials",
    ]  # fmt: skip
    row = c.set_index(["method", "parameter", "cell"])
    assert row.loc[("mle", "alpha", "alpha~0.2/beta~2")].min_trials == 400
    b = row.loc[("mle", "beta", "alpha~0.6/beta~8")]
    assert b.target == pytest.approx(2.0)  # 25% of the true beta 8
    assert b.rmse_at_max == pytest.approx(8 * 0.1) and b.min_trials == 400
    assert row.loc[("pymc_potential", "alpha", "alpha~0.2/beta~2")].min_trials == 50
    worse = row.loc[("pymc_potential", "alpha", "alpha~0.6/beta~8")]
    assert pd.isna(worse.min_trials) and worse.rmse_at_max == pytest.approx(0.3)
    assert worse.n_trials_max == 400
    only_beta = design_cells_table(make_plan_table(), RW, {"beta": ("relative", 0.05)})
    assert set(only_beta.parameter) == {"beta"} and only_beta.min_trials.isna().all()


def two_trial_mle_table() -> pd.DataFrame:
    """Maximum-likelihood rows as the two-trial fits of issue 9 wrote them.

    Seeded noise decides which replicate is which; the values are those of the real
    fits (``rlrecover.fitting`` on two-trial data, see tests/test_fitting.py): a flat
    optimum with a Hessian that is not positive definite (NaN SE and intervals), or
    beta ~ 30-300 with an SE of 1e2-1e31 and intervals like [0, 1] and [1e-166,
    1e169] or [0, inf].
    """
    rng = np.random.default_rng(20261126)
    rows = []
    for cell_beta in (3.0, 8.0):
        for r in range(6):
            row = row_of(LEVELS, "mle", {"alpha": 0.4, "beta": cell_beta}, r, 2)
            row.update(nll=1.386, converged=True, at_bound=False, seconds=0.01)
            if rng.random() < 0.5:
                row.update(alpha_est=0.001422, beta_est=0.014872, status="unusable_se")
                row["error"] = "Hessian not positive definite"
            else:
                beta = float(rng.uniform(30, 300))
                row.update(alpha_est=0.9, beta_est=beta, alpha_cdf_true=0.5, beta_cdf_true=0.5)
                for level in LEVELS:
                    for p, (lo, hi) in (("alpha", (0.0, 1.0)), ("beta", (1e-166, 1e169))):
                        row.update(dict(zip(interval_columns(p, level), (lo, hi), strict=True)))
                row["beta_upper_90"] = math.inf
                row["status"] = "unusable_se"
                row["error"] = (
                    "SE of logit(alpha) 157 > 24, the width of its search box [-12, 12]; "
                    "SE of log(beta) 234 > 13.8, the width of its search box [-6.91, 6.91]"
                )
            rows.append(row)
    return pd.DataFrame(rows, columns=columns(LEVELS))


def test_unusable_se_fits_keep_their_estimates_but_not_their_intervals():
    rec = pd.concat([make_recovery(methods=("mle",)), two_trial_mle_table()], ignore_index=True)
    unusable = (rec.status == "unusable_se").to_numpy()
    assert not ok_mask(rec)[unusable].any() and estimate_mask(rec)[unusable].all()
    m = recovery_metrics(rec, RW)
    two = m[(m.n_trials == 2) & (m.cell == "all")]
    assert list(two.n) == [12, 12]  # estimates are finite: they count in bias and RMSE
    c = coverage_table(rec[rec.n_trials == 2], RW, LEVELS)
    assert (c.n == 0).all() and c.coverage.isna().all()
    pooled = c[c.cell == "all"]
    assert (pooled.n_fits == 12).all() and (pooled.n_excluded == 12).all()
    assert (pooled.excluded == "unusable_se 12").all()
    # mixed with usable fits: those are counted, the others left out and said why
    both = coverage_table(rec, RW, LEVELS)
    row = both[(both.cell == "all") & (both.parameter == "alpha") & (both.level == 0.9)]
    n_cells = len(ALPHAS) * len(BETAS)
    assert row.n.item() == N_REP * n_cells and row.n_excluded.item() == 12
    assert row.n_fits.item() == N_REP * n_cells + 12
    g = grid_map_table(rec, RW)
    g2 = g[(g.n_trials == 2) & (g.alpha_true == 0.4)]
    assert (g2.n == 6).all() and (g2.n_interval == 0).all() and g2.coverage90.isna().all()
    assert (g2.n_flagged == 6).all()
    t = tradeoff_table(rec, RW)
    t2 = t[(t.n_trials == 2) & (t.alpha_true == 0.4)]
    assert (t2.n == 6).all() and (t2.n_post_corr == 0).all()


def test_unusable_se_fits_are_diagnosed_with_their_reason():
    rec = two_trial_mle_table()
    reasons = flag_reasons(rec, RW)
    assert all(r.startswith("unusable_se: ") for r in reasons)
    assert any("Hessian not positive definite" in r for r in reasons)
    assert any("SE of log(beta) 234 > 13.8" in r for r in reasons)
    d = diagnostics(rec, RW)
    assert len(d) == 12 and (d.status == "unusable_se").all()
    rt = runtime_table(rec)
    assert (rt.n_ok.item(), rt.n_unusable.item(), rt.n_failed.item()) == (0, 12, 0)
    rec.loc[0, ["status", "error", "alpha_est"]] = [
        "nonfinite",
        "estimate of alpha not finite",
        np.nan,
    ]
    assert flag_reasons(rec, RW)[0] == "nonfinite: estimate of alpha not finite"
    assert recovery_metrics(rec, RW).query("cell == 'all' and parameter == 'beta'").n.item() == 11


# ------------------------------------------------------------- any model, any design


def test_rmse_targets_from_a_model_section():
    rwck = models.get("rwck")
    section = {"alpha": 0.05, "beta": 0.3, "beta_c": 0.5}
    targets = rmse_targets(rwck, section)
    assert targets == {
        "alpha": ("absolute", 0.05),
        "beta": ("relative", 0.3),
        "beta_c": ("relative", 0.5),
    }
    assert list(targets) == ["alpha", "beta", "beta_c"]  # the model's order
    assert default_rmse_targets(RW) == {"alpha": ("absolute", 0.1), "beta": ("relative", 0.25)}
    with pytest.raises(ValueError, match="gamma"):
        rmse_targets(rwck, {"gamma": 0.1})
    with pytest.raises(ValueError, match="positive"):
        rmse_targets(rwck, {"alpha": 0.0})
    # a parameter without a target gets none
    rec = make_plan_table()
    d = design_table(rec, RW, rmse_targets(RW, {"alpha": 0.1}))
    assert (d[d.parameter == "beta"].target_kind == "").all()


def test_tables_of_a_three_parameter_model_on_space_filling_truths():
    from synthetic import make_recovery as make_any

    rw2 = models.get("rw2")
    rec = make_any(rw2, "sobol", methods=("mle", "pymc_potential"), trials=(50,), n_rep=3)
    truths = [f"{p}_true" for p in rw2.param_names]
    assert grid_values(rec, rw2) is None
    m = recovery_metrics(rec, rw2)
    assert list(m.columns[4:7]) == truths
    cells = cells_of(rec, rw2)
    assert len(cells) == 12
    assert [v for _, v in cells] == sorted(v for _, v in cells)  # by truths, in order
    per_cell = m[(m.cell != "all") & (m.method == "mle") & (m.parameter == "beta")]
    assert per_cell.cell.tolist() == [c for c, _ in cells]
    one = rec[(rec.method == "mle") & (rec.cell == cells[0][0]) & (rec.status != "failed")]
    first = per_cell.iloc[0]
    assert first.n == len(one)
    assert first.rmse == pytest.approx(np.sqrt(((one.beta_est - one.beta_true) ** 2).mean()))
    assert first.log_rmse == pytest.approx(
        np.sqrt((np.log(one.beta_est / one.beta_true) ** 2).mean())
    )
    assert m[m.parameter == "alpha_neg"].log_rmse.isna().all()  # a unit parameter
    d = diagnostics(rec, rw2)
    assert list(d.columns[2:5]) == truths
    assert [c for c in d.columns if c.endswith("_est")] == [f"{p}_est" for p in rw2.param_names]
    # the builder's flagged fits: per method one failed, MLE two unusable SE and one at
    # a bound, PyMC one with divergences
    assert len(d) == 2 + 3 + 1
    g = grid_map_table(rec, rw2)
    assert len(g) == 2 * 3 * 12 and list(g.columns[4:7]) == truths
    c = coverage_table(rec, rw2, (0.9,))
    assert len(c) == 2 * 3 * 13
    cells_table = design_cells_table(rec, rw2)
    assert len(cells_table) == 2 * 3 * 12


def test_one_parameter_model_tables():
    from synthetic import make_recovery as make_any

    bias = models.get("bias")
    rec = make_any(bias, "grid", methods=("pymc_bernoulli",), trials=(50, 200), n_rep=3)
    m = recovery_metrics(rec, bias)
    assert list(m.columns[:5]) == ["method", "parameter", "n_trials", "cell", "b_true"]
    assert len(m) == 2 * (1 + 2)  # two lengths: pooled row and two cells
    d = design_table(rec, bias)
    assert d.target_kind.tolist() == ["absolute", "absolute"] and d.corr_scale.eq("linear").all()
    assert grid_values(rec, bias) == [[0.2, 0.6]]
