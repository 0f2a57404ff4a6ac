"""Import libraries whose numba functions should be cached on disk.

ArviZ decorates some functions with numba at import time, without numba's disk cache,
so every process compiles them again on first use: its ``@vectorize`` ufunc at import,
and the ECDF band's ``@jit`` functions (about 1.7 s, in every run's SBC tables job).
:func:`import_with_numba_cache` imports a module with ``cache=True`` as the default of
``numba.jit`` and ``numba.vectorize``, so a later process loads them from the cache.
The functions and their results are unchanged.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import warnings
from collections.abc import Iterator
from types import ModuleType

import numba

__all__ = ["import_with_numba_cache"]

_LOCK = threading.Lock()


@contextlib.contextmanager
def _cache_by_default() -> Iterator[None]:
    """``numba.jit`` and ``numba.vectorize`` with ``cache=True`` unless told otherwise."""
    originals = {name: getattr(numba, name) for name in ("jit", "vectorize")}

    def cached(original):
        def decorator(*args, **kwargs):
            kwargs.setdefault("cache", True)
            return original(*args, **kwargs)

        return decorator

    with _LOCK:
        for name, original in originals.items():
            setattr(numba, name, cached(original))
        try:
            with warnings.catch_warnings():
                # With an empty cache numba compiles ArviZ's ufunc twice and says so.
                warnings.filterwarnings(
                    "ignore", "Compilation requested for previously compiled", numba.NumbaWarning
                )
                yield
        finally:
            for name, original in originals.items():
                setattr(numba, name, original)


def import_with_numba_cache(name: str) -> ModuleType:
    """Import module ``name`` (and ArviZ first) with numba's disk cache on by default.

    Only the functions decorated while the modules are first imported are affected; an
    already imported module is returned as it is.

    Parameters
    ----------
    name : str
        The module, e.g. ``"pymc"``.

    Returns
    -------
    module
        The imported module.
    """
    with _cache_by_default():
        importlib.import_module("arviz.stats.ecdf_utils")
        return importlib.import_module(name)
