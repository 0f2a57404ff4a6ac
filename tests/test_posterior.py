"""rlrecover.inference.posterior: summaries of posterior draws, and the draws file, which
round-trips every fit exactly."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from rlrecover.inference.posterior import (
    PosteriorFit,
    load_fits,
    mcse_mean,
    posterior_summary,
    save_fits,
)
from rlrecover.summary import corr_columns


def _fit(key, rng, chains=2, draws=50, params=("alpha", "beta"), **kw):
    gens = {"alpha": lambda: rng.random((chains, draws))}
    return PosteriorFit(
        key=key,
        draws={p: gens.get(p, lambda: rng.gamma(2.0, 3.0, (chains, draws)))() for p in params},
        rhat_max=1.0 + rng.random() / 100,
        ess_bulk_min=float(rng.integers(50, 100)),
        ess_tail_min=float(rng.integers(50, 100)),
        divergences=int(rng.integers(0, 3)),
        seconds=rng.random(),
        compile_seconds=0.0,
        **kw,
    )


def test_posterior_summary_columns_and_values():
    rng = np.random.default_rng(3)
    a = rng.normal(0.5, 0.1, size=(4, 500))
    b = 2.0 + 0.8 * (a - 0.5) / 0.1 + rng.normal(0, 0.6, size=(4, 500))
    out = posterior_summary({"alpha": a, "beta": b}, {"alpha": 0.5, "beta": 2.0}, [0.9])
    assert out["alpha_est"] == pytest.approx(a.mean())
    assert out["beta_sd"] == pytest.approx(b.std(ddof=1))
    assert out["alpha_median"] == pytest.approx(np.median(a))
    assert out["alpha_cdf_true"] == pytest.approx(np.mean(a <= 0.5))
    lo, hi = np.quantile(a, [0.05, 0.95])
    assert (out["alpha_lower_90"], out["alpha_upper_90"]) == pytest.approx((lo, hi))
    # corr(a, b) = 0.8 / sqrt(0.8^2 + 0.6^2) = 0.8; 2,000 draws: se about 0.01.
    assert out["corr_alpha_beta"] == pytest.approx(0.8, abs=0.05)
    assert "ab_corr" not in out
    # MCSE of the mean of independent draws is sd / sqrt(n); ArviZ estimates it.
    assert out["alpha_mcse"] == pytest.approx(0.1 / np.sqrt(2000), rel=0.15)
    assert out["alpha_mcse"] == float(az.mcse(a, method="mean").item())


def test_posterior_summary_has_a_correlation_for_every_pair():
    # A four-parameter model (rwck): six correlations, named corr_{p}_{q} in order.
    rng = np.random.default_rng(4)
    names = ("alpha", "beta", "alpha_c", "beta_c")
    z = rng.normal(size=(4, 2, 1000))
    draws = {n: z[i] + (0.5 * z[0] if i == 3 else 0.0) for i, n in enumerate(names)}
    out = posterior_summary(draws, dict.fromkeys(names, 0.0), [0.5, 0.9])
    columns = [c for c in out if c.startswith("corr_")]
    assert (
        columns
        == corr_columns(names)
        == [
            "corr_alpha_beta",
            "corr_alpha_alpha_c",
            "corr_alpha_beta_c",
            "corr_beta_alpha_c",
            "corr_beta_beta_c",
            "corr_alpha_c_beta_c",
        ]
    )
    # beta_c = z3 + 0.5 z0: correlation 0.5 / sqrt(1.25) = 0.447 with alpha; the
    # others 0. 2,000 draws: se about 0.02, so 0.1 is 5 se.
    assert out["corr_alpha_beta_c"] == pytest.approx(0.5 / np.sqrt(1.25), abs=0.1)
    for c in columns:
        if c != "corr_alpha_beta_c":
            assert abs(out[c]) < 0.1, c
    # A constant parameter has no correlation: NaN, not an error.
    draws["beta"] = np.full((2, 1000), 3.0)
    assert np.isnan(posterior_summary(draws, dict.fromkeys(names, 0.0), [0.9])["corr_alpha_beta"])


def test_mcse_mean_refuses_flattened_draws():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 300))
    assert mcse_mean(x) == float(np.asarray(az.mcse(x, method="mean")).item())
    with pytest.raises(ValueError, match=r"shape \(chains, draws\), got shape \(1200,\)"):
        mcse_mean(x.ravel())


def test_fits_round_trip_bit_for_bit_with_failures_kept(tmp_path):
    rng = np.random.default_rng(3)
    fits = [
        _fit(0, rng),
        PosteriorFit(key=1, draws={}, seconds=0.5, error="ValueError: bad"),
        _fit(2, rng),
    ]
    path = tmp_path / "d.npz"
    save_fits(path, fits)
    back = load_fits(path)
    assert [f.key for f in back] == [0, 1, 2]
    for a, b in zip(fits, back, strict=True):
        assert a.error == b.error
        assert list(a.draws) == list(b.draws)
        for p in a.draws:
            assert np.array_equal(a.draws[p], b.draws[p])
        for name in ("rhat_max", "ess_bulk_min", "ess_tail_min", "seconds", "compile_seconds"):
            assert getattr(a, name) == getattr(b, name) or np.isnan(getattr(a, name))
    assert back[0].divergences == fits[0].divergences and isinstance(back[0].divergences, int)
    assert np.isnan(back[1].divergences)
    # The summaries of the loaded draws are those of the originals, to the bit.
    truth = {"alpha": 0.5, "beta": 5.0}
    assert posterior_summary(back[2].draws, truth, (0.9,)) == posterior_summary(
        fits[2].draws, truth, (0.9,)
    )
    assert not list(tmp_path.glob("*.tmp*")), "the temporary file is renamed into place"


def test_fits_of_any_model_round_trip(tmp_path):
    # The file stores whatever parameters the fits have (here rw2's three), in order.
    rng = np.random.default_rng(6)
    params = ("alpha_pos", "alpha_neg", "beta")
    fits = [_fit(k, rng, params=params) for k in range(3)]
    save_fits(tmp_path / "d.npz", fits)
    back = load_fits(tmp_path / "d.npz")
    for a, b in zip(fits, back, strict=True):
        assert list(b.draws) == list(params)
        for p in params:
            assert np.array_equal(a.draws[p], b.draws[p])


def test_fits_of_different_shapes_are_refused(tmp_path):
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="fit 1 has draws"):
        save_fits(tmp_path / "d.npz", [_fit(0, rng), _fit(1, rng, draws=40)])
    with pytest.raises(ValueError, match="fit 1 has draws"):
        save_fits(tmp_path / "d.npz", [_fit(0, rng), _fit(1, rng, params=("alpha", "b"))])
