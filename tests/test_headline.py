"""Tests of rlrecover.analysis.headline: the report's first screen picks the right numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from synthetic import make_exact, make_recovery, make_sbc

from rlrecover import models
from rlrecover.analysis.coverage import coverage_table
from rlrecover.analysis.design import design_table
from rlrecover.analysis.headline import headline_columns, headline_table
from rlrecover.analysis.sbc import sbc_table

RW = models.get("rw")
RWCK = models.get("rwck")


def design_rows():
    """A design table of rw by hand: two methods, two lengths (values make each row unique)."""
    rows = []
    for method in ("pymc_bernoulli", "mle"):
        for p in ("alpha", "beta"):
            for n in (50, 400):
                k = (n == 400) + 2 * (p == "beta") + 4 * (method == "mle")
                rows.append(
                    {
                        "method": method,
                        "parameter": p,
                        "n_trials": n,
                        "n": 40,
                        "rmse": 0.1 + k,
                        "rel_rmse": 0.2 + k,
                        "log_rmse": 0.3 + k if p == "beta" else math.nan,
                        "truth_corr": 0.5 + k / 100,
                        "corr_scale": "log" if p == "beta" else "linear",
                        "coverage90": 0.9,
                        "flagged_share": 0.0,
                        "target_kind": "absolute",
                        "target": 0.1,
                        "target_error": 0.1 + k,
                        "meets_target": False,
                        "min_trials_for_target": pd.NA,
                        "min_corr": 0.8,
                        "meets_corr": True,
                        "min_trials_for_corr": 50 if p == "alpha" else 400,
                    }
                )
    return pd.DataFrame(rows)


def coverage_rows():
    rows = []
    for method in ("mle", "pymc_bernoulli"):
        for p in ("alpha", "beta"):
            for level in (0.5, 0.9):
                for cell in ("all", "alpha~0.2/beta~2"):
                    value = level + (0.01 if cell == "all" else 0.05) * (1 + (p == "beta"))
                    rows.append(
                        {"method": method, "parameter": p, "cell": cell, "level": level,
                         "coverage": value}
                    )  # fmt: skip
    return pd.DataFrame(rows)


def sbc_rows():
    return pd.DataFrame(
        {
            "method": ["mle", "mle", "pymc_bernoulli", "pymc_bernoulli"],
            "parameter": ["alpha", "beta", "alpha", "beta"],
            "inside_band": ["no", "no", "yes", "n/a"],
            "p_value": [0.001, 0.002, 0.4, math.nan],
        }
    )


def exact_rows():
    z = [0.5, -4.5, 1.0, np.nan, 5.0, 0.2]
    return pd.DataFrame(
        {
            "method": ["pymc_bernoulli"] * 6,
            "parameter": ["alpha"] * 4 + ["beta"] * 2,
            "z": z,
            # read back from a TSV: text
            "reference_reliable": ["True", "True", "True", "False", "True", "False"],
        }
    )


def test_headline_picks_values_from_known_tables():
    tables = {
        "design": design_rows(),
        "coverage": coverage_rows(),
        "sbc": sbc_rows(),
        "exact_check": exact_rows(),
        "recovery_metrics": pd.DataFrame({"ignored": [1]}),
    }
    h = headline_table(RW, tables)
    assert list(h.columns) == headline_columns() == [
        "model", "parameter", "method", "n_trials", "pearson_r", "rmse", "error_scale",
        "coverage90", "sbc_inside_band", "sbc_p_value", "exact_checked", "exact_outliers",
        "exact_reliable", "min_trials_for_corr", "min_trials_for_target",
    ]  # fmt: skip
    # parameter order of the model, then methods in report order
    assert list(zip(h.parameter, h.method, strict=True)) == [
        ("alpha", "mle"),
        ("alpha", "pymc_bernoulli"),
        ("beta", "mle"),
        ("beta", "pymc_bernoulli"),
    ]
    assert (h.model == "rw").all() and (h.n_trials == 400).all()
    row = h.set_index(["parameter", "method"])
    # k = (n == 400) + 2 (beta) + 4 (mle): the 400-trial rows
    assert row.loc[("alpha", "mle")].pearson_r == pytest.approx(0.55)
    assert row.loc[("alpha", "mle")].rmse == pytest.approx(5.1)  # natural scale
    assert row.loc[("beta", "pymc_bernoulli")].rmse == pytest.approx(3.3)  # log_rmse
    assert row.loc[("beta", "pymc_bernoulli")].pearson_r == pytest.approx(0.53)
    assert h.error_scale.tolist() == ["linear", "linear", "log", "log"]
    assert row.loc[("alpha", "mle")].coverage90 == pytest.approx(0.91)  # the pooled row
    assert row.loc[("beta", "pymc_bernoulli")].coverage90 == pytest.approx(0.92)
    # SBC: none for MLE; "n/a" (no usable values) is left blank
    assert row.loc[("alpha", "mle")].sbc_inside_band == ""
    assert math.isnan(row.loc[("alpha", "mle")].sbc_p_value)
    assert row.loc[("alpha", "pymc_bernoulli")].sbc_inside_band == "yes"
    assert row.loc[("alpha", "pymc_bernoulli")].sbc_p_value == pytest.approx(0.4)
    assert row.loc[("beta", "pymc_bernoulli")].sbc_inside_band == ""
    # exact check: alpha has 3 finite z, one beyond 4, all references reliable; beta
    # 2 finite, one beyond 4, one reference not reliable; none for MLE
    a, b = row.loc[("alpha", "pymc_bernoulli")], row.loc[("beta", "pymc_bernoulli")]
    assert (a.exact_checked, a.exact_outliers, a.exact_reliable) == (3, 1, "yes")
    assert (b.exact_checked, b.exact_outliers, b.exact_reliable) == (2, 1, "no")
    mle = row.loc[("alpha", "mle")]
    assert pd.isna(mle.exact_checked) and pd.isna(mle.exact_outliers)
    assert mle.exact_reliable == ""
    assert h.exact_checked.dtype == "Int64"
    # fewest trials
    assert row.loc[("alpha", "mle")].min_trials_for_corr == 50
    assert row.loc[("beta", "mle")].min_trials_for_corr == 400
    assert h.min_trials_for_target.isna().all() and h.min_trials_for_target.dtype == "Int64"


def test_headline_without_optional_tables_and_from_tsv(tmp_path):
    design = design_rows()
    path = tmp_path / "design.tsv"
    design.to_csv(path, sep="\t", index=False)
    back = pd.read_csv(path, sep="\t")
    h = headline_table(RW, {"design": back, "coverage": coverage_rows()})
    assert (h.sbc_inside_band == "").all() and h.sbc_p_value.isna().all()
    assert h.exact_checked.isna().all() and (h.exact_reliable == "").all()
    assert h.min_trials_for_corr.tolist() == [50, 50, 400, 400]
    # an exact-check table without rows: PyMC methods checked none
    empty = exact_rows().iloc[:0]
    h0 = headline_table(RW, {"design": back, "coverage": coverage_rows(), "exact_check": empty})
    pm = h0[h0.method == "pymc_bernoulli"]
    assert (pm.exact_checked == 0).all() and (pm.exact_reliable == "").all()
    assert h0[h0.method == "mle"].exact_checked.isna().all()
    # a coverage table without the 0.9 level
    cov = coverage_rows()
    h1 = headline_table(RW, {"design": back, "coverage": cov[cov.level != 0.9]})
    assert h1.coverage90.isna().all()
    with pytest.raises(KeyError, match="design"):
        headline_table(RW, {"coverage": cov})


def test_headline_agrees_with_the_tables_it_reads():
    rec = make_recovery(RWCK, "sobol", trials=(50, 200), n_rep=3, n_points=8)
    tables = {
        "design": design_table(rec, RWCK),
        "coverage": coverage_table(rec, RWCK, (0.5, 0.9)),
        "sbc": sbc_table(make_sbc(RWCK, 40), RWCK),
        "exact_check": make_exact(RWCK, rec),
    }
    h = headline_table(RWCK, tables)
    assert len(h) == 4 * 3
    assert h.parameter.tolist() == [p for p in RWCK.param_names for _ in range(3)]
    d = tables["design"]
    for r in h.itertuples():
        at = d[(d.method == r.method) & (d.parameter == r.parameter) & (d.n_trials == 200)]
        col = "log_rmse" if RWCK.param(r.parameter).log_scale else "rmse"
        assert r.rmse == pytest.approx(at[col].item())
        assert r.pearson_r == pytest.approx(at.truth_corr.item())
        s = tables["sbc"]
        if r.method != "mle":
            verdict = s[(s.method == r.method) & (s.parameter == r.parameter)].inside_band
            assert r.sbc_inside_band == verdict.item()
    # the first ok PyMC fit has z = 6 on alpha; the last dataset's reference is unreliable
    assert h[h.parameter == "alpha"].exact_outliers.tolist()[1:] == [1, 0]
    assert h[h.method == "pymc_bernoulli"].exact_reliable.eq("no").all()
