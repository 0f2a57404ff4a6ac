"""Parameter points, constants and seeds the model tests share (test_models, test_ops, ...).

Written for any model of the library from its record: the points follow each
parameter's kind, so a new model gets them without being named here.
"""

from __future__ import annotations

import itertools
import math
import zlib

import numpy as np
import pytest

from rlrecover import models

__all__ = [
    "EPS",
    "MODELS",
    "OTHER_CONSTS",
    "POSITIVE_VALUES",
    "UNIT_VALUES",
    "bernoulli_bound",
    "bernoulli_grad_bound",
    "bernoulli_reference",
    "by_model",
    "const_cases",
    "edge_points",
    "interior",
    "moderate_points",
    "name_seed",
    "scale_of",
]

#: Every model of the library, and a decorator running a test once per model.
MODELS = list(models.registry().values())
by_model = pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])

#: Parameter values where the models are checked: the ends of each support and just
#: inside them, and a middle value.
UNIT_VALUES = (0.0, 1e-6, 0.5, 1 - 1e-6, 1.0)
POSITIVE_VALUES = (1e-3, 1.0, 5.0, 50.0)
EPS = np.finfo(np.float64).eps
#: A value other than the default of each constant the library's models take.
OTHER_CONSTS = {"q_init": 0.2}


def name_seed(name: str) -> int:
    """A seed of its own for each model (stable across runs and processes)."""
    return zlib.crc32(name.encode())


def interior(model, unit: float = 0.3, positive: float = 4.0) -> dict[str, float]:
    """A point well inside the support: every unit parameter ``unit``, positive ``positive``."""
    return {p.name: (unit if p.kind == "unit" else positive) for p in model.params}


def edge_points(model, max_points: int = 40) -> list[dict[str, float]]:
    """Points of the product of :data:`UNIT_VALUES` and :data:`POSITIVE_VALUES`.

    All of them for up to ``max_points``; otherwise the two extreme corners and a
    seeded subset.
    """
    grids = [UNIT_VALUES if p.kind == "unit" else POSITIVE_VALUES for p in model.params]
    points = list(itertools.product(*grids))
    if len(points) > max_points:
        rng = np.random.default_rng(name_seed(model.name))
        middle = rng.choice(np.arange(1, len(points) - 1), max_points - 2, replace=False)
        points = [points[0], *(points[i] for i in sorted(middle)), points[-1]]
    return [dict(zip(model.param_names, values, strict=True)) for values in points]


def const_cases(model) -> list[dict[str, float]]:
    """The model's constants: their defaults, and each other value of :data:`OTHER_CONSTS`."""
    defaults = dict(model.consts)
    cases = [defaults]
    for name in model.const_names:
        if name in OTHER_CONSTS:
            cases.append({**defaults, name: OTHER_CONSTS[name]})
    return cases


def scale_of(model, theta, log_probs) -> float:
    """The magnitude that the rounding errors of one trial's log-probability scale with.

    The sigmoid models' utilities (``beta Q``, ``beta_c C`` with ``Q`` and ``C`` in
    [0, 1]) and log-odds carry absolute rounding errors of a few eps times the sum of
    the inverse temperatures; a log-probability itself (log, log1p, log-sum-exp) a few
    eps times its magnitude. So ``1 + sum of the positive parameters + max |log p|``.
    """
    finite = [abs(x) for pair in log_probs for x in pair if math.isfinite(x)]
    positives = sum(theta[p.name] for p in model.params if p.kind == "positive")
    return 1.0 + positives + max(finite, default=0.0)


#: Points where the Bernoulli form log p / log1p(-p) is a reference: inverse
#: temperatures <= 5 and rates within 0.02 of the ends (bias's and wsls's choice
#: probabilities) keep min(p, 1 - p) away from 0.
MODERATE = ((0.02, 1.0), (0.3, 1.0), (0.98, 1.0), (0.3, 5.0), (0.8, 0.2))


def moderate_points(model):
    return [interior(model, unit, positive) for unit, positive in MODERATE]


def bernoulli_reference(model, theta, actions, rewards, observed, consts):
    """``sum log Bernoulli(observed | p)`` and its gradient from ``p`` and its Jacobian.

    Terms whose observation is not 0 or 1 are left out of both (the caller expects
    -inf for the value then), as in pm.Bernoulli's switch.
    """
    p, jac = model.right_probs_jac(theta, actions, rewards, consts)
    one, zero = observed == 1, observed == 0
    ll = np.sum(np.log(p[one])) + np.sum(np.log1p(-p[zero]))
    g = np.where(one, 1 / p, 0.0) - np.where(zero, 1 / (1 - p), 0.0)
    return ll, g @ jac, p


def bernoulli_bound(p, n, scale, total) -> float:
    """How far the Bernoulli form may drift from the kernels' log-sigmoid.

    log p and log1p(-p) of a probability carrying a relative error of ~2 eps lose
    ~2 eps / min(p, 1 - p) absolute each; the kernels' own terms carry a few eps of
    their scale (scale_of); and summing n - 1 terms of one sign in another order
    moves the sum by up to n eps of its magnitude.
    """
    terms = float(np.sum(1 / np.minimum(p, 1 - p))) + (n - 1) * scale
    return 4 * EPS * terms + n * EPS * abs(total)


def bernoulli_grad_bound(p, jac, observed, scale) -> np.ndarray:
    """How far the Bernoulli form's gradient ``g @ jac`` may drift from the kernels'.

    ``g_t = 1/p_t`` or ``-1/(1 - p_t)`` carries the relative error of ``p_t`` or of
    ``1 - p_t``, at most a few eps times the scale over ``min(p, 1 - p)``; each term
    enters with its Jacobian, and summing them in another order moves the sum by up to
    n eps of the terms' magnitudes.
    """
    one, zero = observed == 1, observed == 0
    g = np.where(one, 1 / p, 0.0) - np.where(zero, 1 / (1 - p), 0.0)
    terms = np.abs(g)[:, None] * np.abs(jac)
    rel = 4 * EPS * scale / np.minimum(p, 1 - p)
    return (rel[:, None] * terms).sum(axis=0) + len(p) * EPS * terms.sum(axis=0)
