"""PyTensor building blocks of the likelihood: fast Ops and the notebook's scan reference.

Two implementations of the same mathematics live here, the fast one in two forms:

* :class:`LogLikOp` and :class:`RightProbsOp` call the numba kernels of
  :mod:`rlrecover.model` and compute values and derivatives in one pass. They are
  registered for PyTensor's numba backend (used by nutpie) and also work in the
  default C/Python backend through ``perform`` (used by ``pm.sample``).
* :class:`ChoiceLogLikOp` is the Bernoulli model's likelihood fused into one pass:
  the rewrite :func:`fuse_bernoulli_loglik` (in PyTensor's ``stabilize`` pass, which
  nutpie runs on the log-density before differentiating it) replaces
  ``sum(pm.Bernoulli logp of observed | RightProbsOp)`` by it, so nutpie evaluates
  the Bernoulli model as cheaply as the Potential one.
* :func:`scan_loglik` and :func:`scan_right_probs` are the reference notebook's
  ``pytensor.scan`` formulation, written with the current scan API. They are kept to
  check the fast Ops and to benchmark against.
"""

from __future__ import annotations

import hashlib
import inspect

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply, Constant
from pytensor.graph.op import Op
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.link.numba.dispatch.basic import (
    numba_njit,
    register_funcify_default_op_cache_key,
)
from pytensor.scalar import basic as ps
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.math import Sum
from pytensor.tensor.rewriting.basic import register_stabilize

from rlrecover import model as _model

__all__ = [
    "ChoiceLogLikOp",
    "LogLikOp",
    "RightProbsOp",
    "fuse_bernoulli_loglik",
    "loglik_op",
    "right_probs_op",
    "scan_loglik",
    "scan_right_probs",
]

# Salt for PyTensor's on-disk numba cache: a change to the kernels invalidates it.
_KERNEL_SALT = int(
    hashlib.sha256(
        (
            inspect.getsource(_model._choice_loglik_grad_kernel)
            + inspect.getsource(_model._loglik_grad_kernel)
            + inspect.getsource(_model._right_probs_jac_kernel)
            + inspect.getsource(_model._sigmoid)
        ).encode()
    ).hexdigest()[:12],
    16,
)


def _data_inputs(actions, rewards):
    actions = pt.as_tensor_variable(actions)
    rewards = pt.as_tensor_variable(rewards)
    if actions.ndim != 1 or rewards.ndim != 1:
        raise TypeError("actions and rewards must be vectors")
    if not actions.dtype.startswith("int"):
        raise TypeError(f"actions must be integer, got dtype {actions.dtype}")
    # No casts: the kernels specialise on the data's dtypes (pm.Data stores int32).
    return actions, rewards


class _DataOp(Op):
    """Shared part of the two Ops: props and inputs (alpha, beta, actions, rewards)."""

    __props__ = ("q_init",)

    def __init__(self, q_init: float = 0.5):
        self.q_init = float(q_init)
        super().__init__()

    def _output_types(self):
        raise NotImplementedError

    def make_node(self, alpha, beta, actions, rewards):
        alpha = pt.as_tensor_variable(alpha).astype("float64")
        beta = pt.as_tensor_variable(beta).astype("float64")
        actions, rewards = _data_inputs(actions, rewards)
        return Apply(self, [alpha, beta, actions, rewards], self._output_types())

    def connection_pattern(self, node):
        return [[True, True], [True, True], [False, False], [False, False]]


class LogLikOp(_DataOp):
    """Log-likelihood of trials 2..n and its gradient w.r.t. (alpha, beta), one pass.

    Inputs: ``alpha``, ``beta`` (float64 scalars), ``actions`` (integer vector),
    ``rewards`` (vector). Outputs: the log-likelihood (scalar) and its gradient
    (vector of 2). Only the first output is differentiable; the gradient output is
    what :meth:`L_op` reuses, so a compiled logp-and-gradient function runs the
    kernel once.
    """

    def _output_types(self):
        return [pt.dscalar(), pt.dvector()]

    def _kernel(self, inputs, grad):
        alpha, beta, actions, rewards = inputs
        return _model._loglik_grad_kernel(
            float(alpha), float(beta), actions, rewards, self.q_init, grad
        )

    def perform(self, node, inputs, output_storage):
        grad = np.empty(2)
        ll = self._kernel(inputs, grad)
        output_storage[0][0] = np.asarray(ll, dtype=np.float64)
        output_storage[1][0] = grad

    def infer_shape(self, fgraph, node, input_shapes):
        return [(), (2,)]

    def L_op(self, inputs, outputs, output_grads):
        # Only the log-likelihood is differentiable (w.r.t. alpha and beta); the
        # gradient output is reused. The data inputs are disconnected.
        grad = outputs[1]
        g_ll = output_grads[0]
        return [g_ll * grad[0], g_ll * grad[1], *(disconnected_type() for _ in inputs[2:])]


