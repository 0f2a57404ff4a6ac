"""The reference notebook's two PyMC models, for any model of the library.

* ``"potential"``: the log-likelihood added with ``pm.Potential`` (:class:`LogLikOp`);
* ``"bernoulli"``: the choices on trials 2..n observed as ``pm.Bernoulli`` with the
  model's right-arm probabilities (:class:`RightProbsOp`), so that prior and posterior
  predictive sampling work. :mod:`rlrecover.inference.rewrites` fuses its summed
  log-probability into one pass when the graph is compiled.

Each parameter gets its prior (``pm.Beta`` for one in [0, 1], ``pm.HalfNormal`` for a
positive one, :class:`rlrecover.models.base.Priors`) under its own name, so the
posterior draws are named like the parameters. The data live in ``pm.Data``
containers ``"actions"`` and ``"rewards"``: one compiled model serves every dataset.
"""

from __future__ import annotations

import numpy as np

from rlrecover.models.base import BetaPrior, Model, Priors

__all__ = ["KINDS", "build_model"]

#: The notebook's two ways to give PyMC the likelihood.
KINDS = ("potential", "bernoulli")


def _prior_variable(pm, name: str, prior):
    if isinstance(prior, BetaPrior):
        return pm.Beta(name, alpha=prior.a, beta=prior.b)
    return pm.HalfNormal(name, sigma=prior.sigma)


def build_model(
    model: Model,
    kind: str,
    actions: np.ndarray,
    rewards: np.ndarray,
    priors: Priors,
    consts: tuple[float, ...] | None = None,
    likelihood: str = "op",
):
    """Build one of the notebook's two PyMC models of ``model``.

    Parameters
    ----------
    model : Model
        The learning model.
    kind : {"potential", "bernoulli"}
        How the likelihood enters (see the module's docstring).
    actions, rewards : numpy.ndarray
        Initial data (replaceable through the ``pm.Data`` containers).
    priors : Priors
        The prior of each parameter, in the model's order.
    consts : tuple of float, optional
        The model's constants (default: their defaults).
    likelihood : {"op", "scan"}, default "op"
        ``"op"``: the one-pass numba Ops (:mod:`rlrecover.inference.ops`); ``"scan"``:
        the notebook's ``pytensor.scan`` graph (:mod:`rlrecover.inference.scan_reference`;
        ``rw`` only, slow).

    Returns
    -------
    pymc.Model
    """
    from rlrecover.inference.sampling import pm

    if kind not in KINDS:
        raise ValueError(f"model kind must be one of {KINDS}, got {kind!r}")
    if likelihood not in ("op", "scan"):
        raise ValueError(f"likelihood must be 'op' or 'scan', got {likelihood!r}")
    if likelihood == "scan" and model.name != "rw":
        raise ValueError(f"the scan likelihood is the notebook's rw model, not {model.name}")
    if priors.names != model.param_names:
        raise ValueError(
            f"priors of {list(priors.names)} do not match the parameters of {model.name}, "
            f"{list(model.param_names)}"
        )
    consts = model.default_consts if consts is None else tuple(float(c) for c in consts)
    actions = np.asarray(actions, dtype=np.int64)
    rewards = np.asarray(rewards, dtype=np.int64)
    # The likelihoods keep p inside [0, 1] and the priors' transforms keep every
    # parameter in its support, so PyMC's parameter checks can never fire: dropping
    # them (check_bounds=False) removes work from every gradient evaluation.
    with pm.Model(check_bounds=False) as pymc_model:
        actions_d = pm.Data("actions", actions)
        rewards_d = pm.Data("rewards", rewards)
        params = [_prior_variable(pm, name, prior) for name, prior in priors.items]
        if likelihood == "op":
            from rlrecover.inference.ops import loglik_op, right_probs_op

            if kind == "potential":
                pm.Potential("like", loglik_op(model.name, consts, params, actions_d, rewards_d))
            else:
                p = right_probs_op(model.name, consts, params, actions_d, rewards_d)
                pm.Bernoulli("like", p=p, observed=actions_d[1:])
        else:
            from rlrecover.inference.scan_reference import scan_loglik, scan_right_probs

            alpha, beta = params
            if kind == "potential":
                pm.Potential("like", scan_loglik(alpha, beta, actions_d, rewards_d, consts[0]))
            else:
                p = scan_right_probs(alpha, beta, actions_d, rewards_d, consts[0])
                pm.Bernoulli("like", p=p, observed=actions_d[1:])
    return pymc_model
