"""Tests of rlrecover.plots: figures are written as PNG files."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rlrecover.analysis import coverage_table
from rlrecover.plots import plot_coverage, plot_recovery
from rlrecover.summary import empty_row, interval_columns, summary_columns

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LEVELS = (0.5, 0.8, 0.95)


def make_recovery(seed=3):
    """Three methods, 2x3 grid, 5 replicates; a few failed fits, one all-failed cell."""
    rng = np.random.default_rng(seed)
    rows = []
    for method in ("pymc_bernoulli", "mle", "pymc_potential"):  # deliberately unordered
        for a in (0.2, 0.7):
            for b in (1.0, 4.0, 16.0):
                for r in range(5):
                    row = empty_row(LEVELS, method, {"alpha": a, "beta": b}, r, 150)
                    if method == "pymc_potential" and a == 0.2 and b == 1.0:
                        row.update(status="failed", error="boom")
                        rows.append(row)
                        continue
                    row["alpha_est"] = float(np.clip(a + rng.normal(0, 0.1), 0, 1))
                    row["beta_est"] = b * math.exp(rng.normal(0, 0.3))
                    for level in LEVELS:
                        for p in ("alpha", "beta"):
                            lo, hi = interval_columns(p, level)
                            est = row[f"{p}_est"]
                            w = (0.1 if p == "alpha" else 0.3 * est) * level
                            row[lo], row[hi] = est - w, est + w
                    row["seconds"] = 1.0
                    rows.append(row)
    rec = pd.DataFrame(rows, columns=summary_columns(LEVELS))
    # an MLE beta estimate at 0 cannot be drawn on log axes; must not crash
    rec.loc[rec.index[rec.method == "mle"][0], "beta_est"] = 0.0
    return rec


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


@pytest.mark.parametrize("param", ["alpha", "beta"])
def test_plot_recovery_writes_png(tmp_path, param):
    out = plot_recovery(make_recovery(), param, tmp_path / "sub" / f"{param}.png")
    assert out == tmp_path / "sub" / f"{param}.png"
    assert _is_png(out)


def test_plot_recovery_with_intervals_and_single_method(tmp_path):
    rec = make_recovery()
    out = plot_recovery(rec, "beta", tmp_path / "b.png", interval_level=0.8)
    assert _is_png(out)
    only = rec[rec.method == "pymc_potential"]
    assert _is_png(plot_recovery(only, "alpha", tmp_path / "a.png"))


def test_plot_recovery_rejects_unknown_param(tmp_path):
    with pytest.raises(ValueError):
        plot_recovery(make_recovery(), "gamma", tmp_path / "g.png")


def test_plot_coverage_writes_png(tmp_path):
    rec = make_recovery()
    # MLE without intervals: empty panel, no crash
    for level in LEVELS:
        for p in ("alpha", "beta"):
            rec.loc[rec.method == "mle", list(interval_columns(p, level))] = np.nan
    cov = coverage_table(rec, LEVELS)
    out = plot_coverage(cov, tmp_path / "coverage.png")
    assert _is_png(out)
