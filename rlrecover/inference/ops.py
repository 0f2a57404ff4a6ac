"""PyTensor Ops that call a learning model's numba kernels: value and derivatives in one pass.

* :class:`LogLikOp`: the log-likelihood of trials 2..n and its gradient (the
  ``pm.Potential`` model).
* :class:`RightProbsOp`: the right-arm probabilities of trials 2..n and their Jacobian
  (the ``pm.Bernoulli`` model).
* :class:`ChoiceLogLikOp`: the Bernoulli log-likelihood of observed choices under
  those probabilities, in one pass. Models do not build it:
  :func:`rlrecover.inference.rewrites.fuse_bernoulli_loglik` puts it in place of the Bernoulli
  model's summed log-probability.

Every Op takes the model's parameters as scalar inputs, then the data ``actions``
and ``rewards``; its props are the model's name (whose record in
:mod:`rlrecover.models` holds the kernels) and the model's constants. The Ops are
registered for PyTensor's numba backend (used by nutpie) and also work in the default
C/Python backend through ``perform`` (used by ``pm.sample``).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.cache import compile_numba_function_src
from pytensor.link.numba.dispatch.basic import (
    numba_njit,
    register_funcify_default_op_cache_key,
)

from rlrecover import models
from rlrecover.models.base import Kernels

__all__ = ["ChoiceLogLikOp", "LogLikOp", "RightProbsOp", "loglik_op", "right_probs_op"]


def _data_inputs(actions, rewards):
    actions = pt.as_tensor_variable(actions)
    rewards = pt.as_tensor_variable(rewards)
    if actions.ndim != 1 or rewards.ndim != 1:
        raise TypeError("actions and rewards must be vectors")
    if not actions.dtype.startswith("int"):
        raise TypeError(f"actions must be integer, got dtype {actions.dtype}")
    # No casts: the kernels specialise on the data's dtypes (pm.Data stores int32).
    return actions, rewards


class _KernelOp(Op):
    """Shared part of the Ops: props, inputs ``(*params, actions, rewards)``, kernels."""

    __props__ = ("model", "consts")

    def __init__(self, model: str, consts: tuple[float, ...]):
        self.model = str(model)
        self.consts = tuple(float(c) for c in consts)
        super().__init__()

    @property
    def kernels(self) -> Kernels:
        """The learning model's kernels."""
        return models.get(self.model).kernels

    @property
    def param_names(self) -> tuple[str, ...]:
        """The model's parameters, in input order."""
        return models.get(self.model).param_names

    @property
    def n_params(self) -> int:
        """Number of parameter inputs."""
        return len(self.param_names)

    def _output_types(self):
        raise NotImplementedError

    def make_node(self, *inputs):
        k = self.n_params
        if len(inputs) != k + 2:
            raise TypeError(
                f"{type(self).__name__} takes {k} parameters, actions and rewards; "
                f"got {len(inputs)} inputs"
            )
        params = [pt.as_tensor_variable(p).astype("float64") for p in inputs[:k]]
        for name, p in zip(self.param_names, params, strict=True):
            if p.ndim != 0:
                raise TypeError(f"parameter {name} must be a scalar, got {p.type}")
        actions, rewards = _data_inputs(*inputs[k:])
        return Apply(self, [*params, actions, rewards], self._output_types())

    def connection_pattern(self, node):
        k = self.n_params
        return [[True, True]] * k + [[False, False]] * (len(node.inputs) - k)


class LogLikOp(_KernelOp):
    """Log-likelihood of trials 2..n and its gradient w.r.t. the parameters, in one pass.

    Inputs: the parameters (float64 scalars), ``actions`` (integer vector),
    ``rewards`` (vector). Outputs: the log-likelihood (scalar) and its gradient
    (vector). Only the first output is differentiable; the gradient output is what
    :meth:`L_op` reuses, so a compiled logp-and-gradient function runs the kernel once.
    """

    def _output_types(self):
        return [pt.dscalar(), pt.dvector()]

    def _kernel(self, inputs, grad):
        k = self.n_params
        params = [float(p) for p in inputs[:k]]
        return self.kernels.loglik_grad(*params, *inputs[k:], *self.consts, grad)

    def perform(self, node, inputs, output_storage):
        grad = np.empty(self.n_params)
        ll = self._kernel(inputs, grad)
        output_storage[0][0] = np.asarray(ll, dtype=np.float64)
        output_storage[1][0] = grad

    def infer_shape(self, fgraph, node, input_shapes):
        return [(), (self.n_params,)]

    def L_op(self, inputs, outputs, output_grads):
        # Only the log-likelihood is differentiable (w.r.t. the parameters); the gradient
        # output is reused. The data inputs are disconnected.
        grad = outputs[1]
        g_ll = output_grads[0]
        k = self.n_params
        return [g_ll * grad[i] for i in range(k)] + [disconnected_type() for _ in inputs[k:]]


