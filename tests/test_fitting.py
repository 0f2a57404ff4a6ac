"""fit_cell: one row per replicate, the layout of recovery.tsv, failures kept per dataset."""

import math

import numpy as np
import pandas as pd
import pytest
from conftest import RW, default_settings

from rlrecover import models
from rlrecover.data import simulate_cell
from rlrecover.fitting import fit_cell
from rlrecover.summary import interval_columns, summary_columns

SETTINGS = default_settings(
    seed=5,
    task={"n_trials": 60},
    sampler={"chains": 2, "tune": 150, "draws": 150},
    coverage_levels=[0.5, 0.9],
)
TRUTH = {"alpha": 0.4, "beta": 4.0}


@pytest.fixture(scope="module")
def cell():
    return simulate_cell(RW, SETTINGS.seed, TRUTH, 3, SETTINGS.task)


def _finite_estimates(table: pd.DataFrame) -> None:
    cols = ["alpha_est", "beta_est", "alpha_median", "beta_median", "alpha_sd", "beta_sd"]
    cols += ["alpha_cdf_true", "beta_cdf_true", "seconds"]
    for level in SETTINGS.coverage_levels:
        for p in ("alpha", "beta"):
            cols += list(interval_columns(p, level))
    for col in cols:
        assert table[col].map(math.isfinite).all(), col


def test_mle_rows(cell):
    lines = []
    table = fit_cell("mle", cell, TRUTH, SETTINGS, lines.append)
    assert list(table.columns) == summary_columns(RW.param_names, SETTINGS.coverage_levels)
    assert (table["model"] == "rw").all()
    assert list(table["replicate"]) == [0, 1, 2]
    assert (table["status"] == "ok").all()
    assert (table["cell"] == "alpha~0.4/beta~4").all()
    _finite_estimates(table)
    assert table["rhat_max"].isna().all()
    assert len([line for line in lines if "replicate" in line]) == 3


def test_mle_is_reproducible(cell):
    a = fit_cell("mle", cell, TRUTH, SETTINGS, lambda _: None)
    b = fit_cell("mle", cell, TRUTH, SETTINGS, lambda _: None)
    cols = ["alpha_est", "beta_est", "nll"]
    np.testing.assert_array_equal(a[cols].to_numpy(), b[cols].to_numpy())


def test_a_failing_dataset_keeps_the_others(cell):
    bad = cell.copy()
    bad.loc[bad["replicate"] == 1, "action"] = 7  # not an arm
    lines = []
    table = fit_cell("mle", bad, TRUTH, SETTINGS, lines.append)
    assert list(table["status"]) == ["ok", "failed", "ok"]
    assert "action" in table.loc[1, "error"] or "7" in table.loc[1, "error"]
    assert any("replicate 1" in line and "failed" in line for line in lines)


def test_unknown_method_is_named(cell):
    with pytest.raises(ValueError, match="'vb'"):
        fit_cell("vb", cell, TRUTH, SETTINGS)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["pymc_potential", "pymc_bernoulli"])
def test_pymc_rows(cell, method):
    lines = []
    table = fit_cell(method, cell, TRUTH, SETTINGS, lines.append)
    assert list(table.columns) == summary_columns(RW.param_names, SETTINGS.coverage_levels)
    assert (table["status"] == "ok").all(), table["error"]
    _finite_estimates(table)
    for col in ("rhat_max", "ess_bulk_min", "ess_tail_min", "divergences"):
        assert table[col].map(math.isfinite).all()
    assert ((table["alpha_est"] > 0) & (table["alpha_est"] < 1)).all()
    assert any("compiled" in line for line in lines)


def test_two_trial_mle_rows_are_flagged_not_ok():
    # Issue 9's reproduction: with two trials every MLE fit had status "ok" although
    # its standard errors were NaN or astronomically large.
    settings = default_settings(seed=11, task={"n_trials": 2}, coverage_levels=[0.5, 0.9])
    truth = {"alpha": 0.4, "beta": 8.0}
    data = simulate_cell(RW, settings.seed, truth, 6, settings.task)
    table = fit_cell("mle", data, truth, settings, lambda _: None)
    assert (table["status"] == "unusable_se").all()
    assert table["error"].str.contains("Hessian not positive definite|search box").all()
    assert table["alpha_est"].map(math.isfinite).all()
    assert table["beta_est"].map(math.isfinite).all()


@pytest.mark.parametrize("name", ["bias", "ck", "rwck"])
def test_mle_rows_of_other_models(name):
    # Every model's rows have its own parameters' columns and its name; their fit
    # streams depend on the model (rw2 with equal rates would otherwise share rw's).
    model = models.get(name)
    settings = default_settings(name, seed=5, task={"n_trials": 200}, coverage_levels=[0.9])
    truth = {p.name: (0.4 if p.kind == "unit" else 3.0) for p in model.params}
    data = simulate_cell(model, settings.seed, truth, 2, settings.task)
    table = fit_cell("mle", data, truth, settings, lambda _: None)
    assert list(table.columns) == summary_columns(model.param_names, [0.9])
    assert (table["model"] == name).all() and (table["status"] == "ok").all(), table["error"]
    for p in model.param_names:
        assert table[f"{p}_est"].map(math.isfinite).all()
