"""rlrecover.summary: the layout of the result table and reading it back with fixed types."""

import math

import numpy as np
import pandas as pd
import pytest

from rlrecover.summary import (
    cell_label,
    corr_columns,
    empty_row,
    interval_columns,
    level_label,
    levels_of,
    params_of,
    read_recovery,
    recovery_dtypes,
    summary_columns,
    union_params,
)

LEVELS = [0.5, 0.9]
PARAMS = ("alpha", "beta")


def test_column_layout():
    cols = summary_columns(PARAMS, LEVELS)
    assert cols[:7] == [
        "model",
        "method",
        "cell",
        "alpha_true",
        "beta_true",
        "replicate",
        "n_trials",
    ]
    assert cols[7:15] == [
        "alpha_est",
        "beta_est",
        "alpha_median",
        "beta_median",
        "alpha_sd",
        "beta_sd",
        "alpha_cdf_true",
        "beta_cdf_true",
    ]
    assert cols[15:18] == ["alpha_mcse", "beta_mcse", "corr_alpha_beta"]
    assert cols[18:26] == [
        "alpha_lower_50",
        "alpha_upper_50",
        "beta_lower_50",
        "beta_upper_50",
        "alpha_lower_90",
        "alpha_upper_90",
        "beta_lower_90",
        "beta_upper_90",
    ]
    assert cols[-3:] == ["status", "error", "seconds"]
    assert len(cols) == len(set(cols))
    assert params_of(cols) == list(PARAMS)


def test_layout_of_other_models_and_of_the_union():
    four = ["alpha", "beta", "alpha_c", "beta_c"]
    assert corr_columns(four) == [
        "corr_alpha_beta",
        "corr_alpha_alpha_c",
        "corr_alpha_beta_c",
        "corr_beta_alpha_c",
        "corr_beta_beta_c",
        "corr_alpha_c_beta_c",
    ]
    assert corr_columns(["b"]) == []
    cols = summary_columns(four, [0.9])
    # "alpha_cdf_true" ends like a truth column but is not one
    assert params_of(cols) == four and levels_of(cols) == [0.9]
    assert union_params([["b"], ["alpha", "beta"], four]) == ["b", *four]


def test_level_labels():
    assert level_label(0.9) == "90" and level_label(0.975) == "97.5"
    assert interval_columns("beta", 0.5) == ("beta_lower_50", "beta_upper_50")
    with pytest.raises(ValueError, match=r"1\.0"):
        level_label(1.0)
    assert levels_of(summary_columns(PARAMS, [0.8, 0.975])) == [0.8, 0.975]


def test_empty_row_and_cell_label():
    row = empty_row("rw", LEVELS, "mle", {"alpha": 0.5, "beta": 5.0}, 3, 150)
    assert list(row) == summary_columns(PARAMS, LEVELS)
    assert row["model"] == "rw"
    assert row["cell"] == cell_label({"alpha": 0.5, "beta": 5}) == "alpha~0.5/beta~5"
    assert (row["alpha_true"], row["beta_true"], row["replicate"], row["n_trials"]) == (
        0.5,
        5.0,
        3,
        150,
    )
    assert row["status"] == "ok" and row["error"] == ""
    assert math.isnan(row["alpha_est"]) and math.isnan(row["rhat_max"])


def _table():
    rows = []
    for i, method in enumerate(["mle", "pymc_potential"]):
        row = empty_row("rw", LEVELS, method, {"alpha": 0.3, "beta": 2.5}, i, 40)
        cols = summary_columns(PARAMS, LEVELS)
        row.update({c: 0.25 for c in cols if c.endswith(("_est", "_50"))})
        rows.append(row)
    rows[0].update(converged=True, at_bound=False, nll=12.5)
    rows[1].update(status="failed", error="ValueError: reward must be 0 or 1, got 7", seconds=1)
    rows[1]["beta_est"] = np.inf
    return pd.DataFrame(rows, columns=summary_columns(PARAMS, LEVELS))


def test_read_recovery_has_fixed_types(tmp_path):
    path = tmp_path / "recovery.tsv"
    _table().to_csv(path, sep="\t", index=False)
    got = read_recovery(path)
    types = recovery_dtypes(PARAMS, LEVELS)
    assert {c: str(t) for c, t in got.dtypes.items()} == {
        c: ("string" if t == "string" else t) for c, t in types.items()
    }
    assert got["error"].tolist() == ["", "ValueError: reward must be 0 or 1, got 7"]
    assert got["converged"].tolist()[0] is True and got["converged"].isna().tolist() == [
        False,
        True,
    ]
    assert got["at_bound"].tolist()[0] is False
    assert got["beta_est"].tolist()[1] == np.inf
    assert math.isnan(got["rhat_max"][0])
    assert got["replicate"].tolist() == [0, 1]


def test_read_recovery_all_empty_columns_keep_their_types(tmp_path):
    # A table of failed fits only: every estimate and flag column is empty.
    table = pd.DataFrame(
        [empty_row("rw", LEVELS, "mle", {"alpha": 0.3, "beta": 2.5}, 0, 40)],
        columns=summary_columns(PARAMS, LEVELS),
    )
    path = tmp_path / "fits.tsv"
    table.to_csv(path, sep="\t", index=False)
    got = read_recovery(path)
    assert str(got["alpha_est"].dtype) == "float64"
    assert str(got["converged"].dtype) == "boolean" and got["converged"].isna().all()
    assert got["error"].tolist() == [""]


def test_read_recovery_names_the_file_and_the_columns(tmp_path):
    path = tmp_path / "not-recovery.tsv"
    _table().drop(columns=["nll"]).to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match=r"not-recovery.tsv is not a recovery table.*'nll'"):
        read_recovery(path)
