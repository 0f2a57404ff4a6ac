"""Tests of the figures of rlrecover.report: PNG files, texts that count what is left out.

The first tests draw ``rw`` tables with known edge cases (a failed method, fits at a
bound, no intervals); :func:`test_every_figure_of_every_layout` draws every figure of
the layout of five models and designs from the synthetic tables of tests/synthetic.py.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from rlrecover import models
from rlrecover.analysis.coverage import coverage_table
from rlrecover.analysis.design import design_table
from rlrecover.analysis.tradeoff import tradeoff_table
from rlrecover.report.coverage import plot_coverage
from rlrecover.report.design import plot_design
from rlrecover.report.maps import MAP_METRICS, plot_grid_map, plot_tradeoff
from rlrecover.report.recovery import plot_recovery
from rlrecover.summary import empty_row, interval_columns, summary_columns

RW = models.get("rw")

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
            row = empty_row("rw", LEVELS, method, {"alpha": a, "beta": b}, r, n_trials)
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
    rec = pd.DataFrame(rows, columns=summary_columns(RW.param_names, LEVELS))
    # an MLE beta estimate at 0 cannot be drawn on log axes; must not crash
    rec.loc[rec.index[rec.method == "mle"][0], "beta_est"] = 0.0
    return rec


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


@pytest.mark.parametrize("param", ["alpha", "beta"])
def test_plot_recovery_writes_png(tmp_path, param):
    out = plot_recovery(make_recovery(), RW, param, tmp_path / "sub" / f"{param}.png")
    assert out == tmp_path / "sub" / f"{param}.png"
    assert _is_png(out)


def test_plot_recovery_with_intervals_and_single_method(tmp_path):
    rec = make_recovery()
    out = plot_recovery(rec, RW, "beta", tmp_path / "b.png", interval_level=0.8)
    assert _is_png(out)
    only = rec[rec.method == "pymc_potential"]
    assert _is_png(plot_recovery(only, RW, "alpha", tmp_path / "a.png"))
    # told the truths are no grid: the binned scatter instead of the cells
    assert _is_png(plot_recovery(rec, RW, "beta", tmp_path / "s.png", design_kind="sobol"))


def test_plot_recovery_rejects_unknown_param(tmp_path):
    with pytest.raises(ValueError, match="gamma"):
        plot_recovery(make_recovery(), RW, "gamma", tmp_path / "g.png")


def test_plot_coverage_writes_png(tmp_path):
    rec = make_recovery()
    # MLE without intervals: empty panel, no crash
    for level in LEVELS:
        for p in ("alpha", "beta"):
            rec.loc[rec.method == "mle", list(interval_columns(p, level))] = np.nan
    cov = coverage_table(rec, RW, LEVELS)
    out = plot_coverage(cov, RW, tmp_path / "coverage.png")
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
    out = plot_recovery(rec, RW, param, tmp_path / f"{param}.png", interval_level=0.8)
    assert _is_png(out)
    with pytest.raises(ValueError, match="range_level"):
        plot_recovery(rec, RW, param, tmp_path / "x.png", range_level=1.5)


def test_plot_recovery_empty_and_without_n_trials(tmp_path):
    rec = make_recovery()
    assert _is_png(plot_recovery(rec.iloc[:0], RW, "alpha", tmp_path / "empty.png"))
    assert _is_png(plot_recovery(rec.drop(columns="n_trials"), RW, "beta", tmp_path / "no_n.png"))
    # a TSV round trip turns at_bound into text
    path = tmp_path / "rec.tsv"
    rec.to_csv(path, sep="\t", index=False)
    back = pd.read_csv(path, sep="\t")
    assert _is_png(plot_recovery(back, RW, "beta", tmp_path / "back.png"))


@pytest.mark.parametrize("metric", [*MAP_METRICS, "coverage50"])
def test_plot_grid_map_writes_png(tmp_path, metric):
    rec = _failed_method(make_recovery(trials=(50, 400)))
    out = plot_grid_map(rec, RW, metric, tmp_path / f"{metric}.png")
    assert _is_png(out)


def test_plot_grid_map_options_and_edge_cases(tmp_path):
    rec = make_recovery()
    assert _is_png(plot_grid_map(rec, RW, "bias", tmp_path / "nat.png", log_scale=False))
    assert _is_png(plot_grid_map(rec, RW, "rmse", tmp_path / "nat_rmse.png", log_scale=False))
    assert _is_png(plot_grid_map(rec, RW, "rmse", tmp_path / "beta.png", params=["beta"]))
    assert _is_png(plot_grid_map(rec.iloc[:0], RW, "bias", tmp_path / "empty.png"))
    one_cell = rec[rec.cell == "alpha~0.7/beta~4"].drop(columns="n_trials")
    assert _is_png(plot_grid_map(one_cell, RW, "coverage80", tmp_path / "one.png"))
    # a table without interval columns at that level: grey tiles, no crash
    assert _is_png(plot_grid_map(rec, RW, "coverage90", tmp_path / "no_intervals.png"))
    with pytest.raises(ValueError, match="metric"):
        plot_grid_map(rec, RW, "mae", tmp_path / "bad.png")
    with pytest.raises(ValueError, match="gamma"):
        plot_grid_map(rec, RW, "bias", tmp_path / "bad.png", params=["gamma"])
    # truths that are not every combination of their values: nothing to map
    not_grid = rec[rec.cell != "alpha~0.7/beta~4"]
    with pytest.raises(ValueError, match="grid"):
        plot_grid_map(not_grid, RW, "bias", tmp_path / "bad.png")


def test_plot_tradeoff_writes_png(tmp_path):
    rec = _failed_method(make_recovery(trials=(50, 400)))
    assert _is_png(plot_tradeoff(tradeoff_table(rec, RW), RW, tmp_path / "tradeoff.png"))
    rec["corr_alpha_beta"] = -0.4
    assert _is_png(plot_tradeoff(tradeoff_table(rec, RW), RW, tmp_path / "with_post.png"))
    empty = tradeoff_table(rec.iloc[:0], RW)
    assert empty.empty
    assert _is_png(plot_tradeoff(empty, RW, tmp_path / "empty.png"))
    assert _is_png(plot_tradeoff(None, RW, tmp_path / "none.png"))


def test_plot_design_writes_png(tmp_path):
    rec = _failed_method(make_recovery(trials=(50, 150, 400)))
    assert _is_png(plot_design(design_table(rec, RW), RW, tmp_path / "design.png"))
    one = design_table(make_recovery(), RW, {"beta": ("absolute", 2.0)})
    assert _is_png(plot_design(one, RW, tmp_path / "one_length.png"))
    assert _is_png(plot_design(design_table(rec.iloc[:0], RW), RW, tmp_path / "empty.png"))


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
    import rlrecover.report.coverage

    rec = make_recovery()
    mle = rec.method == "mle"
    # issue 9: two-trial MLE fits, every beta interval unusable, alpha fine
    for level in LEVELS:
        rec.loc[mle, list(interval_columns("beta", level))] = [0.0, math.inf]
    cov = coverage_table(rec, RW, LEVELS)
    texts = _figure_texts(
        monkeypatch, rlrecover.report.coverage, plot_coverage, cov, RW, tmp_path / "c.png"
    )
    joined = "\n".join(texts)
    assert "beta not drawn: no usable intervals (no finite interval 30)" in joined
    assert (
        "alpha: n = 30" in joined and "beta: n = 0, 30 left out (no finite interval 30)" in joined
    )
    # flagged fits: the status is the reason, for every parameter
    rec.loc[mle, "status"] = "unusable_se"
    rec.loc[mle.to_numpy().nonzero()[0][:3], "status"] = "failed"
    cov = coverage_table(rec, RW, LEVELS)
    joined = "\n".join(
        _figure_texts(
            monkeypatch, rlrecover.report.coverage, plot_coverage, cov, RW, tmp_path / "c.png"
        )
    )
    assert "alpha not drawn: no usable intervals (unusable_se 27, failed 3)" in joined
    assert "beta not drawn: no usable intervals (unusable_se 27, failed 3)" in joined
    # the other methods keep their lines and counts
    assert "alpha: n = 25, 5 left out (failed 5)" in joined


def test_plot_recovery_counts_fits_without_usable_se(tmp_path, monkeypatch):
    import rlrecover.report.recovery

    rec = make_recovery()
    sel = (rec.method == "mle") & (rec.alpha_true == 0.2)
    rec.loc[sel, "status"] = "unusable_se"
    texts = _figure_texts(
        monkeypatch, rlrecover.report.recovery, plot_recovery, rec, RW, "alpha", tmp_path / "r.png"
    )
    assert any("30 of 30 fits" in t and "15 without usable SE" in t for t in texts)


def test_coverage_tiles_say_how_many_fits_have_a_usable_interval():
    from rlrecover.report.maps import _coverage_text

    assert _coverage_text(0.9, 10, 0.9, 10) == "0.90"  # every fit counts: no note
    assert _coverage_text(1.0, 8, 0.9, 10) == "1.00\nn=8"
    assert _coverage_text(0.5, 10, 0.9, 10) == "0.50*"  # 0.9 outside its Wilson interval
    assert _coverage_text(float("nan"), 0, 0.9, 10) == "–\nno usable\ninterval"
    assert _coverage_text(float("nan"), 0, 0.9) == "–"  # no fits in the cell at all


# ------------------------------------------------------------- every model and design


def _model_tables(model, rec):
    """The tables a model's figures draw, from its recovery table (tests/synthetic.py)."""
    from synthetic import make_exact, make_sbc

    from rlrecover.analysis.sbc import coverage_curve
    from rlrecover.analysis.tradeoff import correlation_table, error_dependence_table

    sbc = make_sbc(model, 40)
    return {
        "coverage": coverage_table(rec, model, (0.5, 0.8, 0.9, 0.95)),
        "coverage_curve": coverage_curve(rec, model, levels=(0.25, 0.5, 0.75, 0.9)),
        "design": design_table(rec, model),
        "tradeoff": tradeoff_table(rec, model),
        "correlations": correlation_table(rec, model),
        "error_dependence": error_dependence_table(rec, model),
        "sbc_recovery": sbc,
        "sbc_coverage_curve": coverage_curve(sbc, model, levels=(0.5, 0.9)),
        "exact_check": make_exact(model, rec),
    }


