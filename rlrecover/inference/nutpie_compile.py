"""``nutpie.compile_pymc_model(model, backend="numba")`` with its C callbacks cached on disk.

Stock nutpie compiles two ``numba.cfunc`` wrappers (logp+gradient and "expand")
around PyTensor's numba functions in every process. Those wrappers close over the
shared data arrays, so numba refuses to cache them ("uses dynamic globals") and
recompiles them, plus numba's own overloads they pull in, in every process: seconds
of start-up for every job.

:func:`compile_pymc_model_cached` builds the same :class:`CompiledPyMCModel`, but
generates the wrappers from source that reads every shared array from nutpie's
``user_data`` record (no array is baked into the code) and registers them with
PyTensor's numba cache locator under a key derived from PyTensor's own
function-graph cache keys. The second process then loads the wrappers from
PyTensor's cache directory (``<compiledir>/numba``) instead of compiling them.

The wrapper bodies follow nutpie's ``_make_c_logp_func``, ``_make_c_expand_func``
and ``make_extraction_fn`` (nutpie/compile_pymc.py, MIT licence,
Copyright (c) 2022 Adrian Seyboldt) with the same return codes, the
same data layout of ``user_data`` (so ``with_data`` works unchanged) and the same
inner function, so draws are identical to the stock compile for a given seed. One
difference: the ``try``/``except`` that maps an exception to an error code wraps a call
to the jitted body rather than the body itself, which makes the cold compile of the
logp callback many times faster (figures in benchmarks/README.md).

Use :func:`compile_model`, not :func:`compile_pymc_model_cached` directly: the cached
build reaches into private internals of nutpie (``_make_functions``,
``_wrap_with_lock``, ``make_user_data``, ``_prepare_dims_and_coords``,
``address_as_void_pointer``, the ``CompiledPyMCModel`` fields) and of PyTensor (the numba
cache's ``CACHED_SRC_FUNCTIONS`` and ``compile_numba_function_src``, ``fn.vm.jit_fn``),
which may change in any release. nutpie is pinned ``<0.17`` for that reason, but a
patch release of nutpie or PyTensor could still break the cached build; then
:func:`compile_model` falls back to the stock ``nutpie.compile_pymc_model`` with one
warning, so a run is slower to start but not lost.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from hashlib import sha256
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pymc as pm
    from nutpie.compile_pymc import CompiledPyMCModel

__all__ = ["compile_model", "compile_pymc_model_cached"]

# Bump to invalidate cached wrappers after a change to the templates below.
_WRAPPER_VERSION = 3

# Shared arrays are rebuilt from the user_data record, as in nutpie's extract_array.
_EXTRACT = """\
    {var} = numba.carray(address_as_void_pointer(sh["data"]["{name}"][()]),
                         int(sh["size"]["{name}"][()]), {dtype}).reshape({shape})
