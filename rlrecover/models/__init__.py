"""The library of bandit models: one module per model, each defining ``MODEL``.

Every module of this package (other than :mod:`rlrecover.models.base`) that defines a
:class:`rlrecover.models.base.Model` named ``MODEL`` is a model of the library, found
by :func:`registry` without being listed anywhere: adding a model is writing one
module (see the README, "Adding a model").

=========  ==============================================  =================================
name       parameters                                      module
=========  ==============================================  =================================
``rw``     ``alpha``, ``beta``                             :mod:`rlrecover.models.rw`
``bias``   ``b``                                           :mod:`rlrecover.models.bias`
``wsls``   ``epsilon``                                     :mod:`rlrecover.models.wsls`
``ck``     ``alpha_c``, ``beta_c``                         :mod:`rlrecover.models.ck`
``rwck``   ``alpha``, ``beta``, ``alpha_c``, ``beta_c``    :mod:`rlrecover.models.rwck`
``rw2``    ``alpha_pos``, ``alpha_neg``, ``beta``          :mod:`rlrecover.models.rw2`
=========  ==============================================  =================================
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from rlrecover.models.base import Model

__all__ = ["ORDER", "Model", "get", "names", "registry"]

#: The library's models in the order of Wilson & Collins (2019), then ``rw2``; models
#: added by a user come after them, alphabetically.
ORDER = ("bias", "wsls", "rw", "ck", "rwck", "rw2")


@functools.cache
def registry() -> dict[str, Model]:
    """Every model of the package by name, in :data:`ORDER` then alphabetically.

    Returns
    -------
    dict of str to Model

    Raises
    ------
    ValueError
        If a module's ``MODEL`` is not a :class:`Model`, or two modules define models of
        the same name, naming the modules.
    """
    found: dict[str, tuple[str, Model]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = f"{__name__}.{info.name}"
        model = getattr(importlib.import_module(module), "MODEL", None)
        if model is None:
            continue
        if not isinstance(model, Model):
            raise ValueError(f"{module}.MODEL is a {type(model).__name__}, not a Model")
        if model.name in found:
            raise ValueError(
                f"models {found[model.name][0]} and {module} are both called {model.name!r}"
            )
        found[model.name] = (module, model)
    rank = {n: i for i, n in enumerate(ORDER)}
    ordered = sorted(found, key=lambda n: (rank.get(n, len(rank)), n))
    return {n: found[n][1] for n in ordered}


def names() -> tuple[str, ...]:
    """Names of the library's models, in registry order."""
    return tuple(registry())


def get(name: str) -> Model:
    """The model called ``name``.

    Raises
    ------
    KeyError
        Naming the unknown model and the known ones.
    """
    try:
        return registry()[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; the library has {', '.join(names())}") from None
