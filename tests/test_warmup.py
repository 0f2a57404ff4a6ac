"""Tests of rlrecover.run.warmup: the models compiled in a process of their own."""

from __future__ import annotations

import threading

import pytest
from conftest import rw_priors

from rlrecover.cancel import CANCEL, Cancelled
from rlrecover.inference.sampling import ModelSpec
from rlrecover.run import warmup

PRIORS = rw_priors()


def spec_of(kind: str, model: str = "rw", priors=PRIORS) -> ModelSpec:
    return ModelSpec(model, kind, priors, (0.5,) if model == "rw" else ())


@pytest.fixture(autouse=True)
def no_current_warmup(monkeypatch):
    """Each test starts with no warm-up of this process running."""
    monkeypatch.setattr(warmup, "_CURRENT", None)
    yield
    stop = getattr(warmup._CURRENT, "stop", None)
    if stop is not None:
        stop()


def _files(root):
    return [p for p in root.rglob("*") if p.is_file()]


def test_wait_for_returns_at_once_without_a_warmup():
    assert warmup.wait_for(spec_of("potential")) == 0.0


def test_warmup_fills_the_caches_and_releases_the_waiters(tmp_path, monkeypatch):
    # A process of its own, with caches of its own: what it compiles lands there.
    monkeypatch.setenv("PYTENSOR_FLAGS", f"base_compiledir={tmp_path / 'pytensor'}")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    spec = spec_of("bernoulli")
    other = spec_of("potential")
    calls = []
    kernels = ["exact:rw", "ecdf_band"]
    assert warmup.start(
        [spec],
        on_ready=lambda s: calls.append((s, threading.current_thread())),
        kernels=kernels,
    )
    assert not warmup.start([spec]), "a second warm-up while one runs"
    warmup.wait_for(spec)
    assert warmup._CURRENT.process.wait(timeout=120) == 0
    assert len(calls) == 1 and calls[0][0] == spec
    assert calls[0][1] is not threading.current_thread()
    # The model's numba functions and callbacks are in PyTensor's cache, with the
    # stamp that tells later runs not to start a warm-up.
    assert _files(tmp_path / "pytensor"), "nothing in PyTensor's cache"
    stamps = list((tmp_path / "pytensor").rglob("rlrecover-models/*"))
    assert len(stamps) == 1
    # A model that the warm-up does not compile is not waited for.
    assert warmup.wait_for(other) == 0.0
    # After the models, the later jobs' numba functions, which they then load.
    numba_cache = tmp_path / "numba"
    for function in (
        "rw.loglik_grid_kernel",
        "ecdf_utils._ecdf_band_interior_probability_numba",
    ):
        assert list(numba_cache.rglob(f"{function}-*.nbi")), f"{function} not in numba's cache"


def test_unknown_kernels_are_named_and_start_nothing():
    with pytest.raises(ValueError, match="no_such_kernel"):
        warmup.start([spec_of("potential")], kernels=["exact", "no_such_kernel"])
    assert warmup._CURRENT is None


def test_a_failed_warmup_releases_the_waiters(monkeypatch):
    spec = spec_of("no-such-kind")
    calls = []
    assert warmup.start([spec], on_ready=calls.append)
    warmup.wait_for(spec)  # returns: the process has ended
    assert warmup._CURRENT.process.wait(timeout=120) != 0
    assert calls == [spec]


def test_each_model_is_reported_when_it_is_ready(monkeypatch):
    # Six models compile one after the other; a model's sampling jobs may start as soon
    # as its own two specifications are in the caches (common.smk restores their rank).
    specs = [spec_of("potential"), spec_of("bernoulli")]
    calls = []
    w = warmup._Warmup.__new__(warmup._Warmup)
    w.specs, w.on_ready = specs, calls.append
    w.ready = {s: threading.Event() for s in specs}
    w._ready(specs[1])
    w._ready(specs[1])  # once only
    assert calls == [specs[1]] and not w.ready[specs[0]].is_set()


class _Running:
    """A warm-up that never finishes its model."""

    def __init__(self, spec):
        self.ready = {spec: threading.Event()}


def test_wait_for_stops_on_ctrl_c(monkeypatch):
    spec = spec_of("potential")
    monkeypatch.setattr(warmup, "_CURRENT", _Running(spec))
    monkeypatch.setattr(warmup, "_WAIT_SLICE", 0.05)
    timer = threading.Timer(0.2, CANCEL.set)
    timer.start()
    try:
        with pytest.raises(Cancelled):
            warmup.wait_for(spec)
    finally:
        timer.join()
        CANCEL.clear()


def test_the_stamp_names_the_models_and_is_looked_up_in_the_current_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(warmup, "_compiledir", lambda: tmp_path)
    potential = [spec_of("potential")]
    both = [*potential, spec_of("bernoulli")]
    assert warmup._stamp(potential) != warmup._stamp(both)
    assert warmup._stamp(both).parent == tmp_path / "rlrecover-models"
    assert not warmup.compiled(both)
    warmup._stamp(both).parent.mkdir()
    warmup._stamp(both).touch()
    assert warmup.compiled(both) and not warmup.compiled(potential)


def test_the_warmup_process_compiles_without_garbage_collections(tmp_path, monkeypatch):
    import gc
    import json

    monkeypatch.setattr(warmup, "_compiledir", lambda: tmp_path)
    seen = []
    monkeypatch.setattr(warmup, "_compile", lambda spec: seen.append(gc.isenabled()))
    spec = spec_of("potential")
    payload = json.dumps([warmup._to_json(spec)])
    assert gc.isenabled()
    try:
        assert warmup.main([payload]) == 0
    finally:
        enabled_after = gc.isenabled()
        gc.enable()
    assert seen == [False] and not enabled_after
    assert warmup.compiled([spec])  # and the stamp says the models are compiled


def test_a_spec_round_trips_through_the_warmup_payload():
    from conftest import default_priors

    from rlrecover import models

    rwck = models.get("rwck")
    spec = ModelSpec("rwck", "bernoulli", default_priors(rwck), (0.25,))
    assert warmup._from_json(warmup._to_json(spec)) == spec