"""

# Each callback is a body (the work) and a guard that turns an exception into nutpie's
# error code, because an exception must not escape a C callback. nutpie puts the whole
# body inside try/except; numba then gives every call in it an exception edge, and its
# liveness analysis over those edges made compiling the logp callback (cold) an order
# of magnitude slower. A try block around one call to a separate function is cheap.
# Results are copied element by element: numba's ``out[...] = array`` carries an error
# path that formats the shapes into its message, and compiling that string code cost
# 1.7 s of a cold start; a length that differs returns the exception's error code.
_LOGP = """\
def {fname}(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    x = numba.carray(x_, ({n_dim},))
    out = numba.carray(out_, ({n_dim},))
    logp = numba.carray(logp_, ())
    sh = numba.carray(user_data_, (), record_dtype)["shared"]
{extract}
    logp_val, grad = inner({args})
    logp[()] = logp_val
    if grad.shape[0] != {n_dim}:
        return 1
    for i in range({n_dim}):
        out[i] = grad[i]
    if not np.all(np.isfinite(out)):
        return 3
    if not np.isfinite(logp_val):
        return 4
    return 0
"""

_EXPAND = """\
def {fname}(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    x = numba.carray(x_, ({n_dim},))
    out = numba.carray(out_, ({n_expanded},))
    sh = numba.carray(user_data_, (), record_dtype)["shared"]
{extract}
    (values,) = inner({args})
    if values.shape[0] != {n_expanded}:
        return -2
    for i in range({n_expanded}):
        out[i] = values[i]
    return 0
"""

_GUARD = """\
def {fname}({params}):
    try:
        return body({params})
    except Exception:  # noqa: BLE001
        return {error_code}
"""


def _fgraph_cache_key(pt_fn) -> str | None:
    """PyTensor's numba cache key of a compiled function, or None if it is not cached.

    The linker jits ``fn.py_func`` of the function returned by
    ``numba_funcify_ensure_cache``; that Python function is registered in
    ``CACHED_SRC_FUNCTIONS`` under the function-graph key (with the fastmath flag).
    """
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    return CACHED_SRC_FUNCTIONS.get(pt_fn.vm.jit_fn.py_func)


def _make_cfunc(
    template,
    fname,
    sig,
    inner,
    fgraph_key,
    shared_names,
    shared_data,
    user_data,
    *,
    params,
    error_code,
    **consts,
):
    """Generate, key and compile one C callback (cached when PyTensor caches ``inner``).

    The callback ``fname(params)`` is the :data:`_GUARD` around a jitted body made
    from ``template``; an exception in the body returns ``error_code``.
    """
    import numba
    import pytensor
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import compile_numba_function_src

    extract, dtypes = [], {}
    for i, name in enumerate(shared_names):
        val = shared_data[name]
        dtypes[f"_dtype{i}"] = val.dtype
        shape = "".join(f"int(sh['shape']['{name}'][{d}])," for d in range(val.ndim))
        extract.append(
            _EXTRACT.format(var=f"s{i}", name=name, dtype=f"_dtype{i}", shape=f"({shape})")
        )
    args = ", ".join(["x", *(f"s{i}" for i in range(len(shared_names)))])
    body_name = f"{fname}_body"
    body_src = template.format(fname=body_name, extract="".join(extract), args=args, **consts)
    guard_src = _GUARD.format(fname=fname, params=params, error_code=error_code)
    if fgraph_key is None:
        cache_key = None
    else:
        # Everything that is baked into the machine code: the sources (with n_dim,
        # n_expanded, shared names and ranks), the inner function graph, the user_data
        # layout, the shared dtypes and the numba/PyTensor versions, and the module
        # whose name the cached environment is rebuilt from (an entry written when this
        # module was rlrecover.nutpie_compile cannot be loaded by
        # rlrecover.inference.nutpie_compile: the load raises ModuleNotFoundError).
        # (numba adds the CPU and Python version to its own index key.)
        cache_key = sha256(
            repr(
                (
                    _WRAPPER_VERSION,
                    __name__,
                    body_src,
                    guard_src,
                    fgraph_key,
                    user_data.dtype.descr,
                    [str(d) for d in dtypes.values()],
                    numba.__version__,
                    pytensor.__version__,
                )
            ).encode()
        ).hexdigest()
    # __name__: numba's cache rebuilds a function's environment from its module.
    body = numba.njit(
        compile_numba_function_src(
            body_src,
            body_name,
            global_env={
                "__name__": __name__,
                "np": np,
                "numba": numba,
                "inner": inner,
                "record_dtype": user_data.dtype,
                "address_as_void_pointer": address_as_void_pointer,
                **dtypes,
            },
        )
    )
    # Only the callback is cached; its machine code includes the body's.
    guard = compile_numba_function_src(
        guard_src, fname, global_env={"__name__": __name__, "body": body}, cache_key=cache_key
    )
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*Cannot cache compiled function", category=numba.NumbaWarning
        )
        return numba.cfunc(sig, cache=cache_key is not None)(guard)


def _make_logp_cfunc(inner, fgraph_key, shared_names, shared_data, user_data, n_dim):
    """nutpie's logp callback: ``(dim, x, grad_out, logp_out, user_data) -> code``."""
    from numba import types as nt

    ptr = nt.CPointer(nt.double)
    return _make_cfunc(
        _LOGP,
        "nutpie_logp",
        nt.int64(nt.uint64, ptr, ptr, ptr, nt.voidptr),
        inner,
        fgraph_key,
        shared_names,
        shared_data,
        user_data,
        params="dim, x_, out_, logp_, user_data_",
        error_code=1,
        n_dim=n_dim,
    )


def _make_expand_cfunc(inner, fgraph_key, shared_names, shared_data, user_data, n_dim, n_expanded):
    """nutpie's expand callback: ``(dim, expanded, x, out, user_data) -> code``."""
    from numba import types as nt

    ptr = nt.CPointer(nt.double)
    return _make_cfunc(
        _EXPAND,
        "nutpie_expand",
        nt.int64(nt.uint64, nt.uint64, ptr, ptr, nt.voidptr),
        inner,
        fgraph_key,
        shared_names,
        shared_data,
        user_data,
        params="dim, expanded, x_, out_, user_data_",
        error_code=-2,
        n_dim=n_dim,
        n_expanded=n_expanded,
    )


def compile_pymc_model_cached(model, var_names=None):
    """Drop-in for ``nutpie.compile_pymc_model(model, backend="numba", var_names=...)``.

    Mirrors nutpie 0.16's ``compile_pymc_model`` (default options) and
    ``_compile_pymc_model_numba``; only the two C callbacks are built differently.

    Parameters
    ----------
    model : pymc.Model
        The model. Its shared variables (``pm.Data``) stay replaceable through
        ``CompiledPyMCModel.with_data``.
    var_names : list of str, optional
        Variables to store in the trace (default: all).

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        Same fields as the stock result; ``compiled_logp_func`` and
        ``compiled_expand_func`` are the cached, equivalent C callbacks.
    """
    import nutpie.compile_pymc as ncp
    from pymc.initial_point import make_initial_point_fn

    # compile_pymc_model defaults: support-point start, jittered free RVs.
    initial_point_fn = ncp._wrap_with_lock(
        make_initial_point_fn(
            model=model,
            overrides=None,
            default_strategy="support_point",
            jitter_rvs=set(model.free_RVs),
            return_transformed=True,
        )
    )
    n_dim, n_expanded, logp_fn_pt, expand_fn_pt, initial_point_fn, shape_info = (
        ncp._make_functions(
            model,
            mode="NUMBA",
            compute_grad=True,
            join_expanded=True,
            pymc_initial_point_fn=initial_point_fn,
            var_names=var_names,
        )
    )

    # Shared data and the user_data record, exactly as nutpie lays them out.
    shared_data, shared_vars = {}, {}
    for val in [*logp_fn_pt.get_shared(), *expand_fn_pt.get_shared()]:
        if val.name in shared_vars and shared_vars[val.name] is not val:
            raise ValueError(f"Shared variables must have unique names: {val.name}")
        shared_data[val.name] = np.array(val.get_value(), order="C", copy=True)
        shared_data[val.name].flags.writeable = False
        shared_vars[val.name] = val
    user_data = ncp.make_user_data(shared_vars, shared_data)

    logp_numba = _make_logp_cfunc(
        logp_fn_pt.vm.jit_fn,
        _fgraph_cache_key(logp_fn_pt),
        [v.name for v in logp_fn_pt.get_shared()],
        shared_data,
        user_data,
        n_dim,
    )
    expand_numba = _make_expand_cfunc(
        expand_fn_pt.vm.jit_fn,
        _fgraph_cache_key(expand_fn_pt),
        [v.name for v in expand_fn_pt.get_shared()],
        shared_data,
        user_data,
        n_dim,
        n_expanded,
    )

    dims, coords = ncp._prepare_dims_and_coords(model, shape_info)
    return ncp.CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_numba,
        compiled_expand_func=expand_numba,
        initial_point_func=initial_point_fn,
        shared_data=shared_data,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_fn_pt,
        expand_func=expand_fn_pt,
    )


def compile_model(model: pm.Model, log: Callable[[str], None] | None = None) -> CompiledPyMCModel:
    """Compile ``model`` for nutpie, cached if possible, else with the stock compile.

    Tries :func:`compile_pymc_model_cached`. That build relies on private internals
    of nutpie and PyTensor, so if it raises any exception, this falls back to
    ``nutpie.compile_pymc_model(model, backend="numba")`` and reports the failure in
    one line. Both give the same draws for a given seed; the stock compile only
    takes longer (its C callbacks are recompiled in every process).

    Parameters
    ----------
    model : pymc.Model
        The model, as for ``nutpie.compile_pymc_model``.
    log : callable, optional
        Receives the one-line message if the cached build fails. Without it, the
        message is issued with :func:`warnings.warn` as a :class:`RuntimeWarning`.

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        The compiled model, usable with ``with_data`` and ``nutpie.sample``.

    Raises
    ------
    Exception
        Whatever the stock compile raises, if it fails too.
    """
    try:
        return compile_pymc_model_cached(model)
    except Exception as exc:  # any failure of the private internals it relies on
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
    msg = (
        f"cached nutpie compile failed ({reason}); using the stock "
        'nutpie.compile_pymc_model(backend="numba") instead, which is slower to start '
        "but gives the same draws"
    )
    if log is None:
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    else:
        log(msg)
    import nutpie

    return nutpie.compile_pymc_model(model, backend="numba")
