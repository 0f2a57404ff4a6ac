"""The PyMC models of every library model, built and compiled once per test session.

test_sampling.py and test_rewrites.py share them: compiling a model's log density and
its gradient (C backend) or its nutpie callbacks (numba) is the slow part of those
tests, so each is done once per process, on first use, and kept here.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
import reference_models as ref
from conftest import default_priors, notebook_dataset

from rlrecover import models

__all__ = [
    "HALFNORMAL_CONST",
    "by_hand_logp",
    "compiled",
    "data",
    "natural",
    "nutpie_compiled",
    "plain_compiled",
    "pymc_model",
    "random_points",
    "value_names",
]

#: PyMC's HalfNormal log-density is off the closed form by a constant (-3.2e-8 for
#: sigma 10, measured with pm.logp(pm.HalfNormal.dist(10), x) alone, so not this
#: package): absolute log densities are compared to this per positive parameter,
#: differences between points (where it cancels) much more tightly.
HALFNORMAL_CONST = 1e-7


@functools.cache
def data() -> tuple[np.ndarray, np.ndarray]:
    """The notebook's dataset (any model can be fitted to it)."""
    actions, rewards = notebook_dataset()
    actions.setflags(write=False)
    rewards.setflags(write=False)
    return actions, rewards


@functools.cache
def pymc_model(name: str, kind: str, likelihood: str = "op"):
    """The PyMC model of one library model on :func:`data`, with its default priors."""
    from rlrecover.inference.pymc_models import build_model

    model = models.get(name)
    actions, rewards = data()
    return build_model(
        model, kind, np.array(actions), np.array(rewards), default_priors(model),
        likelihood=likelihood,
    )  # fmt: skip


@functools.cache
def compiled(name: str, kind: str, likelihood: str = "op") -> SimpleNamespace:
    """``model``, ``logp`` and ``dlogp`` (gradient w.r.t. every free value) compiled."""
    model = pymc_model(name, kind, likelihood)
    return SimpleNamespace(model=model, logp=model.compile_logp(), dlogp=model.compile_dlogp())


@functools.cache
def plain_compiled(name: str) -> SimpleNamespace:
    """The Bernoulli model's logp and dlogp compiled without the fusing rewrite."""
    import pytensor

    model = pymc_model(name, "bernoulli")
    mode = pytensor.compile.get_mode("FAST_RUN").excluding("fuse_bernoulli_loglik")
    return SimpleNamespace(
        logp=model.compile_logp(mode=mode), dlogp=model.compile_dlogp(mode=mode)
    )


@functools.cache
def nutpie_compiled(name: str, kind: str):
    """The nutpie model (cached numba callbacks) of :func:`pymc_model`."""
    from rlrecover.inference.nutpie_compile import compile_pymc_model_cached

    return compile_pymc_model_cached(pymc_model(name, kind))


def value_names(model) -> list[str]:
    """PyMC's free values of the model's parameters, in order."""
    return [f"{p.name}_logodds__" if p.kind == "unit" else f"{p.name}_log__" for p in model.params]


def random_points(model, seed: int, k: int = 6) -> list[dict[str, np.ndarray]]:
    """Seeded free points: rates in (0.05, 0.95), inverse temperatures in (0.5, 10)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        point = {}
        for p, v in zip(model.params, value_names(model), strict=True):
            lo, hi = (-3.0, 3.0) if p.kind == "unit" else (np.log(0.5), np.log(10.0))
            point[v] = np.array(rng.uniform(lo, hi))
        out.append(point)
    return out


def natural(model, point) -> dict[str, float]:
    """The parameter values of a free point."""
    return {
        p.name: float(p.transform.from_free(float(point[v])))
        for p, v in zip(model.params, value_names(model), strict=True)
    }


def by_hand_logp(model, point, actions, rewards) -> float:
    """The model's log density written out: the plain reference log-likelihood plus
    the priors' log density on the free scale (Jacobians included)."""
    free = [float(point[v]) for v in value_names(model)]
    prior = float(default_priors(model).logpdf_free(free))
    return prior + ref.loglik(model.name, natural(model, point), actions, rewards)