class RightProbsOp(_DataOp):
    """Right-arm probabilities on trials 2..n and their Jacobian, one pass.

    Inputs as :class:`LogLikOp`. Outputs: ``p`` (vector of n-1) and ``jac``
    (n-1 x 2, derivatives of ``p`` w.r.t. alpha and beta). The vector-Jacobian
    product of ``p`` is ``g @ jac``.
    """

    def _output_types(self):
        return [pt.dvector(), pt.dmatrix()]

    def perform(self, node, inputs, output_storage):
        alpha, beta, actions, rewards = inputs
        n = actions.shape[0]
        p = np.empty(max(n - 1, 0))
        jac = np.empty((max(n - 1, 0), 2))
        _model._right_probs_jac_kernel(
            float(alpha), float(beta), actions, rewards, self.q_init, p, jac
        )
        output_storage[0][0] = p
        output_storage[1][0] = jac

    def infer_shape(self, fgraph, node, input_shapes):
        n = input_shapes[2][0]
        return [(pt.maximum(n - 1, 0),), (pt.maximum(n - 1, 0), 2)]

    def L_op(self, inputs, outputs, output_grads):
        # Only p is differentiable; the Jacobian output is reused for its VJP.
        jac = outputs[1]
        g_p = output_grads[0]
        vjp = pt.dot(g_p, jac)
        return [vjp[0], vjp[1], disconnected_type(), disconnected_type()]


class ChoiceLogLikOp(LogLikOp):
    """Bernoulli log-likelihood of observed choices under the learnt probabilities.

    ``sum_t log Bernoulli(observed[t-1] | p_t)`` with ``p_t`` the right-arm
    probability of trial t (as :class:`RightProbsOp`), and its gradient w.r.t.
    (alpha, beta), in one pass with one exponential per trial. Inputs: ``alpha``,
    ``beta``, ``actions``, ``rewards`` (which drive the learning) and ``observed``
    (integer vector of n-1). An observation other than 0 or 1 gives ``-inf``, as
    ``pm.Bernoulli`` does. Outputs as :class:`LogLikOp`.

    Models do not build it directly: :func:`fuse_bernoulli_loglik` puts it in place
    of the Bernoulli model's summed log-probability.
    """

    def make_node(self, alpha, beta, actions, rewards, observed):
        node = super().make_node(alpha, beta, actions, rewards)
        observed = pt.as_tensor_variable(observed)
        if observed.ndim != 1 or not observed.dtype.startswith("int"):
            raise TypeError(
                f"observed must be an integer vector, got {observed.type} ({observed.dtype})"
            )
        return Apply(self, [*node.inputs, observed], self._output_types())

    def connection_pattern(self, node):
        return [*super().connection_pattern(node), [False, False]]

    def _kernel(self, inputs, grad):
        alpha, beta, actions, rewards, observed = inputs
        return _model._choice_loglik_grad_kernel(
            float(alpha), float(beta), actions, rewards, observed, self.q_init, grad
        )


@register_funcify_default_op_cache_key(LogLikOp)
def _numba_funcify_loglik(op, node=None, **kwargs):
    kernel = _model._loglik_grad_kernel
    q_init = op.q_init

    @numba_njit
    def loglik_op(alpha, beta, actions, rewards):
        grad = np.empty(2)
        ll = kernel(alpha.item(), beta.item(), actions, rewards, q_init, grad)
        out = np.empty((), dtype=np.float64)
        out[()] = ll
        return out, grad

    return loglik_op, _KERNEL_SALT


