"""Tests of rlrecover.analysis.tradeoff on tables whose answers are known by construction."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from synthetic import make_recovery

from rlrecover import models
from rlrecover.analysis.common import cells_of, grid_values
from rlrecover.analysis.tradeoff import (
    CORRELATION_COLUMNS,
    DEPENDENCE_COLUMNS,
    correlation_table,
    error_dependence_table,
    tradeoff_table,
)
from rlrecover.summary import empty_row, summary_columns

RW2 = models.get("rw2")  # alpha_pos, alpha_neg (unit), beta (positive)
RWCK = models.get("rwck")
BIAS = models.get("bias")
LEVELS = (0.9,)


def table(model, rows):
    return pd.DataFrame(rows, columns=summary_columns(model.param_names, LEVELS))


def rw2_row(method, truth, rep, n_trials, est, status="ok", **extra):
    row = empty_row("rw2", LEVELS, method, truth, rep, n_trials)
    row.update({f"{p}_est": v for p, v in est.items()}, status=status, **extra)
    return row


# one cell of rw2, four replicates: alpha_neg's error mirrors alpha_pos's, log beta's
# error is twice alpha_pos's, so the pairs correlate exactly -1, +1 and -1
CELL = {"alpha_pos": 0.3, "alpha_neg": 0.6, "beta": 4.0}
ERRS = [0.1, -0.05, 0.02, -0.08]


def mirrored(method="pymc_potential", n_trials=100, cell=CELL, errs=ERRS, start=0):
    rows = []
    for r, e in enumerate(errs):
        est = {
            "alpha_pos": cell["alpha_pos"] + e,
            "alpha_neg": cell["alpha_neg"] - e,
            "beta": cell["beta"] * math.exp(2 * e),
        }
        corr = {"corr_alpha_pos_alpha_neg": -0.3, "corr_alpha_pos_beta": 0.1 * r}
        rows.append(rw2_row(method, cell, start + r, n_trials, est, **corr))
    return rows


def test_tradeoff_table_pairs_and_exact_correlations():
    rows = mirrored()
    # a failed fit and an unusable-SE fit: the first counts nowhere, the second only in
    # the estimates (its estimates follow the same lines), never in the within-fit mean
    rows.append(rw2_row("pymc_potential", CELL, 8, 100, {}, status="failed"))
    extra = mirrored(errs=[0.04], start=9)[0]
    extra.update(status="unusable_se", corr_alpha_pos_alpha_neg=0.99)
    rows.append(extra)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = tradeoff_table(table(RW2, rows), RW2)
    assert list(t.columns) == [
        "method", "n_trials", "cell", "alpha_pos_true", "alpha_neg_true", "beta_true",
        "param_1", "param_2", "n", "est_corr", "est_spearman", "n_post_corr", "post_corr_mean",
    ]  # fmt: skip
    pairs = list(zip(t.param_1, t.param_2, strict=True))
    assert pairs == [("alpha_pos", "alpha_neg"), ("alpha_pos", "beta"), ("alpha_neg", "beta")]
    by = t.set_index(["param_1", "param_2"])
    # log scale for beta: log(beta_est) = log(4) + 2 e is a rising line in alpha_pos_est
    assert by.loc[("alpha_pos", "alpha_neg")].est_corr == pytest.approx(-1.0)
    assert by.loc[("alpha_pos", "beta")].est_corr == pytest.approx(1.0)
    assert by.loc[("alpha_neg", "beta")].est_corr == pytest.approx(-1.0)
    assert by.loc[("alpha_pos", "alpha_neg")].est_spearman == pytest.approx(-1.0)
    assert (t.n == 5).all()  # 4 ok + 1 unusable_se
    first = by.loc[("alpha_pos", "alpha_neg")]
    assert first.n_post_corr == 4 and first.post_corr_mean == pytest.approx(-0.3)
    assert by.loc[("alpha_pos", "beta")].post_corr_mean == pytest.approx(0.15)  # 0, .1, .2, .3
    # corr_alpha_neg_beta is NaN throughout
    assert by.loc[("alpha_neg", "beta")].n_post_corr == 0
    assert math.isnan(by.loc[("alpha_neg", "beta")].post_corr_mean)
    assert t.alpha_pos_true.tolist() == [0.3] * 3 and t.beta_true.tolist() == [4.0] * 3


def test_tradeoff_table_orders_cells_by_true_values_in_parameter_order():
    cells = [
        {"alpha_pos": 0.6, "alpha_neg": 0.2, "beta": 2.0},
        {"alpha_pos": 0.3, "alpha_neg": 0.9, "beta": 8.0},
        {"alpha_pos": 0.3, "alpha_neg": 0.2, "beta": 16.0},
        {"alpha_pos": 0.3, "alpha_neg": 0.2, "beta": 3.0},
    ]
    rows = [r for c in cells for r in mirrored(cell=c)]
    rec = table(RW2, rows)
    assert grid_values(rec, RW2) is None  # four of the 2 x 2 x 4 combinations
    t = tradeoff_table(rec, RW2)
    order = t.drop_duplicates("cell")[["alpha_pos_true", "alpha_neg_true", "beta_true"]]
    assert order.to_numpy().tolist() == [
        [0.3, 0.2, 3.0],
        [0.3, 0.2, 16.0],
        [0.3, 0.9, 8.0],
        [0.6, 0.2, 2.0],
    ]
    assert [c for c, _ in cells_of(rec, RW2)] == t.cell.drop_duplicates().tolist()
    assert (t.est_corr[t.param_1.eq("alpha_pos") & t.param_2.eq("alpha_neg")] == -1).all()


def test_correlation_table_pools_every_cell_on_the_analysis_scale():
    # errors over two cells and two lengths; at 100 trials alpha_neg's error is
    # -alpha_pos's and log beta's +3 times it: correlations exactly -1 and +1, although
    # the natural-scale beta error (4 exp(3e) - 4 vs 8 exp(3e) - 8) is not linear in e
    other = {"alpha_pos": 0.5, "alpha_neg": 0.4, "beta": 8.0}
    rows = []
    for cell, errs in ((CELL, [0.1, -0.2, 0.05]), (other, [0.15, -0.1, 0.3])):
        for r, e in enumerate(errs):
            est = {
                "alpha_pos": cell["alpha_pos"] + e,
                "alpha_neg": cell["alpha_neg"] - e,
                "beta": cell["beta"] * math.exp(3 * e),
            }
            rows.append(rw2_row("mle", cell, r, 100, est, corr_alpha_pos_beta=-0.2))
    # 400 trials: alpha_neg exact, so its error is constant: correlation undefined
    for r, e in enumerate([0.01, -0.02]):
        est = {"alpha_pos": 0.3 + e, "alpha_neg": 0.6, "beta": 4.0 * math.exp(e)}
        rows.append(rw2_row("mle", CELL, r, 400, est))
    rows.append(rw2_row("mle", CELL, 5, 100, {}, status="failed"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = correlation_table(table(RW2, rows), RW2)
    assert list(c.columns) == CORRELATION_COLUMNS
    assert len(c) == 2 * 3  # two lengths, three pairs
    assert c.n_trials.tolist() == [100] * 3 + [400] * 3
    at = c.set_index(["n_trials", "param_1", "param_2"])
    assert at.loc[(100, "alpha_pos", "alpha_neg")].error_corr == pytest.approx(-1.0)
    assert at.loc[(100, "alpha_pos", "beta")].error_corr == pytest.approx(1.0)
    assert at.loc[(100, "alpha_neg", "beta")].error_corr == pytest.approx(-1.0)
    assert (c[c.n_trials == 100].n == 6).all()  # the failed fit left out
    assert at.loc[(100, "alpha_pos", "beta")].post_corr_mean == pytest.approx(-0.2)
    assert at.loc[(100, "alpha_pos", "beta")].n_post == 6
    assert at.loc[(100, "alpha_pos", "alpha_neg")].n_post == 0
    assert math.isnan(at.loc[(400, "alpha_pos", "alpha_neg")].error_corr)
    assert at.loc[(400, "alpha_pos", "beta")].error_corr == pytest.approx(1.0)


def _dependence_rows():
    """rwck truths: alpha in five values, beta in five, errors known per truth.

    alpha's error is +0.01 for every truth; log(beta)'s error is log(2) where the true
    alpha is below 0.3, 0 elsewhere (beta's error depends on alpha's truth).
    """
    alphas = [0.1, 0.2, 0.3, 0.4, 0.5]
    betas = [1.0, 2.0, 4.0, 8.0, 16.0]
    rows = []
    for k, (a, b) in enumerate(zip(alphas, betas, strict=True)):
        truth = {"alpha": a, "beta": b, "alpha_c": 0.5, "beta_c": 2.0}
        for r in range(2):
            row = empty_row("rwck", LEVELS, "pymc_bernoulli", truth, r, 200)
            row.update(
                alpha_est=a + 0.01,
                beta_est=b * (2.0 if a < 0.3 else 1.0),
                alpha_c_est=0.5,
                beta_c_est=2.0 * math.exp(0.1 * (k + 1)),
            )
            rows.append(row)
    return table(RWCK, rows)


def test_error_dependence_bins_hold_known_counts_and_errors():
    d = error_dependence_table(_dependence_rows(), RWCK, bins=2)
    assert list(d.columns) == DEPENDENCE_COLUMNS
    # alpha_c and beta_c have one distinct truth each: one bin; alpha, beta: two
    n_bins = {"alpha": 2, "beta": 2, "alpha_c": 1, "beta_c": 1}
    assert len(d) == 4 * sum(n_bins.values())
    a = d[(d.parameter == "alpha") & (d.by == "alpha")]
    # quantile edges of the distinct truths 0.1..0.5: 0.1, 0.3, 0.5; bins [0.1, 0.3), [0.3, 0.5]
    assert a.bin_low.tolist() == pytest.approx([0.1, 0.3])
    assert a.bin_high.tolist() == pytest.approx([0.3, 0.5])
    assert a.bin_centre.tolist() == pytest.approx([0.2, 0.4])
    assert a.n.tolist() == [4, 6]  # two truths x 2 replicates, three truths x 2
    assert a.bias.tolist() == pytest.approx([0.01, 0.01]) and (a.error_scale == "linear").all()
    b = d[(d.parameter == "beta") & (d.by == "alpha")]
    ln2 = math.log(2.0)
    assert b.bias.tolist() == pytest.approx([ln2, 0.0]) and (b.error_scale == "log").all()
    assert b.rmse.tolist() == pytest.approx([ln2, 0.0], abs=1e-12)
    by_beta = d[(d.parameter == "beta") & (d.by == "beta")]
    # log-scale quantiles of 1, 2, 4, 8, 16: edges 1, 4, 16; centres their geometric means
    assert by_beta.bin_low.tolist() == pytest.approx([1.0, 4.0])
    assert by_beta.bin_high.tolist() == pytest.approx([4.0, 16.0])
    assert by_beta.bin_centre.tolist() == pytest.approx([2.0, 8.0])
    assert by_beta.n.tolist() == [4, 6]
    one = d[(d.parameter == "beta_c") & (d.by == "alpha_c")]
    assert one.bin_low.tolist() == one.bin_high.tolist() == [0.5] and one.n.tolist() == [10]
    # beta_c's log errors 0.1 k for the five truths, each twice: mean 0.3
    assert one.bias.item() == pytest.approx(0.3)
    assert one.rmse.item() == pytest.approx(
        math.sqrt(np.mean([(0.1 * k) ** 2 for k in range(1, 6)]))
    )


def test_error_dependence_of_a_grid_is_one_bin_per_value():
    rec = make_recovery(
        RW2, "grid", methods=("mle",), trials=(50,), n_rep=3, n_failed=0, n_unusable=0
    )
    d = error_dependence_table(rec, RW2, bins=4)
    assert set(d.bin) == {0, 1}  # two values per parameter on the default grid
    g = d[(d.parameter == "alpha_pos") & (d.by == "beta")]
    assert g.bin_low.tolist() == g.bin_high.tolist() == g.bin_centre.tolist() == [2.0, 8.0]
    # each beta value: 2 x 2 cells of the other parameters, 3 replicates
    assert g.n.tolist() == [12, 12]
    err = rec.alpha_pos_est - rec.alpha_pos_true
    for k, v in enumerate((2.0, 8.0)):
        assert g.bias.iloc[k] == pytest.approx(err[rec.beta_true == v].mean())
    with pytest.raises(ValueError, match="bins"):
        error_dependence_table(rec, RW2, bins=0)


def test_one_parameter_model_has_empty_tables_with_columns():
    rec = make_recovery(BIAS, "grid", methods=("mle",), trials=(50,), n_rep=2)
    for t in (tradeoff_table(rec, BIAS), correlation_table(rec, BIAS)):
        assert t.empty and "param_1" in t.columns
    d = error_dependence_table(rec, BIAS)
    assert d.empty and list(d.columns) == DEPENDENCE_COLUMNS


def test_synthetic_noise_correlation_is_recovered():
    """The builder's free-scale errors correlate -0.5 between neighbours: so must error_corr."""
    rec = make_recovery(RWCK, "sobol", methods=("pymc_potential",), trials=(400,), n_rep=40)
    c = correlation_table(rec, RWCK).set_index(["param_1", "param_2"])
    # near-linear transforms at small noise: within a few standard errors of -0.5
    assert c.loc[("alpha", "beta")].error_corr == pytest.approx(-0.5, abs=0.15)
    assert c.loc[("alpha", "alpha_c")].error_corr == pytest.approx(0.25, abs=0.15)
    assert c.loc[("alpha", "beta")].post_corr_mean == pytest.approx(-0.5)
