"""Tests of rlrecover.seeds: streams depend on what a dataset is, not where it sits."""

from __future__ import annotations

import numpy as np
import pytest

from rlrecover.seeds import dataset_rng, derive_seed, format_value, sbc_rng

SEED = 20261125


def _draws(rng: np.random.Generator) -> np.ndarray:
    return rng.random(8)


def test_format_value():
    assert format_value(5) == format_value(5.0) == "5"
    assert format_value(0.5) == "0.5"
    assert format_value(0.1 + 0.2) == "0.3"  # below 12 significant digits: one cell


def test_dataset_rng_int_and_float_beta_are_one_stream():
    np.testing.assert_array_equal(
        _draws(dataset_rng(SEED, (), (0.5, 5), 0)), _draws(dataset_rng(SEED, (), (0.5, 5.0), 0))
    )


def test_dataset_rng_is_reproducible():
    np.testing.assert_array_equal(
        _draws(dataset_rng(SEED, (), (0.3, 2.0), 4)), _draws(dataset_rng(SEED, (), (0.3, 2.0), 4))
    )


@pytest.mark.parametrize(
    "other",
    [
        (SEED, (), (0.5, 5.0), 1),  # replicate
        (SEED + 1, (), (0.5, 5.0), 0),  # configured seed
        (SEED, (), (0.6, 5.0), 0),  # alpha
        (SEED, (), (0.5, 6.0), 0),  # beta
        (SEED, (), (5.0, 0.5), 0),  # swapped values
        (SEED, ("ck",), (0.5, 5.0), 0),  # another model with the same values
    ],
)
def test_dataset_rng_differs(other):
    base = _draws(dataset_rng(SEED, (), (0.5, 5.0), 0))
    assert not np.array_equal(base, _draws(dataset_rng(*other)))


def test_derive_seed_labels_and_validation():
    a = derive_seed(1, "data", 0.5).generate_state(4)
    b = derive_seed(1, "fit", 0.5).generate_state(4)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, derive_seed(1, "data", 0.5).generate_state(4))
    with pytest.raises(ValueError, match="got -3"):
        derive_seed(-3, "data")
    with pytest.raises(ValueError, match=r"got 1\.5"):
        derive_seed(1.5, "data")


def test_rw_keeps_the_streams_of_the_single_model_releases():
    # The keys of rlrecover 0.1 (before the model library): ("data", *cell, replicate)
    # and ("sbc", index); rw adds nothing to them, every other model its name.
    from rlrecover import models

    assert models.get("rw").stream_parts() == ()
    old = np.random.default_rng(derive_seed(SEED, "data", 0.5, 5.0, 3))
    np.testing.assert_array_equal(_draws(old), _draws(dataset_rng(SEED, (), (0.5, 5.0), 3)))
    old_sbc = np.random.default_rng(derive_seed(SEED, "sbc", 7))
    np.testing.assert_array_equal(_draws(old_sbc), _draws(sbc_rng(SEED, (), 7)))
    names = [m.name for m in models.registry().values() if m.stream_parts()]
    assert sorted(names) == ["bias", "ck", "rw2", "rwck", "wsls"]
    assert not np.array_equal(_draws(sbc_rng(SEED, (), 7)), _draws(sbc_rng(SEED, ("ck",), 7)))
