"""A PyTensor rewrite that fuses the Bernoulli model's likelihood into one Op.

``pm.Bernoulli(p=RightProbsOp(...), observed=c)`` makes PyTensor compute a vector of
probabilities, two logarithms per trial, a support check and, for the gradient, a
Jacobian product. :func:`fuse_bernoulli_loglik` replaces the summed log-probability by
:class:`rlrecover.inference.ops.ChoiceLogLikOp`, the same function computed in one pass.

It is registered in PyTensor's ``stabilize`` pass on import of this module (which
:mod:`rlrecover.inference.sampling` does). nutpie applies that pass to the log-density before
differentiating it, so its gradient graph is fused too; ``pm.sample`` differentiates
first, so there only the log-density value is fused. The match depends on the form
of PyMC's Bernoulli log-probability: if a PyMC release changes it, the rewrite stops
firing (sampling stays correct, only slower), and ``tests/test_rewrites.py`` fails.
"""

from __future__ import annotations

import numpy as np
from pytensor.graph.basic import Constant
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.scalar import basic as ps
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.math import Sum
from pytensor.tensor.rewriting.basic import register_stabilize

from rlrecover.inference.ops import ChoiceLogLikOp, RightProbsOp

__all__ = ["fuse_bernoulli_loglik", "uncast"]


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


def uncast(var):
    """``x`` if ``var`` is a lossless widening cast of the integer vector ``x``, else ``var``.

    pm.Bernoulli casts int32 data (how pm.Data stores integers) to int64; the kernels
    read any integer type, so the fused Op skips the copy the cast makes.

    Parameters
    ----------
    var : TensorVariable

    Returns
    -------
    TensorVariable
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
    integer vector, and returns ``ChoiceLogLikOp(*params, actions, rewards, c)`` with
    the same model and constants. The two are the same function (including ``-inf``
    for a ``c`` outside {0, 1}), but the fused Op and its gradient take one pass with
    one exponential per trial. Any other graph is left alone.
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
    fused = ChoiceLogLikOp(rp_node.op.model, rp_node.op.consts)
    ll = fused(*rp_node.inputs, uncast(c))[0]
    return [ll.astype(node.outputs[0].dtype)]
