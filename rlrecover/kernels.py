"""What generic code needs to know of a learning model's likelihood kernels.

A learning model (today only :mod:`rlrecover.qlearning`) is a module that describes
its numba kernels with one :class:`Kernels` record named ``KERNELS``. The PyTensor Ops
(:mod:`rlrecover.ops`) and the maximum-likelihood fit (:mod:`rlrecover.mle`) call the
kernels through it, so they never name the model's parameters. :func:`kernels_of`
finds the record from the module's name, which is what the Ops keep as their props
(a plain string, so PyTensor's cache key of an Op stays stable across processes).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Kernels", "kernels_of"]


@dataclass(frozen=True)
class Kernels:
    """The numba likelihood kernels of one learning model.

    Every kernel takes the parameters as leading float scalars (in the order of
    ``params``), then the data ``actions`` and ``rewards``, then the model's constants
    (``consts``, scalars), then preallocated output arrays for its derivatives. Below,
    ``*theta`` stands for the parameters and ``*consts`` for the constants.

    Attributes
    ----------
    name : str
        The model's name.
    params : tuple of str
        Parameter names, in the order of ``theta``.
    loglik_grad : callable
        ``loglik_grad(*theta, actions, rewards, *consts, out_grad) -> float``: the
        log-likelihood of the choices on trials 2..n and its gradient.
    choice_loglik_grad : callable
        ``choice_loglik_grad(*theta, actions, rewards, observed, *consts, out_grad)``:
        the Bernoulli log-likelihood of ``observed`` (n - 1 choices in {0, 1}; any
        other value gives ``-inf``) under the model's right-arm probabilities.
    right_probs_jac : callable
        ``right_probs_jac(*theta, actions, rewards, *consts, p, jac)``: the right-arm
        probabilities of trials 2..n and their Jacobian, ``jac`` of shape
        ``(n - 1, len(params))``.
    salt : int
        Hash of the kernels' source: part of PyTensor's on-disk cache key, so a
        change to a kernel invalidates compiled graphs that call it.
    """

    name: str
    params: tuple[str, ...]
    loglik_grad: Callable
    choice_loglik_grad: Callable
    right_probs_jac: Callable
    salt: int

    @property
    def n_params(self) -> int:
        """Number of parameters."""
        return len(self.params)


def kernels_of(module: str) -> Kernels:
    """The :class:`Kernels` record ``KERNELS`` of a learning model's module.

    Parameters
    ----------
    module : str
        Importable module name, e.g. ``"rlrecover.qlearning"``.

    Returns
    -------
    Kernels
    """
    kernels = getattr(importlib.import_module(module), "KERNELS", None)
    if not isinstance(kernels, Kernels):
        raise TypeError(f"module {module!r} defines no KERNELS record of type Kernels")
    return kernels
