"""Tests of rlrecover.plots: figures are written as PNG files."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from rlrecover.analysis import coverage_table, design_table, tradeoff_table
from rlrecover.plots import (
    MAP_METRICS,
    plot_coverage,
    plot_design,
    plot_grid_map,
    plot_recovery,
    plot_tradeoff,
)
from rlrecover.summary import empty_row, interval_columns, summary_columns

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LEVELS = (0.5, 0.8, 0.95)


def make_recovery(seed=3, trials=(150,)):
    """Three methods, 2x3 grid, 5 replicates; a few failed fits, one all-failed cell.

    With several ``trials`` every cell is simulated at each length, the noise shrinking
    with the length. One MLE fit per length sits at the beta bound (1e3, ``at_bound``).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for method in ("pymc_bernoulli", "mle", "pymc_potential"):  # deliberately unordered
        grid = itertools.product((0.2, 0.7), (1.0, 4.0, 16.0), trials, range(5))
        for a, b, n_trials, r in grid:
            row = empty_row(LEVELS, method, {"alpha": a, "beta": b}, r, n_trials)
            if method == "pymc_potential" and a == 0.2 and b == 1.0:
                row.update(status="failed", error="boom")
                rows.append(row)
                continue
            scale = math.sqrt(150 / n_trials)
            row["alpha_est"] = float(np.clip(a + rng.normal(0, 0.1 * scale), 0, 1))
            row["beta_est"] = b * math.exp(rng.normal(0, 0.3 * scale))
            for level in LEVELS:
                for p in ("alpha", "beta"):
                    lo, hi = interval_columns(p, level)
                    est = row[f"{p}_est"]
                    w = (0.1 if p == "alpha" else 0.3 * est) * level
                    row[lo], row[hi] = est - w, est + w
            if method == "mle":
                row.update(converged=True, at_bound=False)
                if (a, b, r) == (0.7, 16.0, 0):
                    row.update(at_bound=True, beta_est=1000.0)
            else:
                row.update(rhat_max=1.001, ess_bulk_min=900.0, divergences=float(r == 4))
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


def _failed_method(rec, method="pymc_bernoulli"):
    """``rec`` with every fit of ``method`` failed (no estimates, no intervals)."""
    rec = rec.copy()
    sel = rec.method == method
    est_cols = [c for c in rec.columns if c.startswith(("alpha_", "beta_")) and "true" not in c]
    rec.loc[sel, est_cols] = np.nan
    rec.loc[sel, "status"] = "failed"
    rec.loc[sel, "error"] = "sampler crashed"
    return rec


@pytest.mark.parametrize("param", ["alpha", "beta"])
def test_plot_recovery_two_lengths_bounds_and_failed_method(tmp_path, param):
    rec = _failed_method(make_recovery(trials=(50, 400)))
    out = plot_recovery(rec, param, tmp_path / f"{param}.png", interval_level=0.8)
    assert _is_png(out)
    with pytest.raises(ValueError, match="range_level"):
        plot_recovery(rec, param, tmp_path / "x.png", range_level=1.5)


def test_plot_recovery_empty_and_without_n_trials(tmp_path):
    rec = make_recovery()
    assert _is_png(plot_recovery(rec.iloc[:0], "alpha", tmp_path / "empty.png"))
    assert _is_png(plot_recovery(rec.drop(columns="n_trials"), "beta", tmp_path / "no_n.png"))
    # a TSV round trip turns at_bound into text
    path = tmp_path / "rec.tsv"
    rec.to_csv(path, sep="\t", index=False)
    back = pd.read_csv(path, sep="\t")
    assert _is_png(plot_recovery(back, "beta", tmp_path / "back.png"))


@pytest.mark.parametrize("metric", [*MAP_METRICS, "coverage50"])
def test_plot_grid_map_writes_png(tmp_path, metric):
    rec = _failed_method(make_recovery(trials=(50, 400)))
    out = plot_grid_map(rec, metric, tmp_path / f"{metric}.png")
    assert _is_png(out)


def test_plot_grid_map_options_and_edge_cases(tmp_path):
    rec = make_recovery()
    assert _is_png(plot_grid_map(rec, "bias", tmp_path / "nat.png", log_scale=False))
    assert _is_png(plot_grid_map(rec, "rmse", tmp_path / "nat_rmse.png", log_scale=False))
    assert _is_png(plot_grid_map(rec, "rmse", tmp_path / "beta.png", params=["beta"]))
    assert _is_png(plot_grid_map(rec.iloc[:0], "bias", tmp_path / "empty.png"))
    one_cell = rec[rec.cell == "alpha~0.7/beta~4"].drop(columns="n_trials")
    assert _is_png(plot_grid_map(one_cell, "coverage80", tmp_path / "one.png"))
    # a table without interval columns at that level: grey tiles, no crash
    assert _is_png(plot_grid_map(rec, "coverage90", tmp_path / "no_intervals.png"))
    with pytest.raises(ValueError, match="metric"):
        plot_grid_map(rec, "mae", tmp_path / "bad.png")
    with pytest.raises(ValueError, match="gamma"):
        plot_grid_map(rec, "bias", tmp_path / "bad.png", params=["gamma"])


