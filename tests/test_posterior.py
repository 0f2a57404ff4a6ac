"""rlrecover.posterior: the draws file round-trips every fit exactly."""

from __future__ import annotations

import numpy as np
import pytest

from rlrecover.posterior import PosteriorFit, load_fits, posterior_summary, save_fits


def _fit(key, rng, chains=2, draws=50, **kw):
    return PosteriorFit(
        key=key,
        draws={"alpha": rng.random((chains, draws)), "beta": rng.gamma(2.0, 3.0, (chains, draws))},
        rhat_max=1.0 + rng.random() / 100,
        ess_bulk_min=float(rng.integers(50, 100)),
        ess_tail_min=float(rng.integers(50, 100)),
        divergences=int(rng.integers(0, 3)),
        seconds=rng.random(),
        compile_seconds=0.0,
        **kw,
    )


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


def test_fits_of_different_shapes_are_refused(tmp_path):
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="fit 1 has draws"):
        save_fits(tmp_path / "d.npz", [_fit(0, rng), _fit(1, rng, draws=40)])