@register_funcify_default_op_cache_key(RightProbsOp)
def _numba_funcify_right_probs(op, node=None, **kwargs):
    kernel = _model._right_probs_jac_kernel
    q_init = op.q_init

    @numba_njit
    def right_probs_op(alpha, beta, actions, rewards):
        n = actions.shape[0]
        m = n - 1 if n > 0 else 0
        p = np.empty(m)
        jac = np.empty((m, 2))
        kernel(alpha.item(), beta.item(), actions, rewards, q_init, p, jac)
        return p, jac

    return right_probs_op, _KERNEL_SALT


@register_funcify_default_op_cache_key(ChoiceLogLikOp)
def _numba_funcify_choice_loglik(op, node=None, **kwargs):
    kernel = _model._choice_loglik_grad_kernel
    q_init = op.q_init

    @numba_njit
    def choice_loglik_op(alpha, beta, actions, rewards, observed):
        grad = np.empty(2)
        ll = kernel(alpha.item(), beta.item(), actions, rewards, observed, q_init, grad)
        out = np.empty((), dtype=np.float64)
        out[()] = ll
        return out, grad

    return choice_loglik_op, _KERNEL_SALT


def _elemwise_of(var, scalar_op_type):
    """The inputs of ``var`` if it is an Elemwise of ``scalar_op_type``, else None."""
    node = var.owner
    if (
        node is not None
        and isinstance(node.op, Elemwise)
        and isinstance(node.op.scalar_op, scalar_op_type)
    ):
        return node.inputs
    return None


def _is_const(var, value) -> bool:
    """True if ``var`` is a constant whose every element equals ``value``."""
    return isinstance(var, Constant) and var.data.size > 0 and bool(np.all(var.data == value))


def _is_support_check(var, c) -> bool:
    """True if ``var`` is ``(c < 0) | (c > 1)``, in either order."""
    args = _elemwise_of(var, ps.OR)
    if args is None or len(args) != 2:
        return False
    lt, gt = _elemwise_of(args[0], ps.LT), _elemwise_of(args[1], ps.GT)
    if lt is None or gt is None:
        lt, gt = _elemwise_of(args[1], ps.LT), _elemwise_of(args[0], ps.GT)
    return (
        lt is not None
        and gt is not None
        and lt[0] is c
        and _is_const(lt[1], 0)
        and gt[0] is c
        and _is_const(gt[1], 1)
    )


def _negated(var):
    """``x`` if ``var`` is ``-x`` (Neg, or Mul by the constant -1), else None."""
    args = _elemwise_of(var, ps.Neg)
    if args is not None:
        return args[0]
    args = _elemwise_of(var, ps.Mul)
    if args is not None and len(args) == 2:
        for k in (0, 1):
            if _is_const(args[k], -1):
                return args[1 - k]
    return None


def _uncast(var):
    """``x`` if ``var`` is a lossless widening cast of the integer vector ``x``, else ``var``.

    pm.Bernoulli casts int32 data (how pm.Data stores integers) to int64; the kernel
    reads any integer type, so the fused Op skips the copy the cast makes.
    """
    args = _elemwise_of(var, ps.Cast)
    if args is not None:
        src = args[0]
        if (
            src.dtype.startswith("int")
            and np.dtype(src.dtype).itemsize <= np.dtype(var.dtype).itemsize
            and src.type.broadcastable == var.type.broadcastable
        ):
            return src
    return var