def _draw(name, model, rec, tables, path):
    from rlrecover.report.figures import FIGURES

    if name.startswith("recovery_"):
        return plot_recovery(rec, model, name.removeprefix("recovery_"), path)
    if name.startswith("map_"):
        return plot_grid_map(rec, model, name.removeprefix("map_"), path)
    plot, table = FIGURES[name]
    return plot(tables[table], model, path)


#: (model, design, methods): each layout once, with one or two methods to keep it quick
#: (MLE's unusable and at-bound fits, PyMC's divergences and exact check both occur;
#: three methods and lengths: test_matrix_figures_with_three_methods_and_lengths).
LAYOUTS = [
    ("bias", "grid", ("mle",)),
    ("rw", "grid", ("mle", "pymc_bernoulli")),
    ("ck", "sobol", ("pymc_potential",)),
    ("rw2", "grid", ("pymc_bernoulli",)),
    ("rwck", "sobol", ("pymc_bernoulli",)),
]


@pytest.mark.parametrize("name, kind, methods", LAYOUTS)
def test_every_figure_of_every_layout(tmp_path, name, kind, methods):
    from synthetic import make_recovery as make_any

    from rlrecover.report.layout import SBC_FIGURES, figure_names, has_maps

    model = models.get(name)
    rec = make_any(model, kind, methods=methods, trials=(100,), n_rep=2, n_points=6)
    tables = _model_tables(model, rec)
    names = [*figure_names(model, kind), *SBC_FIGURES, "exact_check"]
    assert ("map_rmse" in names) == has_maps(model, kind)
    for fig in names:
        path = tmp_path / f"{fig}.png"
        assert _draw(fig, model, rec, tables, path) == path
        assert _is_png(path), fig
    assert sorted(p.stem for p in tmp_path.glob("*.png")) == sorted(names)


