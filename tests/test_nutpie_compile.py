"""The cached nutpie compile must behave exactly like the stock one."""

import numpy as np
import pytest

nutpie = pytest.importorskip("nutpie")

from rlrecover.bayes import build_model  # noqa: E402
from rlrecover.model import simulate  # noqa: E402
from rlrecover.nutpie_compile import _fgraph_cache_key, compile_pymc_model_cached  # noqa: E402


def _draws(compiled, actions, rewards):
    trace = nutpie.sample(
        compiled.with_data(actions=actions, rewards=rewards),
        draws=200,
        tune=200,
        chains=2,
        cores=1,
        seed=3,
        progress_bar=False,
    )
    return {p: trace.posterior[p].to_numpy() for p in ("alpha", "beta")}


def test_cached_compile_matches_stock_draws():
    actions, rewards = simulate(0.5, 5, 60, rng=np.random.default_rng(1))
    model = build_model("potential", actions, rewards)
    stock = nutpie.compile_pymc_model(model, backend="numba")
    cached = compile_pymc_model_cached(model)

    # The wrappers are keyed on PyTensor's cache keys, so they can go to disk.
    assert _fgraph_cache_key(cached.logp_func) is not None
    assert _fgraph_cache_key(cached.expand_func) is not None
    assert cached.n_dim == stock.n_dim and cached.shapes == stock.shapes
    assert cached.user_data.dtype == stock.user_data.dtype

    # New data through with_data, identical draws for the same seed.
    new_actions, new_rewards = simulate(0.3, 3, 60, rng=np.random.default_rng(2))
    got = _draws(cached, new_actions, new_rewards)
    want = _draws(stock, new_actions, new_rewards)
    for p in want:
        np.testing.assert_array_equal(got[p], want[p])
    # And the data really changed the posterior.
    orig = _draws(cached, actions, rewards)
    assert not np.array_equal(orig["alpha"], got["alpha"])