def test_plot_tradeoff_writes_png(tmp_path):
    rec = _failed_method(make_recovery(trials=(50, 400)))
    assert _is_png(plot_tradeoff(tradeoff_table(rec), tmp_path / "tradeoff.png"))
    rec["ab_corr"] = -0.4
    assert _is_png(plot_tradeoff(tradeoff_table(rec), tmp_path / "with_ab.png"))
    empty = tradeoff_table(rec.iloc[:0])
    assert empty.empty
    assert _is_png(plot_tradeoff(empty, tmp_path / "empty.png"))


def test_plot_design_writes_png(tmp_path):
    rec = _failed_method(make_recovery(trials=(50, 150, 400)))
    assert _is_png(plot_design(design_table(rec), tmp_path / "design.png"))
    one = design_table(make_recovery(), rmse_targets={"beta": ("absolute", 2.0)})
    assert _is_png(plot_design(one, tmp_path / "one_length.png"))
    assert _is_png(plot_design(design_table(rec.iloc[:0]), tmp_path / "empty.png"))


def _figure_texts(monkeypatch, module, plot, *args) -> list[str]:
    """Every text of the figure ``plot(*args)`` would save (titles, notes, labels)."""
    import matplotlib.text

    seen = {}

    def capture(fig, path, **kwargs):
        seen["fig"] = fig
        return path

    monkeypatch.setattr(module, "save_figure", capture)
    plot(*args)
    return [t.get_text() for t in seen["fig"].findobj(matplotlib.text.Text) if t.get_text()]


def test_plot_coverage_says_which_series_it_cannot_draw(tmp_path, monkeypatch):
    import rlrecover.plots

    rec = make_recovery()
    mle = rec.method == "mle"
    # issue 9: two-trial MLE fits, every beta interval unusable, alpha fine
    for level in LEVELS:
        rec.loc[mle, list(interval_columns("beta", level))] = [0.0, math.inf]
    cov = coverage_table(rec, LEVELS)
    texts = _figure_texts(monkeypatch, rlrecover.plots, plot_coverage, cov, tmp_path / "c.png")
    joined = "\n".join(texts)
    assert "beta not drawn: no usable intervals (no finite interval 30)" in joined
    assert (
        "alpha: n = 30" in joined and "beta: n = 0, 30 left out (no finite interval 30)" in joined
    )
    # flagged fits: the status is the reason, for every parameter
    rec.loc[mle, "status"] = "unusable_se"
    rec.loc[mle.to_numpy().nonzero()[0][:3], "status"] = "failed"
    cov = coverage_table(rec, LEVELS)
    joined = "\n".join(
        _figure_texts(monkeypatch, rlrecover.plots, plot_coverage, cov, tmp_path / "c.png")
    )
    assert "alpha not drawn: no usable intervals (unusable_se 27, failed 3)" in joined
    assert "beta not drawn: no usable intervals (unusable_se 27, failed 3)" in joined
    # the other methods keep their lines and counts
    assert "alpha: n = 25, 5 left out (failed 5)" in joined


def test_plot_recovery_counts_fits_without_usable_se(tmp_path, monkeypatch):
    import rlrecover.plots

    rec = make_recovery()
    sel = (rec.method == "mle") & (rec.alpha_true == 0.2)
    rec.loc[sel, "status"] = "unusable_se"
    texts = _figure_texts(
        monkeypatch, rlrecover.plots, plot_recovery, rec, "alpha", tmp_path / "r.png"
    )
    assert any("30 of 30 fits" in t and "15 without usable SE" in t for t in texts)


def test_coverage_tiles_say_how_many_fits_have_a_usable_interval():
    from rlrecover.plots import _coverage_text

    assert _coverage_text(0.9, 10, 0.9, 10) == "0.90"  # every fit counts: no note
    assert _coverage_text(1.0, 8, 0.9, 10) == "1.00\nn=8"
    assert _coverage_text(0.5, 10, 0.9, 10) == "0.50*"  # 0.9 outside its Wilson interval
    assert _coverage_text(float("nan"), 0, 0.9, 10) == "–\nno usable\ninterval"
    assert _coverage_text(float("nan"), 0, 0.9) == "–"  # no fits in the cell at all