@register_stabilize("rlrecover")
@node_rewriter([Sum])
def fuse_bernoulli_loglik(fgraph, node):
    """Fuse the Bernoulli model's log-likelihood into one :class:`ChoiceLogLikOp`.

    Matches the summed log-probability that ``pm.Bernoulli(p=p, observed=c)`` builds
    once PyMC's parameter checks are dropped and PyTensor has canonicalised it,

    ``sum(switch((c < 0) | (c > 1), -inf, switch(c, log(p), log1p(-p))))``

    with ``p`` the probabilities output by a :class:`RightProbsOp` and ``c`` an
    integer vector, and returns ``ChoiceLogLikOp(alpha, beta, actions, rewards, c)``.
    The two are the same function (including ``-inf`` for a ``c`` outside {0, 1}), but
    the fused Op and its gradient take one pass with one exponential per trial instead
    of a vector of probabilities, two logarithms and a Jacobian product per trial.

    The rewrite is in PyTensor's ``stabilize`` pass. nutpie applies that pass to the
    log-density before differentiating it, so its gradient graph is fused too;
    ``pm.sample`` differentiates first, so there only the log-density value is
    fused. Any other graph is left alone.
    """
    op = node.op
    (x,) = node.inputs
    if x.ndim != 1 or (op.axis is not None and tuple(op.axis) != (0,)):
        return None
    outer = _elemwise_of(x, ps.Switch)
    if outer is None or not _is_const(outer[1], -np.inf):
        return None
    inner = _elemwise_of(outer[2], ps.Switch)
    if inner is None:
        return None
    c, log_p, log1m_p = inner
    if (
        c.ndim != 1
        or not c.dtype.startswith("int")
        or c.type.broadcastable != (False,)
        or not _is_support_check(outer[0], c)
    ):
        return None
    p = _elemwise_of(log_p, ps.Log)
    neg_p = _elemwise_of(log1m_p, ps.Log1p)
    if p is None or neg_p is None:
        return None
    p = p[0]
    if _negated(neg_p[0]) is not p:
        return None
    rp_node = p.owner
    if rp_node is None or not isinstance(rp_node.op, RightProbsOp) or p is not rp_node.outputs[0]:
        return None
    alpha, beta, actions, rewards = rp_node.inputs
    ll = ChoiceLogLikOp(rp_node.op.q_init)(alpha, beta, actions, rewards, _uncast(c))[0]
    return [ll.astype(node.outputs[0].dtype)]


def loglik_op(alpha, beta, actions, rewards, q_init: float = 0.5):
    """Symbolic log-likelihood of trials 2..n through :class:`LogLikOp`.

    Parameters
    ----------
    alpha, beta : TensorVariable or float
        Parameters (scalars).
    actions, rewards : TensorVariable or array-like
        Observed data (vectors; actions integer).
    q_init : float, default 0.5
        Initial Q value.

    Returns
    -------
    TensorVariable
        Scalar log-likelihood.
    """
    return LogLikOp(q_init)(alpha, beta, actions, rewards)[0]


def right_probs_op(alpha, beta, actions, rewards, q_init: float = 0.5):
    """Symbolic right-arm probabilities on trials 2..n through :class:`RightProbsOp`.

    Returns
    -------
    TensorVariable
        Vector of length n - 1.
    """
    return RightProbsOp(q_init)(alpha, beta, actions, rewards)[0]


# --------------------------------------------------------------------------------------
# The reference notebook's formulation, with the current scan API.
# --------------------------------------------------------------------------------------


def _update_q(action, reward, q, alpha):
    return pt.set_subtensor(q[action], q[action] + alpha * (reward - q[action]))


def _scan_logp_actions(alpha, beta, actions, rewards, q_init):
    actions = pt.cast(pt.as_tensor_variable(actions), "int32")
    rewards = pt.cast(pt.as_tensor_variable(rewards), "int32")
    q0 = q_init * pt.ones((2,), dtype="float64")
    qs = pytensor.scan(
        fn=_update_q,
        sequences=[actions, rewards],
        outputs_info=[q0],
        non_sequences=[alpha],
        return_updates=False,
    )
    # qs[t] holds Q after trial t, i.e. the values that drive the choice on trial t+1.
    z = qs[:-1] * beta
    return actions, z - pt.logsumexp(z, axis=1, keepdims=True)


def scan_loglik(alpha, beta, actions, rewards, q_init: float = 0.5):
    """The notebook's ``pytensor.scan`` log-likelihood of trials 2..n (reference).

    Returns
    -------
    TensorVariable
        Scalar log-likelihood.
    """
    actions, logp = _scan_logp_actions(alpha, beta, actions, rewards, q_init)
    return pt.sum(logp[pt.arange(actions.shape[0] - 1), actions[1:]])


def scan_right_probs(alpha, beta, actions, rewards, q_init: float = 0.5):
    """The notebook's ``pytensor.scan`` right-arm probabilities on trials 2..n (reference).

    Returns
    -------
    TensorVariable
        Vector of length n - 1.
    """
    _, logp = _scan_logp_actions(alpha, beta, actions, rewards, q_init)
    return pt.exp(logp[:, 1])
