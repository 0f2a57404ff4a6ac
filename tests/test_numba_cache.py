"""Tests of rlrecover.numba_cache: libraries' numba functions cached on disk."""

from __future__ import annotations

import subprocess
import sys

import numba
import pytest
from numba.core.caching import NullCache

from rlrecover.numba_cache import import_with_numba_cache

MODULE = """
import numba

@numba.jit(nopython=True)
def plus_one(x):
    return x + 1

@numba.jit(nopython=True, cache=False)
def told_not_to(x):
    return x + 2

@numba.vectorize(["float64(float64)"])
def twice(x):
    return 2 * x
"""


def test_functions_decorated_while_importing_are_cached(tmp_path, monkeypatch):
    (tmp_path / "rlrecover_numba_cache_probe.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    jit, vectorize = numba.jit, numba.vectorize
    try:
        module = import_with_numba_cache("rlrecover_numba_cache_probe")
    finally:
        sys.modules.pop("rlrecover_numba_cache_probe", None)
    assert (numba.jit, numba.vectorize) == (jit, vectorize), "the decorators are restored"
    assert not isinstance(module.plus_one._cache, NullCache)
    assert isinstance(module.told_not_to._cache, NullCache), "an explicit cache=False holds"
    assert module.plus_one(1) == 2 and module.twice(1.5) == 3.0
    # a function decorated after the import is as numba makes it: not cached
    assert isinstance(numba.jit(nopython=True)(lambda x: x)._cache, NullCache)


@pytest.mark.parametrize(
    "first",
    [
        "import rlrecover.inference.sampling",
        "from rlrecover.analysis import sbc; sbc.ecdf_band(20)",
    ],
    ids=["sampling first", "SBC tables first"],
)
def test_the_ecdf_band_functions_of_arviz_are_cached(first):
    # A fresh interpreter, as a run's process: whichever imports ArviZ first.
    check = (
        f"{first}\n"
        "from numba.core.caching import NullCache\n"
        "from arviz.stats.ecdf_utils import _ecdf_band_interior_probability_numba as f\n"
        "assert not isinstance(f._cache, NullCache)\n"
    )
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