def test_maps_need_a_two_parameter_grid(tmp_path):
    from synthetic import make_recovery as make_any

    rwck, ck = models.get("rwck"), models.get("ck")
    rec = make_any(rwck, "sobol", methods=("mle",), trials=(50,), n_rep=2, n_points=4)
    with pytest.raises(ValueError, match="two parameters"):
        plot_grid_map(rec, rwck, "bias", tmp_path / "x.png")
    with pytest.raises(ValueError, match="two parameters"):
        plot_tradeoff(tradeoff_table(rec, rwck), rwck, tmp_path / "x.png")
    sobol = make_any(ck, "sobol", methods=("mle",), trials=(50,), n_rep=2, n_points=5)
    with pytest.raises(ValueError, match="grid"):
        plot_grid_map(sobol, ck, "rmse", tmp_path / "x.png")
    with pytest.raises(ValueError, match="grid"):
        plot_tradeoff(tradeoff_table(sobol, ck), ck, tmp_path / "x.png")


def test_matrix_figures_with_three_methods_and_lengths(tmp_path, monkeypatch):
    from synthetic import make_recovery as make_any

    import rlrecover.report.matrices
    from rlrecover.analysis.tradeoff import correlation_table, error_dependence_table
    from rlrecover.report.matrices import plot_correlations, plot_error_dependence

    rwck = models.get("rwck")
    rec = make_any(rwck, "sobol", trials=(50, 150, 400), n_rep=2, n_points=6)
    corr = correlation_table(rec, rwck)
    dep = error_dependence_table(rec, rwck)
    assert _is_png(plot_correlations(corr, rwck, tmp_path / "c.png"))
    assert _is_png(plot_error_dependence(dep, rwck, tmp_path / "d.png", metric="bias"))
    assert _is_png(plot_correlations(None, rwck, tmp_path / "none.png"))
    assert _is_png(plot_error_dependence(dep.iloc[:0], rwck, tmp_path / "empty.png"))
    with pytest.raises(ValueError, match="metric"):
        plot_error_dependence(dep, rwck, tmp_path / "x.png", metric="mae")
    texts = _figure_texts(
        monkeypatch, rlrecover.report.matrices, plot_correlations, corr, rwck, tmp_path / "c.png"
    )
    # every panel names its method and length; the values are annotated
    assert sum("Maximum likelihood, 150 trials" in t for t in texts) == 1
    mle = corr[(corr.method == "mle") & (corr.n_trials == 400)]
    value = mle[(mle.param_1 == "alpha") & (mle.param_2 == "alpha_c")].error_corr.item()
    assert f"{value:.2f}".replace("-", "\u2212") in texts


def test_exact_check_names_the_reference_and_counts_unreliable_ones(tmp_path, monkeypatch):
    from synthetic import make_exact
    from synthetic import make_recovery as make_any

    import rlrecover.report.exact
    from rlrecover.report.exact import plot_exact_check

    rwck = models.get("rwck")
    rec = make_any(rwck, "sobol", trials=(50,), n_rep=1, n_points=5)
    exact = make_exact(rwck, rec, n_unreliable=2)
    assert _is_png(plot_exact_check(exact.iloc[:0], rwck, tmp_path / "none.png"))
    texts = "\n".join(
        _figure_texts(
            monkeypatch, rlrecover.report.exact, plot_exact_check, exact, rwck, tmp_path / "e.png"
        )
    )
    assert "(importance sampling)" in texts
    assert "2 left out: reference not reliable" in texts
    # 10 PyMC fits, one failed per method, two with an unreliable reference: 6 checked
    assert "alpha: 6 checked fits, 1 with |z| > 4" in texts
