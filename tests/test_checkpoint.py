"""rlrecover.checkpoint: a finished fit is found again only under the same context and data."""

from __future__ import annotations

import numpy as np

from rlrecover.inference.posterior import PosteriorFit
from rlrecover.run.checkpoint import Checkpoints

CONTEXT = {"seed": 1, "sampler": {"draws": 100}}


def _fit(key):
    rng = np.random.default_rng(key)
    draws = {"alpha": rng.random((2, 10)), "beta": rng.random((2, 10))}
    return PosteriorFit(key=key, draws=draws, rhat_max=1.0, divergences=0, seconds=0.1)


def _data(seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, 30), rng.integers(0, 2, 30)


def test_saved_fit_is_found_for_the_same_dataset_and_context(tmp_path):
    store = Checkpoints(tmp_path / "ck", "pymc_potential", CONTEXT)
    actions, rewards = _data(0)
    assert store.load(3, actions, rewards) is None
    store.save(_fit(3), actions, rewards)
    back = store.load(3, actions, rewards)
    assert back is not None and back.key == 3
    assert np.array_equal(back.draws["beta"], _fit(3).draws["beta"])


def test_another_context_method_replicate_or_dataset_misses(tmp_path):
    actions, rewards = _data(0)
    Checkpoints(tmp_path, "pymc_potential", CONTEXT).save(_fit(3), actions, rewards)
    other_config = {**CONTEXT, "sampler": {"draws": 200}}
    assert Checkpoints(tmp_path, "pymc_potential", other_config).load(3, actions, rewards) is None
    assert Checkpoints(tmp_path, "pymc_bernoulli", CONTEXT).load(3, actions, rewards) is None
    store = Checkpoints(tmp_path, "pymc_potential", CONTEXT)
    assert store.load(4, actions, rewards) is None
    flipped = actions.copy()
    flipped[-1] = 1 - flipped[-1]
    assert store.load(3, flipped, rewards) is None
    assert store.load(3, actions, rewards) is not None


def test_a_damaged_checkpoint_is_ignored(tmp_path):
    store = Checkpoints(tmp_path, "pymc_potential", CONTEXT)
    actions, rewards = _data(1)
    path = store.save(_fit(0), actions, rewards)
    path.write_bytes(path.read_bytes()[:100])
    assert store.load(0, actions, rewards) is None


def test_clear_removes_the_files_and_the_empty_directories(tmp_path):
    root = tmp_path / "results" / "checkpoints" / "trials~30" / "alpha~0.5" / "beta~5"
    (tmp_path / "results" / "keep.txt").parent.mkdir(parents=True)
    (tmp_path / "results" / "keep.txt").write_text("x")
    stores = [Checkpoints(root, m, CONTEXT) for m in ("pymc_potential", "pymc_bernoulli")]
    for store in stores:
        store.save(_fit(0), *_data(2))
    stores[0].clear()
    assert not (root / "pymc_potential").exists() and (root / "pymc_bernoulli").exists()
    stores[1].clear()
    assert not (tmp_path / "results" / "checkpoints").exists()
    assert (tmp_path / "results" / "keep.txt").exists()