class RightProbsOp(_KernelOp):
    """Right-arm probabilities on trials 2..n and their Jacobian, in one pass.

    Inputs as :class:`LogLikOp`. Outputs: ``p`` (vector of n-1) and ``jac``
    (n-1 x n_params, derivatives of ``p`` w.r.t. the parameters). The vector-Jacobian
    product of ``p`` is ``g @ jac``.
    """

    def _output_types(self):
        return [pt.dvector(), pt.dmatrix()]

    def perform(self, node, inputs, output_storage):
        k = self.n_params
        actions, rewards = inputs[k:]
        m = max(actions.shape[0] - 1, 0)
        p = np.empty(m)
        jac = np.empty((m, k))
        params = [float(x) for x in inputs[:k]]
        self.kernels.right_probs_jac(*params, actions, rewards, *self.consts, p, jac)
        output_storage[0][0] = p
        output_storage[1][0] = jac

    def infer_shape(self, fgraph, node, input_shapes):
        m = pt.maximum(input_shapes[self.n_params][0] - 1, 0)
        return [(m,), (m, self.n_params)]

    def L_op(self, inputs, outputs, output_grads):
        # Only p is differentiable; the Jacobian output is reused for its VJP.
        jac = outputs[1]
        g_p = output_grads[0]
        vjp = pt.dot(g_p, jac)
        k = self.n_params
        return [vjp[i] for i in range(k)] + [disconnected_type() for _ in inputs[k:]]


class ChoiceLogLikOp(LogLikOp):
    """Bernoulli log-likelihood of observed choices under the learnt probabilities.

    ``sum_t log Bernoulli(observed[t-1] | p_t)`` with ``p_t`` the right-arm
    probability of trial t (as :class:`RightProbsOp`), and its gradient w.r.t. the
    parameters, in one pass. Inputs: the parameters, ``actions``, ``rewards`` (which
    drive the learning) and ``observed`` (integer vector of n-1). An observation other
    than 0 or 1 gives ``-inf``, as ``pm.Bernoulli`` does. Outputs as :class:`LogLikOp`.
    """

    def make_node(self, *inputs):
        k = self.n_params
        if len(inputs) != k + 3:
            raise TypeError(
                f"ChoiceLogLikOp takes {k} parameters, actions, rewards and observed; "
                f"got {len(inputs)} inputs"
            )
        node = super().make_node(*inputs[:-1])
        observed = pt.as_tensor_variable(inputs[-1])
        if observed.ndim != 1 or not observed.dtype.startswith("int"):
            raise TypeError(
                f"observed must be an integer vector, got {observed.type} ({observed.dtype})"
            )
        return Apply(self, [*node.inputs, observed], self._output_types())

    def _kernel(self, inputs, grad):
        k = self.n_params
        params = [float(p) for p in inputs[:k]]
        return self.kernels.choice_loglik_grad(*params, *inputs[k:], *self.consts, grad)


# The numba versions. Each is generated for the model's number of parameters and
# constants, as the same straight-line code a hand-written wrapper would be.
#
# A numba function whose own options leave ``fastmath`` unset is compiled with the
# options of the function it is first compiled for (numba's flag inheritance), and
# numba keeps one compiled version per signature, in memory and in its disk cache. A
# kernel called by a wrapper that PyTensor compiles with its fastmath flags was
# therefore compiled with them, unless the same signature had been compiled before
# from Python (by ``perform``, a test, or an earlier process through the cache): the
# Ops' last bits, and so every draw, depended on what had run first. The wrappers call
# a copy of the kernel of their own (:func:`op_kernel`) compiled with the flags
# PyTensor gives its graphs, whatever else ran: the arithmetic every posterior draw of
# rlrecover has been computed with, now deterministic. The kernels called from Python
# (maximum likelihood, ``perform``) are compiled as written.
_OP_KERNELS: dict[object, object] = {}


