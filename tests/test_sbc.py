"""Tests of SBC: coverage from the CDF at the truth, the SBC table (rlrecover.analysis.sbc)
and its figures (rlrecover.report.sbc, rlrecover.report.coverage.plot_coverage_curve).

Every random input is seeded. Tolerances come from the Monte Carlo error of the
quantity checked (binomial counts of false alarms, the standard error of a coverage),
so a broken band, test or coverage rule fails them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rlrecover import models
from rlrecover.analysis.common import wilson_interval
from rlrecover.analysis.sbc import (
    COVERAGE_CURVE_COLUMNS,
    DEFAULT_CURVE_LEVELS,
    ECDF_GRID,
    UNIFORMITY_TEST,
    coverage_curve,
    coverage_from_cdf,
    ecdf_band,
    sbc_table,
    sbc_table_columns,
)
from rlrecover.report.coverage import plot_coverage_curve
from rlrecover.report.sbc import plot_sbc_ecdf, plot_sbc_ranks
from rlrecover.summary import empty_row, summary_columns

RW = models.get("rw")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LEVELS = (0.5, 0.9)
#: Repetitions of an SBC run on calibrated values, and the largest acceptable count of
#: "no" (band) or p < 0.05 (test) among them: P(Binomial(20, 0.05) >= 5) = 0.0026.
N_REPS = 20
MAX_ALARMS = 4


def sbc_frame(cdf: dict[str, dict[str, np.ndarray]], ess: dict[str, float] | None = None):
    """An SBC result table (all recovery columns) with the given CDF values.

    ``cdf[method][param]`` are the CDF values of the datasets (same length for both
    parameters of a method); ``ess[method]`` fills ``ess_bulk_min``.
    """
    rows = []
    for method, by_param in cdf.items():
        n = len(by_param["alpha"])
        for r in range(n):
            row = empty_row("rw", LEVELS, method, {"alpha": 0.3, "beta": 4.0}, r, 100)
            row["cell"] = "sbc"
            row["alpha_cdf_true"] = float(by_param["alpha"][r])
            row["beta_cdf_true"] = float(by_param["beta"][r])
            if ess and method in ess:
                row["ess_bulk_min"] = ess[method]
            rows.append(row)
    return pd.DataFrame(rows, columns=summary_columns(RW.param_names, LEVELS))


def uniform_frame(n: int, seed: int, method: str = "pymc_bernoulli") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return sbc_frame({method: {"alpha": rng.uniform(size=n), "beta": rng.uniform(size=n)}})


def _is_png(path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


# --------------------------------------------------------------------------- coverage_from_cdf


def test_coverage_from_cdf_edges_inclusive():
    cdf = np.array([0.0, 0.0499, 0.05, 0.3, 0.5, 0.95, 0.9501, 1.0, np.nan])
    got = coverage_from_cdf(cdf, 0.9)
    assert got.dtype == bool
    np.testing.assert_array_equal(got, [False, False, True, True, True, True, False, False, False])
    assert coverage_from_cdf(0.5, 0.5).shape == ()
    assert bool(coverage_from_cdf(0.25, 0.5)) and bool(coverage_from_cdf(0.75, 0.5))
    assert not bool(coverage_from_cdf(0.7501, 0.5))


def test_coverage_from_cdf_edge_survives_level_rounding():
    level = np.arange(0.05, 0.951, 0.05)[2]  # 0.15000000000000002
    assert level != 0.15
    # edges 0.425 and 0.575: CDF values exactly there (e.g. 1700/4000) are inside
    assert coverage_from_cdf(np.array([1700 / 4000, 2300 / 4000]), level).all()
    assert not coverage_from_cdf(np.array([1699 / 4000, 2301 / 4000]), level).any()


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1, 1.5])
def test_coverage_from_cdf_rejects_bad_level(level):
    with pytest.raises(ValueError, match="level"):
        coverage_from_cdf(0.5, level)


def test_coverage_from_cdf_matches_wald_interval():
    # MLE: cdf = Phi(z) with z = (truth - est) / se; Wald interval covers iff |z| <= z_L
    z = np.random.default_rng(7).normal(size=2000) * 1.3
    for level in (0.5, 0.8, 0.95):
        z_l = stats.norm.ppf(0.5 + level / 2)
        np.testing.assert_array_equal(
            coverage_from_cdf(stats.norm.cdf(z), level), np.abs(z) <= z_l
        )


def test_coverage_from_cdf_matches_quantile_interval_up_to_one_draw():
    """Against the posterior interval columns: disagreement only within one draw of a bound."""
    rng = np.random.default_rng(11)
    n_draws = 400
    for _ in range(300):
        x = np.sort(rng.normal(size=n_draws))
        truth = rng.normal()
        cdf = float(np.mean(x <= truth))
        for level in (0.5, 0.9):
            lo, hi = np.quantile(x, [(1 - level) / 2, (1 + level) / 2])
            by_interval = lo <= truth <= hi
            if bool(coverage_from_cdf(cdf, level)) != by_interval:
                k = int(np.searchsorted(x, truth, side="right"))  # x[k-1] <= truth < x[k]
                left = x[k - 1] if k > 0 else -np.inf
                right = x[k] if k < n_draws else np.inf
                assert left <= lo <= right or left <= hi <= right


# --------------------------------------------------------------------------- coverage_curve


def test_coverage_curve_hand_counts_and_exclusions():
    cdf = np.array([0.02, 0.1, 0.3, 0.5, 0.6, 0.8, 0.97, 0.5, np.nan, 0.5])
    frame = pd.DataFrame(
        {
            "method": ["pymc_potential"] * 10 + ["custom"] * 2,
            "status": ["ok"] * 7 + ["failed", "ok", "failed"] + ["ok", "failed"],
            "alpha_cdf_true": [*cdf, np.nan, 0.5],
            "beta_cdf_true": [*(1 - cdf), np.nan, 0.5],
        }
    )
    curve = coverage_curve(frame, RW, levels=[0.5, 0.9])
    assert list(curve.columns) == COVERAGE_CURVE_COLUMNS
    assert list(curve["method"].unique()) == ["pymc_potential", "custom"]
    # usable alpha values: 0.02 0.1 0.3 0.5 0.6 0.8 0.97 (rows 8, 10 failed, row 9 NaN)
    # level 0.5 -> [0.25, 0.75]: 0.3 0.5 0.6 -> 3; level 0.9 -> [0.05, 0.95]: 5
    want = {("alpha", 0.5): 3, ("alpha", 0.9): 5, ("beta", 0.5): 3, ("beta", 0.9): 5}
    pp = curve[curve["method"] == "pymc_potential"]
    for row in pp.itertuples():
        assert row.n == 7
        assert row.covered == want[(row.parameter, row.level)]
        assert row.coverage == pytest.approx(row.covered / 7)
        assert (row.ci_low, row.ci_high) == pytest.approx(wilson_interval(row.covered, 7))
        assert (row.n_failed, row.n_no_cdf, row.n_excluded) == (2, 1, 3)
    custom = curve[curve["method"] == "custom"]
    assert (custom["n"] == 0).all() and custom["coverage"].isna().all()
    assert custom["ci_low"].isna().all() and custom["ci_high"].isna().all()
    assert (custom["n_failed"] == 1).all() and (custom["n_no_cdf"] == 1).all()


def test_coverage_curve_default_levels_on_grid_table():
    """A grid run (several cells) pools its cells; no interval columns are needed."""
    rng = np.random.default_rng(3)
    rows = []
    for a in (0.2, 0.7):
        for r in range(50):
            row = empty_row("rw", (), "mle", {"alpha": a, "beta": 3.0}, r, 100)
            row["alpha_cdf_true"], row["beta_cdf_true"] = rng.uniform(size=2)
            rows.append(row)
    curve = coverage_curve(pd.DataFrame(rows, columns=summary_columns(RW.param_names, ())), RW)
    assert len(curve) == 2 * len(DEFAULT_CURVE_LEVELS) == 38
    np.testing.assert_allclose(curve["level"].unique(), np.arange(1, 20) / 20)
    assert (curve["n"] == 100).all()
    # uniform values: coverage within 4 binomial standard errors of the level
    se = np.sqrt(curve["level"] * (1 - curve["level"]) / 100)
    assert (np.abs(curve["coverage"] - curve["level"]) <= 4 * se).all()


def test_coverage_curve_errors():
    with pytest.raises(KeyError, match="beta_cdf_true"):
        coverage_curve(pd.DataFrame({"method": ["mle"], "alpha_cdf_true": [0.5]}), RW)
    bad = pd.DataFrame({"method": ["mle"], "alpha_cdf_true": [1.2], "beta_cdf_true": [0.5]})
    with pytest.raises(ValueError, match="outside"):
        coverage_curve(bad, RW)


# --------------------------------------------------------------------------- ecdf band


@pytest.mark.parametrize("n", [2, 20, 200, 1000])
def test_ecdf_band_monotone_and_contains_diagonal(n):
    grid, lower, upper = ecdf_band(n, 0.95)
    np.testing.assert_array_equal(grid, ECDF_GRID)
    assert np.all(np.diff(lower) >= 0) and np.all(np.diff(upper) >= 0)
    assert np.all(lower <= grid) and np.all(grid <= upper)
    assert np.all(lower >= 0) and np.all(upper <= 1)
    np.testing.assert_allclose(lower * n, np.round(lower * n), atol=1e-9)  # counts / n


def test_ecdf_band_is_simultaneous_not_pointwise():
    """Calibrated ECDFs leave the 95% band in 5% of runs (pointwise bands: far more)."""
    n, reps = 200, 200
    tables = [sbc_table(uniform_frame(n, seed), RW) for seed in range(reps)]
    alarms = sum(int((t["inside_band"] == "no").sum()) for t in tables)
    trials = 2 * reps  # alpha and beta are independent
    lo, hi = stats.binom.ppf([0.0005, 0.9995], trials, 0.05)
    assert lo <= alarms <= hi, (alarms, lo, hi)


def test_ecdf_band_narrows_with_n_and_rejects_bad_input():
    half = [float(np.max(ecdf_band(n)[2] - ecdf_band(n)[1])) for n in (50, 200, 800)]
    assert half[0] > half[1] > half[2]
    with pytest.raises(ValueError):
        ecdf_band(0)
    with pytest.raises(ValueError):
        ecdf_band(10, prob=1.0)


# --------------------------------------------------------------------------- sbc_table


@pytest.mark.parametrize("n", [200, 1000])
def test_sbc_table_uniform_values_pass(n):
    """Calibrated values: 'no' and p < 0.05 each about 5% of the time, never tiny p."""
    no = dict.fromkeys(("alpha", "beta"), 0)
    small = dict.fromkeys(("alpha", "beta"), 0)
    for seed in range(N_REPS):
        table = sbc_table(uniform_frame(n, 1000 * n + seed), RW)
        for row in table.itertuples():
            no[row.parameter] += row.inside_band == "no"
            small[row.parameter] += row.p_value < 0.05
            # P(any of 80 p-values < 1e-4) = 0.008
            assert row.p_value > 1e-4
            for level in (0.5, 0.8, 0.9, 0.95):
                cov = getattr(row, f"coverage_{round(100 * level)}")
                assert abs(cov - level) <= 4 * math.sqrt(level * (1 - level) / n)
    assert max(no.values()) <= MAX_ALARMS, no
    assert max(small.values()) <= MAX_ALARMS, small


@pytest.mark.parametrize("n", [200, 1000])
def test_sbc_table_detects_miscalibration(n):
    rng = np.random.default_rng(n)
    u = rng.uniform(size=n)
    overconfident = np.clip(rng.normal(0.5, 0.6, size=n), 0.0, 1.0)  # piles at 0 and 1
    table = sbc_table(sbc_frame({"pymc_potential": {"alpha": u**2, "beta": overconfident}}), RW)
    assert (table["inside_band"] == "no").all()
    assert (table["p_value"] < 1e-6).all()
    beta = table.set_index("parameter").loc["beta"]
    # about 2 * Phi(-0.5 / 0.6) = 40% of the values sit at exactly 0 or 1
    assert beta["coverage_95"] < 0.75


def test_sbc_table_columns_and_statistics():
    rng = np.random.default_rng(5)
    a, b = rng.uniform(size=(2, 60))
    frame = sbc_frame(
        {
            "pymc_bernoulli": {"alpha": a, "beta": b},
            "mle": {"alpha": b, "beta": a},
            "custom": {"alpha": np.full(3, np.nan), "beta": np.full(3, np.nan)},
        },
        ess={"pymc_bernoulli": 400.0},
    )
    frame.loc[frame.index[0], "status"] = "failed"  # first pymc_bernoulli row
    table = sbc_table(frame, RW, coverage_levels=(0.5, 0.975))
    assert list(table.columns) == sbc_table_columns((0.5, 0.975))
    assert "coverage_97.5" in table.columns
    assert list(table["method"]) == [m for m in ("mle", "pymc_bernoulli", "custom") for _ in "ab"]
    assert (table["test"] == UNIFORMITY_TEST).all()
    t = table.set_index(["method", "parameter"])

    pb = t.loc[("pymc_bernoulli", "alpha")]
    used = a[1:]
    assert (pb["n"], pb["n_failed"], pb["n_no_cdf"], pb["n_excluded"]) == (59, 1, 0, 1)
    ks = stats.kstest(used, "uniform")
    assert pb["p_value"] == pytest.approx(ks.pvalue)
    assert pb["max_ecdf_deviation"] == pytest.approx(ks.statistic)
    assert pb["coverage_50"] == pytest.approx(np.mean((used >= 0.25) & (used <= 0.75)))
    mc = np.max(np.sqrt(used * (1 - used) / 400.0))
    assert pb["mc_error_max"] == pytest.approx(mc)
    _, lower, upper = ecdf_band(59)
    half = np.max(upper - lower) / 2
    assert pb["band_half_width"] == pytest.approx(half)
    assert pb["mc_error_vs_band"] == pytest.approx(mc / half)

    assert math.isnan(t.loc[("mle", "alpha"), "mc_error_max"])  # no draws, no ESS
    assert t.loc[("mle", "alpha"), "n"] == 60
    empty = t.loc[("custom", "beta")]
    assert (empty["n"], empty["n_no_cdf"], empty["inside_band"]) == (0, 3, "n/a")
    assert math.isnan(empty["p_value"]) and math.isnan(empty["coverage_50"])


def test_sbc_table_single_dataset():
    table = sbc_table(sbc_frame({"mle": {"alpha": [0.4], "beta": [0.995]}}), RW)
    assert (table["n"] == 1).all()
    t = table.set_index("parameter")
    assert t.loc["alpha", "inside_band"] == "yes"
    # with one value the band at u = 0.99 demands ECDF = 1, i.e. the value <= 0.99
    assert t.loc["beta", "inside_band"] == "no"


# --------------------------------------------------------------------------- figures


def _figure_frame() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    n = 150
    frame = sbc_frame(
        {
            "pymc_potential": {"alpha": rng.uniform(size=n), "beta": rng.uniform(size=n)},
            "pymc_bernoulli": {
                "alpha": np.clip(rng.normal(0.5, 0.5, size=n), 0, 1),
                "beta": rng.uniform(size=n) ** 2,
            },
            "mle": {"alpha": np.full(n, np.nan), "beta": np.full(n, np.nan)},
        }
    )
    frame.loc[frame.index[:3], "status"] = "failed"
    return frame


@pytest.mark.parametrize("plot", [plot_sbc_ranks, plot_sbc_ecdf])
def test_sbc_plots_write_png(tmp_path, plot):
    frame = _figure_frame()
    out = plot(frame, RW, tmp_path / "sub" / "fig.png")
    assert out == tmp_path / "sub" / "fig.png"
    assert _is_png(out)
    # one dataset, and a table without fits
    assert _is_png(plot(frame[frame["replicate"] == 7], RW, tmp_path / "one.png"))
    assert _is_png(plot(frame.iloc[:0], RW, tmp_path / "none.png"))


def test_plot_coverage_curve_writes_png(tmp_path):
    frame = _figure_frame()
    assert _is_png(plot_coverage_curve(coverage_curve(frame, RW), RW, tmp_path / "curve.png"))
    one = coverage_curve(frame[frame["replicate"] == 7], RW)
    assert _is_png(plot_coverage_curve(one, RW, tmp_path / "one.png"))
    none = coverage_curve(frame.iloc[:0], RW)
    assert _is_png(plot_coverage_curve(none, RW, tmp_path / "none.png"))


def test_plot_sbc_ranks_rejects_bad_bins(tmp_path):
    with pytest.raises(ValueError, match="bins"):
        plot_sbc_ranks(_figure_frame(), RW, tmp_path / "x.png", bins=0)


# ------------------------------------------------------------------------------------
# The real thing: an SBC run of both PyMC models
# ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_both_pymc_models_are_calibrated_under_sbc():
    """300 SBC datasets of 30 trials, short chains: both models stay inside the band.

    Truths are drawn from the priors, data simulated and fitted exactly as the
    workflow's SBC jobs do. The run is seeded, so it is reproducible; with a 99 %
    simultaneous band per model and parameter, a calibrated sampler fails one of the
    four checks with probability at most 4 % for a new seed.
    """
    from conftest import default_settings

    from rlrecover.data import sbc_truth, simulate_sbc
    from rlrecover.fitting import DatasetSpec, fit_datasets

    n = 300
    settings = default_settings(
        seed=2026,
        task={"n_trials": 30},
        sampler={"chains": 2, "tune": 200, "draws": 250},
        coverage_levels=[0.5, 0.9],
    )
    model = settings.model
    data = simulate_sbc(model, settings.seed, range(n), settings.task, settings.priors)

    def spec_of(rep):
        truth = sbc_truth(model, settings.seed, rep, settings.priors)
        return DatasetSpec(truth, "sbc", ("sbc", rep))

    fits = pd.concat(
        [
            fit_datasets(method, data, spec_of, settings, lambda _: None)
            for method in ("pymc_potential", "pymc_bernoulli")
        ]
    )
    assert (fits["status"] == "ok").all(), fits["error"].unique()
    table = sbc_table(fits, RW, prob=0.99)
    assert len(table) == 4 and (table["n"] == n).all()
    assert (table["inside_band"] == "yes").all(), table[
        ["method", "parameter", "p_value", "max_ecdf_deviation", "inside_band"]
    ]


def test_unusable_se_fits_are_left_out_counted_and_named(tmp_path, monkeypatch):
    # issue 9: MLE fits of two trials have CDF values of ~0.5 from an absurd SE (or
    # NaN from a singular Hessian); they must be left out, counted and named.
    import matplotlib.text

    import rlrecover.report.coverage
    import rlrecover.report.sbc

    rng = np.random.default_rng(9)
    frame = sbc_frame(
        {
            "mle": {"alpha": np.full(6, 0.4999), "beta": np.full(6, 0.4975)},
            "pymc_potential": {"alpha": rng.uniform(size=6), "beta": rng.uniform(size=6)},
        }
    )
    frame.loc[frame.method == "mle", "status"] = "unusable_se"
    frame.loc[0, "status"] = "failed"
    curve = coverage_curve(frame, RW, levels=[0.5, 0.9])
    mle = curve[curve.method == "mle"]
    assert (mle.n == 0).all() and mle.coverage.isna().all()
    assert (mle[["n_unusable", "n_failed", "n_no_cdf", "n_excluded"]] == [5, 1, 0, 6]).all().all()
    table = sbc_table(frame, RW, LEVELS)
    assert list(table.columns) == sbc_table_columns(LEVELS)
    assert table.loc[table.method == "mle", "n_unusable"].tolist() == [5, 5]

    seen = {}

    def capture(fig, path, **kwargs):
        seen["fig"] = fig
        return path

    monkeypatch.setattr(rlrecover.report.sbc, "save_figure", capture)
    monkeypatch.setattr(rlrecover.report.coverage, "save_figure", capture)

    def texts():
        return "\n".join(t.get_text() for t in seen["fig"].findobj(matplotlib.text.Text))

    plot_coverage_curve(curve, RW, tmp_path / "curve.png")
    out = texts()
    assert "alpha not drawn: no usable CDF values (unusable SE 5, failed 1)" in out
    assert "beta: n = 0, 6 left out (unusable SE 5, failed 1)" in out
    assert "alpha: n = 6" in out  # the PyMC panel keeps its lines
    plot_sbc_ecdf(frame, RW, tmp_path / "ecdf.png")
    assert "(5 unusable SE, 1 failed left out)" in texts()
    plot_sbc_ranks(frame, RW, tmp_path / "ranks.png")
    assert "no usable CDF values" in texts()
