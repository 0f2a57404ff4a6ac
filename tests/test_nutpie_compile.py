"""rlrecover.inference.nutpie_compile: the cached nutpie compile must behave exactly like the
stock one."""

import numpy as np
import pytest

nutpie = pytest.importorskip("nutpie")

from conftest import RW, rw_priors  # noqa: E402

from rlrecover.inference.nutpie_compile import (  # noqa: E402
    _fgraph_cache_key,
    compile_pymc_model_cached,
)
from rlrecover.inference.pymc_models import build_model  # noqa: E402

PRIORS = rw_priors(1.0, 1.0, 10.0)


def simulate(alpha, beta, n, *, rng):
    return RW.simulate({"alpha": alpha, "beta": beta}, n, rng)


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


@pytest.mark.slow
def test_cached_compile_matches_stock_draws():
    actions, rewards = simulate(0.5, 5, 60, rng=np.random.default_rng(1))
    model = build_model(RW, "potential", actions, rewards, PRIORS)
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


def _logp_callback(inner, n_dim=2):
    import ctypes

    import nutpie.compile_pymc as ncp

    from rlrecover.inference.nutpie_compile import _make_logp_cfunc

    user_data = ncp.make_user_data({}, {})
    cfunc = _make_logp_cfunc(inner, None, [], {}, user_data, n_dim)

    def call(x, dim=n_dim):
        x = np.asarray(x, dtype=float)
        out, logp = np.zeros(n_dim), np.zeros(())
        ptr = ctypes.POINTER(ctypes.c_double)
        rc = cfunc.ctypes(
            dim,
            x.ctypes.data_as(ptr),
            out.ctypes.data_as(ptr),
            logp.ctypes.data_as(ptr),
            user_data.ctypes.data,
        )
        return rc, float(logp), out

    return call


def test_logp_callback_return_codes():
    # nutpie's codes: 0 ok, -1 wrong dimension, 1 exception, 3 non-finite gradient,
    # 4 non-finite logp. An exception must come back as a code, never escape.
    import numba

    @numba.njit
    def inner(x):
        if x[0] > 0:
            raise ValueError("boom")
        return np.float64(x[0] + x[1]), 2 * x

    call = _logp_callback(inner)
    rc, logp, grad = call([-1.0, 3.0])
    assert rc == 0 and logp == 2.0
    np.testing.assert_array_equal(grad, [-2.0, 6.0])
    assert call([1.0, 3.0])[0] == 1
    assert call([-1.0, 3.0], dim=3)[0] == -1
    assert call([-1.0, np.nan])[0] == 3
    assert call([-1.0, -np.inf])[0] == 3  # gradient -inf comes first
    assert call([-np.inf, 0.0])[0] == 3


def test_logp_callback_nonfinite_logp_code():
    import numba

    @numba.njit
    def inner(x):
        return np.float64(-np.inf), x.copy()

    rc, logp, grad = _logp_callback(inner)([0.5, 1.0])
    assert rc == 4 and logp == -np.inf
    np.testing.assert_array_equal(grad, [0.5, 1.0])


def _boom(*args, **kwargs):
    raise RuntimeError("private API changed\nin a new release")


@pytest.mark.slow
def test_compile_model_falls_back_to_stock(monkeypatch):
    # A failure inside the cached build (here: its own logp wrapper, which the stock
    # compile does not use) must give the stock compile and one line of warning.
    from rlrecover.inference import nutpie_compile

    actions, rewards = simulate(0.5, 5, 60, rng=np.random.default_rng(1))
    model = build_model(RW, "potential", actions, rewards, PRIORS)
    monkeypatch.setattr(nutpie_compile, "_make_logp_cfunc", _boom)
    messages = []
    compiled = nutpie_compile.compile_model(model, log=messages.append)

    assert len(messages) == 1
    (msg,) = messages
    assert "\n" not in msg
    assert "RuntimeError: private API changed in a new release" in msg
    assert "slower to start" in msg and "same draws" in msg

    new_actions, new_rewards = simulate(0.3, 3, 60, rng=np.random.default_rng(2))
    got = _draws(compiled, new_actions, new_rewards)
    want = _draws(nutpie.compile_pymc_model(model, backend="numba"), new_actions, new_rewards)
    for p in want:
        assert np.isfinite(got[p]).all() and got[p].std() > 0
        np.testing.assert_array_equal(got[p], want[p])


@pytest.mark.slow
def test_compile_model_warns_without_log(monkeypatch):
    from rlrecover.inference import nutpie_compile

    actions, rewards = simulate(0.5, 5, 60, rng=np.random.default_rng(1))
    model = build_model(RW, "potential", actions, rewards, PRIORS)
    monkeypatch.setattr(nutpie_compile, "_make_logp_cfunc", _boom)
    # Only the routing of the message is under test here; the stock compile itself is
    # checked above, so a marker stands in for its result.
    stock = object()
    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda m, backend: stock)
    with pytest.warns(RuntimeWarning) as record:
        assert nutpie_compile.compile_model(model) is stock
    ours = [w for w in record if "cached nutpie compile failed" in str(w.message)]
    assert len(ours) == 1
    assert "RuntimeError: private API changed in a new release" in str(ours[0].message)


@pytest.mark.slow
def test_compile_model_normal_path_is_silent(monkeypatch):
    import warnings

    from rlrecover.inference import nutpie_compile

    actions, rewards = simulate(0.5, 5, 60, rng=np.random.default_rng(1))
    model = build_model(RW, "potential", actions, rewards, PRIORS)

    def no_stock(*args, **kwargs):
        raise AssertionError("the stock compile must not run when the cached one works")

    monkeypatch.setattr(nutpie, "compile_pymc_model", no_stock)
    messages = []
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        compiled = nutpie_compile.compile_model(model, log=messages.append)
        nutpie_compile.compile_model(model)
    assert messages == []
    assert not [w for w in record if "cached nutpie compile" in str(w.message)]
    assert _fgraph_cache_key(compiled.logp_func) is not None


def test_the_cache_key_names_the_module_the_callbacks_are_rebuilt_from(monkeypatch):
    # numba rebuilds a cached callback's environment by importing the module named in
    # it: an entry written while this module was rlrecover.nutpie_compile (before the
    # package's layers) could not be loaded by rlrecover.inference.nutpie_compile
    # (ModuleNotFoundError, so every compile fell back to the stock one). The key holds
    # the module's name, so such an entry is never looked up.
    import numba
    import pytensor.link.numba.cache as pt_cache

    from rlrecover.inference import nutpie_compile

    class Stop(Exception):
        pass

    keys = []
    original = pt_cache.compile_numba_function_src

    def record(src, name, global_env=None, cache_key=None, **kwargs):
        if cache_key is not None:  # the guard: the cached callback
            keys.append((cache_key, global_env["__name__"]))
            raise Stop
        return original(src, name, global_env=global_env, **kwargs)

    monkeypatch.setattr(pt_cache, "compile_numba_function_src", record)

    @numba.njit
    def inner(x):
        return np.float64(x[0]), x.copy()

    import nutpie.compile_pymc as ncp

    user_data = ncp.make_user_data({}, {})
    for module in (nutpie_compile.__name__, "rlrecover.nutpie_compile"):
        monkeypatch.setattr(nutpie_compile, "__name__", module)
        with pytest.raises(Stop):
            nutpie_compile._make_logp_cfunc(inner, "fgraph key", [], {}, user_data, 2)
    (key_now, env_now), (key_old, env_old) = keys
    assert (
        env_now == "rlrecover.inference.nutpie_compile" and env_old == "rlrecover.nutpie_compile"
    )
    assert key_now != key_old