def op_kernel(kernel):
    """The copy of a model's kernel that the numba Ops call (see the comment above).

    Parameters
    ----------
    kernel : numba dispatcher
        A kernel of :class:`rlrecover.models.base.Kernels`.

    Returns
    -------
    numba dispatcher
        ``kernel``'s function compiled with PyTensor's fastmath flags (those of
        ``numba_njit``), not cached on disk (the wrappers that call it are, with its
        code), one per kernel and process.
    """
    if kernel not in _OP_KERNELS:
        _OP_KERNELS[kernel] = numba_njit(
            kernel.py_func, final_function=True, no_cpython_wrapper=False
        )
    return _OP_KERNELS[kernel]


_LOGLIK_SRC = """\
def {name}({params}, {data}):
    grad = np.empty({k})
    ll = kernel({args}, grad)
    out = np.empty((), dtype=np.float64)
    out[()] = ll
    return out, grad
"""

_RIGHT_PROBS_SRC = """\
def {name}({params}, {data}):
    n = actions.shape[0]
    m = n - 1 if n > 0 else 0
    p = np.empty(m)
    jac = np.empty((m, {k}))
    kernel({args}, p, jac)
    return p, jac
"""


def _numba_wrapper(op, template, name, kernel, data):
    k = op.n_params
    params = [f"p{i}" for i in range(k)]
    consts = {f"c{i}": c for i, c in enumerate(op.consts)}
    # The kernel's arguments: the parameters as scalars, the data, the constants (a
    # model may have none).
    args = [f"{p}.item()" for p in params] + list(data) + list(consts)
    src = template.format(
        name=name, params=", ".join(params), data=", ".join(data), args=", ".join(args), k=k
    )
    env = {"np": np, "kernel": op_kernel(kernel), **consts}
    fn = compile_numba_function_src(src, name, global_env=env)
    return numba_njit(fn), op.kernels.salt


@register_funcify_default_op_cache_key(LogLikOp)
def _numba_funcify_loglik(op, node=None, **kwargs):
    return _numba_wrapper(
        op, _LOGLIK_SRC, "loglik_op", op.kernels.loglik_grad, ["actions", "rewards"]
    )


@register_funcify_default_op_cache_key(RightProbsOp)
def _numba_funcify_right_probs(op, node=None, **kwargs):
    return _numba_wrapper(
        op, _RIGHT_PROBS_SRC, "right_probs_op", op.kernels.right_probs_jac, ["actions", "rewards"]
    )


@register_funcify_default_op_cache_key(ChoiceLogLikOp)
def _numba_funcify_choice_loglik(op, node=None, **kwargs):
    return _numba_wrapper(
        op,
        _LOGLIK_SRC,
        "choice_loglik_op",
        op.kernels.choice_loglik_grad,
        ["actions", "rewards", "observed"],
    )


def loglik_op(model: str, consts: tuple[float, ...], params, actions, rewards):
    """Symbolic log-likelihood of trials 2..n through :class:`LogLikOp`.

    Parameters
    ----------
    model : str
        The model's name, e.g. ``"rw"``.
    consts : tuple of float
        The model's constants (``(q_init,)`` for ``rw``).
    params : sequence of TensorVariable or float
        The parameters (scalars), in the model's order.
    actions, rewards : TensorVariable or array-like
        Observed data (vectors; actions integer).

    Returns
    -------
    TensorVariable
        Scalar log-likelihood.
    """
    return LogLikOp(model, consts)(*params, actions, rewards)[0]


def right_probs_op(model: str, consts: tuple[float, ...], params, actions, rewards):
    """Symbolic right-arm probabilities on trials 2..n through :class:`RightProbsOp`.

    Parameters
    ----------
    model, consts, params, actions, rewards
        As in :func:`loglik_op`.

    Returns
    -------
    TensorVariable
        Vector of length n - 1.
    """
    return RightProbsOp(model, consts)(*params, actions, rewards)[0]
